"""Messages: say, direct messages, live relays (notices, CTCP, tags), and history.

Messages are stored and then delivered: :meth:`Messages.say` and :meth:`Messages.dm` write
the message into the store's batch and hand delivery (and the sender's acknowledgement,
``done``) to :meth:`Outbox.after_commit`. A message nobody could keep is never seen by
anyone; its sender gets ``failed`` instead.

Direct messages belong to account ids, never to names. A DM to a guest is live only:
nothing of a guest is kept, so no later holder of the nick can read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.limits import AddressRate, Rate
from teahouse.core.moderation import Moderation
from teahouse.core.outbox import Outbox, Together
from teahouse.core.registry import Registry
from teahouse.core.results import HistoryPage
from teahouse.core.rooms import Rooms, authed, room_name
from teahouse.core.session import Encoder, Ident, Session
from teahouse.errors import Forbidden, InvalidField, NoSuchUser, StorageFailed, Throttled
from teahouse.protocol.names import is_user_name, text_problem
from teahouse.protocol.text import clean_text, has_unsafe
from teahouse.store.base import Store, StoredMessage, StoreError

DEFAULT_PAGE = 50
"""Messages in a history page when the request names no limit."""
NONCE_MEMORY_MS = 15 * 60 * 1000
"""How long a (user, nonce) pair is remembered; the contract asks for at least 10 minutes."""

PACE_HOLD = 0.01
"""Seconds a sender's input waits after a line to a congested room, or while too much
waits for a commit (then it is asked again): short, so a room speeds up soon after its
members catch up."""
PACE_UNSETTLED = 1024
"""Messages that may wait for one commit before senders are held back: what a commit
releases at once is what every member of a room is sent at once, so this bounds a
burst (and the memory a slow disk makes the server hold)."""

Done = Callable[[StoredMessage], None]
Failed = Callable[[Exception], None]
Tags = tuple[tuple[str, str], ...]


class _RoomSend:
    """A room message waiting for its commit, with its sender's acknowledgement."""

    __slots__ = ("done", "message", "nonce_key", "session")

    def __init__(
        self,
        session: Session,
        message: StoredMessage,
        done: Done,
        nonce_key: tuple[Ident, str] | None,
    ) -> None:
        self.session = session
        self.message = message
        self.done = done
        self.nonce_key = nonce_key


