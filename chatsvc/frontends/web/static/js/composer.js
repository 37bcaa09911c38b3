// The input line: Enter sends, Shift+Enter starts a new line, Up and Down
// bring back what was sent before; it grows with what is typed.

export const INPUT_HISTORY = 100;

export class Composer {
  constructor({ form, input, onSubmit }) {
    this.form = form;
    this.input = input;
    this.onSubmit = onSubmit;
    this.sent = [];
    this.at = 0;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    input.addEventListener("keydown", (event) => this.key(event));
    input.addEventListener("input", () => this.fit());
  }

  fit() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight + 2}px`;
  }

  send() {
    const text = this.input.value;
    if (!text.trim()) return;
    this.sent.push(text);
    if (this.sent.length > INPUT_HISTORY) this.sent.shift();
    this.at = this.sent.length;
    this.input.value = "";
    this.fit();
    // Several lines are said as several messages, as a terminal would send them.
    for (const line of text.split(/\r?\n/)) if (line.trim()) this.onSubmit(line);
  }

  key(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    } else if (event.key === "ArrowUp" && !this.input.value.slice(0, this.input.selectionStart).includes("\n")) {
      if (this.at > 0 && (this.input.value === "" || this.input.value === this.sent[this.at])) {
        event.preventDefault();
        this.at -= 1;
        this.input.value = this.sent[this.at];
      }
    } else if (event.key === "ArrowDown" && this.at < this.sent.length && this.input.value === this.sent[this.at]) {
      event.preventDefault();
      this.at += 1;
      this.input.value = this.sent[this.at] ?? "";
    }
  }

  /** Put `text` where the cursor is. */
  insert(text) {
    const { selectionStart: start, selectionEnd: end, value } = this.input;
    this.input.value = value.slice(0, start) + text + value.slice(end);
    this.input.selectionStart = this.input.selectionEnd = start + text.length;
    this.input.focus();
    this.fit();
  }
}
