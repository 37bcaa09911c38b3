// The title and topic of the conversation on view; operators get a button
// to edit the topic in place (Enter sets it, Escape gives up).

import { linkify } from "./linkify.js";

export class TopicBar {
  constructor({ title, text, edit, form, input, cancel, state, onSet }) {
    Object.assign(this, { title, text, edit, form, input, cancel, state });
    edit.addEventListener("click", () => this.open());
    cancel.addEventListener("click", () => this.close());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const conversation = this.state.currentConversation;
      if (conversation) onSet(conversation, this.input.value.trim());
      this.close();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      }
    });
  }

  open() {
    const conversation = this.state.currentConversation;
    this.input.value = conversation?.topic?.text ?? "";
    this.form.hidden = false;
    this.text.hidden = true;
    this.edit.hidden = true;
    this.input.focus();
  }

  close() {
    this.form.hidden = true;
    this.draw();
    this.edit.focus();
  }

  draw() {
    const conversation = this.state.currentConversation;
    if (!conversation) {
      this.title.textContent = "";
      this.text.replaceChildren();
      this.edit.hidden = true;
      return;
    }
    const room = conversation.kind === "room";
    this.title.textContent = room ? `#${conversation.name}` : conversation.name;
    const topic = conversation.topic;
    if (!this.form.hidden) return;
    this.text.hidden = false;
    if (room && topic?.text) {
      this.text.replaceChildren(...linkify(topic.text));
      this.text.title = topic.set_by ? `set by ${topic.set_by}` : "";
    } else {
      this.text.replaceChildren(room ? "No topic" : "Private conversation");
      this.text.title = "";
    }
    this.edit.hidden = !(room && this.state.operator && conversation.joined);
  }
}
