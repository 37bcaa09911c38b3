// The room list and the private conversations beside it: which one is on
// view, unread counts, mention badges, and a button to leave each.

import { h } from "./dom.js";

export class RoomList {
  constructor({ rooms, privates, state, onSelect, onLeave }) {
    this.rooms = rooms;
    this.privates = privates;
    this.state = state;
    this.onSelect = onSelect;
    this.onLeave = onLeave;
  }

  draw() {
    const all = [...this.state.conversations.values()].sort((a, b) =>
      a.name.localeCompare(b.name, undefined, { sensitivity: "base" }),
    );
    this.rooms.replaceChildren(...all.filter((c) => c.kind === "room").map((c) => this.item(c)));
    this.privates.replaceChildren(...all.filter((c) => c.kind === "private").map((c) => this.item(c)));
    const unread = all.reduce((n, c) => n + c.mentions, 0);
    document.title = unread ? `(${unread}) chatsvc` : "chatsvc";
  }

  item(conversation) {
    const current = this.state.current === conversation.key;
    const label = conversation.kind === "room" ? `#${conversation.name}` : conversation.name;
    const counts = [];
    if (conversation.unread) counts.push(`${conversation.unread} unread`);
    if (conversation.mentions) counts.push(`${conversation.mentions} mentioning you`);
    const description = counts.length ? `${label}, ${counts.join(", ")}` : label;
    return h(
      `li${conversation.unread ? ".unread" : ""}`,
      { dataset: { key: conversation.key } },
      h(
        "button.select",
        {
          type: "button",
          "aria-current": current ? "true" : "false",
          "aria-label": description,
          on: { click: () => this.onSelect(conversation.key) },
        },
        h("span.name", {}, label),
        conversation.joined ? null : h("span.badge", { title: "not in this room" }, "…"),
        conversation.mentions ? h("span.badge.mention", { "aria-hidden": "true" }, String(conversation.mentions)) : null,
        conversation.unread && !conversation.mentions
          ? h("span.badge.unread-count", { "aria-hidden": "true" }, String(conversation.unread))
          : null,
      ),
      h(
        "button.leave",
        {
          type: "button",
          title: conversation.kind === "room" ? "Leave" : "Close",
          "aria-label": conversation.kind === "room" ? `Leave ${label}` : `Close ${label}`,
          on: { click: () => this.onLeave(conversation) },
        },
        "×",
      ),
    );
  }
}
