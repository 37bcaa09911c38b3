// A line of user text as nodes: links clickable, own-nick mentions marked,
// all of it text nodes.

import { h } from "../dom.js";
import { linkify } from "../linkify.js";
import { splitMentions } from "../mentions.js";

export function richText(text, ownNick) {
  return linkify(text, (run) =>
    splitMentions(run, ownNick).map((piece) =>
      typeof piece === "string" ? piece : h("mark.mention", {}, piece.mention),
    ),
  );
}

/** A nickname, coloured by a hash of its folded spelling. */
export function nickName(nick, tag = "span.sender") {
  let hash = 0;
  for (const c of nick.toLowerCase()) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return h(`${tag}.nick-color-${hash % 8}`, {}, nick);
}
