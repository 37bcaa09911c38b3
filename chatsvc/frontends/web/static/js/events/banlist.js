// alice banned nick:bob in dev for 1h (spam), muted one, or lifted either:
// the room's ban list changed, as everyone in the room is told.

import { describeDuration } from "../time.js";
import { nickName } from "./text.js";

export function render(entry) {
  const what = `${entry.mask} in ${entry.room}`;
  if (entry.expired) return [`The ${entry.sanction} of ${what} ran out`];
  if (!entry.on) return [nickName(entry.nick), ` lifted the ${entry.sanction} of ${what}`];
  const did = entry.sanction === "mute" ? "muted" : "banned";
  const left = entry.left === null ? "for good" : `for ${describeDuration(entry.left)}`;
  const why = entry.reason ? ` (${entry.reason})` : "";
  return [nickName(entry.nick), ` ${did} ${what} ${left}${why}`];
}
