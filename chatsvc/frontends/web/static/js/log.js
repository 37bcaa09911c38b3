// The conversation on view: its entries with their times, a sender's run of
// messages grouped under one name, days apart, the "older" button above.
// Kept at the bottom while the user is there; left alone while they read
// further up.

import { h } from "./dom.js";
import { rendererFor } from "./events/index.js";
import { dayLabel, sameDay, timeElement } from "./time.js";

const GROUP_GAP = 5 * 60 * 1000;

export class Log {
  constructor({ list, scroller, older, state, onOlder }) {
    this.list = list;
    this.scroller = scroller;
    this.older = older;
    this.state = state;
    this.previous = null;
    older.addEventListener("click", () => onOlder(this.state.currentConversation));
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Draw the whole log of the conversation on view. */
  redraw({ keepPosition = false } = {}) {
    const conversation = this.state.currentConversation;
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    const wasAtBottom = this.atBottom();
    this.previous = null;
    this.list.replaceChildren();
    if (!conversation) {
      this.older.hidden = true;
      return;
    }
    this.older.hidden = !(conversation.kind === "room" && conversation.moreHistory && conversation.joined);
    this.older.disabled = Boolean(conversation.loadingOlder);
    const items = [];
    for (const entry of conversation.entries) items.push(...this.itemsFor(entry));
    this.list.append(...items);
    if (keepPosition && !wasAtBottom) this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    else this.scrollToBottom();
  }

  /** Add `entry`, just arrived at the end of the conversation on view. */
  append(entry) {
    const stay = this.atBottom() || entry.own;
    this.list.append(...this.itemsFor(entry));
    if (stay) this.scrollToBottom();
  }

  itemsFor(entry) {
    const items = [];
    const previous = this.previous;
    if (entry.time && (!previous?.time || !sameDay(previous.time, entry.time))) {
      items.push(h("li.day-divider", { role: "separator" }, dayLabel(entry.time)));
    }
    const renderer = rendererFor(entry.kind);
    const continued = Boolean(
      renderer.grouped && previous && rendererFor(previous.kind).grouped && previous.nick === entry.nick &&
      entry.time - previous.time < GROUP_GAP && items.length === 0,
    );
    const context = { nick: this.state.nick };
    const body = continued && renderer.renderContinued ? renderer.renderContinued(entry, context) : renderer.render(entry, context);
    const classes = [
      entry.said ? "said" : "event",
      entry.kind,
      continued ? "continued" : "group-start",
      entry.mentioned ? "mentioned" : "",
      entry.fromHistory ? "history" : "",
    ].filter(Boolean);
    items.push(
      h(`li.${classes.join(".")}`, { dataset: { kind: entry.kind, nick: entry.nick ?? "" } },
        entry.time ? timeElement(entry.time) : h("span"),
        h("span.body", {}, ...body)),
    );
    this.previous = entry;
    return items;
  }
}
