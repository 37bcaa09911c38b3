// What a line typed in the input asks for: the line protocol's slash
// commands, each parsed here into a request the client sends as data. A
// line not starting with "/" is said to the conversation on view, and so is
// one starting with "//", less its first "/".

export const COMMANDS = {
  help: ["/help", "this list"],
  nick: ["/nick NEW", "change your nickname"],
  join: ["/join ROOM", "go to ROOM, creating it if need be"],
  part: ["/part [ROOM]", "leave this room (or ROOM)"],
  rooms: ["/rooms", "list the rooms and how many are in each"],
  who: ["/who [ROOM]", "list who is in this room, or in ROOM"],
  msg: ["/msg NICK TEXT", "send TEXT to NICK alone"],
  me: ["/me ACTION", "tell the room what you are doing"],
  away: ["/away [REASON]", "say you are away, and why; without REASON: back"],
  history: ["/history [N]", "the last N lines said in this room (default 20)"],
  search: ["/search WORDS", "the latest lines said in this room with all WORDS"],
  quit: ["/quit [REASON]", "leave the chat"],
  topic: ["/topic [TEXT]", "show this room's topic; operators: set it"],
  kick: ["/kick NICK [REASON]", "operators: disconnect NICK"],
};

export const HELP = [
  ...Object.values(COMMANDS).map(([usage, summary]) => `${usage.padEnd(19)} ${summary}`),
  "//TEXT              send a message that starts with /",
  "anything else       is said to this conversation",
];

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
    case "join":
      return { command: "join", room: roomName(oneWord("join", rest)) };
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
      return { command: "topic", text: rest || null };
    case "kick": {
      const [nick, reason] = wordAndText("kick", rest, false);
      return { command: "kick", nick, reason };
    }
    default:
      throw new CommandError(`unknown command /${name} (try /help)`);
  }
}
