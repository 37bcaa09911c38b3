// bob was kicked by alice (reason): the reason is the operator's words.

import { nickName } from "./text.js";

export function render(entry) {
  return [
    nickName(entry.nick),
    " was kicked by ",
    nickName(entry.by),
    entry.reason ? ` (${entry.reason})` : "",
  ];
}
