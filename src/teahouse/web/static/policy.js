// The client's decisions as pure functions, the same rules as teahouse.client.policy (the
// Python client library): heartbeat, backoff with full jitter, resume cursors, duplicates.
// Nothing here touches the DOM, the network or a clock: time and randomness are arguments.

export const DM = "@dm";
/** The key of direct messages among the cursors (rooms are keyed by name). */

export const FINAL_CODES = new Set([
  "banned",
  "bad_credentials",
  "unsupported_proto",
  "registration_closed",
  "invalid_name",
  "weak_password",
  "user_taken",
]);
/** Error codes after which reconnecting cannot help: the client stops instead. */

export const STABLE_AFTER = 10;
/** A session that lasted this many seconds resets the backoff. */

/**
 * Seconds to wait before reconnect attempt `attempt` (0 for the first retry): "full
 * jitter", uniform in [0, min(maximum, initial * 2**attempt)), so that clients cut off
 * together by one server restart do not all come back at the same instant.
 */
export function backoffDelay(attempt, initial, maximum, random) {
  const cap = Math.min(maximum, initial * 2 ** Math.min(Math.max(attempt, 0), 62));
  return random() * cap;
}

/**
 * What to do about the server's silence at `now` (seconds), and when to ask again:
 * ping once the server has been silent for `interval` (and again every interval while the
 * silence lasts); the connection is dead after `timeout` seconds without a frame.
 * Returns [action, nextCheck] with action "nothing", "ping" or "dead".
 */
export function heartbeatAction({ interval, timeout, now, lastReceived, lastPing }) {
  const deadAt = lastReceived + timeout;
  if (now >= deadAt) return ["dead", now];
  const pingAt =
    lastPing === null || lastPing < lastReceived ? lastReceived + interval : lastPing + interval;
  if (now >= pingAt) return ["ping", Math.min(now + interval, deadAt)];
  return ["nothing", Math.min(pingAt, deadAt)];
}

/** The key of a message among the cursors and the views: its room, or DM. */
export function cursorKey(message) {
  return message.dm || message.room == null ? DM : message.room;
}

/**
 * The highest message id seen, per room and for direct messages. Ids grow strictly
 * within a room (and within a user's DMs), so one number per room is enough both to
 * resume (`join since`, `login dm_since`) and to drop duplicates.
 */
export class Cursors {
  constructor(saved = {}) {
    this.last = new Map(Object.entries(saved));
  }

  /** True (and the cursor moves) if `message` is new; false for a duplicate. */
  accept(message) {
    const key = cursorKey(message);
    const last = this.last.get(key);
    if (last !== undefined && message.id <= last) return false;
    this.last.set(key, message.id);
    return true;
  }

  /** Record a message seen outside the event stream (the reply to say or dm). */
  note(message) {
    this.raiseTo(cursorKey(message), message.id);
  }

  /** Everything up to `id` in `key` has been accounted for. */
  raiseTo(key, id) {
    const last = this.last.get(key);
    if (last === undefined || id > last) this.last.set(key, id);
  }

  get(key) {
    return this.last.get(key);
  }

  forget(key) {
    this.last.delete(key);
  }

  toJSON() {
    return Object.fromEntries(this.last);
  }
}

/** A nonce for say and dm: the server stores and delivers a retried request once. */
export function makeNonce(random = () => crypto.getRandomValues(new Uint8Array(12))) {
  const bytes = random();
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

/** User names: the protocol's rule. Rooms: lower case, as the server folds them. */
export const USER_NAME = /^[A-Za-z][A-Za-z0-9_\-[\]\\^{}|]{0,31}$/;
export const ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,49}$/;

/** "#Lobby " -> "lobby", or null when it cannot be a room name. */
export function roomName(text) {
  const name = text.trim().replace(/^#/, "").toLowerCase();
  return ROOM_NAME.test(name) ? name : null;
}
