// alice joined the room.

import { nickName } from "./text.js";

export function render(entry) {
  return ["→ ", nickName(entry.nick), ` joined ${entry.room}`];
}
