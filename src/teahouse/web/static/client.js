// One logical chat session that outlives WebSocket connections: the rules of the Python
// client library (teahouse.client), in the browser.
//
// - Reconnects by itself with exponential backoff and full jitter until close(); a
//   connection is dead when the server sent nothing for the heartbeat timeout, or on a
//   close, or after a fatal error. Codes after which retrying cannot help stop it.
// - Resumes without gap or duplicate: the new session logs in with dm_since = the highest
//   direct-message id seen (raised to the last_id of each DM replay_end) and rejoins every
//   room with since = the highest id seen in it; a message at or below its room's cursor
//   is never surfaced again.
// - say and dm carry a nonce and are sent again on the next session until answered: the
//   server stores and delivers them once. They survive a page reload through snapshot().
//
// - Rooms with a key are rejoined with it; if you were away, the new session says so
//   again (the server forgets it with the session).
//
// Server frames reach the page through onEvent(frame), except the direct replies to say,
// dm, history and request(), which settle their promises; say and dm replies are also
// announced as {type: "ack", nonce, message} (or {type: "nack", nonce, error}).

import {
  backoffDelay,
  Cursors,
  DM,
  FINAL_CODES,
  heartbeatAction,
  makeNonce,
  STABLE_AFTER,
} from "./policy.js";

const AUTO_JOIN = "auto:join:";
const AUTO_AWAY = "auto:away";
// Requests that change something once: not sent again on a new session.
const ONCE = new Set(["kick", "admin"]);
const CONNECT_TIMEOUT = 10;
const MIN_HEARTBEAT = 0.05;

function now() {
  return performance.now() / 1000;
}

export class ServerError extends Error {
  constructor(frame) {
    super(frame.message || frame.code);
    this.code = frame.code;
    this.retryAfter = frame.retry_after ?? null;
    this.fatal = Boolean(frame.fatal);
  }
}

export class ChatClient {
  /**
   * url: the WebSocket address; user, password; register: create the account on the first
   * connect (invite: its code); saved: what snapshot() returned before a reload;
   * onEvent(frame), onState(state, detail): the page's callbacks.
   */
  constructor({
    url,
    user,
    password,
    register = false,
    invite = null,
    saved = null,
    onEvent = () => {},
    onState = () => {},
    clientName = "teahouse-web/0.1",
    random = Math.random,
    backoffInitial = 0.5,
    backoffMax = 30,
  }) {
    this.url = url;
    this.user = user;
    this._password = password;
    this._register = register;
    this._invite = invite;
    this.onEvent = onEvent;
    this.onState = onState;
    this.clientName = clientName;
    this._random = random;
    this._backoffInitial = backoffInitial;
    this._backoffMax = backoffMax;
    this.role = "user";
    this.welcome = null;
    this.state = "connecting";
    this.cursors = new Cursors(saved?.cursors ?? {});
    this._joined = new Set(saved?.joined ?? []);
    this._wanted = new Set(saved?.wanted ?? []);
    this._keys = new Map(Object.entries(saved?.keys ?? {}));
    this.awayText = saved?.away ?? null;
    this._pending = new Map();
    this._nextRef = 1;
    this._ws = null;
    this._authed = false;
    this._fatal = null;
    this._exponent = 0;
    this._attempt = 0;
    this._sessionStarted = null;
    this._sessions = 0;
    this._timers = { connect: null, heartbeat: null, retry: null };
    this._lastReceived = 0;
    this._lastPing = null;
    this._interval = 20;
    this._timeout = 60;
    for (const frame of saved?.outbox ?? []) this._enqueue({ ...frame }, true);
  }

  /** Open the first connection. */
  start() {
    this._open();
  }

  /** Rooms this session is in (or asked for): what a reload rejoins. */
  get rooms() {
    return new Set([...this._joined, ...this._wanted]);
  }

  // -- requests ------------------------------------------------------------------------

  /**
   * Join `room` (now, and again on every new session) with its `key`, for a room that has
   * one; `joined` arrives as an event.
   */
  join(room, key = null) {
    this._wanted.add(room);
    if (key) this._keys.set(room, key);
    if (this.state === "connected" && !this._joined.has(room)) {
      this._send(this._joinFrame(room, undefined));
    }
  }

