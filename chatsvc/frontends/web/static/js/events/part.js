// alice left the room: for another room, or the chat, with the server's
// reason in parentheses, or the user's own words marked as theirs.

import { nickName } from "./text.js";

export function render(entry) {
  const what = entry.signedOff ? " left the chat" : ` left ${entry.room}`;
  let why = "";
  if (entry.reason) why = entry.fromUser ? ` (quit: ${entry.reason})` : ` (${entry.reason})`;
  return ["← ", nickName(entry.nick), what + why];
}
