// The chat as this client takes part in it: signing on (and on again after
// a reconnection, back into its rooms, with what it missed from history),
// the server's events turned into the entries of State, and what the user
// asks for turned into requests. No element of the page is touched here.

import { Connection } from "./connection.js";
import { HELP, parse } from "./commands.js";
import { Protocol, RequestError } from "./protocol.js";
import { fold, privateKey, roomKey, State } from "./state.js";

export const OLDER_PAGE = 50;
export const MISSED_MOST = 500;

/** Goodbyes after which signing on again by itself would be wrong. */
const FINAL = new Set([
  "quit", "kicked", "replaced", "owner-arrived", "too-many-passwords", "login-timeout", "password-timeout", "cannot-check",
]);

// Milliseconds, unrounded: the server's times have microseconds, and lines
// said within one millisecond keep their order.
const ms = (seconds) => seconds * 1000;

/** The entry a message or action event (live or from history) makes. */
export function lineEntry(event, ownNick) {
  return {
    kind: event.type === "action" ? "action" : "message",
    said: true,
    room: event.room,
    nick: event.nick,
    text: event.text,
    notice: Boolean(event.notice),
    files: Array.isArray(event.files) ? event.files : [],
    time: ms(event.time ?? Date.now() / 1000),
    own: Boolean(ownNick) && fold(event.nick) === fold(ownNick),
  };
}

/** A room as `/rooms` and the join form show it: `dev (3): release on Friday`. */
export function roomLine(room) {
  return `${room.name} (${room.count})${room.topic ? `: ${room.topic.text}` : ""}`;
}