  _joinFrame(room, since) {
    const frame = { type: "join", room, ref: AUTO_JOIN + room };
    if (since !== undefined) frame.since = since;
    const key = this._keys.get(room);
    if (key) frame.key = key;
    return frame;
  }

  /** Leave `room`; it is not rejoined. */
  part(room) {
    this._wanted.delete(room);
    this._joined.delete(room);
    this._keys.delete(room);
    this.cursors.forget(room);
    if (this.state === "connected") this._send({ type: "part", room, ref: `part:${room}` });
  }

  /** Set `room`'s topic; the `topic` frame (or an `error`) arrives as an event. */
  topic(room, text) {
    if (this.state === "connected") this._send({ type: "topic", room, text, ref: `topic:${room}` });
  }

  /** Say `text` in `room`; returns {nonce, done} (done: the stored message). */
  say(room, text) {
    const nonce = makeNonce();
    return { nonce, done: this._enqueue({ type: "say", room, text, nonce }, true) };
  }

  /** A direct message to `to`; returns {nonce, done}. */
  dm(to, text) {
    const nonce = makeNonce();
    return { nonce, done: this._enqueue({ type: "dm", to, text, nonce }, true) };
  }

  /**
   * A page of stored messages (room, or dm: true), oldest first. A page may hold fewer
   * than `limit` while `more` is true (the server sends at most 512 KiB a frame): only a
   * page without `more` is the beginning.
   */
  history({ room = null, before = null, limit = 50 }) {
    const frame = { type: "history", limit };
    if (room) frame.room = room;
    else frame.dm = true;
    if (before !== null) frame.before = before;
    return this._enqueue(frame, true);
  }

  /**
   * Any other request ({type: "kick" | "away" | "whois" | "invite" | "mode" | "room", ...}):
   * resolves with the server's reply, rejects with a ServerError. A kick (or a mode change)
   * is not sent again after a cut connection: it rejects then.
   */
  request(frame) {
    const once = ONCE.has(frame.type) || (frame.type === "mode" && frame.changes);
    const done = this._enqueue({ ...frame }, !once);
    if (frame.type === "away") {
      return done.then((reply) => {
        this.awayText = reply.text ?? null;
        return reply;
      });
    }
    return done;
  }

  /** Leave for good: quit if connected, stop reconnecting. */
  close() {
    if (this.state === "closed") return;
    if (this._ws && this._ws.readyState === WebSocket.OPEN) this._send({ type: "quit" });
    this._shutdown("closed", null);
  }

  /** Reconnect at once instead of waiting for the backoff (the network is back). */
  reconnectNow() {
    if (this.state !== "reconnecting" || this._ws) return;
    clearTimeout(this._timers.retry);
    this._open();
  }

  /** What a reload needs to resume: cursors, rooms, messages not yet acknowledged. */
  snapshot() {
    const outbox = [];
    for (const req of this._pending.values()) {
      if (req.frame.type === "say" || req.frame.type === "dm") {
        const { ref: _ref, ...frame } = req.frame;
        outbox.push(frame);
      }
    }
    return {
      cursors: this.cursors.toJSON(),
      joined: [...this._joined],
      wanted: [...this._wanted],
      keys: Object.fromEntries(this._keys),
      away: this.awayText,
      outbox,
    };
  }

  _enqueue(frame, retry) {
    return new Promise((resolve, reject) => {
      const ref = this._nextRef++;
      frame.ref = ref;
      const req = { frame, resolve, reject, retry, sent: false };
      this._pending.set(ref, req);
      if (this.state === "connected" && this._ws) {
        this._send(frame);
        req.sent = true;
      }
    });
  }

