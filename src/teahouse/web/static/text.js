// What a message's text means to the page, as pure functions: links, mentions, /me, and
// the commands typed in the message box. Nothing here builds HTML: the view turns the
// segments into text nodes and links with createElement and textContent only.

// Bidirectional controls end a link too: they would reorder how its text shows.
const URL_LIKE = /\bhttps?:\/\/[^\s<>"'`\u200e\u200f\u202a-\u202e\u2066-\u2069]+/gi;
const TRAILING = ".,;:!?'\"»”’)]}>";

/**
 * Split `text` into segments: {text} and {text, href}. Only http and https links become
 * links, and only when the URL parser agrees; everything else stays text.
 */
export function linkSegments(text) {
  const segments = [];
  let last = 0;
  for (const match of text.matchAll(URL_LIKE)) {
    const candidate = trimTrailing(match[0]);
    const href = safeHref(candidate);
    if (href === null) continue;
    if (match.index > last) segments.push({ text: text.slice(last, match.index) });
    segments.push({ text: candidate, href });
    last = match.index + candidate.length;
  }
  if (last < text.length) segments.push({ text: text.slice(last) });
  return segments;
}

/** Punctuation that ends a sentence is not part of a link; a closing bracket is, when the
 * link opened it (https://en.wikipedia.org/wiki/Tea_(meal)). */
function trimTrailing(candidate) {
  let end = candidate.length;
  while (end > 0) {
    const ch = candidate[end - 1];
    const head = candidate.slice(0, end);
    if (ch === ")" && count(head, "(") >= count(head, ")")) break;
    if (!TRAILING.includes(ch)) break;
    end -= 1;
  }
  return candidate.slice(0, end);
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** The link's address when it is a well-formed http(s) URL, else null. */
export function safeHref(candidate) {
  let url;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.href;
}

const NAME_CHARS = "A-Za-z0-9_\\-\\[\\]\\\\^{}|";

/** A test for `user`'s name as a word of a text, in any case. */
export function mentionTest(user) {
  const escaped = user.replace(/[\\^$.*+?()[\]{}|-]/g, "\\$&");
  return new RegExp(`(^|[^${NAME_CHARS}])${escaped}($|[^${NAME_CHARS}])`, "i");
}

/** "/me waves" -> "waves" (an action, as IRC's ACTION arrives), else null. */
export function actionText(text) {
  return text.startsWith("/me ") ? text.slice(4) : null;
}

/**
 * What the message box asks for: {kind: "say", text} for plain text (and `//x` for a
 * text that starts with a slash), or a command {kind, ...}, or {kind: "error", text}.
 */
export function parseEntry(input) {
  const text = input.replace(/[\r\n]+/g, " ");
  if (!text.trim()) return { kind: "nothing" };
  if (!text.startsWith("/") || text.startsWith("//")) {
    return { kind: "say", text: text.startsWith("//") ? text.slice(1) : text };
  }
  const match = text.match(/^\/(\S+)\s*(.*)$/s);
  const word = match[1].toLowerCase();
  const rest = match[2];
  switch (word) {
    case "me":
      return rest.trim() ? { kind: "say", text: `/me ${rest}` } : error("/me what?");
    case "join":
    case "j": {
      const words = rest.trim().split(/\s+/).filter(Boolean);
      if (!words.length || words.length > 2) return error("/join which room? /join room [key]");
      return { kind: "join", room: words[0], key: words[1] ?? null };
    }
    case "part":
    case "leave":
      return { kind: "part", room: rest.trim() || null };
    case "msg":
    case "query": {
      const [, to, body] = rest.match(/^(\S+)\s*(.*)$/s) || [];
      return to ? { kind: "dm", to, text: body } : error("/msg who?");
    }
    case "topic":
      return { kind: "topic", text: rest };
    case "away":
      return { kind: "away", text: rest.trim() || null };
    case "back":
      return { kind: "away", text: null };
    case "whois":
    case "kick":
    case "invite": {
      const [, user, why] = rest.match(/^(\S+)\s*(.*)$/s) || [];
      if (!user) return error(`/${word} who?`);
      if (word === "kick") return { kind: "kick", user, reason: why.trim() || null };
      return { kind: word, user };
    }
    case "mode": {
      const [changes, ...args] = rest.trim().split(/\s+/).filter(Boolean);
      if (changes && !/^[+-][A-Za-z+-]*$/.test(changes)) return error("/mode +k key, /mode -k, or /mode alone");
      return { kind: "mode", changes: changes ?? null, args };
    }
    case "help":
      return { kind: "help" };
    default:
      return error(`unknown command /${word} (try /help; // sends a text that starts with /)`);
  }
}

function error(text) {
  return { kind: "error", text };
}

export const HELP = [
  "/join room [key]: join (or open) a room; the key for a room that has one",
  "/part: leave this room",
  "/me does something: an action",
  "/msg name text: a direct message",
  "/topic text: set this room's topic",
  "/away [text]: set yourself away; /away alone (or /back): back",
  "/whois name: who someone is (online, rooms, away, idle)",
  "/invite name: let someone into this room",
  "/kick name [reason]: room operators: remove someone from this room",
  "/mode [+/-modes [args]]: see or change this room's modes",
  "Alt+Up / Alt+Down: previous / next conversation; Alt+1 to Alt+9: jump to one",
  "Page Up in the messages: older messages load as you scroll up",
];

/** The number of characters as the server counts them (code points). */
export function textLength(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

const DOORS = { native: "the native protocol", irc: "IRC", web: "the web" };

function seconds(value) {
  if (typeof value !== "number") return "?";
  if (value < 10) return `${value.toFixed(1)} s`;
  const total = Math.round(value);
  if (total < 60) return `${total} s`;
  if (total < 3600) return `${Math.floor(total / 60)} min${total % 60 ? ` ${total % 60} s` : ""}`;
  const minutes = Math.floor(total / 60);
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
}

/** The answer to `whois`, one fact a line (as the terminal client shows it). */
export function whoisLines(info) {
  if (info.online === false) return [`${info.user} is not online`];
  const role = info.role && info.role !== "user" ? ` (${info.role})` : "";
  const doors = (info.door || "").split(",").filter(Boolean).map((d) => DOORS[d] ?? d);
  let head = `${info.user}${role} is online`;
  if (doors.length) head += ` through ${doors.join(" and ")}`;
  if (info.guest) head += ", as a guest (no account)";
  const rooms = (info.rooms ?? []).map((r) => `#${r}`).join(", ");
  const lines = [head, `rooms: ${rooms || "none you can see"}`];
  if (info.away) lines.push(`away: ${info.away}`);
  if (typeof info.idle === "number") lines.push(`idle: ${seconds(info.idle)}`);
  if (info.address) lines.push(`address: ${info.address}`);
  return lines;
}

/** "bob was kicked by alice: flooding" (the reason left out when it is only the kicker's
 * name, the server's default); "you were kicked by alice" when it is you. */
export function kickLine(frame, me) {
  const mine = (name) => (name ?? "").toLowerCase() === me.toLowerCase();
  const who = mine(frame.user) ? "you were" : `${frame.user} was`;
  const by = mine(frame.by) ? "you" : frame.by;
  const text = frame.text ?? "";
  const why = text && text.toLowerCase() !== (frame.by ?? "").toLowerCase() ? `: ${text}` : "";
  return `${who} kicked by ${by}${why}`;
}

/** "#lobby modes: +nt", "alice set +k secret (modes now: +knt)". */
export function modeLine(frame, me) {
  const params = frame.params ?? [];
  const now = (frame.modes ?? "").replace(/^\+$/, "") ? [frame.modes, ...params].join(" ") : "none";
  if (!frame.changes) return `#${frame.room} modes: ${now}`;
  const who = !frame.by || frame.by.toLowerCase() === me.toLowerCase() ? "you" : frame.by;
  const change = [frame.changes, ...(frame.args ?? [])].join(" ");
  return `${who} set ${change} (modes now: ${now})`;
}
