// alice made dev invite-only / moderated, or open again.

import { nickName } from "./text.js";

const SAID = {
  i: ["made the room invite-only: only those invited may join", "opened the room to all"],
  m: ["made the room moderated: only its operators may speak", "let everyone in the room speak again"],
};

export function render(entry) {
  const [set, cleared] = SAID[entry.mode] ?? [`set +${entry.mode}`, `cleared ${entry.mode}`];
  return [nickName(entry.nick), ` ${entry.on ? set : cleared}`];
}
