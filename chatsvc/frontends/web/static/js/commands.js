// What a line typed in the input asks for: the line protocol's slash
// commands, each parsed here into a request the client sends as data. A
// line not starting with "/" is said to the conversation on view, and so is
// one starting with "//", less its first "/".

export const COMMANDS = {
  help: ["/help", "this list"],
  nick: ["/nick NEW", "change your nickname"],
  join: ["/join ROOM [KEY]", "go to ROOM, creating it if need be; KEY if it has one"],
  part: ["/part [ROOM]", "leave this room (or ROOM)"],
  rooms: ["/rooms", "list the rooms and how many are in each"],
  who: ["/who [ROOM]", "list who is in this room, or in ROOM"],
  msg: ["/msg NICK TEXT", "send TEXT to NICK alone"],
  me: ["/me ACTION", "tell the room what you are doing"],
  away: ["/away [REASON]", "say you are away, and why; without REASON: back"],
  history: ["/history [N]", "the last N lines said in this room (default 20)"],
  search: ["/search WORDS", "the latest lines said in this room with all WORDS"],
  quit: ["/quit [REASON]", "leave the chat"],
  topic: ["/topic [TEXT|-delete]", "show this room's topic; operators: set it, or clear it"],
  kick: ["/kick [-g] NICK [REASON]", "operators: put NICK out of this room (-g: of the chat)"],
  invite: ["/invite NICK", "ask NICK to join this room"],
  voice: ["/voice NICK", "operators: let NICK speak in this moderated room"],
  devoice: ["/devoice NICK", "operators: take NICK's voice in this room"],
  register: ["/register PASSWORD", "register your nickname as an account"],
  password: ["/password OLD NEW", "change your account's password"],
  unregister: ["/unregister", "delete your account; its nickname is free"],
  account: ["/account", "your account: register, change the password, delete it"],
  room: ["/room WHAT", "register, unregister, mode +i/+m/+s/+n/+t/+k KEY/+l MOST (- clears), op/deop/owner N"],
  ban: ["/ban [-g] MASK [TIME] [WHY]", "operators: keep MASK (nick*, account:N, 10.0.0.0/8) out"],
  unban: ["/unban [-g] MASK", "operators: lift a ban"],
  mute: ["/mute [-g] MASK [TIME] [WHY]", "operators: MASK may read, not speak; TIME: 30m, 2h, 7d"],
  unmute: ["/unmute [-g] MASK", "operators: lift a mute"],
  except: ["/except MASK [TIME] [WHY]", "operators: let MASK past this room's bans and mutes"],
  unexcept: ["/unexcept MASK", "operators: lift an exception"],
  invex: ["/invex MASK [TIME] [WHY]", "operators: let MASK into this invite-only room uninvited"],
  uninvex: ["/uninvex MASK", "operators: lift an invitation"],
  bans: ["/bans [-g]", "the bans, mutes, exceptions and invitations of this room (-g: chat-wide)"],
  oper: ["/oper add|del NAME", "operators: make account NAME a server operator, or not"],
};

const USAGE_WIDTH = 19;

/** One command's lines of help: a usage too long for its column has the summary below it. */
function helpLines(usage, summary) {
  if (usage.length <= USAGE_WIDTH) return [`${usage.padEnd(USAGE_WIDTH)} ${summary}`];
  return [usage, `${" ".repeat(USAGE_WIDTH)} ${summary}`];
}

export const HELP = [
  ...Object.values(COMMANDS).flatMap(([usage, summary]) => helpLines(usage, summary)),
  ...helpLines("//TEXT", "send a message that starts with /"),
  ...helpLines("-g", "with /ban /unban /mute /unmute /bans /kick: chat-wide, not this room"),
  ...helpLines("anything else", "is said to this conversation"),
];

/** The room ranks `/room op|deop|owner|deowner NAME` gives. */
const RANKS = { owner: "owner", op: "operator", deop: null, deowner: null };

/** A room's modes, as IRC names them: the letters `/room mode` sets and clears. */
export const ROOM_MODES = "iklmnst";

