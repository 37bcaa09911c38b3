// The web client's page: each part of it built from its module and wired to
// the ChatClient.

import { AccountPanel } from "./account.js";
import { ChatClient, roomLine } from "./client.js";
import { byId, h } from "./dom.js";
import { EmojiPicker, FROWN, SMILE } from "./emoji.js";
import { Log } from "./log.js";
import { MemberList } from "./memberlist.js";
import { Notifier } from "./notifications.js";
import { RoomList } from "./roomlist.js";
import { Search } from "./search.js";
import { SignOn } from "./signon.js";
import { Composer } from "./composer.js";
import { TopicBar } from "./topicbar.js";
import { Uploader } from "./upload.js";

const chat = byId("chat");
const notifier = new Notifier(byId("notify-button"));
const client = new ChatClient({
  notify: (title, body, key) => notifier.notify(title, body, { tag: key, onClick: () => client.state.select(key) }),
});
const state = client.state;
window.chatsvc = client; // for the browser's console, and the tests

const signOn = new SignOn({
  screen: byId("signon"),
  form: byId("signon-form"),
  nick: byId("signon-nick"),
  passwordRow: byId("signon-password-row"),
  password: byId("signon-password"),
  account: byId("signon-account"),
  status: byId("signon-status"),
  error: byId("signon-error"),
  submit: byId("signon-submit"),
  onSubmit: (nick, password) => client.signOn(nick, password),
});

const log = new Log({
  list: byId("log"),
  scroller: byId("log-scroll"),
  older: byId("older"),
  state,
  onOlder: (room) => client.older(room),
});

const rooms = new RoomList({
  rooms: byId("room-list"),
  privates: byId("private-list"),
  state,
  onSelect: (key) => {
    state.select(key);
    closePanels();
    byId("input").focus();
  },
  onLeave: (conversation) => {
    if (conversation.kind === "private") client.closePrivate(conversation);
    else if (!conversation.joined) state.remove(conversation.key);
    else client.leave(conversation.name).catch((error) => client.error(conversation, error));
  },
});

const kickArmed = new Map();
const members = new MemberList({
  list: byId("member-list"),
  count: byId("member-count"),
  state,
  onMessage: (nick) => {
    client.openPrivate(nick);
    closePanels();
    byId("input").focus();
  },
  onKick: (nick) => {
    // A kick takes two clicks: the first arms the button for a few seconds.
    const button = [...byId("member-list").querySelectorAll("li")].find((li) => li.dataset.nick === nick)?.querySelector(".kick");
    if (!kickArmed.has(nick)) {
      kickArmed.set(nick, setTimeout(() => { kickArmed.delete(nick); members.draw(); }, 4000));
      if (button) {
        button.textContent = "Confirm kick";
        button.setAttribute("aria-label", `Confirm: kick ${nick}`);
        button.focus();
      }
      return;
    }
    clearTimeout(kickArmed.get(nick));
    kickArmed.delete(nick);
    const room = state.currentConversation;
    client.kick(nick, null, room?.kind === "room" ? room.name : null).catch((error) => client.error(room, error));
  },
});

const topic = new TopicBar({
  title: byId("conversation-title"),
  text: byId("topic-text"),
  modes: byId("room-modes"),
  edit: byId("topic-edit"),
  form: byId("topic-form"),
  input: byId("topic-input"),
  cancel: byId("topic-cancel"),
  state,
  onSet: (conversation, text) => client.setTopic(conversation, text).catch((error) => client.error(conversation, error)),
});

function accountForm(name, fields) {
  const part = { form: byId(`${name}-form`), error: byId(`${name}-error`), submit: byId(`${name}-submit`) };
  for (const [field, id] of Object.entries(fields)) part[field] = byId(id);
  return part;
}

const account = new AccountPanel({
  dialog: byId("account-dialog"),
  open: byId("account-button"),
  close: byId("account-close"),
  status: byId("account-status"),
  forms: {
    register: accountForm("register", {
      password: "register-password", confirm: "register-confirm", nick: "register-nick", hint: "register-hint",
    }),
    password: accountForm("password", { old: "password-old", password: "password-new", confirm: "password-confirm" }),
    unregister: accountForm("unregister", { confirm: "unregister-confirm" }),
  },
  state,
  hello: () => client.hello,
  onRegister: (password) => client.register(password),
  onChangePassword: (old, password) => client.changePassword(old, password),
  onUnregister: () => client.unregister(),
});
client.addEventListener("account-panel", () => account.show());

