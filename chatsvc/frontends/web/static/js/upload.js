// Sharing a file: chosen with the attach button, dropped on the
// conversation, or pasted; sent over HTTP (POST /files/) with the session's
// upload token, never in the WebSocket. The room then gets the message.

import { size } from "./events/file.js";

const ERRORS = {
  401: "the upload was refused: sign on again",
  403: "you are not in that room",
  413: "the file is too large",
  429: "too many files at once: wait a minute",
};

export class Uploader {
  constructor({ button, input, dropTarget, dropZone, pasteTarget, status, getTarget, getLimit, onShared }) {
    this.status = status;
    this.getTarget = getTarget; // {room, token} or null when not in a room
    this.getLimit = getLimit;
    this.onShared = onShared;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      for (const file of input.files) this.upload(file);
      input.value = "";
    });
    let depth = 0;
    dropTarget.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      depth += 1;
      dropZone.hidden = false;
    });
    dropTarget.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) dropZone.hidden = true;
    });
    dropTarget.addEventListener("dragover", (event) => {
      if (hasFiles(event)) event.preventDefault();
    });
    dropTarget.addEventListener("drop", (event) => {
      depth = 0;
      dropZone.hidden = true;
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      for (const file of event.dataTransfer.files) this.upload(file);
    });
    pasteTarget.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (!files.length) return;
      event.preventDefault();
      for (const file of files) this.upload(file, pastedName(file));
    });
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }

  async upload(file, name = file.name) {
    const target = this.getTarget();
    if (!target) {
      this.say("Files are shared in rooms: open a room first.", true);
      return null;
    }
    const limit = this.getLimit();
    if (limit && file.size > limit) {
      this.say(`${name} is too large (${size(file.size)}; at most ${size(limit)})`, true);
      return null;
    }
    this.say(`Uploading ${name} (${size(file.size)})…`);
    const query = new URLSearchParams({ room: target.room, name });
    let response;
    try {
      response = await fetch(`/files/?${query}`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${target.token}`,
          "Content-Type": file.type || "application/octet-stream",
        },
        body: file,
      });
    } catch {
      this.say(`${name} could not be uploaded: the server cannot be reached`, true);
      return null;
    }
    let answer = {};
    try {
      answer = await response.json();
    } catch {
      // An answer that is not JSON (a proxy's error page) is told by its status.
    }
    if (!response.ok) {
      this.say(`${name} could not be uploaded: ${answer.message ?? ERRORS[response.status] ?? response.statusText}`, true);
      return null;
    }
    this.say("");
    this.onShared?.(answer, target.room);
    return answer;
  }
}

function hasFiles(event) {
  return [...(event.dataTransfer?.types ?? [])].includes("Files");
}

function pastedName(file) {
  if (file.name && file.name !== "image.png") return file.name;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const extension = (file.type.split("/")[1] ?? "bin").replace(/[^a-z0-9]/gi, "");
  return `pasted-${stamp}.${extension}`;
}
