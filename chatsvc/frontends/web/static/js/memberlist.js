// Who is in the room on view: operators first and marked, those away
// dimmed; a click opens a private conversation, and an operator sees a kick
// button beside everyone else.

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
    if (!conversation || conversation.kind !== "room") {
      this.list.replaceChildren();
      this.count.textContent = "";
      return;
    }
    const members = [...conversation.members.values()].sort(
      (a, b) => Number(b.operator) - Number(a.operator) || a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" }),
    );
    this.count.textContent = conversation.memberCount !== undefined && conversation.memberCount > members.length
      ? `(${conversation.memberCount})`
      : `(${members.length})`;
    this.list.replaceChildren(...members.map((member) => this.item(member)));
  }

  item(member) {
    const me = this.state.nick && fold(member.nick) === fold(this.state.nick);
    const classes = [member.operator ? "op" : "", member.away ? "away" : ""].filter(Boolean);
    const label = [member.nick, member.operator ? "operator" : "", member.away ? "away" : "", me ? "you" : ""]
      .filter(Boolean)
      .join(", ");
    return h(
      `li${classes.map((c) => `.${c}`).join("")}`,
      { dataset: { nick: member.nick }, "aria-label": label },
      h("span.op-mark", { "aria-hidden": "true", title: member.operator ? "operator" : null }, member.operator ? "@" : ""),
      h("span.name", { title: member.away ? `away${typeof member.away === "string" ? `: ${member.away}` : ""}` : null }, member.nick),
      me ? h("span.you", {}, "(you)") : null,
      me ? null : h("button.message-member", {
        type: "button", title: `Message ${member.nick}`, "aria-label": `Message ${member.nick}`,
        on: { click: () => this.onMessage(member.nick) },
      }, "✉"),
      this.state.operator && !me
        ? h("button.kick", {
            type: "button", title: `Kick ${member.nick}`, "aria-label": `Kick ${member.nick}`,
            on: { click: () => this.onKick(member.nick) },
          }, "Kick")
        : null,
    );
  }
}
