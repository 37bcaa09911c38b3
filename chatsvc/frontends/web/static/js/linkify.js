// Text with its links made clickable: http and https URLs only, opened in a
// new tab with rel="noopener noreferrer". Everything else stays text.

import { h } from "./dom.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/giu;
const TRAILING = /[.,;:!?)\]}'"»]+$/u;

/** The pieces of `text`: strings, and {url} for each link. */
export function splitLinks(text) {
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    const trailing = url.match(TRAILING);
    if (trailing) {
      // Keep a closing bracket that belongs to the URL (Wikipedia's "(film)").
      let cut = trailing[0];
      if (cut.startsWith(")") && url.slice(0, -cut.length).includes("(")) cut = cut.slice(1);
      url = url.slice(0, url.length - cut.length);
    }
    if (!isSafeUrl(url)) continue;
    if (match.index > last) pieces.push(text.slice(last, match.index));
    pieces.push({ url });
    last = match.index + url.length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

/** Whether `url` is an absolute http or https URL (never javascript:, data:, ...). */
export function isSafeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    return false;
  }
}

/** A link element for `url`, showing `label` (the URL itself by default). */
export function link(url, label = url) {
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label);
}

/** Nodes for `text`, links clickable, the rest text; `decorate` may wrap each text run. */
export function linkify(text, decorate = (s) => [s]) {
  return splitLinks(text).map((piece) =>
    typeof piece === "string" ? decorate(piece) : link(piece.url),
  );
}
