// The files shared in a message (its `files`, as the server lists them):
// the text already names and links each; an image of this server's own
// /files/ is previewed under it, so a message never makes the page load an
// image from elsewhere.

import { h } from "../dom.js";

export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Whether `url` is a path of this server's /files/, which alone is previewed. */
export function isOwnFile(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.origin === location.origin && parsed.pathname.startsWith("/files/");
  } catch {
    return false;
  }
}

/** The previews of the images among `files` (nothing for other files: the text links them). */
export function previews(files) {
  return (files ?? [])
    .filter((file) => file && file.image === true && typeof file.url === "string" && isOwnFile(file.url))
    .map((file) =>
      h(
        "a.preview-link",
        { href: new URL(file.url, location.href).href, target: "_blank", rel: "noopener noreferrer", title: String(file.name) },
        h("img.preview", { src: new URL(file.url, location.href).href, alt: String(file.name), loading: "lazy" }),
      ),
    );
}
