// alice is now known as alicia.

import { nickName } from "./text.js";

export function render(entry) {
  return [nickName(entry.old), " is now known as ", nickName(entry.nick)];
}