export class ChatClient extends EventTarget {
  constructor({ url, notify = () => {} } = {}) {
    super();
    this.state = new State();
    this.connection = new Connection(url);
    this.protocol = new Protocol(this.connection, (event) => this.event(event));
    this.notify = notify;
    this.hello = null;
    this.credentials = null; // {nick, password} that signed on
    this.uploadToken = null;
    this.signedOn = false;
    this.wanted = new Set(); // rooms to be back in after a reconnection (folded names)
    this.leftLobby = false;
    this.queue = []; // lines typed while disconnected
    this.banned = null; // the chat-wide ban that put one out, told before the goodbye
    this.connection.addEventListener("open", () => this.opened());
    this.connection.addEventListener("close", (event) => this.closed(event.detail));
    this.connection.addEventListener("waiting", (event) => this.emit("status", { state: "waiting", seconds: event.detail.seconds }));
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  start() {
    this.emit("status", { state: "connecting" });
    this.connection.open();
  }

  async opened() {
    try {
      this.hello = await this.protocol.hello();
    } catch (error) {
      this.emit("status", { state: "refused", message: error.message });
      this.connection.stop();
      return;
    }
    this.emit("status", { state: "connected" });
    if (this.credentials) await this.signOnAgain();
    else this.emit("ask-signon", {});
  }

  closed() {
    const wasOn = this.signedOn;
    this.signedOn = false;
    this.uploadToken = null;
    for (const conversation of this.state.conversations.values()) {
      if (conversation.kind === "room") conversation.joined = false;
    }
    this.state.changed("list");
    this.state.changed("select");
    this.emit("status", { state: "disconnected", wasOn });
  }

  /** Sign on as `nick` (with `password` for a registered one); rejects with the RequestError. */
  async signOn(nick, password = null) {
    const fields = { nick };
    if (password !== null) fields.password = password;
    const reply = await this.protocol.request("sign-on", fields);
    this.credentials = { nick: reply.nick, password };
    this.banned = null;
    this.wanted.clear();
    this.leftLobby = false;
    this.signedIn(reply);
    return reply;
  }

  signedIn(reply) {
    this.state.nick = reply.nick;
    this.state.operator = Boolean(reply.operator);
    this.state.account = reply.account ?? null;
    this.uploadToken = reply.upload_token ?? null;
    this.signedOn = true;
    this.emit("signed-on", reply);
    this.state.changed("list");
    this.state.changed("select");
  }

  /** After a reconnection: the same nickname (another if it was taken meanwhile), the same rooms. */
  async signOnAgain() {
    let { nick } = this.credentials;
    const { password } = this.credentials;
    for (let tries = 0; ; tries++) {
      try {
        const fields = password === null ? { nick } : { nick, password };
        const reply = await this.protocol.request("sign-on", fields);
        this.credentials = { nick: reply.nick, password };
        this.signedIn(reply);
        break;
      } catch (error) {
        if (error.code === "nickname-taken" && password === null && tries < 5) {
          nick = `${nick}_`;
          continue;
        }
        if (error.code === "disconnected") return;
        this.credentials = null;
        this.emit("ask-signon", { message: `Could not sign on again: ${error.message}` });
        return;
      }
    }
    const rooms = [...this.state.conversations.values()].filter((c) => c.kind === "room");
    const lobby = this.hello?.lobby ?? "lobby";
    const back = [];
    for (const room of rooms) {
      if (fold(room.name) === fold(lobby)) continue;
      if (!this.wanted.has(fold(room.name))) continue;
      // With the room's key as it was (its members are shown it), if it has one.
      const key = room.joinKey ?? null;
      back.push(this.join(room.name, { select: false, key }).catch((error) => this.error(room, error)));
    }
    if (this.leftLobby) back.push(this.leave(lobby).catch(() => {}));
    await Promise.all(back);
    const waiting = this.queue.splice(0);
    for (const { key, line } of waiting) await this.submit(line, this.state.get(key));
    this.emit("status", { state: "back" });
  }

  /** What was said in `room` since the latest line this client has of it. */
  async fetchMissed(room) {
    const since = room.lastSaid;
    if (since === null) return;
    try {
      const reply = await this.protocol.request("history", { room: room.name, limit: MISSED_MOST, after: since / 1000 });
      this.state.addHistory(room, (reply.lines ?? []).map((line) => lineEntry(line, this.state.nick)));
    } catch (error) {
      this.error(room, error);
    }
  }

  // The server's events

  event(event) {
    const handler = this[`on_${event.type.replace(/-/g, "_")}`];
    if (typeof handler === "function") handler.call(this, event);
  }

  /** Enter a room's data into State: members, topic, count; it is joined. */
  entered(data) {
    const room = this.state.ensureRoom(data.name);
    // Back in a room after a reconnection: what was said meanwhile.
    if (!room.joined && room.lastSaid !== null) this.fetchMissed(room);
    room.name = data.name;
    room.joined = true;
    room.memberCount = data.count;
    room.members.clear();
    for (const member of data.members ?? []) room.members.set(fold(member.nick), { ...member });
    room.topic = data.topic ?? null;
    Object.assign(room, modesOf(data));
    room.muted = null;
    this.wanted.add(fold(data.name));
    if (!this.state.current) this.state.select(room.key);
    this.state.changed("members", { conversation: room });
    this.state.changed("topic", { conversation: room });
    this.state.changed("list");
    return room;
  }

  on_entered(event) {
    this.entered(event.room);
  }

  on_history(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    const lines = (event.lines ?? []).map((line) => lineEntry(line, this.state.nick));
    this.state.addHistory(room, lines);
    if (event.joining && room.historyStarted === undefined) room.moreHistory = lines.length > 0;
    room.historyStarted = true;
    this.state.changed("select");
  }

  said(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    const entry = lineEntry(event, this.state.nick);
    this.state.add(room, entry);
    if (entry.mentioned && !entry.own) {
      this.notify(`${entry.nick} in #${room.name}`, entry.text, room.key);
    }
  }

  on_message(event) {
    this.said(event);
  }

  on_action(event) {
    this.said(event);
  }

  on_private(event) {
    this.privateMessage(event);
  }

  privateMessage(event) {
    const own = fold(event.from) === fold(this.state.nick ?? "");
    const peer = own ? event.to : event.from;
    const conversation = this.state.ensurePrivate(peer);
    const entry = {
      kind: "message", said: true, nick: event.from, text: event.text, notice: Boolean(event.notice),
      files: [], time: ms(event.time ?? Date.now() / 1000), own,
    };
    this.state.add(conversation, entry);
    if (!own) this.notify(`${event.from} (private)`, event.text, conversation.key);
    return conversation;
  }

  on_joined(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    room.members.set(fold(event.member.nick), { ...event.member });
    if (room.memberCount !== undefined) room.memberCount += 1;
    this.state.add(room, { kind: "join", room: room.name, nick: event.member.nick, time: Date.now() });
    this.state.changed("members", { conversation: room });
  }

  on_left(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    room.members.delete(fold(event.nick));
    if (room.memberCount !== undefined) room.memberCount = Math.max(0, room.memberCount - 1);
    this.state.add(room, {
      kind: "part", room: room.name, nick: event.nick, reason: event.reason ?? null,
      fromUser: Boolean(event.from_user), signedOff: Boolean(event.signed_off), time: Date.now(),
    });
    this.state.changed("members", { conversation: room });
  }

  on_nick(event) {
    const old = fold(event.old);
    if (this.state.nick && old === fold(this.state.nick)) {
      this.state.nick = event.new;
      if (this.credentials) this.credentials.nick = event.new;
      this.emit("renamed", { nick: event.new });
    }
    for (const conversation of this.state.conversations.values()) {
      const member = conversation.members.get(old);
      if (conversation.kind === "room" && member) {
        conversation.members.delete(old);
        conversation.members.set(fold(event.new), { ...member, nick: event.new });
        this.state.add(conversation, { kind: "nick", old: event.old, nick: event.new, time: Date.now() });
        this.state.changed("members", { conversation });
      }
    }
    const talk = this.state.get(privateKey(event.old));
    if (talk) {
      this.state.conversations.delete(talk.key);
      talk.name = event.new;
      talk.key = privateKey(event.new);
      this.state.conversations.set(talk.key, talk);
      if (this.state.current === privateKey(event.old)) this.state.current = talk.key;
      this.state.add(talk, { kind: "nick", old: event.old, nick: event.new, time: Date.now() });
      this.state.changed("list");
      this.state.changed("select");
    }
  }

  on_topic(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    room.topic = event.text ? { text: event.text, set_by: event.nick, set_at: event.time } : null;
    this.state.add(room, { kind: "topic", nick: event.nick, text: event.text, time: ms(event.time ?? Date.now() / 1000) });
    this.state.changed("topic", { conversation: room });
  }

  on_kicked(event) {
    const nick = fold(event.nick);
    for (const conversation of this.state.conversations.values()) {
      if (conversation.kind !== "room") continue;
      const here = conversation.members.has(nick) || fold(conversation.name) === fold(event.room);
      if (!here) continue;
      conversation.members.delete(nick);
      this.state.add(conversation, { kind: "kick", nick: event.nick, by: event.by, reason: event.reason ?? null, time: Date.now() });
      this.state.changed("members", { conversation });
    }
  }

  /** Someone was put out of one of one's rooms (a kick from it, or a ban): oneself too. */
  on_removed(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    const me = fold(event.nick) === fold(this.state.nick ?? "");
    room.members.delete(fold(event.nick));
    if (room.memberCount !== undefined) room.memberCount = Math.max(0, room.memberCount - 1);
    this.state.add(room, { kind: "removed", room: room.name, nick: event.nick, by: event.by, reason: event.reason ?? null, me, to: event.to ?? null, time: Date.now() });
    if (!me) {
      this.state.changed("members", { conversation: room });
      return;
    }
    // The room is closed: its log stays, to be read, until the user closes it.
    room.joined = false;
    room.members.clear();
    this.wanted.delete(fold(room.name));
    this.state.changed("members", { conversation: room });
    this.state.changed("list");
    this.state.changed("select");
    if (event.to) this.backIn(event.to, room);
  }

  /** Put back in `name` (the lobby) by the server, from `from`: shown as entered, and selected. */
  async backIn(name, from) {
    try {
      const [members, topic] = await Promise.all([
        this.protocol.request("members", { room: name }),
        this.protocol.request("topic", { room: name }),
      ]);
      const room = this.entered({ name: members.room ?? name, count: (members.members ?? []).length, members: members.members, topic: topic.topic });
      this.notice(room, `You are back in ${room.name}.`);
      if (this.state.current === from.key) this.state.select(room.key);
    } catch (error) {
      this.error(null, error);
    }
  }

  /** Modes of a room were set or cleared, at once (+i, +k KEY, +l MOST, +m, +n, +s, +t). */
  on_mode(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    const changes = (Array.isArray(event.changes) ? event.changes : []).map((change) => ({
      mode: String(change.mode), on: Boolean(change.on), value: change.value ?? null,
    }));
    for (const change of changes) applyMode(room, change);
    this.state.add(room, { kind: "mode", nick: event.by, changes, room: room.name, time: Date.now() });
    this.state.changed("topic", { conversation: room });
  }

  /** A member was given a voice in a room (+v: it speaks when the room is moderated), or lost it. */
  on_voice(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    const member = room.member(event.nick);
    if (member) member.voiced = Boolean(event.given);
    const given = event.given !== false;
    const said = given ? `${event.by} gave ${event.nick} a voice in ${room.name}` : `${event.by} took ${event.nick}'s voice in ${room.name}`;
    this.state.add(room, { kind: "notice", lines: [said], time: Date.now() });
    this.state.changed("members", { conversation: room });
  }

  /** An account was made an owner or operator of a registered room, or neither: its members' marks. */
  on_rank(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    for (const nick of event.nicks ?? []) {
      const member = room.member(nick);
      if (!member) continue;
      member.rank = event.rank ?? null;
      member.operator = event.rank !== null && event.rank !== undefined;
    }
    const what = event.rank === "owner" ? "an owner" : event.rank === "operator" ? "an operator" : "neither owner nor operator";
    this.state.add(room, { kind: "notice", lines: [`${event.by} made ${event.account} ${what} of ${room.name}`], time: Date.now() });
    this.state.changed("members", { conversation: room });
  }

  /**
   * A ban, mute, exception or invitation of a room was set or lifted: a line
   * in the room, for everyone in it (`sanction`: the kind, as the server
   * names it).
   */
  on_ban_list(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    this.state.add(room, {
      kind: "banlist", nick: event.by, on: event.on !== false, sanction: String(event.kind ?? "ban"),
      mask: event.mask, room: room.name, left: event.left ?? null, reason: event.reason ?? null,
      expired: event.expired === true, time: Date.now(),
    });
  }

  /** A mute runs out by itself: its badge goes when it does. */
  unmuteAt(entry) {
    setTimeout(() => {
      const room = entry.room ? this.state.room(entry.room) : null;
      if (room && room.muted === entry) room.muted = null;
      if (!entry.room && this.state.muted === entry) this.state.muted = null;
      const shown = room ?? this.state.currentConversation;
      if (shown) this.state.changed("topic", { conversation: shown });
    }, Math.max(0, entry.ends - Date.now()));
  }

  /** One is banned or muted (or may speak again): why, and for how long, where it holds. */
  on_sanctioned(event) {
    const entry = {
      kind: "sanction", sanction: event.kind, given: event.given !== false, by: event.by, reason: event.reason ?? null,
      until: event.until ?? null, left: event.left ?? null, room: event.room ?? null, text: event.text, time: Date.now(),
    };
    // When it runs out, by the server's count of what is left (the clocks may differ).
    entry.ends = entry.left === null ? null : Date.now() + entry.left * 1000;
    if (event.kind === "mute" && entry.given && entry.ends !== null) this.unmuteAt(entry);
    if (event.room) {
      const room = this.state.room(event.room);
      if (room && event.kind === "mute") room.muted = entry.given ? entry : null;
      this.state.add(room ?? this.state.currentConversation ?? this.state.ensureRoom(event.room), entry);
      if (room) this.state.changed("topic", { conversation: room });
    } else {
      this.state.muted = event.kind === "mute" && entry.given ? entry : null;
      let shown = false;
      for (const conversation of this.state.conversations.values()) {
        if (conversation.kind !== "room" || !conversation.joined) continue;
        this.state.add(conversation, { ...entry });
        shown = true;
      }
      if (!shown && this.state.currentConversation) this.state.add(this.state.currentConversation, entry);
    }
    this.banned = event.kind === "ban" && !event.room && entry.given ? event : null;
    // Only a ban or a mute is told so (an exception or an invitation tells nobody), but a kind
    // this client does not know is not called either.
    const title = event.kind === "ban" ? "You are banned"
      : event.kind === "mute" ? (entry.given ? "You are muted" : "You may speak again")
      : "Moderation";
    this.notify(title, event.text, this.state.current);
    this.emit("sanctioned", event);
  }

  /** One's guest nickname was registered, and its owner signed on: one is renamed. */
  on_nick_released(event) {
    this.on_nick({ old: event.old, new: event.new });
    const text = [].concat(event.text ?? `${event.old} belongs to a registered account: you are ${event.new} now`);
    this.notice(null, text);
  }

  /** Someone asks one to join a room (told to oneself alone). */
  on_invited(event) {
    this.notice(null, `${event.by} invites you to ${event.room}: /join ${event.room}`);
    this.notify(`${event.by} invites you`, `to #${event.room}`, this.state.current);
  }

  /** Someone was made an operator of a room, or no longer. */
  on_operator(event) {
    const room = this.state.room(event.room);
    if (!room) return;
    const member = room.member(event.nick);
    if (member) {
      member.operator = Boolean(event.given);
      if (member.rank !== "owner") member.rank = event.given ? "operator" : null;
    }
    this.state.add(room, { kind: "notice", lines: [`${event.by} ${event.given ? "made" : "took"} ${event.nick} ${event.given ? "an operator" : "off the operators"} of ${room.name}`], time: Date.now() });
    this.state.changed("members", { conversation: room });
  }

  /** An operator's notice to everyone (/wall): shown in every room one is in, as a notice. */
  on_wall(event) {
    const line = `Notice to everyone from ${event.from}: ${event.text}`;
    let shown = false;
    for (const conversation of this.state.conversations.values()) {
      if (conversation.kind !== "room" || !conversation.joined) continue;
      this.notice(conversation, line);
      shown = true;
    }
    if (!shown) this.notice(null, line);
    this.notify(`${event.from} (to everyone)`, event.text, this.state.current);
  }

  on_goodbye(event) {
    if (FINAL.has(event.reason)) {
      this.connection.stop();
      if (event.reason !== "password-timeout" && event.reason !== "too-many-passwords") this.credentials = null;
    }
    this.emit("goodbye", event);
  }

  on_notice(event) {
    this.notice(null, event.text);
  }

  on_error(event) {
    const conversation = this.state.currentConversation;
    if (conversation) this.state.add(conversation, { kind: "error", text: event.message ?? event.code, time: Date.now() });
  }

  // What the user does

  notice(conversation, lines, { table = false } = {}) {
    const target = conversation ?? this.state.currentConversation;
    if (target) this.state.add(target, { kind: "notice", lines: [].concat(lines), table, time: Date.now() });
  }

  error(conversation, error) {
    const target = conversation ?? this.state.currentConversation;
    const text = error instanceof Error ? error.message : String(error);
    if (target) this.state.add(target, { kind: "error", text, time: Date.now() });
  }

  /** Every room, the most populous first (as the server sends them), with its count and topic. */
  async rooms() {
    const reply = await this.protocol.request("rooms");
    return reply.rooms ?? [];
  }

  /**
   * Into the room `name` too, with its `key` if it has one (+k). Refused
   * for want of the key, the error says how to give it.
   */
  async join(name, { select = true, key = null } = {}) {
    const fields = key === null || key === undefined ? { room: name } : { room: name, key };
    let reply;
    try {
      reply = await this.protocol.request("join", fields);
    } catch (error) {
      if (error instanceof RequestError && error.code === "bad-key" && !error.message.includes("/join")) {
        error.message = `${error.message} (/join ${name} KEY)`;
      }
      throw error;
    }
    const room = this.entered(reply.room);
    if (select) this.state.select(room.key);
    return room;
  }

  async leave(name) {
    const reply = await this.protocol.request("leave", { room: name });
    const folded = fold(reply.room ?? name);
    this.wanted.delete(folded);
    if (folded === fold(this.hello?.lobby ?? "lobby")) this.leftLobby = true;
    this.state.remove(roomKey(reply.room ?? name));
  }

  openPrivate(nick) {
    const conversation = this.state.ensurePrivate(nick);
    this.state.select(conversation.key);
    return conversation;
  }

  closePrivate(conversation) {
    this.state.remove(conversation.key);
  }

  async say(conversation, text) {
    if (conversation.kind === "private") return this.msg(conversation.name, text);
    const reply = await this.protocol.request("say", { room: conversation.name, text });
    if (reply.message) this.state.add(conversation, lineEntry(reply.message, this.state.nick));
    return reply;
  }

  async msg(nick, text) {
    const reply = await this.protocol.request("msg", { nick, text });
    const conversation = this.privateMessage(reply.message);
    if (reply.away) this.notice(conversation, `${reply.message.to} is away: ${reply.away}`);
    return reply;
  }

  async setTopic(conversation, text) {
    return this.protocol.request("topic", { room: conversation.name, text });
  }

  /**
   * Put `nick` out of `room` (its operators), or, without one or in the
   * lobby (everyone's: put back in it at once), out of the chat (server operators).
   */
  async kick(nick, reason = null, room = null) {
    const fields = { nick };
    if (reason) fields.reason = reason;
    if (room && fold(room) !== fold(this.hello?.lobby ?? "lobby")) fields.room = room;
    return this.protocol.request("kick", fields);
  }

  // Accounts: the account panel's, and /register, /password, /unregister

  /** Register the nickname one has, with `password`; later sign-ons (reconnections too) give it. */
  async register(password) {
    const reply = await this.protocol.request("register", { password });
    this.state.account = reply.account;
    if (this.credentials) this.credentials = { nick: this.state.nick, password };
    this.emit("account", { account: reply.account });
    return reply;
  }

  async changePassword(old, password) {
    const reply = await this.protocol.request("password", { old, new: password });
    if (this.credentials) this.credentials = { ...this.credentials, password };
    return reply;
  }

  async unregister() {
    const reply = await this.protocol.request("unregister");
    this.state.account = null;
    if (this.credentials) this.credentials = { ...this.credentials, password: null };
    this.emit("account", { account: null });
    return reply;
  }

  /** The members of `room` as the server has them now (after a rank changed, say). */
  async refreshMembers(name) {
    const reply = await this.protocol.request("members", { room: name });
    const room = this.state.room(reply.room ?? name);
    if (!room) return reply;
    room.members.clear();
    for (const member of reply.members ?? []) room.members.set(fold(member.nick), { ...member });
    room.memberCount = room.members.size;
    this.state.changed("members", { conversation: room });
    return reply;
  }

  async older(room) {
    if (!room || room.loadingOlder) return;
    const oldest = room.oldestSaid;
    room.loadingOlder = true;
    this.state.changed("select");
    try {
      const fields = { room: room.name, limit: OLDER_PAGE };
      if (oldest !== null) fields.before = oldest / 1000;
      const reply = await this.protocol.request("history", fields);
      const lines = (reply.lines ?? []).map((line) => lineEntry(line, this.state.nick));
      room.moreHistory = Boolean(reply.more);
      room.loadingOlder = false;
      this.state.addHistory(room, lines);
      this.state.changed("older", { conversation: room, count: lines.length });
    } catch (error) {
      room.loadingOlder = false;
      this.error(room, error);
    }
  }

  search(room, words) {
    return this.protocol.request("search", { room, words });
  }

  /** What the user typed in `conversation`'s input: said, or the slash command it is. */
  async submit(line, conversation) {
    if (!line.trim()) return;
    if (!this.signedOn) {
      this.queue.push({ key: conversation?.key, line });
      this.notice(conversation, "Not connected: this will be sent once the connection is back.");
      return;
    }
    let request;
    try {
      request = parse(line);
    } catch (error) {
      if (line.startsWith("/") && !line.startsWith("//") && error.message.startsWith("unknown command")) {
        return this.serverCommand(line, conversation);
      }
      this.error(conversation, error);
      return;
    }
    try {
      await this.perform(request, conversation, line);
    } catch (error) {
      if (error instanceof RequestError && error.code === "disconnected") {
        this.queue.push({ key: conversation?.key, line });
      }
      this.error(conversation, error);
    }
  }

  roomFor(request, conversation, what) {
    if (request.room) return request.room;
    if (conversation?.kind === "room") return conversation.name;
    throw new Error(`${what} works in a room`);
  }

  async perform(request, conversation, line) {
    const room = () => this.roomFor(request, conversation, `/${request.command}`);
    switch (request.command) {
      case "say":
        if (!conversation) throw new Error("open a room or a private conversation first");
        return this.say(conversation, request.text);
      case "me": {
        const target = room();
        const reply = await this.protocol.request("me", { room: target, text: request.text });
        if (reply.message) this.state.add(this.state.room(target), lineEntry(reply.message, this.state.nick));
        return reply;
      }
      case "msg":
        return this.msg(request.nick, request.text);
      case "nick": {
        const reply = await this.protocol.request("nick", { nick: request.nick });
        if (this.state.nick !== reply.nick) this.on_nick({ old: this.state.nick, new: reply.nick });
        this.notice(conversation, `You are now known as ${reply.nick}`);
        return reply;
      }
      case "join":
        return this.join(request.room, { key: request.key ?? null });
      case "part":
        return this.leave(room());
      case "rooms": {
        const rooms = await this.rooms();
        this.notice(conversation, [`${rooms.length} room${rooms.length === 1 ? "" : "s"}:`, ...rooms.map(roomLine)]);
        return { rooms };
      }
      case "who": {
        const target = room();
        const reply = await this.protocol.request("members", { room: target });
        const names = (reply.members ?? []).map(
          (m) => `${m.operator ? "@" : m.voiced ? "+" : ""}${m.nick}${m.away ? " (away)" : ""}`,
        );
        this.notice(conversation, [`${names.length} in ${reply.room ?? target}:`, names.join(", ")]);
        return reply;
      }
      case "away": {
        const reply = await this.protocol.request("away", { reason: request.reason });
        this.notice(conversation, reply.away ? `You are marked as away: ${reply.away}` : "You are no longer marked as away");
        return reply;
      }
      case "history": {
        const target = room();
        const reply = await this.protocol.request("history", { room: target, limit: request.lines });
        const lines = reply.lines ?? [];
        this.notice(conversation, [
          ...(request.capped ? ["/history shows the last 500 lines at most"] : []),
          lines.length ? `History of ${target} (${lines.length} line${lines.length === 1 ? "" : "s"}):` : `No history in ${target}`,
          ...lines.map(historyLine),
        ]);
        return reply;
      }
      case "search": {
        const target = room();
        this.emit("search", { room: target, words: request.words });
        return null;
      }
      case "quit":
        return this.protocol.request("quit", request.reason ? { reason: request.reason } : {}).catch((error) => {
          if (error.code !== "disconnected") throw error;
        });
      case "topic": {
        const target = room();
        if (request.text === null) {
          const reply = await this.protocol.request("topic", { room: target });
          const topic = reply.topic;
          this.notice(conversation, topic
            ? `Topic for ${reply.room ?? target}: ${topic.text} (set by ${topic.set_by}, ${new Date(topic.set_at * 1000).toLocaleString()})`
            : `${reply.room ?? target} has no topic`);
          return reply;
        }
        return this.protocol.request("topic", { room: target, text: request.text });
      }
      case "kick":
        return this.kick(request.nick, request.reason, request.chatWide ? null : room());
      case "invite": {
        const reply = await this.protocol.request("invite", { room: room(), nick: request.nick });
        this.notice(conversation, `You invited ${reply.nick} to ${reply.room}${reply.away ? ` (away: ${reply.away})` : ""}`);
        return reply;
      }
      case "register":
        return this.told(conversation, await this.register(request.password));
      case "password":
        return this.told(conversation, await this.changePassword(request.old, request.new));
      case "unregister":
        return this.told(conversation, await this.unregister());
      case "account":
        this.emit("account-panel", {});
        return null;
      case "oper":
        return this.told(conversation, await this.protocol.request("oper", { account: request.account, given: request.given }));
      case "room-register":
      case "room-unregister": {
        const reply = await this.protocol.request(request.command, { room: room() });
        const target = this.state.room(reply.room);
        if (target) {
          target.registered = Boolean(reply.registered);
          this.refreshMembers(reply.room).catch(() => {});
        }
        return this.told(conversation, reply);
      }
      case "room-mode": {
        const target = room();
        const reply = await this.protocol.request("room-mode", { room: target, changes: request.changes });
        const shown = this.state.room(target);
        if (shown) Object.assign(shown, modesOf(reply));
        this.notice(conversation, `${target} is ${describeModes(reply)}`);
        return reply;
      }
      case "voice": {
        const reply = await this.protocol.request("voice", { room: room(), nick: request.nick, given: request.given });
        this.notice(conversation, reply.voiced
          ? `${reply.nick} has a voice in ${reply.room}`
          : `${reply.nick} has no voice in ${reply.room}`);
        return reply;
      }
      case "room-rank": {
        const target = room();
        const reply = await this.protocol.request("room-rank", { room: target, account: request.account, rank: request.rank });
        this.refreshMembers(target).catch(() => {});
        return this.told(conversation, reply);
      }
      case "ban":
      case "mute":
      case "except":
      case "invex": {
        const fields = { room: request.chatWide ? null : room(), mask: request.mask, duration: request.duration, reason: request.reason };
        return this.told(conversation, await this.protocol.request(request.command, fields));
      }
      case "unban":
      case "unmute":
      case "unexcept":
      case "uninvex": {
        const fields = { room: request.chatWide ? null : room(), mask: request.mask };
        return this.told(conversation, await this.protocol.request(request.command, fields));
      }
      case "bans": {
        const reply = await this.protocol.request("bans", { room: request.chatWide ? null : room() });
        const target = conversation ?? this.state.currentConversation;
        if (target) this.state.add(target, { kind: "bans", room: reply.room, sanctions: reply.sanctions ?? [], time: Date.now() });
        return reply;
      }
      case "help":
        this.notice(conversation, ["Commands:", ...HELP], { table: true });
        return null;
      default:
        return this.serverCommand(line, conversation);
    }
  }

  /** What the server said of a reply (`text`: its lines, as the line protocol says them). */
  told(conversation, reply) {
    if (reply?.text?.length) this.notice(conversation, reply.text);
    return reply;
  }

  /** A command this client does not know: the server runs it, as the line protocol would. */
  async serverCommand(line, conversation) {
    try {
      const fields = { line };
      if (conversation?.kind === "room") fields.room = conversation.name;
      const reply = await this.protocol.request("command", fields);
      if (reply.message) this.said(reply.message);
      else if (reply.users) this.notice(conversation, statsLines(reply));
      else this.notice(conversation, "Done.");
    } catch (error) {
      this.error(conversation, error);
    }
  }

  quit(reason) {
    return this.perform({ command: "quit", reason }, this.state.currentConversation, "/quit");
  }
}

function historyLine(line) {
  const when = new Date(line.time * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  return line.type === "action" ? `[${when}] * ${line.nick} ${line.text}` : `[${when}] <${line.nick}> ${line.text}`;
}


/** The reply to the stats request (/stats) as the lines the line protocol shows. */
export function statsLines(stats) {
  const byWire = (counts) => Object.entries(counts).map(([wire, n]) => `${wire} ${n}`).join(", ");
  const total = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);
  const seconds = Math.floor(stats.uptime);
  const pad = (n) => String(n).padStart(2, "0");
  const uptime = `${Math.floor(seconds / 86400)} days ${pad(Math.floor(seconds / 3600) % 24)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
  return [
    "Server statistics:",
    `users: ${total(stats.users)} (${byWire(stats.users)})`,
    `connections: ${total(stats.connections)} (${byWire(stats.connections)})`,
    `rooms: ${stats.rooms}`,
    `messages: ${stats.per_second.toFixed(2)} a second (over the last minute)`,
    `uptime: ${uptime}`,
    `memory: ${stats.memory === null ? "unknown" : `${(stats.memory / 2 ** 20).toFixed(1)} MiB`}`,
  ];
}

/**
 * A room's modes as data (of `entered`, `join` and `room-mode`), as the
 * state of its conversation has them: +n and +t hold unless said; its key
 * (+k) is `joinKey` (a conversation's `key` is its own, in State).
 */
export function modesOf(data) {
  return {
    invite_only: Boolean(data?.invite_only),
    moderated: Boolean(data?.moderated),
    registered: Boolean(data?.registered),
    joinKey: typeof data?.key === "string" ? data.key : null,
    limit: typeof data?.limit === "number" ? data.limit : null,
    secret: Boolean(data?.secret),
    members_only: data?.members_only !== false,
    topic_locked: data?.topic_locked !== false,
  };
}

/** The attribute of a room each mode that is on or off sets. */
const FLAGS = { i: "invite_only", m: "moderated", n: "members_only", s: "secret", t: "topic_locked" };

/** One change of a `mode` event (`{mode, on, value}`), made to `room`'s state. */
export function applyMode(room, { mode, on, value }) {
  if (mode in FLAGS) room[FLAGS[mode]] = on;
  else if (mode === "k") room.joinKey = on && value !== null ? String(value) : null;
  else if (mode === "l") room.limit = on && value !== null && Number.isFinite(Number(value)) ? Number(value) : null;
}

/**
 * A room's modes in words: "invite-only, with a key, and moderated (only
 * its operators and voiced members may speak)", "open to all, and anyone in
 * it may speak".
 */
export function describeModes(data) {
  const modes = [];
  if (data?.invite_only) modes.push("invite-only");
  if (typeof data?.key === "string") modes.push("joined with a key");
  if (typeof data?.limit === "number") modes.push(`${data.limit} members at most`);
  if (data?.secret) modes.push("secret (not listed)");
  if (data?.moderated) modes.push("moderated (only its operators and voiced members may speak)");
  if (data && data.members_only === false) modes.push("open to messages from outside");
  if (data && data.topic_locked === false) modes.push("its topic set by any member");
  if (!modes.length) return "open to all, and anyone in it may speak";
  return modes.length === 1 ? modes[0] : `${modes.slice(0, -1).join(", ")} and ${modes[modes.length - 1]}`;
}
