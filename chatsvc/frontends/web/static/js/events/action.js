// * alice waves: an action (/me).

import { nickName, richText } from "./text.js";

export const grouped = false;

export function render(entry, { nick }) {
  return ["* ", nickName(entry.nick), " ", ...richText(entry.text, nick)];
}
