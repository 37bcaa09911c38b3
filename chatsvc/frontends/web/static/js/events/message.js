// <alice> text: a message in a room, or in a private conversation; the
// images it shares previewed under it.

import { h } from "../dom.js";
import { previews } from "./file.js";
import { nickName, richText } from "./text.js";

export const grouped = true;

function body(entry, nick) {
  const images = previews(entry.files);
  return [...richText(entry.text, nick), images.length ? h("span.file", {}, ...images) : null];
}

export function render(entry, { nick }) {
  return [nickName(entry.nick), " ", ...body(entry, nick)];
}

/** The body of a message that continues its sender's group: no name again. */
export function renderContinued(entry, { nick }) {
  return body(entry, nick);
}
