"""The operator command set, shared by the console, the admin socket and ``admin`` frames.

A command arrives either as words (``kick bob flooding``, from the console or
``teahouse admin``) or as a name and an argument mapping (``{"cmd": "kick", "args":
{"user": "bob", "reason": "flooding"}}``, from an ``admin`` frame). :func:`parse_words`
turns words into the mapping, so every entrance runs the same :meth:`CommandSet.run`.

Each run is written to the audit log (logger ``teahouse.audit``) with who asked, through
which entrance, and the arguments, passwords masked.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from teahouse.core.hub import AdminRunner, Hub
from teahouse.core.moderation import parse_network
from teahouse.core.room import Room
from teahouse.core.session import Session
from teahouse.errors import ChatError, InvalidField, InvalidName, NoSuchUser, StorageFailed
from teahouse.protocol.modes import parse_mode_changes
from teahouse.protocol.names import is_room_name, is_user_name
from teahouse.store.base import Account, BanKind, Role, StoreError

audit = logging.getLogger("teahouse.audit")

Args = dict[str, object]
Result = tuple[str, object]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FOREVER = {"0", "forever", "permanent", "perm"}
_MAX_DURATION = 100 * 365 * 86400.0
"""Longer is what "forever" is for; also keeps expiry times inside SQLite's integers."""


def parse_duration(value: object) -> float | None:
    """Seconds from ``90``, ``"90"``, ``"10m"``, ``"2h"``, ``"7d"``; None for forever/0."""
    if isinstance(value, bool) or value is None:
        raise InvalidField("a duration is a number of seconds or like 10m, 2h, 7d")
    if isinstance(value, int | float):
        if not 0 <= value <= _MAX_DURATION:  # negative, NaN, inf or absurd
            raise InvalidField("a duration is 0 (forever) up to 100 years, in seconds")
        return float(value) if value > 0 else None
    text = str(value).strip().lower()
    if text in _FOREVER:
        return None
    match = _DURATION.fullmatch(text)
    if match is None:
        raise InvalidField(f"bad duration {text!r}: use seconds or 30s, 10m, 2h, 7d, 1w")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > _MAX_DURATION:
        raise InvalidField(f"duration {text!r} is over 100 years: use 'forever'")
    return seconds


def _looks_like_duration(word: str) -> bool:
    return word.lower() in _FOREVER or _DURATION.fullmatch(word.lower()) is not None


def parse_words(words: list[str]) -> tuple[str, Args]:
    """``["ban", "bob", "1h", "spam"]`` -> ``("ban", {"target": "bob", ...})``.

    Raises :class:`InvalidField` with the command's usage when the words do not fit.
    """
    if not words:
        raise InvalidField("no command given; try 'help'")
    cmd, rest = words[0].lower(), words[1:]
    spec = COMMANDS.get(cmd)
    if spec is None:
        raise InvalidField(f"unknown command {cmd!r}; try 'help'")
    args: Args = {}
    if cmd == "user":
        return cmd, _parse_user_words(rest)
    if cmd == "room":
        return cmd, _parse_room_words(rest)
    rest = list(rest)
    for name in spec.params:
        optional = name.endswith("?")
        key = name.rstrip("?*")
        if name.endswith("*"):
            if rest:
                args[key] = " ".join(rest)
            rest = []
            break
        if not rest:
            if optional:
                continue
            raise InvalidField(f"usage: {spec.usage}")
        if key == "duration" and not _looks_like_duration(rest[0]):
            continue
        args[key] = rest.pop(0)
    if rest:
        raise InvalidField(f"too many words; usage: {spec.usage}")
    return cmd, args


def _parse_user_words(rest: list[str]) -> Args:
    usage = COMMANDS["user"].usage
    flags = {w for w in rest if w.startswith("--")}
    words = [w for w in rest if not w.startswith("--")]
    if flags - {"--admin"} or not words:
        raise InvalidField(f"usage: {usage}")
    action = words[0]
    shape = {"add": 3, "del": 2, "passwd": 3, "role": 3, "list": 1}
    if shape.get(action) != len(words):
        raise InvalidField(f"usage: {usage}")
    args: Args = {"action": action}
    if len(words) > 1:
        args["name"] = words[1]
    if action in ("add", "passwd"):
        args["password"] = words[2]
    if action == "role":
        args["role"] = words[2]
    if "--admin" in flags:
        args["admin"] = True
    return args


