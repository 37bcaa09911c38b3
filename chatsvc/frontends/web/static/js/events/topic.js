// alice set the topic: text.

import { nickName, richText } from "./text.js";

export function render(entry, { nick }) {
  if (!entry.text) return [nickName(entry.nick), " cleared the topic"];
  return [nickName(entry.nick), " set the topic: ", ...richText(entry.text, nick)];
}
