// The emoji picker: a grid of emoji that insert themselves where the cursor
// is, opened from a button, closed with Escape; and the one-click smile and
// frown buttons, which send their face at once.

import { h } from "./dom.js";

export const SMILE = "\u{1F642}";
export const FROWN = "\u{1F641}";

export const EMOJI = [
  ["Smileys", "😀 😃 😄 😁 😆 😅 😂 🤣 🙂 🙃 😉 😊 😇 🥰 😍 🤩 😘 😋 😛 😜 🤪 🤔 🤨 😐 😑 😶 🙄 😏 😬 😌 😔 😴 😷 🤒 🤯 🥳 😎 🤓 🙁 😕 😟 😮 😲 😳 🥺 😢 😭 😱 😤 😡 🤬"],
  ["Gestures", "👍 👎 👌 ✌️ 🤞 🤝 👏 🙌 👋 🙏 💪 👀 🤷 🤦"],
  ["Hearts", "❤️ 🧡 💛 💚 💙 💜 🖤 💔 💯 ✨ 🔥 ⭐"],
  ["Things", "🎉 🎂 🍕 🍺 ☕ 🚀 💡 📎 📌 ✅ ❌ ⚠️ 🐛 🔧 📦 🕐"],
];

/** The emoji picker: `insert(emoji)` is called with the one chosen. */
export class EmojiPicker {
  constructor(button, panel, insert) {
    this.button = button;
    this.panel = panel;
    this.insert = insert;
    panel.replaceChildren(
      ...EMOJI.map(([group, list]) =>
        h(
          "div.emoji-group",
          { role: "group", "aria-label": group },
          list.split(" ").map((emoji) =>
            h("button.emoji", { type: "button", "aria-label": emoji, on: { click: () => this.choose(emoji) } }, emoji),
          ),
        ),
      ),
    );
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    panel.addEventListener("keydown", (event) => this.key(event));
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  open() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.panel.querySelector("button")?.focus();
  }

  close({ focus = true } = {}) {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (focus) this.button.focus();
  }

  choose(emoji) {
    this.close({ focus: false });
    this.insert(emoji);
  }

  key(event) {
    const buttons = [...this.panel.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[event.key];
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    } else if (step !== undefined && at >= 0) {
      event.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, at + step))].focus();
    }
  }
}