def _parse_room_words(rest: list[str]) -> Args:
    usage = COMMANDS["room"].usage
    if len(rest) < 2 or rest[0] not in ("info", "mode", "owner", "delete"):
        raise InvalidField(f"usage: {usage}")
    action, room, more = rest[0], rest[1], rest[2:]
    args: Args = {"action": action, "room": room}
    if action == "mode":
        if not more:
            raise InvalidField(f"usage: {usage}")
        args["modes"] = more[0]
        args["args"] = " ".join(more[1:])
    elif action == "owner":
        if len(more) != 1:
            raise InvalidField(f"usage: {usage}")
        args["user"] = more[0]
    elif more:
        raise InvalidField(f"usage: {usage}")
    return args


@dataclass(frozen=True, slots=True)
class CommandSpec:
    usage: str
    help: str
    params: tuple[str, ...]
    """Argument names in word order; ``?`` optional, ``*`` takes the rest of the words."""


READ_ONLY = frozenset({"help", "who", "rooms", "stats", "bans"})
"""Commands that change nothing: not audited, no commit waited for."""

COMMANDS: dict[str, CommandSpec] = {
    "help": CommandSpec("help", "list the commands", ()),
    "who": CommandSpec(
        "who [ROOM]", "users online: address, rooms, idle time, connected since", ("room?",)
    ),
    "rooms": CommandSpec("rooms", "rooms with members online and topics", ()),
    "kick": CommandSpec("kick USER [REASON]", "disconnect a user", ("user", "reason*")),
    "ban": CommandSpec(
        "ban USER|IP [DURATION] [REASON]",
        "ban a user or an address (DURATION like 10m, 2h, 7d; none = until unban)",
        ("target", "duration?", "reason*"),
    ),
    "unban": CommandSpec("unban USER|IP", "lift a ban", ("target",)),
    "bans": CommandSpec("bans", "list the bans in force", ()),
    "mute": CommandSpec(
        "mute USER [DURATION] [REASON]",
        "stop a user from speaking (told at once, with how long)",
        ("user", "duration?", "reason*"),
    ),
    "unmute": CommandSpec("unmute USER", "let a muted user speak again", ("user",)),
    "broadcast": CommandSpec("broadcast TEXT", "a notice to everyone online", ("text*",)),
    "topic": CommandSpec("topic ROOM TEXT", "set a room's topic", ("room", "text*")),
    "stats": CommandSpec(
        "stats", "connections, sessions, rooms, messages/s, bytes in/out, memory", ()
    ),
    "user": CommandSpec(
        "user add NAME PASSWORD [--admin] | del NAME | passwd NAME PASSWORD | role NAME "
        "user|admin | list",
        "manage accounts",
        (),
    ),
    "invite": CommandSpec("invite", "make a one-time invite code (registration = invite)", ()),
    "room": CommandSpec(
        "room info ROOM | mode ROOM MODES [ARGS] | owner ROOM USER|- | delete ROOM",
        "a room's owner, operators and modes; give it an owner; delete it with its history",
        (),
    ),
    "backup": CommandSpec(
        "backup FILE", "copy the database to FILE (0600) while the server runs", ("path",)
    ),
    "purge": CommandSpec(
        "purge ROOM|dms [OLDER_THAN]",
        "delete a room's messages (or all direct messages) older than a duration (all: 0)",
        ("target", "duration?"),
    ),
    "shutdown": CommandSpec(
        "shutdown [GRACE]",
        "close every connection and stop (GRACE seconds, default server.shutdown_grace)",
        ("grace?",),
    ),
}


def _str(args: Args, key: str, required: bool = True) -> str:
    value = args.get(key)
    if value is None:
        if required:
            raise InvalidField(f"missing argument {key!r}")
        return ""
    if not isinstance(value, str):
        raise InvalidField(f"argument {key!r} must be a string")
    return value