export const MODES_USAGE = "+i, +m, +s, +n, +t, +k KEY or +l MOST to set; -i, -m, -s, -n, -t, -k or -l to clear";

/**
 * `+i`, `-m+s`, `+kl KEY 20`, `-k`...: the changes, as the `room-mode`
 * request has them (`{mode, on}`, and the `value` of a `+k` or `+l`): the
 * modes, then the arguments of those that take one, in order. CommandError
 * for a mode there is not, or an argument missing or left over.
 */
export function parseModes(text) {
  const [letters = "", ...args] = text.split(/\s+/).filter(Boolean);
  const changes = [];
  let on = null;
  for (const char of letters) {
    if (char === "+" || char === "-") on = char === "+";
    else if (ROOM_MODES.includes(char) && on !== null) {
      const change = { mode: char, on };
      if (on && (char === "k" || char === "l")) {
        if (!args.length) throw new CommandError(`+${char} takes ${char === "k" ? "a key" : "a number"}`);
        const value = args.shift();
        change.value = char === "l" && /^[0-9]+$/.test(value) ? Number(value) : value;
      }
      changes.push(change);
    } else throw new CommandError(`unknown room mode '${letters.slice(0, 10)}': ${MODES_USAGE}`);
  }
  if (!changes.length) throw new CommandError(`give the modes: ${MODES_USAGE}`);
  if (args.length) throw new CommandError(`too many arguments: ${MODES_USAGE}`);
  return changes;
}

/** `-g REST`: chat-wide (not this room), and what follows. */
function chatWide(rest) {
  const match = rest.match(/^-g(?:\s+([\s\S]*))?$/);
  return match ? [true, (match[1] ?? "").trim()] : [false, rest];
}

/** Whether `word` is meant as a duration (it starts with a digit), as the server reads it. */
export function looksLikeDuration(word) {
  return /^[0-9]/.test(word);
}

export const HISTORY_LINES = 20;
export const HISTORY_MAX = 500;

export class CommandError extends Error {}

function usage(name) {
  return new CommandError(`usage: ${COMMANDS[name][0]}`);
}

function oneWord(name, rest) {
  if (!rest || /\s/.test(rest)) throw usage(name);
  return rest;
}

function wordAndText(name, rest, textRequired) {
  const match = rest.match(/^(\S+)(?:\s+([\s\S]*))?$/);
  if (!match) throw usage(name);
  const text = (match[2] ?? "").trim();
  if (textRequired && !text) throw usage(name);
  return [match[1], text || null];
}

/** Strip a leading "#" from a room name, as the server allows. */
export function roomName(name) {
  return name.startsWith("#") ? name.slice(1) : name;
}

/**
 * The request `line` makes: `{command, ...arguments}`. Throws CommandError
 * with a message for the user when the command is unknown or its arguments
 * are wrong.
 */
