// Searching the room on view: the latest lines with every word typed, shown
// above the conversation, each with its time and sender.

import { h } from "./dom.js";
import { richText, nickName } from "./events/text.js";
import { timeElement } from "./time.js";

export class Search {
  constructor({ panel, toggle, form, input, close, results, state, onSearch }) {
    Object.assign(this, { panel, toggle, form, input, results, state, onSearch });
    toggle.addEventListener("click", () => (panel.hidden ? this.open() : this.close()));
    close.addEventListener("click", () => this.close());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(this.input.value);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  open() {
    this.panel.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    this.results.replaceChildren();
    this.toggle.focus();
  }

  async run(words) {
    const conversation = this.state.currentConversation;
    const list = words.split(/\s+/).filter(Boolean);
    if (!conversation || conversation.kind !== "room" || !list.length) return;
    this.open();
    this.input.value = list.join(" ");
    this.results.replaceChildren(h("li.searching", {}, "Searching…"));
    try {
      const reply = await this.onSearch(conversation.name, list);
      this.show(reply.lines ?? [], list);
    } catch (error) {
      this.results.replaceChildren(h("li.error", {}, error.message));
    }
  }

  show(lines, words) {
    if (!lines.length) {
      this.results.replaceChildren(h("li.none", {}, `Nothing found with ${words.join(" ")}`));
      return;
    }
    this.results.replaceChildren(
      ...lines.map((line) =>
        h(
          "li",
          {},
          timeElement(line.time * 1000),
          line.type === "action" ? "* " : "",
          nickName(line.nick),
          " ",
          ...richText(line.text, this.state.nick),
        ),
      ),
    );
  }
}
