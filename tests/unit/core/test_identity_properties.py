"""Identity invariants under any sequence of account, guest, OPER and DM operations.

A hypothesis state machine drives one hub (fake clock, SQLite inline in memory, cheap
hashing) through registrations, operator ``user add/del/role/passwd``, bans, guests that
come, rename and log in, OPER with an admin's password (right or wrong), direct messages
and departures, and after every step checks:

- **authority**: a session has the admin role only while its own account is an admin now,
  or while the account whose password it gave to OPER is an admin now, with that password;
- **DMs**: a session only ever received direct messages its own account sent or was sent
  (by account id), or, for a guest, messages addressed to the identity it held then;
- **names**: no name (nor two names that look alike) is held by two identities online, and
  the registry's name table agrees with the sessions.

Small on purpose (a few dozen short runs): the suite stays fast; CI runs it every time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from teahouse.admin.commands import CommandSet
from teahouse.core.session import Session
from teahouse.errors import ChatError
from teahouse.protocol.lookalike import confusable_key
from teahouse.protocol.names import fold_user

from ..hubkit import PASSWORD, HubKit, make_config, outlet

NAMES = ["alice", "aIice", "bob", "Bob", "b0b", "root", "r00t"]
"""Few names, with case variants and look-alikes, so that they collide often."""
IPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "198.51.100.7"]
WRONG = "not the password"

T = TypeVar("T")


@dataclass(frozen=True)
class Sent:
    """A direct message as the test addressed it."""

    sender: int
    """The sender's identity when it sent it."""
    target: int
    """The identity ``to`` named then: the online guest holding it, else the account."""


class IdentityMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.kit = HubKit(
            make_config(
                registrations_per_ip_per_hour=100_000,
                connections_per_ip_burst=100_000,
                max_connections_per_ip=100_000,
                create_per_hour=100_000,
            )
        )
        self.commands = CommandSet(
            self.kit.hub, transports_open=lambda: 0, shutdown=lambda grace: None
        )
        self.sessions: list[Session] = []
        self.passwords: dict[str, str] = {}
        """Folded account name -> its password now."""
        self.oper_hash: dict[int, str] = {}
        """Session id -> the hash of the password it gave to OPER."""
        self.sent: dict[int, Sent] = {}
        """Message id -> how it was addressed."""
        self.seen: dict[int, int] = {}
        """Session id -> how many of its outlet's writes were checked already."""
        self.fresh = itertools.count(1)

    def teardown(self) -> None:
        self.kit.close()
        self.loop.close()

    # -- helpers -------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def operator(self, *words: str) -> None:
        try:
            self.run(self.commands.run_words(list(words), actor="server", entrance="console"))
        except ChatError:
            pass
        self.kit.run_soon()

    def open_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.closed]

    def authed(self) -> list[Session]:
        return [s for s in self.open_sessions() if s.authenticated]

    def connect(self, ip: str, door: str = "native") -> Session:
        session = self.kit.connect(ip, door=door)
        self.sessions.append(session)
        return session

    def give_up(self, session: Session) -> None:
        if not session.authenticated:
            self.kit.hub.close_session(session, "disconnected")

    @initialize()
    def populate(self) -> None:
        """A world to start from: a user and an admin online, a guest."""
        for name, admin in (("alice", False), ("root", True)):
            self.user_add(name, admin)
        self.login("alice", IPS[0], right=True)
        self.login("root", IPS[1], right=True)
        self.guest("visitor", IPS[2])
        assert len(self.authed()) == 3

    # -- accounts ------------------------------------------------------------------------

    @rule(name=st.sampled_from(NAMES), ip=st.sampled_from(IPS))
    def register(self, name: str, ip: str) -> None:
        session = self.connect(ip)
        try:
            self.run(self.kit.hub.accounts.register(session, name, PASSWORD, None))
            self.passwords[fold_user(name)] = PASSWORD
        except ChatError:
            self.give_up(session)
        self.kit.run_soon()

    @rule(name=st.sampled_from(NAMES), admin=st.booleans())
    def user_add(self, name: str, admin: bool) -> None:
        before = self.kit.store.get_account(name)
        self.operator("user", "add", name, PASSWORD, *(["--admin"] if admin else []))
        if before is None and self.kit.store.get_account(name) is not None:
            self.passwords[fold_user(name)] = PASSWORD

    @rule(name=st.sampled_from(NAMES))
    def user_del(self, name: str) -> None:
        self.operator("user", "del", name)
        if self.kit.store.get_account(name) is None:
            self.passwords.pop(fold_user(name), None)

    @rule(name=st.sampled_from(NAMES), role=st.sampled_from(["user", "admin"]))
    def user_role(self, name: str, role: str) -> None:
        self.operator("user", "role", name, role)

    @rule(name=st.sampled_from(NAMES))
    def user_passwd(self, name: str) -> None:
        password = f"Fresh-pass-{next(self.fresh)}"
        self.operator("user", "passwd", name, password)
        if fold_user(name) in self.passwords:
            self.passwords[fold_user(name)] = password

    @rule(name=st.sampled_from(NAMES), lift=st.booleans())
    def ban(self, name: str, lift: bool) -> None:
        self.operator("unban" if lift else "ban", name)

    @rule(name=st.sampled_from(NAMES), ip=st.sampled_from(IPS), right=st.booleans())
    def login(self, name: str, ip: str, right: bool) -> None:
        session = self.connect(ip)
        password = self.passwords.get(fold_user(name), PASSWORD) if right else WRONG
        try:
            self.run(self.kit.hub.accounts.login(session, name, password))
            self.kit.hub.accounts.replay_dms(session, None)
        except ChatError:
            self.give_up(session)
        self.kit.run_soon()

    @rule(seconds=st.sampled_from([1.0, 30.0, 900.0]))
    def time_passes(self, seconds: float) -> None:
        self.kit.clock.advance(seconds)
        self.kit.run_soon()

    # -- guests --------------------------------------------------------------------------

    @rule(nick=st.sampled_from([*NAMES, "visitor"]), ip=st.sampled_from(IPS))
    def guest(self, nick: str, ip: str) -> None:
        session = self.connect(ip, door="irc")
        try:
            self.kit.hub.accounts.authenticate_guest(session, nick)
        except ChatError:
            self.give_up(session)

    @precondition(lambda self: any(s.guest for s in self.authed()))
    @rule(data=st.data(), nick=st.sampled_from([*NAMES, "visitor", "v1sitor"]))
    def rename(self, data: st.DataObject, nick: str) -> None:
        guest = data.draw(st.sampled_from([s for s in self.authed() if s.guest]))
        try:
            self.kit.hub.accounts.rename_guest(guest, nick)
        except ChatError:
            pass

    @precondition(lambda self: any(s.guest for s in self.authed()))
    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def guest_logs_in(self, data: st.DataObject, name: str) -> None:
        guest = data.draw(st.sampled_from([s for s in self.authed() if s.guest]))
        password = self.passwords.get(fold_user(name), PASSWORD)
        try:
            self.run(self.kit.hub.accounts.login(guest, name, password))
        except ChatError:
            pass
        self.kit.run_soon()

    # -- OPER, DMs, departures -----------------------------------------------------------

    @precondition(lambda self: bool(self.authed()))
    @rule(data=st.data(), name=st.sampled_from(NAMES), right=st.booleans())
    def oper(self, data: st.DataObject, name: str, right: bool) -> None:
        session = data.draw(st.sampled_from(self.authed()))
        password = self.passwords.get(fold_user(name), PASSWORD) if right else WRONG
        try:
            account = self.run(self.kit.hub.accounts.oper(session, name, password))
        except ChatError as exc:
            event(f"oper {exc.code}")
            return
        event("oper ok")
        self.oper_hash[session.id] = account.password_hash

    @precondition(lambda self: bool(self.authed()))
    @rule(data=st.data(), to=st.sampled_from([*NAMES, "visitor", "Visitor"]))
    def dm(self, data: st.DataObject, to: str) -> None:
        self.send_dm(data.draw(st.sampled_from(self.authed())), to)

    @precondition(lambda self: bool(self.authed()))
    @rule(data=st.data())
    def dm_someone_online(self, data: st.DataObject) -> None:
        sender = data.draw(st.sampled_from(self.authed()))
        target = data.draw(st.sampled_from(self.authed()))
        assert target.user is not None
        self.send_dm(sender, target.user)

    def send_dm(self, sender: Session, to: str) -> None:
        holders = self.kit.hub.registry.by_name(to)
        guest = next((s for s in holders if s.guest), None)
        account = self.kit.store.get_account(to)
        target = guest.ident if guest is not None else account.id if account is not None else 0
        addressed = Sent(sender.ident, target)

        def done(message: Any) -> None:
            self.sent[message.id] = addressed

        try:
            self.kit.hub.messages.dm(sender, to, f"to {to}", None, done, lambda exc: None)
            event("dm sent")
        except ChatError as exc:
            event(f"dm {exc.code}")
        self.kit.run_soon()

    @precondition(lambda self: bool(self.open_sessions()))
    @rule(data=st.data())
    def quit(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.open_sessions()))
        self.kit.hub.close_session(session, "quit")
        self.kit.run_soon()

    # -- what must always hold -----------------------------------------------------------

    @invariant()
    def only_admins_now_have_admin_power(self) -> None:
        store = self.kit.store
        for session in self.open_sessions():
            if session.role != "admin":
                continue
            own = store.account_by_id(session.account_id) if session.account_id else None
            if own is not None and own.role == "admin":
                continue
            lent = store.account_by_id(session.oper_id) if session.oper_id else None
            assert lent is not None and lent.role == "admin", (session, session.oper_id)
            assert lent.password_hash == self.oper_hash.get(session.id), "OPER outlived passwd"

    @invariant()
    def dms_reach_only_their_identities(self) -> None:
        for session in self.open_sessions():
            events = outlet(session).events()
            for got in events[self.seen.get(session.id, 0) :]:
                if got[0] != "message" or got[2] is not None:
                    continue
                _, msg_id, _, _, _, _, sender_id, recipient_id = got
                if session.account_id is not None:
                    assert session.account_id in (sender_id, recipient_id), (session, got)
                else:
                    addressed = self.sent.get(msg_id)
                    assert addressed is not None, got
                    assert session.ident in (addressed.target, addressed.sender), (session, got)
            self.seen[session.id] = len(events)
            assert outlet(session).after_close == []

    @invariant()
    def a_name_is_one_identity_online(self) -> None:
        registry = self.kit.hub.registry
        by_name: dict[str, set[int]] = {}
        by_look: dict[str, set[int]] = {}
        for session in self.authed():
            assert session.user is not None and session.key == fold_user(session.user)
            by_name.setdefault(session.key, set()).add(session.ident)
            by_look.setdefault(confusable_key(session.user), set()).add(session.ident)
            assert registry.names.get(session.key) == session.ident, session
            assert session in registry.online(session.ident)
        assert all(len(idents) == 1 for idents in by_name.values()), by_name
        assert all(len(idents) == 1 for idents in by_look.values()), by_look
        assert set(registry.names) == set(by_name)


IdentityMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIdentityInvariants = IdentityMachine.TestCase
