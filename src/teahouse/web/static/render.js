// DOM for the chat, built with createElement and textContent only: no HTML from anyone
// ever reaches the page. User text sits in elements with dir="auto" (and names in <bdi>),
// so right-to-left text or a stray U+202E reorders only itself, never the page around it.

import { actionText, linkSegments } from "./text.js";

/** An element with `className` and, optionally, text (as a text node). */
export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

/** A user's name, isolated. */
export function nameNode(name, className = "name") {
  const node = el("bdi", className, name);
  node.dir = "auto";
  return node;
}

/** `text` as text nodes and http(s) links. */
export function richText(text, className = "text") {
  const node = el("span", className);
  node.dir = "auto";
  for (const segment of linkSegments(text)) {
    if (segment.href) {
      const link = el("a", "", segment.text);
      link.href = segment.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow ugc";
      link.dir = "auto";
      node.append(link);
    } else {
      node.append(document.createTextNode(segment.text));
    }
  }
  return node;
}

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function timeNode(ts) {
  const node = el("time", "ts");
  const when = new Date(ts);
  if (Number.isNaN(when.getTime())) return node;
  node.dateTime = when.toISOString();
  node.textContent = TIME.format(when);
  node.title = DATE.format(when);
  return node;
}

/**
 * One message: time, sender, text (an action for "/me ..."). `mention` marks it as
 * naming the reader.
 */
export function messageNode(message, { mention = false, pending = false } = {}) {
  const item = el("li", "msg");
  if (Number.isInteger(message.id)) item.dataset.id = String(message.id);
  if (mention) item.classList.add("mention");
  if (pending) item.classList.add("pending");
  item.append(timeNode(message.ts), document.createTextNode(" "));
  const action = actionText(message.text);
  if (action !== null) {
    item.classList.add("action");
    item.append(el("span", "star", "* "), nameNode(message.from), document.createTextNode(" "));
    item.append(richText(action));
  } else {
    item.append(nameNode(message.from), el("span", "sep", ": "), richText(message.text));
  }
  if (pending) item.append(el("span", "state", " (sending…)"));
  return item;
}

/** A line from the page itself (someone joined, an error, the help). */
export function systemNode(text, kind = "info") {
  const item = el("li", `system ${kind}`);
  item.append(richText(text));
  return item;
}

/**
 * The list of members, by name: `away` maps a lower-case name to its away text, `ops` holds
 * the lower-case names of the room's operators (shown with "@").
 */
export function memberNodes(members, me, { away = new Map(), ops = new Set() } = {}) {
  const sorted = [...members].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
  return sorted.map((name) => {
    const low = name.toLowerCase();
    const item = el("li", low === me.toLowerCase() ? "me" : "");
    if (ops.has(low)) item.append(el("span", "op", "@"));
    item.append(nameNode(name));
    const text = away.get(low);
    if (text) {
      item.classList.add("away");
      item.title = `away: ${text}`;
      item.append(el("span", "away-mark", " (away)"));
    }
    return item;
  });
}
