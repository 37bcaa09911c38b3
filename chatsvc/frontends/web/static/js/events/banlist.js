// alice banned nick:bob in dev for 1h (spam), muted one, let one past the
// room's bans and mutes (an exception) or into it uninvited while it is
// invite-only (an invitation), or lifted any of them: the room's ban list
// changed, as everyone in the room is told.

import { describeDuration } from "../time.js";
import { nickName } from "./text.js";

/** What one who set a sanction of each kind did (the line protocol's words). */
const SET = {
  ban: (mask, room) => `banned ${mask} in ${room}`,
  mute: (mask, room) => `muted ${mask} in ${room}`,
  exception: (mask, room) => `let ${mask} past the bans and mutes of ${room}`,
  invitation: (mask, room) => `let ${mask} into ${room} uninvited`,
};

/** What setting a sanction of `kind` did to `mask` in `room`; a kind this client does not know, as a list's. */
export function did(kind, mask, room) {
  if (Object.hasOwn(SET, kind)) return SET[kind](mask, room);
  return `added ${mask} to the ${kind} list of ${room}`;
}

export function render(entry) {
  const what = `${entry.mask} in ${entry.room}`;
  if (entry.expired) return [`The ${entry.sanction} of ${what} ran out`];
  if (!entry.on) return [nickName(entry.nick), ` lifted the ${entry.sanction} of ${what}`];
  const left = entry.left === null ? "for good" : `for ${describeDuration(entry.left)}`;
  const why = entry.reason ? ` (${entry.reason})` : "";
  return [nickName(entry.nick), ` ${did(entry.sanction, entry.mask, entry.room)} ${left}${why}`];
}
