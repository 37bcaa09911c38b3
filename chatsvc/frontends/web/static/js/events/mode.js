// alice set +k, +l 20 (a key to join; 20 members at most): modes of the
// room set or cleared at once, as IRC writes them, then in words. A key is
// not written in the log (the room's header has it).

import { nickName } from "./text.js";

/** What each mode means set, and cleared. */
const SAID = {
  i: ["invite-only: only those invited may join", "open to all"],
  k: ["a key to join", "no key to join"],
  l: [(most) => `${most} members at most`, "any number of members"],
  m: ["moderated: only its operators and voiced members may speak", "everyone in it may speak"],
  n: ["only its members may speak in it", "those outside it may speak in it too"],
  s: ["secret: not listed, nor its members shown, to those outside it", "no longer secret"],
  t: ["only its operators set the topic", "any member may set the topic"],
};

/** A change as IRC writes it: `+i`, `-k`, `+l 20` (a key left out). */
export function written({ mode, on, value }) {
  const text = `${on ? "+" : "-"}${mode}`;
  return on && mode === "l" && value !== null && value !== undefined ? `${text} ${value}` : text;
}

/** A change in words: `20 members at most`. */
export function meaning({ mode, on, value }) {
  const said = SAID[mode]?.[on ? 0 : 1];
  if (said === undefined) return null;
  return typeof said === "function" ? said(value) : said;
}

/** What a `mode` event's changes did, after who did it: `set +k, +l 20 (a key to join; ...)`. */
export function modesSet(changes) {
  const words = changes.map(meaning).filter(Boolean);
  return `set ${changes.map(written).join(", ")}${words.length ? ` (${words.join("; ")})` : ""}`;
}

export function render(entry) {
  return [nickName(entry.nick), ` ${modesSet(entry.changes ?? [])}`];
}
