// The title and topic of the conversation on view, and the room's modes
// (invite-only, a key, a limit, secret, moderated, open to outsiders, its
// topic open, registered; muted, for oneself); operators (anyone in a room
// whose topic is open, -t) get a button to edit the topic in place (Enter
// sets it, Escape gives up).

import { h } from "./dom.js";
import { linkify } from "./linkify.js";

export class TopicBar {
  constructor({ title, text, modes, edit, form, input, cancel, state, onSet }) {
    Object.assign(this, { title, text, modes, edit, form, input, cancel, state });
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
      this.modes.replaceChildren();
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
    const mine = this.state.nick ? conversation.member(this.state.nick) : null;
    const mayEdit = this.state.operator || mine?.operator || conversation.topic_locked === false;
    this.edit.hidden = !(room && mayEdit && conversation.joined);
    this.modes.replaceChildren(...(room ? roomModes(conversation, this.state) : []));
  }
}

/** What holds in `room`, in words: each a badge with its explanation as its title. */
function roomModes(room, state) {
  if (!room.joined) return [h("span.mode.closed", { title: "You are not in this room now" }, "not joined")];
  const muted = room.muted ?? state.muted;
  return [
    room.invite_only ? h("span.mode", { title: "Only those invited may join (+i)" }, "invite-only") : null,
    room.joinKey ? h("span.mode", { title: `Joining it takes the key ${room.joinKey} (+k)` }, "key") : null,
    room.limit ? h("span.mode", { title: `It takes ${room.limit} members at most (+l)` }, `limit ${room.limit}`) : null,
    room.secret ? h("span.mode", { title: "It is not listed, nor its members shown, to those outside it (+s)" }, "secret") : null,
    room.moderated ? h("span.mode", { title: "Only its operators and voiced members may speak (+m)" }, "moderated") : null,
    room.members_only === false ? h("span.mode", { title: "Those outside it may speak in it too (-n)" }, "open to outsiders") : null,
    room.topic_locked === false ? h("span.mode", { title: "Any member may set its topic (-t)" }, "topic open") : null,
    room.registered ? h("span.mode", { title: "It stays, with its topic, when everyone has left" }, "registered") : null,
    muted ? h("span.mode.muted", { title: muted.text ?? "" }, muted.until ? `muted until ${new Date(muted.until * 1000).toLocaleTimeString()}` : "muted") : null,
  ].filter(Boolean);
}
