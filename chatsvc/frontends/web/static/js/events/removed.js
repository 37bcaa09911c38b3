// bob was put out of dev by alice (reason), as a kick from the room or a
// ban; one's own: the room is closed, and where one is now.

import { nickName } from "./text.js";

export function render(entry) {
  const why = entry.reason ? ` (${entry.reason})` : "";
  if (entry.me) {
    const where = entry.to ? ` You are back in ${entry.to}.` : "";
    return [`You were put out of ${entry.room} by `, nickName(entry.by), `${why}.${where}`];
  }
  return [nickName(entry.nick), ` was put out of ${entry.room} by `, nickName(entry.by), why];
}
