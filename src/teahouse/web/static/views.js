// One conversation (a room, or direct messages with one person) and its transcript: the
// messages by id, each shown once and in id order, the ones still being sent, unread counts,
// and what is kept in sessionStorage for a reload (the newest KEEP messages).

import { el, messageNode, systemNode } from "./render.js";

export const KEEP = 200;
/** Messages of each conversation kept for a reload. */
const MAX_SHOWN = 3000;
/** Messages kept in the page per conversation; older ones load again when scrolled to. */

export class View {
  /** key: "#room" or "@name"; kind: "room" or "dm"; name: the room or the person. */
  constructor(key, kind, name) {
    this.key = key;
    this.kind = kind;
    this.name = name;
    this.topic = "";
    this.members = new Set();
    this.ops = new Set(); // lower-case names of the room's operators
    this.modes = "";
    this.unread = 0;
    this.mentions = 0;
    this.hasOlder = true;
    this.loading = false;
    this.dmBefore = null; // for DMs: the oldest id paged through (all DMs come mixed)
    this.messages = new Map(); // id -> message frame
    this.items = new Map(); // id -> <li>
    this.pending = new Map(); // nonce -> <li>
    this.list = el("ol", "messages");
    this.list.setAttribute("aria-label", kind === "room" ? `messages in ${name}` : `messages with ${name}`);
    this.older = el("li", "older");
    this.olderButton = el("button", "linkish", "Load older messages");
    this.olderButton.type = "button";
    this.older.append(this.olderButton);
    this.list.append(this.older);
  }

  get title() {
    return this.kind === "room" ? `#${this.name}` : this.name;
  }

  /** The oldest message id shown, or null. */
  get oldestId() {
    let oldest = null;
    for (const id of this.messages.keys()) if (oldest === null || id < oldest) oldest = id;
    return oldest;
  }

  /** Whether older messages may exist; the button at the top says so. */
  setHasOlder(value) {
    this.hasOlder = value;
    this.olderButton.textContent = value ? "Load older messages" : "This is the beginning";
    this.olderButton.disabled = !value;
  }

  /** Show `message` in id order unless it is there already; true when it was added. */
  add(message, options = {}) {
    if (this.messages.has(message.id)) return false;
    this.messages.set(message.id, message);
    const item = messageNode(message, options);
    this.items.set(message.id, item);
    // Find the place from the end: new messages almost always go last. Lines without an
    // id (the page's own notes, messages being sent) keep their place.
    let before = null;
    for (let node = this.list.lastElementChild; node && node !== this.older; node = node.previousElementSibling) {
      const id = node.dataset.id;
      if (id !== undefined && Number(id) < message.id) break;
      if (id !== undefined || node.classList.contains("pending")) before = node;
    }
    this.list.insertBefore(item, before);
    this._trim();
    return true;
  }

  /** Older messages (a history page), above everything shown. */
  addOlder(messages, options) {
    const sorted = [...messages].sort((a, b) => a.id - b.id);
    const anchor = this.older.nextElementSibling;
    for (const message of sorted) {
      if (this.messages.has(message.id)) continue;
      this.messages.set(message.id, message);
      const item = messageNode(message, options(message));
      this.items.set(message.id, item);
      this.list.insertBefore(item, anchor);
    }
  }

  /** A message of ours on its way; `ack` or `fail` settles it. */
  addPending(nonce, message) {
    const item = messageNode(message, { pending: true });
    this.pending.set(nonce, item);
    this.list.append(item);
  }

  ack(nonce, message) {
    const item = this.pending.get(nonce);
    if (item) {
      item.remove();
      this.pending.delete(nonce);
    }
    return this.add(message);
  }

  fail(nonce, why) {
    const item = this.pending.get(nonce);
    if (!item) return;
    this.pending.delete(nonce);
    item.classList.remove("pending");
    item.classList.add("failed");
    const state = item.querySelector(".state");
    if (state) state.textContent = ` (not sent: ${why})`;
  }

  note(text, kind = "info") {
    this.list.append(systemNode(text, kind));
  }

  /** Forget messages older than `id`: a replay was cut there, so they are not contiguous
   * with what follows; scrolling up loads the gap. */
  dropBefore(id) {
    for (const [messageId, item] of this.items) {
      if (messageId < id) {
        item.remove();
        this.items.delete(messageId);
        this.messages.delete(messageId);
      }
    }
    this.setHasOlder(true);
  }

  _trim() {
    if (this.messages.size <= MAX_SHOWN) return;
    const ids = [...this.messages.keys()].sort((a, b) => a - b);
    for (const id of ids.slice(0, this.messages.size - MAX_SHOWN)) {
      this.items.get(id)?.remove();
      this.items.delete(id);
      this.messages.delete(id);
    }
    this.setHasOlder(true);
    this.dmBefore = null;
  }

  /** The newest KEEP messages, for sessionStorage. */
  toJSON() {
    const messages = [...this.messages.values()].sort((a, b) => a.id - b.id).slice(-KEEP);
    return { kind: this.kind, name: this.name, topic: this.topic, messages, unread: this.unread };
  }
}
