// The JSON protocol over the WebSocket (docs/websocket.md, version 1):
// requests with an id, each answered by one reply or error with that id;
// everything else the server sends is an event, handed to `onEvent`.

export const VERSION = 1;
export const CLIENT = "chatsvc-web/0.1";

/** A request the server refused: `code` for the program, `message` for the user. */
export class RequestError extends Error {
  constructor(code, message, frame = {}) {
    super(message);
    this.code = code;
    this.frame = frame;
  }
}

export class Protocol {
  constructor(connection, onEvent) {
    this.connection = connection;
    this.onEvent = onEvent;
    this.nextId = 1;
    this.pending = new Map();
    connection.addEventListener("frame", (event) => this.received(event.detail));
    connection.addEventListener("close", () => this.lost());
  }

  /** Send request `type` with `fields`; resolves with the reply, rejects with a RequestError. */
  request(type, fields = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.connection.send({ ...fields, type, id })) {
        reject(new RequestError("disconnected", "not connected to the server"));
        return;
      }
      this.pending.set(id, { resolve, reject, type });
    });
  }

  hello() {
    return this.request("hello", { versions: [VERSION], client: CLIENT });
  }

  received(frame) {
    if (frame === null || typeof frame !== "object" || typeof frame.type !== "string") return;
    if ((frame.type === "reply" || frame.type === "error") && frame.id !== null && frame.id !== undefined) {
      const waiting = this.pending.get(frame.id);
      if (!waiting) return;
      this.pending.delete(frame.id);
      if (frame.type === "reply") waiting.resolve(frame);
      else waiting.reject(new RequestError(frame.code, frame.message ?? frame.code, frame));
      return;
    }
    this.onEvent(frame);
  }

  lost() {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiting of pending) waiting.reject(new RequestError("disconnected", "the connection was lost"));
  }
}