const search = new Search({
  panel: byId("search"),
  toggle: byId("search-button"),
  form: byId("search-form"),
  input: byId("search-input"),
  close: byId("search-close"),
  results: byId("search-results"),
  state,
  onSearch: (room, words) => client.search(room, words),
});

const composer = new Composer({
  form: byId("composer"),
  input: byId("input"),
  onSubmit: (line) => client.submit(line, state.currentConversation),
});

new EmojiPicker(byId("emoji-button"), byId("emoji-panel"), (emoji) => composer.insert(emoji));
for (const [id, face] of [["smile", SMILE], ["frown", FROWN]]) {
  byId(id).addEventListener("click", () => {
    const conversation = state.currentConversation;
    if (conversation) client.submit(face, conversation);
  });
}

new Uploader({
  button: byId("attach"),
  input: byId("file-input"),
  dropTarget: byId("conversation"),
  dropZone: byId("drop-zone"),
  pasteTarget: byId("input"),
  status: byId("upload-status"),
  getTarget: () => {
    const conversation = state.currentConversation;
    if (!conversation || conversation.kind !== "room" || !conversation.joined || !client.uploadToken) return null;
    return { room: conversation.name, token: client.uploadToken };
  },
  getLimit: () => client.hello?.limits?.max_upload ?? 0,
});

// Joining a room, and opening a private conversation, from the room list

// The rooms there are, offered as the join form's input is typed in: the most
// populous first, each with its count and topic (as /rooms shows them).
byId("join-input").addEventListener("focus", () => {
  const offer = (found) =>
    byId("room-directory").replaceChildren(...found.map((r) => h("option", { value: r.name, label: roomLine(r) })));
  client.rooms().then(offer, () => {}); // offline: the list stays as it was
});

byId("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = byId("join-input");
  // A room's name, and its key if it has one (+k): "dev beer".
  const [name = "", key = null] = input.value.trim().replace(/^#/, "").split(/\s+/);
  if (!name) return;
  const existing = state.room(name);
  if (existing?.joined) {
    state.select(existing.key);
    input.value = "";
    closePanels();
    return;
  }
  client.join(name, { key }).then(
    () => {
      input.value = "";
      closePanels();
      byId("input").focus();
    },
    (error) => client.error(null, error),
  );
});

byId("private-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = byId("private-input");
  const nick = input.value.trim();
  if (!nick) return;
  client.openPrivate(nick);
  input.value = "";
  closePanels();
  byId("input").focus();
});

// Panels: the member list beside the conversation, or over it on a phone.

function closePanels() {
  chat.classList.remove("rooms-open", "members-open");
  byId("toggle-rooms").setAttribute("aria-expanded", "false");
}

const narrow = window.matchMedia("(max-width: 720px)");
byId("toggle-rooms").addEventListener("click", () => {
  const open = !chat.classList.contains("rooms-open");
  closePanels();
  chat.classList.toggle("rooms-open", open);
  byId("toggle-rooms").setAttribute("aria-expanded", String(open));
  if (open) byId("room-list").querySelector("button")?.focus();
});
byId("toggle-members").addEventListener("click", () => {
  if (narrow.matches) {
    const open = !chat.classList.contains("members-open");
    closePanels();
    chat.classList.toggle("members-open", open);
    byId("toggle-members").setAttribute("aria-expanded", String(open));
  } else {
    const hidden = chat.classList.toggle("members-hidden");
    byId("toggle-members").setAttribute("aria-expanded", String(!hidden));
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closePanels();
  // Alt+Up and Alt+Down: the conversation above or below in the list.
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    const keys = [...document.querySelectorAll(".conversation-list li")].map((li) => li.dataset.key);
    const at = keys.indexOf(state.current);
    const next = keys[at + (event.key === "ArrowUp" ? -1 : 1)];
    if (next) {
      event.preventDefault();
      state.select(next);
    }
  }
});