class Messages:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        registry: Registry,
        outbox: Outbox,
        moderation: Moderation,
        rooms: Rooms,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = registry
        self.outbox = outbox
        self.moderation = moderation
        self.rooms = rooms
        self._pending_nonces: dict[tuple[Ident, str], StoredMessage] = {}
        storage = config.storage
        self._message_quota = AddressRate(
            Rate(storage.messages_per_hour / 3600, max(storage.messages_per_hour, 1))
        )
        self._byte_quota = AddressRate(
            Rate(storage.bytes_per_hour / 3600, max(storage.bytes_per_hour, 1))
        )

    # -- checks ------------------------------------------------------------------------

    def check_text(self, text: str, formatting: bool) -> str:
        """The text to store: the contract's rules for native text; for IRC text (which
        may hold formatting codes) the same rules after cleaning."""
        limit = self.config.limits.max_text
        if formatting:
            text = clean_text(text, limit, formatting=True)
            if not text.strip() or has_unsafe(text, formatting=True):
                raise InvalidField("text is empty")
            return text
        problem = text_problem(text, limit)
        if problem is not None:
            raise InvalidField(problem)
        # What is kept is what everyone sees, the history and the exports: no direction
        # overrides or invisible characters that make one text read as another.
        cleaned = clean_text(text, limit)
        if not cleaned.strip():
            raise InvalidField("text is empty once its invisible characters are left out")
        return cleaned

    def _check_quota(self, session: Session, text: str) -> None:
        """What one account (guests: one address, all its guests together) may store per
        hour: a security limit on the disk."""
        if session.role == "admin":
            return
        key = str(session.account_id) if session.account_id is not None else f"ip:{session.ip}"
        now = self.clock.monotonic()
        storage = self.config.storage
        wait = None
        if storage.messages_per_hour > 0:
            wait = self._message_quota.allow(key, now)
        if wait is None and storage.bytes_per_hour > 0:
            wait = self._byte_quota.allow(key, now, cost=len(text.encode()))
        if wait is not None:
            raise Throttled(
                "you have stored as many messages as one may in an hour", retry_after=round(wait)
            )

    # -- messages ----------------------------------------------------------------------

    def say(
        self,
        session: Session,
        name: str,
        text: str,
        nonce: str | None,
        done: Done,
        failed: Failed,
        tags: Tags = (),
        formatting: bool = False,
    ) -> None:
        """Store a message in a room, then deliver it; ``done(message)`` acknowledges it.

        Raises at once for a request that cannot be honoured. ``done`` and ``failed`` run
        later, after the store's commit, only while the session is open.
        """
        user, _ = authed(session)
        name = room_name(name)
        self.rooms.speaking_room(session, name)
        text = self.check_text(text, formatting)
        self.moderation.check_not_muted(session)
        if nonce is not None and self._resend(session, nonce, (name, None), done, failed):
            return
        self._check_quota(session, text)
        message = self._new_message(session, user, text, nonce, room=name, tags=tags)
        key = (session.ident, message.nonce) if message.nonce is not None else None
        self.outbox.after_commit(
            Together(name, self._deliver_run, _RoomSend(session, message, done, key)),
            self._lost(session, key, failed),
        )
        self._pace(session, name)

    def _deliver_run(self, run: list[_RoomSend]) -> None:
        """Deliver a commit's messages to one room (``run``, in order), and acknowledge them.

        Each member that sent none of them is written the whole run in one call (spelled
        once per encoder); a sender gets the others' messages in order with its own
        acknowledged in place, exactly as if each message went out alone.
        """
        nonces = self._pending_nonces
        for send in run:
            if send.nonce_key is not None:
                nonces.pop(send.nonce_key, None)
        name = run[0].message.room
        live = self.registry.rooms.get(name) if name is not None else None
        members: set[Session] = live.sessions if live is not None else set()
        senders = {send.session for send in run}
        # id(encoder) -> (each message's bytes, the non-empty ones, their size together)
        spelled: dict[int, tuple[list[bytes], list[bytes], int]] = {}

        def spell(encoder: Encoder) -> tuple[list[bytes], list[bytes], int]:
            found = spelled.get(id(encoder))
            if found is None:
                each = [encoder.message(send.message) for send in run]
                lines = [data for data in each if data]
                found = spelled[id(encoder)] = (each, lines, sum(map(len, lines)))
            return found

        sent = 0
        for member in members:
            if member not in senders:
                _, lines, size = spell(member.encoder)
                member.outlet.write_all(lines, size)
                sent += len(lines)
        for sender in senders:
            each = spell(sender.encoder)[0] if sender in members else None
            for i, send in enumerate(run):
                if send.session is sender:
                    if not sender.closed:
                        send.done(send.message)
                elif each is not None and each[i]:
                    sender.outlet.write(each[i])
                    sent += 1
        self.registry.stats.deliveries_total += sent

    def _pace(self, session: Session, name: str | None) -> None:
        """Backpressure: while enough of room ``name``'s members fall behind (see
        :meth:`Room.congested`), or too much waits for a commit, read the sender's next
        line a little later, so a room goes at the pace its members read and the store
        writes, instead of the server buffering what they have not taken."""
        live = self.registry.rooms.get(name) if name is not None else None
        if self.outbox.unsettled > PACE_UNSETTLED or (
            live is not None and live.lagging is not None and live.congested(self.clock.monotonic())
        ):
            self.registry.stats.limits_hit["paced"] += 1
            session.outlet.hold_input(PACE_HOLD)

    def dm(
        self,
        session: Session,
        to: str,
        text: str,
        nonce: str | None,
        done: Done,
        failed: Failed,
        tags: Tags = (),
        formatting: bool = False,
    ) -> None:
        """A direct message: stored for an account (delivered when it is offline too),
        live only to a guest (nothing of a guest is kept)."""
        user, ident = authed(session)
        text = self.check_text(text, formatting)
        online = self.registry.by_name(to)
        guest = next((s for s in online if s.guest), None)
        account = None
        if guest is None and is_user_name(to):
            account = self.store.get_account(to)
        if account is not None:
            to_name, to_ident = account.name, account.id
        elif guest is not None:
            to_name, to_ident = guest.user or to, guest.ident
        else:
            raise NoSuchUser(f"there is no user {to!r}")
        self.moderation.check_not_muted(session)
        if nonce is not None and self._resend(session, nonce, (None, to_ident), done, failed):
            return
        if account is not None:
            self._check_quota(session, text)
        message = self._new_message(
            session,
            user,
            text,
            nonce,
            recipient=to_name,
            recipient_id=account.id if account is not None else None,
            keep=account is not None,
            tags=tags,
        )

        def deliver() -> None:
            recipients = self.registry.online(to_ident)
            targets = set(recipients) | self.registry.online(ident)
            # A message to oneself reaches this session too, as any recipient.
            skip = None if session in recipients else session
            sent = self.registry.fanout(targets, lambda enc: enc.message(message), exclude=skip)
            self.registry.stats.deliveries_total += sent
            if account is not None and recipients:
                self.store.set_dm_cursor(account.id, message.id)
                self.outbox.wake()

        self._after_store(session, message, deliver, done, failed)
        self._pace(session, None)

    def _new_message(
        self,
        session: Session,
        sender: str,
        text: str,
        nonce: str | None,
        *,
        room: str | None = None,
        recipient: str | None = None,
        recipient_id: int | None = None,
        keep: bool = True,
        tags: Tags = (),
    ) -> StoredMessage:
        message = StoredMessage(
            id=self.store.next_message_id(),
            sender=sender,
            text=text,
            ts_ms=self.clock.wall_ms(),
            room=room,
            recipient=recipient,
            nonce=nonce if session.account_id is not None else None,
            sender_id=session.account_id,
            recipient_id=recipient_id,
            tags=tags,
        )
        if keep:
            self.store.append_message(message)
        if message.nonce is not None:
            self._pending_nonces[(session.ident, message.nonce)] = message
        self.registry.stats.messages_total += 1
        return message

    def _after_store(
        self,
        session: Session,
        message: StoredMessage,
        deliver: Callable[[], None],
        done: Done,
        failed: Failed,
    ) -> None:
        key = (session.ident, message.nonce) if message.nonce is not None else None

        def committed() -> None:
            if key is not None:
                self._pending_nonces.pop(key, None)
            deliver()
            if not session.closed:
                done(message)

        self.outbox.after_commit(committed, self._lost(session, key, failed))

    def _lost(
        self, session: Session, key: tuple[Ident, str] | None, failed: Failed
    ) -> Callable[[StoreError], None]:
        """What a message's failed commit does: forget its nonce, tell its sender."""

        def lost(exc: StoreError) -> None:
            if key is not None:
                self._pending_nonces.pop(key, None)
            if not session.closed:
                failed(StorageFailed(f"{exc}; nothing was delivered, try again", retry_after=5.0))

        return lost

    def _resend(
        self,
        session: Session,
        nonce: str,
        target: tuple[str | None, Ident | None],
        done: Done,
        failed: Failed,
    ) -> bool:
        """A retried say/dm: acknowledge the original to the sender only. True if found."""
        if session.account_id is None:
            return False
        original = self._pending_nonces.get((session.ident, nonce))
        if original is None:
            since = self.clock.wall_ms() - NONCE_MEMORY_MS
            original = self.store.find_by_nonce(session.account_id, nonce, since)
        if original is None or (original.room, original.recipient_id) != target:
            return False  # a nonce reused for another room or person is a new message
        found = original
        self.outbox.after_commit(
            lambda: None if session.closed else done(found),
            lambda exc: None if session.closed else failed(StorageFailed(retry_after=5.0)),
        )
        return True

    # -- live only ---------------------------------------------------------------------

    def relay(
        self,
        session: Session,
        kind: str,
        room: str | None,
        to: str | None,
        text: str,
        tags: Tags = (),
        formatting: bool = True,
    ) -> None:
        """Pass a live-only ``notice``/``ctcp``/``tagmsg`` to a room's members or to a
        user; not stored. Raises like :meth:`say` and :meth:`dm` do (membership, mute,
        moderation, no such user), so a door can decide whether to tell the sender."""
        user, _ = authed(session)
        self.moderation.check_not_muted(session)
        limit = self.config.limits.max_text
        if kind == "ctcp":
            # A CTCP request keeps its \x01 delimiters; what is inside follows the rules.
            text = f"\x01{clean_text(text.strip(chr(1)), limit)}\x01"
        elif kind != "tagmsg":
            text = clean_text(text, limit, formatting=formatting)
            if not text.strip():
                raise InvalidField("text is empty")
        targets: Iterable[Session]
        skip: Session | None = session
        if room is not None:
            live = self.rooms.speaking_room(session, room_name(room))
            if kind == "ctcp" and "C" in live.modes:
                raise Forbidden(f"{room} takes no CTCP requests (+C)", detail="moderated")
            targets = live.sessions
        else:
            assert to is not None
            targets = self.registry.by_name(to)
            if not targets:
                raise NoSuchUser(f"{to!r} is not online")
            if session in targets:
                skip = None  # to oneself: this session is a recipient like any other
        self.registry.fanout(
            targets, lambda enc: enc.relay(kind, user, room, to, text, tags), exclude=skip
        )
        if room is not None:
            self._pace(session, room_name(room))

    def relay_to_ops(self, session: Session, kind: str, room: str, text: str) -> None:
        """A live-only message to a room's operators (IRC ``PRIVMSG @#room``): ``kind``
        ``privmsg`` or ``notice``; the members who are not operators never see it."""
        user, _ = authed(session)
        self.moderation.check_not_muted(session)
        text = clean_text(text, self.config.limits.max_text, formatting=True)
        if not text.strip():
            raise InvalidField("text is empty")
        live = self.rooms.member_room(session, room_name(room), "before you speak in it")
        self.rooms.check_can_speak(session, live)
        ops = [s for s in live.sessions if self.rooms.is_op(s, live)]
        self.registry.fanout(
            ops, lambda enc: enc.relay(f"ops_{kind}", user, room, None, text), exclude=session
        )

    # -- retention ---------------------------------------------------------------------

    def apply_retention(self) -> int:
        """Forget what the operator does not want kept (``storage.retention_*``): room
        messages and DMs past their age, and each room's messages beyond the newest N.
        Batched like any write; returns how many rooms were looked at."""
        storage = self.config.storage
        now = self.clock.wall_ms()
        day = 86_400_000
        rooms = 0
        if storage.retention_days > 0 or storage.retention_messages > 0:
            before = now - int(storage.retention_days * day) if storage.retention_days else None
            keep = storage.retention_messages or None
            after: str | None = None
            while True:
                page = self.store.list_rooms(after, 500)
                for record in page:
                    self.store.purge_messages(record.name, before, keep)
                    rooms += 1
                if len(page) < 500:
                    break
                after = page[-1].name
        if storage.dm_retention_days > 0:
            self.store.purge_messages(None, now - int(storage.dm_retention_days * day), None)
        self.outbox.wake()
        return rooms

    # -- history -----------------------------------------------------------------------

    def page_size(self, before: int | None, since: int | None, limit: int | None) -> int:
        """Check a history request's paging; the number of messages to send."""
        cap = self.config.limits.max_replay
        count = min(DEFAULT_PAGE, cap) if limit is None else limit
        if not 1 <= count <= cap:
            raise InvalidField(f"limit must be between 1 and {cap}")
        if before is not None and since is not None:
            raise InvalidField("give 'before' or 'since', not both")
        return count

    def history(
        self,
        session: Session,
        name: str,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """A page of a room's messages, oldest first: before ``before`` (newest first
        chosen) or after ``since`` (oldest first chosen)."""
        authed(session)
        name = room_name(name)
        self.rooms.check_history_access(session, name)
        count = self.page_size(before, since, limit)
        if since is not None:
            page = self.store.room_since(name, since, count)
        else:
            page = self.store.room_before(name, before, count)
        return HistoryPage(name, page.messages, page.more)

    def between(self, session: Session, name: str, low: int, high: int, limit: int) -> HistoryPage:
        """Messages with ``low < id < high``, oldest first (IRC CHATHISTORY BETWEEN)."""
        page = self.history(session, name, since=low, limit=limit)
        kept = [m for m in page.messages if m.id < high]
        return HistoryPage(name, kept, page.more and len(kept) == len(page.messages))

    def latest(self, session: Session, name: str, after: int, limit: int) -> HistoryPage:
        """The newest ``limit`` messages with id > ``after``, oldest first."""
        authed(session)
        name = room_name(name)
        self.rooms.check_history_access(session, name)
        page = self.store.room_after(name, after, limit)
        return HistoryPage(name, page.messages, page.more)

    def dm_history(
        self,
        session: Session,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """Page through the user's direct messages (sent and received), oldest first."""
        authed(session)
        if session.account_id is None:
            return HistoryPage(None, [], False)  # nothing of a guest is kept
        count = self.page_size(before, since, limit)
        if since is not None:
            page = self.store.dms_since(session.account_id, since, count)
        else:
            page = self.store.dms_before(session.account_id, before, count)
        return HistoryPage(None, page.messages, page.more)
