// What the server (or the client itself) tells the user: command output,
// errors, connection news. Each line of `entry.lines` on a line of its own.

import { h } from "../dom.js";
import { richText } from "./text.js";

export function render(entry, { nick }) {
  const lines = entry.lines ?? [entry.text];
  const tag = entry.table ? "span.notice-line.table" : "span.notice-line";
  return lines.map((line, i) => h(tag, {}, i ? "\n" : "", ...richText(line, nick)));
}