// Drawing what changed

function drawConversation() {
  log.redraw();
  members.draw();
  topic.draw();
  const conversation = state.currentConversation;
  const room = conversation?.kind === "room";
  byId("search-button").hidden = !room;
  byId("toggle-members").hidden = !room;
  byId("attach").disabled = !(room && conversation.joined);
  if (!room && !byId("search").hidden) search.close();
}

state.addEventListener("list", () => rooms.draw());
state.addEventListener("select", drawConversation);
state.addEventListener("members", (event) => {
  if (event.detail.conversation.key === state.current) members.draw();
});
state.addEventListener("topic", (event) => {
  if (event.detail.conversation.key === state.current) topic.draw();
});
state.addEventListener("entry", (event) => {
  if (event.detail.conversation.key !== state.current) return;
  if (event.detail.entry.fromHistory) log.redraw({ keepPosition: true });
  else log.append(event.detail.entry);
});
state.addEventListener("log", (event) => {
  if (event.detail.conversation.key === state.current) log.redraw({ keepPosition: true });
});
state.addEventListener("older", (event) => {
  if (event.detail.conversation.key === state.current) log.redraw({ keepPosition: true });
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.current) state.select(state.current);
});

// The connection

const connectionState = byId("connection-state");
function showConnection(text, down) {
  connectionState.textContent = text;
  connectionState.classList.toggle("down", down);
}

// Signed off for good (/quit, a kick, signed on elsewhere): the form signs
// on again over a new connection, when the user says so.
let signedOff = null;

client.addEventListener("status", (event) => {
  const { state: now, seconds, message } = event.detail;
  if (signedOff !== null && (now === "disconnected" || now === "waiting")) {
    signOn.ready(true, signedOff);
    return;
  }
  if (now === "connecting") {
    signOn.ready(false);
  } else if (now === "connected") {
    signOn.ready(true);
    showConnection("Connected", false);
  } else if (now === "waiting") {
    signOn.ready(false, `Cannot reach the server; trying again in ${Math.round(seconds)} s…`);
    showConnection(`Disconnected: reconnecting in ${Math.round(seconds)} s`, true);
  } else if (now === "disconnected") {
    signOn.ready(false, "Disconnected.");
    showConnection("Disconnected", true);
    if (event.detail.wasOn) client.notice(null, "Disconnected from the server.");
  } else if (now === "back") {
    showConnection("Connected", false);
    client.notice(null, "Connected again.");
  } else if (now === "refused") {
    signOn.ready(false, `The server refused this client: ${message}`);
  }
});

client.addEventListener("ask-signon", (event) => {
  chat.hidden = true;
  signOn.show(event.detail.message ?? "");
});

client.addEventListener("signed-on", (event) => {
  signOn.hide();
  chat.hidden = false;
  byId("own-nick").textContent = event.detail.nick;
  showConnection("Connected", false);
  byId("input").focus();
});

client.addEventListener("renamed", (event) => {
  byId("own-nick").textContent = event.detail.nick;
});

client.addEventListener("search", (event) => search.run(event.detail.words.join(" ")));

client.addEventListener("goodbye", (event) => {
  const { reason, message } = event.detail;
  if (reason === "shutdown") {
    client.notice(null, message ?? "The server is shutting down.");
    return;
  }
  chat.hidden = true;
  if (byId("account-dialog").open) byId("account-dialog").close();
  state.conversations.clear();
  state.current = null;
  rooms.draw();
  // Banned from the chat: the ban's own words (why, for how long), not the kick's.
  const banned = client.banned;
  signedOff = banned ? sentence(banned.text) : message ?? "Signed off.";
  signOn.ready(true, "Signed off.");
  signOn.show(signedOff);
  byId("signon-submit").textContent = "Sign on again";
  signOn.onSubmit = async (nick, password) => {
    signedOff = null;
    byId("signon-submit").textContent = "Sign on";
    signOn.onSubmit = (n, p) => client.signOn(n, p);
    const connected = new Promise((resolve) => client.addEventListener("ask-signon", resolve, { once: true }));
    function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".") : "";
}

client.start();
    await connected;
    return client.signOn(nick, password);
  };
});

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".") : "";
}

client.start();
