// Who is in the room on view: owners (~), operators (@) and those with a
// voice (+) first and marked, in that order (IRC's), those away dimmed; a click opens a private conversation, and an operator
// of the room sees a kick button beside everyone who is not one.

import { h } from "./dom.js";
import { fold } from "./state.js";

export class MemberList {
  constructor({ list, count, state, onMessage, onKick }) {
    this.list = list;
    this.count = count;
    this.state = state;
    this.onMessage = onMessage;
    this.onKick = onKick;
  }

  draw() {
    const conversation = this.state.currentConversation;
    if (!conversation || conversation.kind !== "room" || !conversation.joined) {
      this.list.replaceChildren();
      this.count.textContent = "";
      return;
    }
    const members = [...conversation.members.values()].sort(
      (a, b) => standing(b) - standing(a) || a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" }),
    );
    const mine = this.state.nick ? conversation.members.get(fold(this.state.nick)) : null;
    this.operating = conversation.joined && (this.state.operator || Boolean(mine?.operator));
    this.count.textContent = conversation.memberCount !== undefined && conversation.memberCount > members.length
      ? `(${conversation.memberCount})`
      : `(${members.length})`;
    this.list.replaceChildren(...members.map((member) => this.item(member)));
  }

  item(member) {
    const me = this.state.nick && fold(member.nick) === fold(this.state.nick);
    const rank = member.rank === "owner" ? "owner" : member.operator ? "operator" : member.voiced ? "voiced" : "";
    const classes = [
      member.operator ? "op" : "", rank === "owner" ? "owner" : "", rank === "voiced" ? "voiced" : "", member.away ? "away" : "",
    ].filter(Boolean);
    const label = [member.nick, rank, member.away ? "away" : "", me ? "you" : ""]
      .filter(Boolean)
      .join(", ");
    return h(
      `li${classes.map((c) => `.${c}`).join("")}`,
      { dataset: { nick: member.nick }, "aria-label": label },
      h("span.op-mark", { "aria-hidden": "true", title: rank || null }, MARKS[rank]),
      h("span.name", { title: member.away ? `away${typeof member.away === "string" ? `: ${member.away}` : ""}` : null }, member.nick),
      me ? h("span.you", {}, "(you)") : null,
      me ? null : h("button.message-member", {
        type: "button", title: `Message ${member.nick}`, "aria-label": `Message ${member.nick}`,
        on: { click: () => this.onMessage(member.nick) },
      }, "✉"),
      this.operating && !me && !member.operator
        ? h("button.kick", {
            type: "button", title: `Kick ${member.nick}`, "aria-label": `Kick ${member.nick}`,
            on: { click: () => this.onKick(member.nick) },
          }, "Kick")
        : null,
    );
  }
}

const MARKS = { owner: "~", operator: "@", voiced: "+", "": "" };

/** Where a member stands in the room: owners, then operators, then those with a voice, then everyone else. */
export function standing(member) {
  if (member.rank === "owner") return 3;
  if (member.operator) return 2;
  return member.voiced ? 1 : 0;
}
