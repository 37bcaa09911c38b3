// The bans, mutes, exceptions and invitations of a room, or the bans and
// mutes of the whole chat (/bans), as a table: what, whom, who set it and
// when, until when, why.

import { h } from "../dom.js";
import { describeDuration } from "../time.js";

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

export function until(sanction) {
  if (sanction.until === null || sanction.until === undefined) return "for good";
  const left = sanction.left ?? sanction.until - Date.now() / 1000;
  return `${describeDuration(left)} left (until ${when(sanction.until)})`;
}

/** What each kind of sanction does to whom its mask matches: the title of its kind's cell. */
export const KINDS = {
  ban: "kept out",
  mute: "may read, not speak",
  exception: "let past the room's bans and mutes (+e)",
  invitation: "let into the room uninvited while it is invite-only (+I)",
};

/** The heading of a list: the kinds it has, the room's own ones if there are any. */
export function heading(sanctions, where) {
  const exempting = sanctions.some((s) => s.kind === "exception" || s.kind === "invitation");
  const kinds = exempting ? "Bans, mutes, exceptions and invitations" : "Bans and mutes";
  return `${kinds} in ${where} (${sanctions.length}):`;
}

export function render(entry) {
  const where = entry.room ? entry.room : "the whole chat";
  if (!entry.sanctions.length) return [`No bans or mutes in ${where}`];
  const rows = entry.sanctions.map((s) =>
    h("tr", { dataset: { kind: String(s.kind) } },
      h("td.kind", { title: Object.hasOwn(KINDS, s.kind) ? KINDS[s.kind] : null }, String(s.kind)),
      h("td.mask", {}, s.mask),
      h("td", {}, s.by),
      h("td", {}, when(s.set_at)),
      h("td", {}, until(s)),
      h("td", {}, s.reason ?? "")),
  );
  return [
    heading(entry.sanctions, where),
    h("table.bans", {},
      h("thead", {}, h("tr", {}, ...["", "Mask", "Set by", "Since", "Until", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows)),
  ];
}
