// What the client knows: its conversations (rooms it is in, and private
// conversations), each with its log, members, topic, unread count and
// mentions; and which one is shown. Views listen for changes; nothing here
// touches the page.

import { mentions } from "./mentions.js";

export const LOG_LIMIT = 2000;

/** Nicknames and room names compare without regard to ASCII case, as the server's do. */
export function fold(name) {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export function roomKey(name) {
  return `room:${fold(name)}`;
}

export function privateKey(nick) {
  return `private:${fold(nick)}`;
}

export class Conversation {
  constructor(kind, name) {
    this.kind = kind; // "room" or "private"
    this.name = name;
    this.key = kind === "room" ? roomKey(name) : privateKey(name);
    this.entries = []; // oldest first
    this.members = new Map(); // fold(nick) -> {nick, operator, away}
    this.topic = null; // {text, nick, time} or null
    this.unread = 0;
    this.mentions = 0;
    this.joined = kind === "private";
    this.moreHistory = kind === "room"; // whether older lines may exist
    this.historyCursor = null; // what the server gave to page further back
  }

  /** The time of the latest line said (message, action, file), live or from history. */
  get lastSaid() {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry.said) return entry.time;
    }
    return null;
  }

  get oldestSaid() {
    const entry = this.entries.find((e) => e.said);
    return entry ? entry.time : null;
  }

  member(nick) {
    return this.members.get(fold(nick));
  }
}

export class State extends EventTarget {
  constructor() {
    super();
    this.nick = null;
    this.operator = false;
    this.conversations = new Map();
    this.current = null; // key
  }

  changed(what, detail = {}) {
    this.dispatchEvent(new CustomEvent(what, { detail }));
  }

  get(key) {
    return this.conversations.get(key);
  }

  get currentConversation() {
    return this.current ? this.conversations.get(this.current) : null;
  }

  room(name) {
    return this.conversations.get(roomKey(name));
  }

  /** The conversation for this room, made if need be. */
  ensureRoom(name) {
    let room = this.room(name);
    if (!room) {
      room = new Conversation("room", name);
      this.conversations.set(room.key, room);
      this.changed("list");
    }
    return room;
  }

  ensurePrivate(nick) {
    const key = privateKey(nick);
    let conversation = this.conversations.get(key);
    if (!conversation) {
      conversation = new Conversation("private", nick);
      this.conversations.set(key, conversation);
      this.changed("list");
    }
    return conversation;
  }

  remove(key) {
    this.conversations.delete(key);
    if (this.current === key) {
      const next = [...this.conversations.values()].find((c) => c.kind === "room" && c.joined);
      this.current = next ? next.key : null;
      this.changed("select");
    }
    this.changed("list");
  }

  select(key) {
    const conversation = this.conversations.get(key);
    if (!conversation) return;
    this.current = key;
    conversation.unread = 0;
    conversation.mentions = 0;
    this.changed("select");
    this.changed("list");
  }

  /** Whether `entry` (said by someone else) names this user. */
  mentionsMe(entry) {
    return Boolean(
      this.nick && entry.nick && fold(entry.nick) !== fold(this.nick) && entry.text && mentions(entry.text, this.nick),
    );
  }

  /**
   * Add `entry` to `conversation`'s log: live entries at the end, history
   * (`entry.fromHistory`) in time order among what is there, once. Counts
   * unread lines and mentions when the conversation is not on view.
   */
  add(conversation, entry) {
    entry.mentioned = entry.said ? this.mentionsMe(entry) : false;
    const entries = conversation.entries;
    if (entry.fromHistory) {
      if (entries.some((e) => sameLine(e, entry))) return false;
      let at = entries.length;
      while (at > 0 && (entries[at - 1].time ?? 0) > entry.time) at--;
      entries.splice(at, 0, entry);
    } else {
      entries.push(entry);
    }
    if (entries.length > LOG_LIMIT) entries.splice(0, entries.length - LOG_LIMIT);
    const seen = this.current === conversation.key && document.visibilityState === "visible";
    if (!entry.fromHistory && entry.said && !entry.own && !seen) {
      conversation.unread += 1;
      if (entry.mentioned || conversation.kind === "private") conversation.mentions += 1;
      this.changed("list");
    }
    this.changed("entry", { conversation, entry });
    return true;
  }

  /**
   * Add entries from history (oldest first) in time order among those of
   * the log, each once; redraws once. Lines of one page keep their order.
   */
  addHistory(conversation, entries) {
    const list = conversation.entries;
    const had = list.filter((e) => e.said); // one page's lines are never each other's copies
    let added = 0;
    let from = 0;
    for (const entry of entries) {
      entry.fromHistory = true;
      entry.mentioned = this.mentionsMe(entry);
      if (had.some((e) => sameLine(e, entry))) continue;
      let at = from;
      while (at < list.length && (list[at].time ?? 0) <= entry.time) at++;
      list.splice(at, 0, entry);
      from = at + 1;
      added += 1;
    }
    if (list.length > LOG_LIMIT) list.splice(0, list.length - LOG_LIMIT);
    if (added) this.changed("log", { conversation });
    return added;
  }
}

/** How far apart (ms) a live line's stamp and its history's may be: the server stamps the
 * event as it fans it out and the history line as it records it, after the fan-out. */
const SAME_LINE_MS = 1000;

/** Whether `a` and `b` are the same line said (one live, one from history, say). */
export function sameLine(a, b) {
  return (
    a.said && b.said && a.nick === b.nick && a.text === b.text && Math.abs(a.time - b.time) < SAME_LINE_MS
  );
}
