// A shared file: its name, size and link; an image is previewed. Only files
// of this server's own /files/ are previewed, so a message cannot make the
// page load an image from elsewhere.

import { h } from "../dom.js";
import { isSafeUrl, link } from "../linkify.js";
import { nickName } from "./text.js";

export const grouped = true;

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;

export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Whether `url` is a file served by this same server. */
export function isOwnFile(url) {
  if (!isSafeUrl(url)) return false;
  const parsed = new URL(url);
  return parsed.origin === location.origin && parsed.pathname.startsWith("/files/");
}

export function isImage(file) {
  return (file.type ? file.type.startsWith("image/") && file.type !== "image/svg+xml" : true) && IMAGE.test(file.name);
}

function body(entry) {
  const file = entry.file;
  const parts = [link(file.url, file.name), ` (${size(file.size)})`];
  if (isOwnFile(file.url) && isImage(file)) {
    parts.push(
      h("a.preview-link", { href: file.url, target: "_blank", rel: "noopener noreferrer", "aria-label": `Open ${file.name}` },
        h("img.preview", { src: file.url, alt: file.name, loading: "lazy" })),
    );
  }
  return h("span.file", {}, ...parts);
}

export function render(entry) {
  return [nickName(entry.nick), " shared ", body(entry)];
}

export function renderContinued(entry) {
  return ["shared ", body(entry)];
}
