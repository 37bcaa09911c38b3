// You are banned from dev for 2h (until ...): spam; you are muted; you may
// speak again. The server's own words, which say why and for how long, and
// who did it.

import { h } from "../dom.js";
import { nickName } from "./text.js";

export function render(entry) {
  const text = entry.text ? entry.text.charAt(0).toUpperCase() + entry.text.slice(1) : "";
  const by = entry.given && entry.by ? [" (by ", nickName(entry.by), ")"] : [];
  return [h("strong.sanction-text", { role: "alert" }, text), ...by];
}