export function parse(line) {
  if (!line.startsWith("/")) return { command: "say", text: line };
  if (line.startsWith("//")) return { command: "say", text: line.slice(1) };
  const match = line.slice(1).match(/^(\S*)\s*([\s\S]*)$/);
  const name = match[1];
  const rest = match[2].trim();
  const lower = /^[\x00-\x7f]*$/.test(name) ? name.toLowerCase() : null;
  if (!name) throw new CommandError("no command after /; type // to start a message with /");
  if (!lower || !(lower in COMMANDS)) throw new CommandError(`unknown command /${name} (try /help)`);
  switch (lower) {
    case "help":
    case "rooms":
      if (rest) throw usage(lower);
      return { command: lower };
    case "nick":
      return { command: "nick", nick: oneWord("nick", rest) };
    case "join": {
      const words = rest.split(/\s+/).filter(Boolean);
      if (!words.length || words.length > 2) throw usage("join");
      return { command: "join", room: roomName(words[0]), key: words[1] ?? null };
    }
    case "part":
      if (/\s/.test(rest)) throw usage("part");
      return { command: "part", room: rest ? roomName(rest) : null };
    case "who":
      if (/\s/.test(rest)) throw usage("who");
      return { command: "who", room: rest ? roomName(rest) : null };
    case "msg": {
      const [nick, text] = wordAndText("msg", rest, true);
      return { command: "msg", nick, text };
    }
    case "me":
      if (!rest) throw usage("me");
      return { command: "me", text: rest };
    case "away": {
      const size = new TextEncoder().encode(rest).length;
      if (size > 200) throw new CommandError(`an away message is at most 200 bytes (${size})`);
      return { command: "away", reason: rest || null };
    }
    case "history": {
      if (!rest) return { command: "history", lines: HISTORY_LINES };
      if (!/^[0-9]+$/.test(rest)) throw usage("history");
      const digits = rest.replace(/^0+/, "");
      if (digits.length > 3 || Number(digits) > HISTORY_MAX) return { command: "history", lines: HISTORY_MAX, capped: true };
      if (!digits) throw new CommandError("/history shows 1 line or more");
      return { command: "history", lines: Number(digits) };
    }
    case "search": {
      const words = rest.split(/\s+/).filter(Boolean);
      if (!words.length) throw usage("search");
      return { command: "search", words };
    }
    case "quit":
      return { command: "quit", reason: rest || null };
    case "topic":
      return { command: "topic", text: rest.trim() === "-delete" ? "" : rest || null };
    case "kick": {
      const [wide, after] = chatWide(rest);
      const [nick, reason] = wordAndText("kick", after, false);
      return { command: "kick", nick, reason, chatWide: wide };
    }
    case "invite":
      return { command: "invite", nick: oneWord("invite", rest) };
    case "voice":
    case "devoice":
      return { command: "voice", nick: oneWord(lower, rest), given: lower === "voice" };
    case "register":
      if (!rest) throw usage("register");
      return { command: "register", password: rest };
    case "password": {
      const match = rest.match(/^(\S+)\s+(\S[\s\S]*)$/);
      if (!match) throw usage("password");
      return { command: "password", old: match[1], new: match[2] };
    }
    case "unregister":
    case "account":
      if (rest) throw usage(lower);
      return { command: lower };
    case "oper": {
      const match = rest.match(/^(add|del)\s+(\S+)$/i);
      if (!match) throw usage("oper");
      return { command: "oper", account: match[2], given: match[1].toLowerCase() === "add" };
    }
    case "room": {
      const modes = rest.match(/^mode\s+(\S[\s\S]*)$/i);
      if (modes) return { command: "room-mode", changes: parseModes(modes[1]) };
      const match = rest.match(/^(\S+)(?:\s+(\S+))?$/);
      const verb = match?.[1].toLowerCase();
      const argument = match?.[2];
      if (verb === "register" && !argument) return { command: "room-register" };
      if (verb === "unregister" && !argument) return { command: "room-unregister" };
      if (verb in RANKS && argument) return { command: "room-rank", account: argument, rank: RANKS[verb] };
      throw usage("room");
    }
    // An exception or an invitation is a room's: one typed with -g goes
    // chat-wide all the same, for the server to say so (room-only), rather
    // than "-g" being taken for the mask.
    case "ban":
    case "mute":
    case "except":
    case "invex": {
      const [wide, after] = chatWide(rest);
      const match = after.match(/^(\S+)(?:\s+(\S+))?(?:\s+([\s\S]*))?$/);
      if (!match) throw usage(lower);
      let duration = null;
      let reason = [match[2], match[3]].filter(Boolean).join(" ");
      if (match[2] && looksLikeDuration(match[2])) {
        duration = match[2];
        reason = (match[3] ?? "").trim();
      }
      if (reason.length > 300) throw new CommandError(`a reason is at most 300 characters (${reason.length})`);
      return { command: lower, chatWide: wide, mask: match[1], duration, reason: reason || null };
    }
    case "unban":
    case "unmute":
    case "unexcept":
    case "uninvex": {
      const [wide, after] = chatWide(rest);
      return { command: lower, chatWide: wide, mask: oneWord(lower, after) };
    }
    case "bans":
      if (rest && rest !== "-g") throw usage("bans");
      return { command: "bans", chatWide: rest === "-g" };
    default:
      throw new CommandError(`unknown command /${name} (try /help)`);
  }
}
