// How long to wait before each reconnection attempt: about 1, 2, 4, ...
// seconds, at most 30, plus up to a second at random so that everyone a
// restart disconnected does not come back in the same instant.

export const FIRST = 1000;
export const MOST = 30000;
export const JITTER = 1000;

/** Milliseconds to wait before attempt `n` (0 for the first retry). */
export function delay(n, random = Math.random) {
  return Math.min(FIRST * 2 ** n, MOST) + Math.floor(random() * JITTER);
}
