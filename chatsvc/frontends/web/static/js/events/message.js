// <alice> text: a message in a room, or in a private conversation; the
// images it shares previewed under it.

import { h } from "../dom.js";
import { link } from "../linkify.js";
import { isOwnFile, previews, size } from "./file.js";
import { nickName, richText } from "./text.js";

export const grouped = true;

function body(entry, nick) {
  // A message that shares files is the server's "shared NAME (SIZE): URL";
  // shown from its files' data instead: each name a link, images previewed.
  const files = (entry.files ?? []).filter((file) => file && typeof file.url === "string" && isOwnFile(file.url));
  if (!files.length) return richText(entry.text, nick);
  const parts = ["shared "];
  files.forEach((file, i) => {
    if (i) parts.push(", ");
    parts.push(link(new URL(file.url, location.href).href, String(file.name)), ` (${size(Number(file.size) || 0)})`);
  });
  const images = previews(files);
  if (images.length) parts.push(h("span.file", {}, ...images));
  return parts;
}

export function render(entry, { nick }) {
  return [nickName(entry.nick), " ", ...body(entry, nick)];
}

/** The body of a message that continues its sender's group: no name again. */
export function renderContinued(entry, { nick }) {
  return body(entry, nick);
}
