// The bans and mutes of a room, or of the whole chat (/bans), as a table:
// what, whom, who set it and when, until when, why.

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

export function render(entry) {
  const where = entry.room ? entry.room : "the whole chat";
  if (!entry.sanctions.length) return [`No bans or mutes in ${where}`];
  const rows = entry.sanctions.map((s) =>
    h("tr", {},
      h("td", {}, s.kind),
      h("td.mask", {}, s.mask),
      h("td", {}, s.by),
      h("td", {}, when(s.set_at)),
      h("td", {}, until(s)),
      h("td", {}, s.reason ?? "")),
  );
  return [
    `Bans and mutes in ${where} (${entry.sanctions.length}):`,
    h("table.bans", {},
      h("thead", {}, h("tr", {}, ...["", "Mask", "Set by", "Since", "Until", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows)),
  ];
}