def _when(ms: object) -> str:
    if not isinstance(ms, int):
        return "lifted"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _masked(args: Args) -> Args:
    return {k: ("***" if k == "password" else v) for k, v in args.items()}


class MessageRate:
    """Messages per second over the last ``window`` seconds, from periodic samples."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)

    def sample(self, now: float, total: int) -> None:
        self._samples.append((now, total))
        while self._samples and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def process_memory() -> dict[str, int]:
    """RSS in bytes and open file descriptors of this process (Linux /proc)."""
    rss = 0
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = -1
    return {"rss_bytes": rss, "fds": fds}


class CommandSet(AdminRunner):
    """Runs operator commands against the hub. One instance per server."""

    def __init__(
        self,
        hub: Hub,
        *,
        transports_open: Callable[[], int],
        bytes_out: Callable[[], int] = lambda: 0,
        shutdown: Callable[[float], Awaitable[None] | None],
        default_grace: float = 5.0,
    ) -> None:
        self.hub = hub
        self.transports_open = transports_open
        self.bytes_out = bytes_out
        self.shutdown = shutdown
        self.default_grace = default_grace
        self.rate = MessageRate()
        self.started = time.monotonic()

    async def run_for(self, session: Session, cmd: str, args: dict[str, object]) -> Result:
        return await self.run(cmd, args, actor=session.user or "?", entrance=session.door)

    async def run_words(self, words: list[str], *, actor: str, entrance: str) -> Result:
        cmd, args = parse_words(words)
        return await self.run(cmd, args, actor=actor, entrance=entrance)

    async def run(self, cmd: str, args: Args, *, actor: str, entrance: str) -> Result:
        """Run one command; raises :class:`ChatError` when it cannot be done."""
        cmd = cmd.lower()
        handler = getattr(self, f"_cmd_{cmd}", None)
        if cmd not in COMMANDS or handler is None:
            raise InvalidField(f"unknown command {cmd!r}; try 'help'")
        entry = {"actor": actor, "entrance": entrance, "cmd": cmd, "args": _masked(args)}
        try:
            result: Result = await handler(args, actor)
            if cmd not in READ_ONLY and cmd != "shutdown":
                # An operator is told "done" only for what the disk holds (an invite code,
                # a ban, a topic): whatever the command wrote is committed first.
                await self.hub.store.sync()
        except StoreError as exc:
            audit.info(json.dumps({**entry, "ok": False, "error": "storage"}, default=str))
            raise StorageFailed(
                f"done but not saved ({exc}): it will not survive a restart; "
                "free disk space, then run it again"
            ) from None
        except ChatError as exc:
            audit.info(json.dumps({**entry, "ok": False, "error": exc.code}, default=str))
            raise
        if cmd not in READ_ONLY:
            audit.info(json.dumps({**entry, "ok": True}, default=str))
        return result

    # -- the commands ----------------------------------------------------------------

    async def _cmd_help(self, args: Args, actor: str) -> Result:
        lines = [f"{spec.usage:40} {spec.help}" for spec in COMMANDS.values()]
        return "\n".join(lines), {"commands": sorted(COMMANDS)}

    async def _cmd_who(self, args: Args, actor: str) -> Result:
        room = _str(args, "room", required=False)
        hub = self.hub
        now, wall = hub.clock.monotonic(), hub.clock.wall_ms()
        rows = []
        for session in hub.sessions.values():
            if not session.authenticated or (room and room not in session.rooms):
                continue
            rows.append(
                {
                    "user": session.user,
                    "role": session.role,
                    "door": session.door,
                    "guest": session.guest,
                    "address": f"{session.ip}:{session.port}",
                    "rooms": sorted(session.rooms),
                    "idle": round(session.idle(now), 1),
                    "connected_since": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ",
                        time.gmtime((wall - (now - session.connected_at) * 1000) / 1000),
                    ),
                    "rtt_ms": session.rtt_ms,
                }
            )
        rows.sort(key=lambda r: str(r["user"]).lower())
        lines = [
            f"{r['user']:16} {r['door']:6} {r['address']:22} idle {r['idle']:>7}s"
            f"  since {r['connected_since']}"
            f"  rooms: {', '.join(r['rooms']) or '-'}"  # type: ignore[arg-type]
            for r in rows
        ]
        return "\n".join(lines) or "nobody is online", rows

    async def _cmd_rooms(self, args: Args, actor: str) -> Result:
        rows = [
            {"room": name, "members": count, "topic": topic}
            for name, count, topic in self._summaries()
        ]
        lines = [f"{r['room']:20} {r['members']:>5}  {r['topic']}" for r in rows]
        return "\n".join(lines) or "no rooms yet", rows

    async def _cmd_kick(self, args: Args, actor: str) -> Result:
        user = _str(args, "user")
        sessions = self._sessions_named(user)
        if not sessions:
            raise NoSuchUser(f"{user!r} is not connected")
        count = self.hub.moderation.kick(sessions, _str(args, "reason", required=False), actor)
        return f"kicked {user} ({count} connection{'s' if count != 1 else ''})", {"closed": count}

    def _sessions_named(self, name: str) -> list[Session]:
        """An account's sessions (by its id), or the guest online with that nick."""
        account = self.hub.store.get_account(name) if is_user_name(name) else None
        if account is not None:
            return self.hub.moderation.sessions_of(account.id)
        return list(self.hub.registry.by_name(name))

    def _summaries(self) -> list[tuple[str, int, str]]:
        return [(r.name, r.members, r.topic) for r in self.hub.rooms.summaries()]

    def _account(self, name: str) -> Account:
        account = self.hub.store.get_account(name) if is_user_name(name) else None
        if account is None:
            raise NoSuchUser(f"there is no account {name!r}")
        return account

    def _target(self, args: Args) -> tuple[BanKind, str]:
        """A ban's target: an address or network (CIDR), or an account (by its id)."""
        target = _str(args, "target")
        try:
            return "ip", str(parse_network(target))
        except ValueError:
            pass
        if not is_user_name(target):
            raise InvalidName(f"{target!r} is neither a user name nor an address or network")
        return "user", str(self._account(target).id)

    def _until(self, args: Args, key: str) -> int | None:
        if args.get(key) is None:
            return None
        seconds = parse_duration(args[key])
        return None if seconds is None else self.hub.clock.wall_ms() + int(seconds * 1000)

    async def _cmd_ban(self, args: Args, actor: str) -> Result:
        kind, value = self._target(args)
        until = self._until(args, "duration")
        reason = _str(args, "reason", required=False)
        moderation = self.hub.moderation
        if kind == "user":
            closed = moderation.ban_account(int(value), until, reason, actor)
        else:
            closed = moderation.ban_address(value, until, reason, actor)
        shown = _str(args, "target")
        span = "until lifted" if until is None else f"for {parse_duration(args['duration'])} s"
        return f"banned {shown} {span}; closed {closed}", {"closed": closed}

    async def _cmd_unban(self, args: Args, actor: str) -> Result:
        kind, value = self._target(args)
        if not self.hub.moderation.unban(kind, value):
            raise InvalidField(f"{_str(args, 'target')} is not banned")
        return f"unbanned {_str(args, 'target')}", None

    async def _cmd_bans(self, args: Args, actor: str) -> Result:
        rows = []
        for ban in self.hub.moderation.bans():
            shown = ban.value
            if ban.kind == "user":
                account = self.hub.store.account_by_id(int(ban.value))
                shown = account.name if account is not None else f"#{ban.value}"
            rows.append(
                {
                    "kind": ban.kind,
                    "value": shown,
                    "until_ms": ban.until_ms,
                    "reason": ban.reason,
                    "by": ban.by,
                }
            )
        lines = [
            f"{r['kind']:4} {r['value']:24} until {_when(r['until_ms'])}  {r['reason']}"
            for r in rows
        ]
        return "\n".join(lines) or "no bans", rows

    async def _cmd_mute(self, args: Args, actor: str) -> Result:
        account = self._account(_str(args, "user"))
        until = self._until(args, "duration")
        self.hub.moderation.mute(account.id, until, actor, _str(args, "reason", required=False))
        return f"muted {account.name}", None

    async def _cmd_unmute(self, args: Args, actor: str) -> Result:
        account = self._account(_str(args, "user"))
        if not self.hub.moderation.unmute(account.id, actor):
            raise InvalidField(f"{account.name} is not muted")
        return f"unmuted {account.name}", None

    async def _cmd_broadcast(self, args: Args, actor: str) -> Result:
        count = self.hub.moderation.broadcast(_str(args, "text"), actor)
        return f"sent to {count} sessions", {"sessions": count}

    async def _cmd_topic(self, args: Args, actor: str) -> Result:
        room = _str(args, "room")
        if not is_room_name(room):
            raise InvalidName(f"{room!r} is not a room name")
        self.hub.rooms.change_topic(room, _str(args, "text", required=False), actor)
        return f"topic of {room} set", None

    async def _cmd_stats(self, args: Args, actor: str) -> Result:
        hub = self.hub
        data: dict[str, object] = {
            "connections": self.transports_open(),
            "sessions": len(hub.sessions),
            "authenticated": sum(1 for s in hub.sessions.values() if s.authenticated),
            "users_online": hub.registry.users_online,
            "rooms_live": len(hub.registry.rooms),
            "messages_total": hub.stats.messages_total,
            "messages_per_s": round(self.rate.rate(), 2),
            "bytes_in": hub.stats.bytes_in,
            "bytes_out": self.bytes_out(),
            "connections_total": hub.stats.connections_total,
            "janitor_repairs": hub.stats.janitor_repairs,
            "hash_jobs_in_flight": hub.hasher.in_flight,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "closed_by_reason": dict(hub.stats.closed),
            **process_memory(),
        }
        text = "\n".join(f"{k:20} {v}" for k, v in data.items())
        return text, data

    async def _cmd_user(self, args: Args, actor: str) -> Result:
        action = _str(args, "action")
        hub, store = self.hub, self.hub.store
        if action == "list":
            rows = [{"name": a.name, "role": a.role} for a in store.list_accounts()]
            return "\n".join(f"{r['name']:32} {r['role']}" for r in rows) or "no accounts", rows
        name = _str(args, "name")
        if action == "add":
            password = _str(args, "password")
            hub.accounts.check_password(name, password)
            role: Role = "admin" if args.get("admin") is True else "user"
            await hub.accounts.create(name, await hub.hasher.hash(password), role)
            return f"added {role} {name}", None
        account = self._account(name)
        moderation = hub.moderation
        if action == "del":
            moderation.revoke_oper(account.id)
            moderation.kick(moderation.sessions_of(account.id), "account deleted", actor)
            await store.delete_account(account.id)
            return f"deleted {account.name}", None
        if action == "passwd":
            password = _str(args, "password")
            hub.accounts.check_password(name, password)
            await store.set_password(account.id, await hub.hasher.hash(password))
            moderation.revoke_oper(account.id)  # OPER was granted with the old password
            return f"password of {account.name} changed", None
        if action == "role":
            given = _str(args, "role")
            if given not in ("user", "admin"):
                raise InvalidField("role is 'user' or 'admin'")
            new_role: Role = "admin" if given == "admin" else "user"
            await store.set_role(account.id, new_role)
            moderation.set_live_role(account.id, new_role)
            return f"{account.name} is now {new_role}", None
        raise InvalidField(f"usage: {COMMANDS['user'].usage}")

    async def _cmd_room(self, args: Args, actor: str) -> Result:
        action, name = _str(args, "action"), _str(args, "room").lstrip("#").lower()
        hub = self.hub
        if not is_room_name(name):
            raise InvalidName(f"{name!r} is not a room name")
        if action == "delete":
            count = hub.rooms.delete(name)
            return f"deleted {name} and its history ({count} were in it)", {"members": count}
        record = hub.store.get_room(name)
        if record is None:
            raise InvalidField(f"there is no room {name!r}")
        if action == "owner":
            who = _str(args, "user")
            owner_id = None if who == "-" else self._account(who).id
            room = hub.rooms.live_room(None, name, create=False)
            hub.rooms.set_owner(room, owner_id)
            if not room.sessions:
                hub.registry.rooms.pop(name, None)
            return f"{name}: owner {who}", {"owner": None if who == "-" else who}
        if action == "mode":
            return self._room_mode(name, _str(args, "modes"), _str(args, "args", False), actor)
        live = hub.registry.rooms.get(name)
        grants = hub.store.room_grants(name)
        names = {
            a.id: a.name for a in (hub.store.account_by_id(i) for i in grants) if a is not None
        }
        if live is not None:
            modes = live.mode_string()
        elif record.owner_id is not None:
            saved = Room(name, record.topic, record.topic_by, record.topic_ms, record.created_ms)
            saved.restore_modes(record.modes)
            modes = f"{saved.mode_string()} (saved; no one in it)"
        else:
            modes = "+n (no one in it)"
        info = {
            "room": name,
            "topic": record.topic,
            "owner": names.get(record.owner_id or -1),
            "operators": sorted(names[i] for i, g in grants.items() if g == "op" and i in names),
            "modes": modes,
            "members": live.member_names() if live is not None else [],
            "registered": record.owner_id is not None,
        }
        text = "\n".join(f"{k:10} {v}" for k, v in info.items())
        return text, info

    def _room_mode(self, name: str, modes: str, words: str, actor: str) -> Result:
        """Room modes from the console: as an operator of every room."""
        hub = self.hub
        room = hub.rooms.live_room(None, name, create=False)
        wanted, missing = parse_mode_changes(modes, words.split())
        if missing:
            raise InvalidField(f"mode {' '.join(missing)} needs an argument")
        change, refused = hub.rooms.apply_modes(room, actor, wanted)
        if not room.sessions:
            hub.registry.rooms.pop(name, None)
        flags, applied = change.flags_and_args()
        problems = ", ".join(f"{letter} {why}" for letter, _, why in refused)
        text = f"{name}: {flags or 'nothing changed'} {' '.join(applied)}".rstrip()
        return text + (f" (refused: {problems})" if problems else ""), {"changes": flags}

    async def _cmd_backup(self, args: Args, actor: str) -> Result:
        path = Path(_str(args, "path"))
        if not path.is_absolute():
            raise InvalidField("give the backup's full path (the server's directory differs)")
        try:
            await self.hub.store.backup(path)
        except StoreError as exc:
            raise InvalidField(str(exc)) from None
        return f"backed up to {path}", {"path": str(path)}

    async def _cmd_purge(self, args: Args, actor: str) -> Result:
        target = _str(args, "target").lstrip("#").lower()
        seconds = parse_duration(args["duration"]) if args.get("duration") is not None else None
        before = self.hub.clock.wall_ms() - int(seconds * 1000) if seconds else None
        if target == "dms":
            self.hub.store.purge_messages(None, before if before else 2**62, None)
        else:
            if not is_room_name(target) or self.hub.store.get_room(target) is None:
                raise InvalidField(f"there is no room {target!r}")
            self.hub.store.purge_messages(target, before if before else 2**62, None)
        await self.hub.store.sync()
        span = "all" if before is None else f"older than {args['duration']}"
        return f"purged {span} messages of {target}", None

    async def _cmd_invite(self, args: Args, actor: str) -> Result:
        code = secrets.token_urlsafe(12)
        self.hub.store.create_invite(code, actor, self.hub.clock.wall_ms())
        await self.hub.store.sync()  # usable (and kept) before anyone is given it
        return f"invite code: {code}", {"code": code}

    async def _cmd_shutdown(self, args: Args, actor: str) -> Result:
        grace = self.default_grace
        if args.get("grace") is not None:
            try:
                grace = float(str(args["grace"]))
            except ValueError:
                raise InvalidField("grace is a number of seconds") from None
        result = self.shutdown(grace)
        if result is not None:
            await result
        return f"shutting down within {grace} s", {"grace": grace}