  _send(frame) {
    const ws = this._ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  // -- connections ---------------------------------------------------------------------

  _open() {
    this._timers.retry = null;
    this._fatal = null;
    this._authed = false;
    this.welcome = null;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this._scheduleReconnect(0, String(error));
      return;
    }
    this._ws = ws;
    this._timers.connect = setTimeout(() => this._lost(ws, "connect_timeout"), CONNECT_TIMEOUT * 1000);
    ws.onopen = () => {
      this._lastReceived = now();
      this._send({ type: "hello", proto: 1, client: this.clientName });
      if (this._register) {
        const frame = { type: "register", user: this.user, password: this._password };
        if (this._invite) frame.invite = this._invite;
        this._send(frame);
      } else {
        const frame = { type: "login", user: this.user, password: this._password };
        const dmSince = this.cursors.get(DM);
        if (dmSince !== undefined) frame.dm_since = dmSince;
        this._send(frame);
      }
    };
    ws.onmessage = (event) => this._onMessage(ws, event.data);
    ws.onclose = (event) => this._lost(ws, event.code === 1000 ? "closed" : "disconnected");
    ws.onerror = () => {}; // a close event follows
  }

  /** The test suite calls this to cut the connection as a network failure would. */
  dropConnection() {
    if (this._ws) this._lost(this._ws, "dropped");
  }

  _lost(ws, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    clearTimeout(this._timers.connect);
    clearTimeout(this._timers.heartbeat);
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    const fatal = this._fatal;
    if (!this._authed) {
      // The login never finished: a refusal that retrying cannot change ends here.
      if (fatal && FINAL_CODES.has(fatal.code)) {
        this._shutdown(fatal.code, new ServerError(fatal));
        return;
      }
      this._scheduleReconnect(fatal?.retry_after ?? 0, fatal ? fatal.message : reason);
      return;
    }
    for (const req of this._pending.values()) {
      if (!req.sent) continue;
      req.sent = false;
      if (!req.retry) {
        this._pending.delete(req.frame.ref);
        req.reject(new Error(`the connection dropped before the reply (${reason})`));
      }
    }
    if (fatal && FINAL_CODES.has(fatal.code)) {
      this._shutdown(fatal.code, new ServerError(fatal));
      return;
    }
    if (this._sessionStarted !== null && now() - this._sessionStarted >= STABLE_AFTER) {
      this._exponent = 0;
    }
    this._sessionStarted = null;
    this._scheduleReconnect(0, fatal ? fatal.message : reason);
  }

  _scheduleReconnect(retryAfter, why) {
    const delay = Math.max(
      retryAfter,
      backoffDelay(this._exponent, this._backoffInitial, this._backoffMax, this._random),
    );
    this._exponent += 1;
    this._attempt += 1;
    this._setState(this._sessions > 0 ? "reconnecting" : "connecting", {
      delay,
      attempt: this._attempt,
      why,
    });
    this._timers.retry = setTimeout(() => this._open(), delay * 1000);
  }

  _shutdown(reason, error) {
    if (this.state === "closed") return;
    for (const timer of Object.values(this._timers)) clearTimeout(timer);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    for (const req of this._pending.values()) req.reject(error || new Error(reason));
    this._pending.clear();
    this._setState("closed", { reason, error });
  }

