// Which module renders which kind of entry in a conversation's log.

import * as action from "./action.js";
import * as banlist from "./banlist.js";
import * as bans from "./bans.js";
import * as join from "./join.js";
import * as kick from "./kick.js";
import * as message from "./message.js";
import * as mode from "./mode.js";
import * as nick from "./nick.js";
import * as notice from "./notice.js";
import * as part from "./part.js";
import * as removed from "./removed.js";
import * as sanction from "./sanction.js";
import * as topic from "./topic.js";

export const RENDERERS = {
  message, action, join, part, nick, topic, kick, notice, error: notice, removed, mode, sanction, bans, banlist,
};

export function rendererFor(kind) {
  return RENDERERS[kind] ?? notice;
}
