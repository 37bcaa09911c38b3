// <alice> text: a message in a room, or in a private conversation.

import { nickName, richText } from "./text.js";

export const grouped = true;

export function render(entry, { nick }) {
  return [nickName(entry.nick), ...richText(entry.text, nick)];
}

/** The body of a message that continues its sender's group: no name again. */
export function renderContinued(entry, { nick }) {
  return richText(entry.text, nick);
}
