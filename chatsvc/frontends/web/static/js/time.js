// Times as the client shows them: the hour and minute in the browser's own
// time zone, and the full date and time as the element's title.

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const day = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });

import { h } from "./dom.js";

/** A <time> element for `ms` (milliseconds since the epoch). */
export function timeElement(ms) {
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString(), title: full.format(date) }, clock.format(date));
}

/** The calendar day of `ms`, as shown between days. */
export function dayLabel(ms) {
  return day.format(new Date(ms));
}

/** Whether `a` and `b` fall on the same local day. */
export function sameDay(a, b) {
  return new Date(a).toDateString() === new Date(b).toDateString();
}

/** Seconds as a user reads them: 2h, 1d 3h, 45s (the two largest units), as the server says them. */
export function describeDuration(seconds) {
  let left = Math.max(1, Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [["w", 604800], ["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)}${unit}`);
      left %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}
