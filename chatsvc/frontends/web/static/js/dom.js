// Building the page out of elements. Everything a user wrote goes in as a
// text node (textContent, createTextNode), never as HTML: nothing here takes
// markup, so no message, nickname, topic or file name can become a script.

/**
 * A new element: `h("li.member.op", {title: "operator"}, "alice")`.
 * Attributes are set with setAttribute (event handlers are never given as
 * strings: `on: {click: fn}` adds listeners); children are nodes or strings,
 * strings becoming text nodes.
 */
export function h(tag, attributes = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name);
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") {
      for (const [type, listener] of Object.entries(value)) element.addEventListener(type, listener);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key.startsWith("on")) {
      throw new Error(`event handlers go in "on", not as the attribute ${key}`);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Append children (nodes, strings as text, arrays of either; null is skipped). */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return parent;
}

/** Remove every child of `element`. */
export function clear(element) {
  element.replaceChildren();
  return element;
}

/** The element with this id, which the page must have. */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}