  _setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }

  // -- heartbeat -----------------------------------------------------------------------

  _heartbeat() {
    const ws = this._ws;
    if (!ws) return;
    const [action, next] = heartbeatAction({
      interval: this._interval,
      timeout: this._timeout,
      now: now(),
      lastReceived: this._lastReceived,
      lastPing: this._lastPing,
    });
    if (action === "dead") {
      this._lost(ws, "heartbeat_timeout");
      return;
    }
    if (action === "ping") {
      this._lastPing = now();
      this._send({ type: "ping", t: Math.floor(this._lastPing * 1000) });
    }
    const wait = Math.max(next - now(), MIN_HEARTBEAT);
    this._timers.heartbeat = setTimeout(() => this._heartbeat(), wait * 1000);
  }

  // -- frames in -----------------------------------------------------------------------

  _onMessage(ws, data) {
    if (ws !== this._ws || typeof data !== "string") return;
    this._lastReceived = now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // not ours to answer: the server only sends JSON
    }
    if (frame === null || typeof frame !== "object" || typeof frame.type !== "string") return;
    if (frame.type === "ping") {
      this._send({ type: "pong", t: frame.t });
      return;
    }
    if (!this._authed) {
      this._onHandshakeFrame(ws, frame);
      return;
    }
    if (frame.type === "error" && frame.fatal) this._fatal = frame;
    if (frame.type === "replay_end" && frame.dm && Number.isInteger(frame.last_id)) {
      // The newest DM the server had at login: resuming from here never skips one.
      this.cursors.raiseTo(DM, frame.last_id);
    }
    if (Number.isInteger(frame.ref)) {
      const req = this._pending.get(frame.ref);
      if (req) {
        this._pending.delete(frame.ref);
        this._reply(req, frame);
        return;
      }
    }
    this._surface(frame);
  }

  _onHandshakeFrame(ws, frame) {
    switch (frame.type) {
      case "welcome": {
        this.welcome = frame;
        const hb = frame.heartbeat || {};
        const timeout = Math.max(Number(hb.timeout) || 60, 2 * MIN_HEARTBEAT);
        this._timeout = timeout;
        this._interval = Math.max(MIN_HEARTBEAT, Math.min(Number(hb.interval) || 20, timeout / 2));
        this._lastPing = null;
        clearTimeout(this._timers.heartbeat);
        this._heartbeat();
        this.onEvent(frame);
        break;
      }
      case "authed":
        this._authenticated(frame);
        break;
      case "error":
        // A refused login: this connection is of no more use.
        this._fatal = frame;
        this._lost(ws, frame.code);
        break;
      default:
        break;
    }
  }

  _authenticated(frame) {
    clearTimeout(this._timers.connect);
    this._authed = true;
    this.user = frame.user;
    this.role = frame.role;
    this._register = false;
    this._invite = null;
    this._sessionStarted = now();
    this._attempt = 0;
    const resumed = this._sessions > 0;
    this._sessions += 1;
    this._setState("connected", { user: frame.user, role: frame.role, resumed });
    this.onEvent(frame);
    if (this.awayText) this._send({ type: "away", text: this.awayText, ref: AUTO_AWAY });
    for (const room of [...this._joined].sort()) {
      // 0: we were in it and it was empty, so everything is new.
      this._send(this._joinFrame(room, this.cursors.get(room) ?? 0));
    }
    for (const room of this._wanted) {
      if (this._joined.has(room)) continue;
      this._send(this._joinFrame(room, this.cursors.get(room)));
    }
    for (const [ref, req] of [...this._pending].sort((a, b) => a[0] - b[0])) {
      if (!req.sent) {
        this._send(req.frame);
        req.sent = true;
      }
      void ref;
    }
  }

  _reply(req, frame) {
    const kind = req.frame.type;
    if (frame.type === "error") {
      const error = new ServerError(frame);
      if (kind === "say" || kind === "dm") {
        this.onEvent({ type: "nack", nonce: req.frame.nonce, error, request: req.frame });
      }
      req.reject(error);
      return;
    }
    if (frame.type === "message") {
      this.cursors.note(frame);
      if (kind === "say" || kind === "dm") {
        this.onEvent({ type: "ack", nonce: req.frame.nonce, message: frame });
      }
    }
    req.resolve(frame);
  }

  _surface(frame) {
    switch (frame.type) {
      case "message":
        if (!this.cursors.accept(frame)) return;
        break;
      case "joined":
        this._joined.add(frame.room);
        this._wanted.add(frame.room);
        break;
      case "parted":
        this._joined.delete(frame.room);
        this._wanted.delete(frame.room);
        break;
      case "presence":
        if (frame.state === "left" && frame.user.toLowerCase() === this.user.toLowerCase()) {
          // Removed by a room operator: do not rejoin it.
          this._joined.delete(frame.room);
          this._wanted.delete(frame.room);
          this._keys.delete(frame.room);
        }
        break;
      case "away":
        if (frame.user.toLowerCase() === this.user.toLowerCase()) this.awayText = frame.text ?? null;
        break;
      case "error":
        if (typeof frame.ref === "string" && frame.ref.startsWith(AUTO_JOIN)) {
          const room = frame.ref.slice(AUTO_JOIN.length);
          this._joined.delete(room);
          this._wanted.delete(room);
          this._keys.delete(room);
        }
        break;
      case "welcome":
      case "authed":
        return;
      default:
        break;
    }
    this.onEvent(frame);
  }
}
