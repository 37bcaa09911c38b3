// Whether a line mentions a nickname, and which parts of it do. Nicknames
// compare without regard to case, ASCII letters only, as the server does.

// What may continue a nickname; a dot after one is taken for punctuation.
const BEFORE = "A-Za-z0-9_\\-.\\[\\]{}^|";
const AFTER = "A-Za-z0-9_\\-\\[\\]{}^|";

function escape(text) {
  return text.replace(/[\\^$.*+?()[\]{}|-]/g, "\\$&");
}

function pattern(nick) {
  // A mention is the nickname not inside a longer one: "alice," and "@alice"
  // count, "malice" and "alice_" do not. Trailing dots are punctuation.
  return new RegExp(`(?<![${BEFORE}])${escape(nick)}(?![${AFTER}])`, "gi");
}

/** Whether `text` mentions `nick`. */
export function mentions(text, nick) {
  if (!nick) return false;
  return pattern(nick).test(text);
}

/** `text` cut into strings and {mention} pieces where it names `nick`. */
export function splitMentions(text, nick) {
  if (!nick) return [text];
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(pattern(nick))) {
    if (match.index > last) pieces.push(text.slice(last, match.index));
    pieces.push({ mention: match[0] });
    last = match.index + match[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}
