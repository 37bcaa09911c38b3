// The WebSocket to the server, at /ws on the page's own host (wss: when the
// page came over https:), opened again after it drops, about 1, 2, 4, ...
// seconds apart (backoff.js), until the client says stop (after /quit, a
// kick, or a sign-on elsewhere: no passing failure).

import { delay } from "./backoff.js";

export function socketUrl(loc = location) {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
}

export class Connection extends EventTarget {
  constructor(url = socketUrl(), { setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    super();
    this.url = url;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.everOpened = false;
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  open() {
    this.stopped = false;
    this.timer = null;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      const again = this.everOpened;
      this.everOpened = true;
      this.emit("open", { again });
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        this.emit("garbled", { data: event.data });
        return;
      }
      this.emit("frame", data);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.emit("close", { code: event.code, reason: event.reason, clean: event.wasClean });
      if (!this.stopped) this.retry();
    });
  }

  retry() {
    const wait = delay(this.attempt);
    this.attempt += 1;
    this.emit("waiting", { seconds: wait / 1000 });
    this.timer = this.setTimer(() => this.open(), wait);
  }

  /** Try again now, instead of waiting out the backoff. */
  now() {
    if (this.timer === null) return;
    this.clearTimer(this.timer);
    this.open();
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Close, and do not open again. */
  stop() {
    this.stopped = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.socket?.close(1000);
  }
}
