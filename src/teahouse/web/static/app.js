// The teahouse web client: the page's controller. It logs in, keeps a ChatClient (which
// reconnects and resumes by itself), turns its frames into conversations (views.js), and
// keeps what a reload needs in sessionStorage (this tab only, gone when it closes).

import { ChatClient } from "./client.js";
import { roomName, USER_NAME } from "./policy.js";
import { el, memberNodes, nameNode } from "./render.js";
import { HELP, kickLine, mentionTest, modeLine, parseEntry, textLength, whoisLines } from "./text.js";
import { View } from "./views.js";

const STORE_KEY = "teahouse.session.v1";
const SAVE_DELAY = 300;
const HISTORY_PAGE = 50;
const DM_PAGES = 10;
const $ = (id) => document.getElementById(id);

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function loadStored() {
  try {
    const raw = sessionStorage.getItem(STORE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

class App {
  constructor() {
    this.views = new Map();
    this.order = [];
    this.active = null;
    this.client = null;
    this.me = "";
    this.mentions = null;
    this.serverName = "teahouse";
    this.maxText = 4096;
    this.maxReplay = 500;
    this.remember = true;
    this.password = "";
    this.saveTimer = null;
    this.pendingJoin = null; // the room to show once its `joined` arrives
    this.freshRooms = new Set(); // rooms whose replay is context, not news (no since)
    this.scroll = new Map(); // view key -> scrollTop when last left (null: at the bottom)
    this.away = new Map(); // lower-case name -> away text, for those known to be away
    this.transcript = $("transcript");
    this._bind();
  }

  // -- start ---------------------------------------------------------------------------

  boot() {
    const stored = loadStored();
    if (stored && stored.user) {
      $("login-user").value = stored.user;
      this.remember = stored.remember !== false;
      $("login-remember").checked = this.remember;
      if (stored.password) {
        this.me = stored.user;
        this.mentions = mentionTest(stored.user);
        this._restoreViews(stored);
        this._start(stored.user, stored.password, false, null, stored);
        return;
      }
    }
    this._showLogin();
  }

  _start(user, password, register, invite, stored) {
    this.password = password;
    const sameUser = stored && stored.user && stored.user.toLowerCase() === user.toLowerCase();
    if (!sameUser) {
      this._clearViews();
      stored = null;
    }
    this.me = user;
    this.mentions = mentionTest(user);
    this.client = new ChatClient({
      url: wsUrl(),
      user,
      password,
      register,
      invite,
      saved: stored?.snapshot ?? null,
      onEvent: (frame) => this._onEvent(frame),
      onState: (state, detail) => this._onState(state, detail),
    });
    for (const frame of stored?.snapshot?.outbox ?? []) this._showPending(frame);
    $("login-status").textContent = "Connecting…";
    $("login-submit").disabled = true;
    this.client.start();
  }

  _restoreViews(stored) {
    for (const saved of stored.views ?? []) {
      const view = this._view(saved.kind, saved.name);
      view.topic = saved.topic ?? "";
      view.unread = saved.unread ?? 0;
      for (const message of saved.messages ?? []) view.add(message, { mention: this._isMention(message) });
    }
    const active = stored.active && this.views.get(stored.active);
    if (active) this._activate(active);
  }

  // -- conversations ---------------------------------------------------------------------

  _view(kind, name) {
    const key = kind === "room" ? `#${name}` : `@${name.toLowerCase()}`;
    let view = this.views.get(key);
    if (!view) {
      view = new View(key, kind, name);
      view.olderButton.addEventListener("click", () => this._loadOlder(view));
      this.views.set(key, view);
      this.order.push(view);
      this.order.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "room" ? -1 : 1));
      this._renderSidebar();
    }
    return view;
  }

  _removeView(view) {
    this.views.delete(view.key);
    this.order = this.order.filter((v) => v !== view);
    if (this.active === view) {
      this.active = null;
      this._activate(this.order[0] ?? null);
    }
    this._renderSidebar();
    this._save();
  }

  _clearViews() {
    this.views.clear();
    this.order = [];
    this.active = null;
    this._activate(null);
    this._renderSidebar();
  }

  _activate(view) {
    if (this.active) {
      const bottom = this._atBottom();
      this.scroll.set(this.active.key, bottom ? null : this.transcript.scrollTop);
    }
    this.active = view;
    this.transcript.replaceChildren();
    if (view) {
      this.transcript.append(view.list);
      view.unread = 0;
      view.mentions = 0;
      const top = this.scroll.get(view.key);
      this.transcript.scrollTop = top ?? this.transcript.scrollHeight;
    }
    this._renderHeader();
    this._renderMembers();
    this._renderSidebar();
    document.body.classList.remove("drawer-open");
    this._save();
  }

  _step(delta) {
    if (!this.order.length) return;
    const at = Math.max(0, this.order.indexOf(this.active));
    const next = this.order[(at + delta + this.order.length) % this.order.length];
    this._activate(next);
    this._focusEntry();
  }

  _isMention(message) {
    return Boolean(
      this.mentions && !message.dm && message.from?.toLowerCase() !== this.me.toLowerCase() &&
        this.mentions.test(message.text),
    );
  }

  // -- frames from the server ----------------------------------------------------------

  _onEvent(frame) {
    switch (frame.type) {
      case "welcome":
        this.serverName = frame.name || "teahouse";
        this.maxText = frame.limits?.max_text ?? this.maxText;
        this.maxReplay = frame.limits?.max_replay ?? this.maxReplay;
        $("entry").maxLength = this.maxText * 2; // UTF-16 units; the count is checked on send
        break;
      case "authed":
        this.me = frame.user;
        this.mentions = mentionTest(frame.user);
        break;
      case "joined":
        this._onJoined(frame);
        break;
      case "message":
        this._onMessage(frame);
        break;
      case "replay_end":
        if (frame.room) {
          const fresh = this.freshRooms.delete(frame.room);
          const view = this.views.get(`#${frame.room}`);
          if (!view) break;
          if (frame.truncated && Number.isInteger(frame.oldest_id)) view.dropBefore(frame.oldest_id);
          // A first join replays the newest 50: fewer means there is nothing older.
          else if (fresh && frame.count < Math.min(50, this.maxReplay)) view.setHasOlder(false);
        }
        break;
      case "parted": {
        const view = this.views.get(`#${frame.room}`);
        if (view) this._removeView(view);
        break;
      }
      case "presence":
        this._onPresence(frame);
        break;
      case "away":
        this._onAway(frame);
        break;
      case "mode":
        this._onMode(frame);
        break;
      case "invited":
        this.active?.note(
          frame.user.toLowerCase() === this.me.toLowerCase()
            ? `${frame.by} invited you to #${frame.room}: /join ${frame.room}`
            : `${frame.by} invited ${frame.user} to #${frame.room}`,
          "notice",
        );
        break;
      case "topic": {
        const view = this.views.get(`#${frame.room}`);
        if (!view) break;
        view.topic = frame.text;
        view.note(frame.text ? `${frame.by} set the topic: ${frame.text}` : `${frame.by} cleared the topic`);
        if (view === this.active) this._renderHeader();
        this._save();
        break;
      }
      case "notice": {
        const where = frame.room ? this.views.get(`#${frame.room}`) : this.active;
        (where || this.active)?.note(`notice from ${frame.by}: ${frame.text}`, "notice");
        break;
      }
      case "ack": {
        const view = this._viewOf(frame.message);
        view.ack(frame.nonce, frame.message);
        this._stickToBottom(view);
        this._save();
        break;
      }
      case "nack": {
        const request = frame.request;
        const view = request.type === "say" ? this.views.get(`#${request.room}`) : this.views.get(`@${request.to.toLowerCase()}`);
        view?.fail(frame.nonce, frame.error.message);
        this._save();
        break;
      }
      case "error":
        this._onError(frame);
        break;
      case "admin_result":
        this.active?.note(frame.text);
        break;
      default:
        break;
    }
  }

  _onJoined(frame) {
    const view = this._view("room", frame.room);
    view.topic = frame.topic || "";
    view.members = new Set(frame.members);
    view.ops = new Set((frame.ops ?? []).map((name) => name.toLowerCase()));
    view.modes = frame.modes ?? "";
    if (this.client.cursors.get(frame.room) === undefined) this.freshRooms.add(frame.room);
    if (!this.active || this.pendingJoin === frame.room) {
      this.pendingJoin = null;
      this._activate(view);
    } else if (view === this.active) {
      this._renderHeader();
      this._renderMembers();
    }
    this._save();
  }

  _viewOf(message) {
    if (message.dm) {
      const peer = message.from.toLowerCase() === this.me.toLowerCase() ? message.to : message.from;
      return this._view("dm", peer);
    }
    return this._view("room", message.room);
  }

  _onMessage(message) {
    const view = this._viewOf(message);
    const mention = this._isMention(message);
    const atBottom = this._atBottom();
    if (!view.add(message, { mention })) return;
    const mine = message.from.toLowerCase() === this.me.toLowerCase();
    const context = message.replay && !message.dm && this.freshRooms.has(message.room);
    if (!mine && !context) {
      const seen = view === this.active && !document.hidden;
      if (!seen) {
        view.unread += 1;
        if (mention || message.dm) view.mentions += 1;
      }
      if (mention || message.dm) this._notify(view, message);
      this._renderSidebar();
    }
    if (view === this.active && atBottom) this._toBottom();
    this._save();
  }

  /** Someone joined or left a room. The reply to your own kick comes here too (the kicker
   * also gets the room's presence): the second finds the user gone and adds no line. */
  _onPresence(frame) {
    const view = this.views.get(`#${frame.room}`);
    if (!view) return;
    const low = frame.user.toLowerCase();
    const self = low === this.me.toLowerCase();
    const kick = frame.reason === "kicked" && frame.by;
    if (frame.state === "joined") {
      view.members.add(frame.user);
      if (!self) view.note(`${frame.user} joined`, "presence");
    } else {
      let was = false;
      for (const name of view.members) {
        if (name.toLowerCase() === low) {
          view.members.delete(name);
          was = true;
        }
      }
      view.ops?.delete(low);
      if (kick && !was) return; // said already
      if (kick) {
        view.note(kickLine(frame, this.me), self ? "error" : "presence");
      } else if (self) {
        view.note(`you were removed from #${frame.room}`, "error");
      } else {
        const reason = frame.reason ? ` (${frame.reason}${frame.text ? `: ${frame.text}` : ""})` : "";
        view.note(`${frame.user} left${reason}`, "presence");
      }
    }
    if (view === this.active) {
      this._renderMembers();
      if (this._atBottom(80)) this._toBottom();
    }
  }

  _onAway(frame) {
    const low = frame.user.toLowerCase();
    if (frame.text) this.away.set(low, frame.text);
    else this.away.delete(low);
    if (low === this.me.toLowerCase()) this._renderAway();
    this._renderMembers();
  }

  _onMode(frame) {
    const view = this.views.get(`#${frame.room}`);
    if (!view) {
      this.active?.note(modeLine(frame, this.me));
      return;
    }
    view.modes = frame.modes ?? view.modes;
    // +o/-o: the arguments of the letters that take one, in order ("-k" may carry one).
    const letters = [];
    let sign = "+";
    for (const ch of frame.changes ?? "") {
      if (ch === "+" || ch === "-") sign = ch;
      else letters.push([sign, ch]);
    }
    const takes = ([s, c]) => "ovbk".includes(c) || (c === "l" && s === "+");
    const args = [...(frame.args ?? [])];
    let spare = args.length - letters.filter((l) => takes(l) && !(l[0] === "-" && l[1] === "k")).length;
    for (const [s, c] of letters) {
      if (s === "-" && c === "k") {
        if (spare-- > 0) args.shift();
        continue;
      }
      const arg = takes([s, c]) ? args.shift() : undefined;
      if (c === "o" && arg) {
        if (s === "+") view.ops?.add(arg.toLowerCase());
        else view.ops?.delete(arg.toLowerCase());
      }
    }
    view.note(modeLine(frame, this.me));
    if (view === this.active) this._renderMembers();
  }

  _renderAway() {
    const text = this.away.get(this.me.toLowerCase());
    $("me").textContent = text ? `${this.me} (away)` : this.me;
    $("me").title = text ? `away: ${text}` : "";
  }

  /** A request of the page's own (whois, kick, ...): its failure is said in `view`. */
  async _ask(view, frame) {
    try {
      return await this.client.request(frame);
    } catch (error) {
      view?.note(error.code ? `${error.code}: ${error.message}` : error.message, "error");
      return null;
    }
  }

  _onError(frame) {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    if (ref.startsWith("auto:join:")) {
      const room = ref.slice("auto:join:".length);
      const view = this.views.get(`#${room}`);
      const where = this.active && this.active !== view ? this.active : null;
      if (view && view.messages.size === 0) this._removeView(view);
      (where || this.active)?.note(`cannot join #${room}: ${frame.message}`, "error");
      return;
    }
    (this.active ?? null)?.note(`${frame.code}: ${frame.message}`, "error");
    if (!this.active) this._status(`${frame.code}: ${frame.message}`, "error");
  }

  _onState(state, detail) {
    const status = $("status");
    status.dataset.state = state;
    $("retry").hidden = state !== "reconnecting";
    switch (state) {
      case "connected":
        this._showChat();
        $("login-submit").disabled = false;
        $("login-status").textContent = "";
        this._status(`Connected as ${detail.user}`);
        if (!this.client.rooms.size && !detail.resumed) {
          this.pendingJoin = "lobby";
          this.client.join("lobby");
        }
        this._save();
        break;
      case "connecting":
      case "reconnecting": {
        this.away.clear(); // the server forgets it with the session; it is said again
        this._renderAway();
        const seconds = Math.max(1, Math.round(detail.delay));
        const why = detail.why ? ` (${detail.why})` : "";
        const text = `Connection lost${why}; reconnecting in ${seconds} s (attempt ${detail.attempt})…`;
        if ($("chat").hidden) {
          $("login-status").textContent = `Cannot reach the server${why}; retrying in ${seconds} s…`;
        }
        this._status(text, "warning");
        break;
      }
      case "closed": {
        const error = detail.error;
        $("login-submit").disabled = false;
        if (error) {
          $("login-status").textContent = error.message;
          this._forgetPassword();
          this._showLogin();
          $("login-password").focus();
        }
        this._status("Offline", "error");
        break;
      }
      default:
        break;
    }
  }

  // -- doing things ----------------------------------------------------------------------

  _submitEntry() {
    const entry = $("entry");
    const parsed = parseEntry(entry.value);
    const view = this.active;
    switch (parsed.kind) {
      case "nothing":
        return;
      case "say": {
        if (!view) {
          this._status("join a room first: /join lobby", "error");
          return;
        }
        if (textLength(parsed.text) > this.maxText) {
          view.note(`too long: at most ${this.maxText} characters`, "error");
          return;
        }
        const sent = view.kind === "room" ? this.client.say(view.name, parsed.text) : this.client.dm(view.name, parsed.text);
        view.addPending(sent.nonce, { from: this.me, text: parsed.text, ts: new Date().toISOString() });
        sent.done.catch(() => {}); // failures arrive as nack events
        this._toBottom();
        break;
      }
      case "join": {
        const name = roomName(parsed.room);
        if (!name) {
          view?.note(`not a room name: ${parsed.room}`, "error");
          return;
        }
        const existing = this.views.get(`#${name}`);
        if (existing && this.client.rooms.has(name)) this._activate(existing);
        else {
          this.pendingJoin = name;
          this.client.join(name, parsed.key);
        }
        break;
      }
      case "away":
        this._ask(view, { type: "away", ...(parsed.text ? { text: parsed.text } : {}) }).then((reply) => {
          if (!reply) return;
          this._onAway(reply);
          view?.note(reply.text ? `you are away: ${reply.text}` : "you are back");
        });
        break;
      case "whois":
        if (!USER_NAME.test(parsed.user)) {
          view?.note(`not a user name: ${parsed.user}`, "error");
          return;
        }
        this._ask(view, { type: "whois", user: parsed.user }).then((info) => {
          if (info) for (const line of whoisLines(info)) view?.note(line);
        });
        break;
      case "kick":
      case "invite":
      case "mode": {
        if (view?.kind !== "room") {
          view?.note(`/${parsed.kind} is for rooms: open one first`, "error");
          return;
        }
        if (parsed.kind === "mode") {
          const frame = { type: "mode", room: view.name };
          if (parsed.changes) Object.assign(frame, { changes: parsed.changes, args: parsed.args });
          this._ask(view, frame).then((reply) => reply && this._onMode(reply));
        } else if (parsed.kind === "kick") {
          const frame = { type: "kick", room: view.name, user: parsed.user };
          if (parsed.reason) frame.reason = parsed.reason;
          this._ask(view, frame).then((reply) => reply && this._onPresence(reply));
        } else {
          this._ask(view, { type: "invite", room: view.name, user: parsed.user }).then(
            (reply) => reply && view.note(`you invited ${reply.user} to #${reply.room}`),
          );
        }
        break;
      }
      case "part": {
        const name = parsed.room ? roomName(parsed.room) : view?.kind === "room" ? view.name : null;
        if (!name) {
          view?.note("part which room?", "error");
          return;
        }
        this.client.part(name);
        const gone = this.views.get(`#${name}`);
        if (gone) this._removeView(gone);
        break;
      }
      case "dm": {
        if (!USER_NAME.test(parsed.to)) {
          view?.note(`not a user name: ${parsed.to}`, "error");
          return;
        }
        const target = this._view("dm", parsed.to);
        this._activate(target);
        if (parsed.text.trim()) {
          const sent = this.client.dm(parsed.to, parsed.text);
          target.addPending(sent.nonce, { from: this.me, text: parsed.text, ts: new Date().toISOString() });
          sent.done.catch(() => {});
        }
        break;
      }
      case "topic":
        if (view?.kind !== "room") {
          view?.note("topics are for rooms", "error");
          return;
        }
        this.client.topic(view.name, parsed.text);
        break;
      case "help":
        for (const line of HELP) (view ?? this._view("room", "lobby")).note(line);
        break;
      default:
        view?.note(parsed.text, "error");
        return;
    }
    entry.value = "";
    this._save();
  }

  _showPending(frame) {
    const view = frame.type === "say" ? this._view("room", frame.room) : this._view("dm", frame.to);
    view.addPending(frame.nonce, { from: this.me, text: frame.text, ts: new Date().toISOString() });
  }

  async _loadOlder(view) {
    if (view.loading || !view.hasOlder || !this.client || this.client.state !== "connected") return;
    view.loading = true;
    view.olderButton.textContent = "Loading…";
    const height = this.transcript.scrollHeight;
    const top = this.transcript.scrollTop;
    try {
      let found = [];
      if (view.kind === "room") {
        const page = await this.client.history({ room: view.name, before: view.oldestId, limit: HISTORY_PAGE });
        found = page.messages;
        // A page may be short (512 KiB a frame) while there is more: only `more` tells.
        if (!page.more || !found.length) view.hasOlder = false;
      } else {
        // Direct-message history is one stream for all conversations: page through it
        // until some are with this person.
        const limit = Math.min(100, this.maxReplay);
        const peer = view.name.toLowerCase();
        for (let pages = 0; pages < DM_PAGES && !found.length && view.hasOlder; pages += 1) {
          const before = view.dmBefore ?? view.oldestId;
          const page = await this.client.history({ before, limit });
          found = page.messages.filter(
            (m) => m.from.toLowerCase() === peer || (m.to ?? "").toLowerCase() === peer,
          );
          if (page.messages.length) view.dmBefore = page.messages[0].id;
          if (!page.more || !page.messages.length) view.hasOlder = false;
        }
      }
      view.addOlder(found, (m) => ({ mention: this._isMention(m) }));
    } catch (error) {
      view.note(`could not load older messages: ${error.message}`, "error");
    } finally {
      view.loading = false;
      view.setHasOlder(view.hasOlder);
    }
    if (view === this.active) this.transcript.scrollTop = top + (this.transcript.scrollHeight - height);
    this._save();
  }

  _notify(view, message) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (!document.hidden && view === this.active) return;
    const where = message.dm ? "direct message" : `#${message.room}`;
    const note = new Notification(`${message.from} (${where})`, {
      body: message.text.slice(0, 300),
      tag: view.key,
    });
    note.onclick = () => {
      window.focus();
      this._activate(view);
      note.close();
    };
  }

  _logout() {
    this.client?.close();
    this.client = null;
    sessionStorage.removeItem(STORE_KEY);
    this._clearViews();
    this.password = "";
    $("login-password").value = "";
    $("login-status").textContent = "You are logged out.";
    this._showLogin();
  }

  // -- the page --------------------------------------------------------------------------

  _showLogin() {
    $("chat").hidden = true;
    $("login").hidden = false;
    ($("login-user").value ? $("login-password") : $("login-user")).focus();
  }

  _showChat() {
    if (!$("chat").hidden) return;
    $("login").hidden = true;
    $("chat").hidden = false;
    $("me").textContent = this.me;
    $("notify").hidden = !("Notification" in window) || Notification.permission !== "default";
    this._renderSidebar();
    this._renderHeader();
    this._focusEntry();
  }

  _focusEntry() {
    $("entry").focus();
  }

  _status(text, kind = "ok") {
    const status = $("status-text");
    status.textContent = text;
    $("status").dataset.kind = kind;
  }

  _renderHeader() {
    const view = this.active;
    const title = $("view-title");
    const topic = $("view-topic");
    title.replaceChildren();
    if (view) title.append(nameNode(view.title, "title"));
    topic.textContent = view?.kind === "room" ? view.topic : view ? "direct messages" : "";
    $("entry").placeholder = view ? `Message ${view.title}` : "Join a room: /join lobby";
    const unread = this.order.reduce((n, v) => n + v.unread, 0);
    document.title = `${unread ? `(${unread}) ` : ""}${view ? `${view.title} · ` : ""}${this.serverName}`;
  }

  _renderMembers() {
    const list = $("members-list");
    const view = this.active;
    if (!view || view.kind !== "room") {
      $("members").hidden = true;
      list.replaceChildren();
      return;
    }
    $("members").hidden = false;
    $("members-count").textContent = String(view.members.size);
    list.replaceChildren(...memberNodes(view.members, this.me, { away: this.away, ops: view.ops }));
  }

  _renderSidebar() {
    const rooms = $("room-list");
    const dms = $("dm-list");
    const roomItems = [];
    const dmItems = [];
    this.order.forEach((view, index) => {
      const item = el("li");
      const button = el("button", "view-button");
      button.type = "button";
      if (view === this.active) button.setAttribute("aria-current", "page");
      if (view.mentions) button.classList.add("has-mention");
      button.append(nameNode(view.title, "label"));
      if (view.unread) {
        const badge = el("span", "badge", String(view.unread));
        badge.setAttribute("aria-label", `${view.unread} unread`);
        button.append(badge);
      }
      if (index < 9) button.title = `Alt+${index + 1}`;
      button.addEventListener("click", () => {
        this._activate(view);
        this._focusEntry();
      });
      item.append(button);
      (view.kind === "room" ? roomItems : dmItems).push(item);
    });
    rooms.replaceChildren(...roomItems);
    dms.replaceChildren(...dmItems);
    $("dm-empty").hidden = dmItems.length > 0;
    this._renderHeader();
  }

  _atBottom(slack = 40) {
    const t = this.transcript;
    return t.scrollHeight - t.scrollTop - t.clientHeight <= slack;
  }

  _toBottom() {
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  _stickToBottom(view) {
    if (view === this.active) this._toBottom();
  }

  // -- keeping state for a reload ------------------------------------------------------

  _save() {
    if (this.saveTimer !== null) return;
    this.saveTimer = setTimeout(() => this._saveNow(), SAVE_DELAY);
  }

  _saveNow() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.client || this.client.state === "closed") return;
    const state = {
      user: this.client.user,
      remember: this.remember,
      snapshot: this.client.snapshot(),
      views: this.order.map((view) => view.toJSON()),
      active: this.active?.key ?? null,
    };
    if (this.remember) state.password = this.password;
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch {
      // Storage full or off: a reload then asks to log in again, nothing worse.
    }
  }

  _forgetPassword() {
    const stored = loadStored();
    if (stored) {
      delete stored.password;
      sessionStorage.setItem(STORE_KEY, JSON.stringify(stored));
    }
  }

  // -- wiring ------------------------------------------------------------------------------

  _bind() {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const user = $("login-user").value.trim();
      const password = $("login-password").value;
      const register = $("login-register").checked;
      const invite = $("login-invite").value.trim() || null;
      if (!USER_NAME.test(user)) {
        $("login-status").textContent =
          "A user name starts with a letter and has up to 32 letters, digits or _-[]\\^{}|.";
        return;
      }
      if (!password) {
        $("login-status").textContent = "Type your password.";
        return;
      }
      this.remember = $("login-remember").checked;
      this.client?.close();
      this._start(user, password, register, invite, loadStored());
    });
    $("login-register").addEventListener("change", (event) => {
      $("invite-row").hidden = !event.target.checked;
      $("login-submit").textContent = event.target.checked ? "Create account" : "Log in";
    });
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this._submitEntry();
    });
    $("join-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("join-room");
      const name = roomName(input.value);
      if (!name) {
        input.setCustomValidity("1 to 50 lower-case letters, digits, _ or -");
        input.reportValidity();
        return;
      }
      input.setCustomValidity("");
      input.value = "";
      const existing = this.views.get(`#${name}`);
      if (existing) this._activate(existing);
      else {
        this.pendingJoin = name;
        this.client?.join(name);
      }
      this._focusEntry();
    });
    $("join-room").addEventListener("input", (event) => event.target.setCustomValidity(""));
    $("dm-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("dm-user");
      const name = input.value.trim();
      if (!USER_NAME.test(name)) {
        input.setCustomValidity("not a user name");
        input.reportValidity();
        return;
      }
      input.setCustomValidity("");
      input.value = "";
      this._activate(this._view("dm", name));
      this._focusEntry();
    });
    $("dm-user").addEventListener("input", (event) => event.target.setCustomValidity(""));
    $("logout").addEventListener("click", () => this._logout());
    $("retry").addEventListener("click", () => this.client?.reconnectNow());
    $("notify").addEventListener("click", async () => {
      const answer = await Notification.requestPermission();
      $("notify").hidden = answer !== "default";
    });
    $("menu").addEventListener("click", () => {
      const open = document.body.classList.toggle("drawer-open");
      $("menu").setAttribute("aria-expanded", String(open));
      if (open) $("sidebar").querySelector("button, input")?.focus();
    });
    document.querySelector(".conversation").addEventListener("pointerdown", () => {
      if (!document.body.classList.contains("drawer-open")) return;
      document.body.classList.remove("drawer-open");
      $("menu").setAttribute("aria-expanded", "false");
    });
    this.transcript.addEventListener("scroll", () => {
      if (this.active && this.transcript.scrollTop < 120) this._loadOlder(this.active);
    });
    document.addEventListener("keydown", (event) => this._onKey(event));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.active) {
        this.active.unread = 0;
        this.active.mentions = 0;
        this._renderSidebar();
        this.client?.reconnectNow();
      }
    });
    window.addEventListener("online", () => this.client?.reconnectNow());
    window.addEventListener("pagehide", () => this._saveNow());
  }

  _onKey(event) {
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      if (event.key === "ArrowUp" || event.key === "ArrowDown") {
        event.preventDefault();
        this._step(event.key === "ArrowUp" ? -1 : 1);
        return;
      }
      if (/^Digit[1-9]$/.test(event.code)) {
        const view = this.order[Number(event.code.slice(5)) - 1];
        if (view) {
          event.preventDefault();
          this._activate(view);
          this._focusEntry();
        }
        return;
      }
      if (event.code === "KeyJ") {
        event.preventDefault();
        document.body.classList.add("drawer-open");
        $("join-room").focus();
        return;
      }
    }
    if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
      document.body.classList.remove("drawer-open");
      $("menu").setAttribute("aria-expanded", "false");
      this._focusEntry();
    }
    if (event.key === "PageUp" && event.target === $("entry") && this.active) {
      this.transcript.scrollBy(0, -this.transcript.clientHeight * 0.9);
    }
    if (event.key === "PageDown" && event.target === $("entry")) {
      this.transcript.scrollBy(0, this.transcript.clientHeight * 0.9);
    }
  }
}

const app = new App();
// One hook for the browser tests: cut the connection as a network failure would.
window.teahouseDrop = () => app.client?.dropConnection();
app.boot();
