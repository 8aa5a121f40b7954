"""The contract every store backend must keep (``teahouse.store.base.Store``).

Each test runs once per factory in :data:`FACTORIES`: today SQLite committing inline (as
tests and the command line use it) and SQLite with its writer thread (as the server uses
it). A new backend adds its factory here and must pass the whole module.

What is checked: message ids strictly increase and are never reused (not after a failed
commit, not after a reopen); history and DM paging; DMs found by account id, never by
name; a failed batch (a full disk) reports the error once, keeps nothing of itself, and
the next batch works when space returns; reads see the store's own uncommitted room and
cursor writes; the files are private whatever the umask.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from teahouse.errors import UserTaken
from teahouse.store.base import Account, Ban, Page, StoredMessage, StoreError
from teahouse.store.sqlite import SQLiteStore

NOW = 1_800_000_000_000
FULL_DISK = 1 << 62
"""A free-space floor no disk reaches: every write fails as on a full disk."""

Factory = Callable[[Path], SQLiteStore]

FACTORIES: dict[str, Factory] = {
    "sqlite-inline": SQLiteStore,
    "sqlite-threaded": lambda path: SQLiteStore(path, threaded=True),
}


class Opener:
    """Opens the store under test on one file, again after a close (a restart)."""

    def __init__(self, factory: Factory, path: Path) -> None:
        self.factory = factory
        self.path = path
        self.opened: list[SQLiteStore] = []

    def __call__(self) -> SQLiteStore:
        store = self.factory(self.path)
        self.opened.append(store)
        return store

    def reopen(self, store: SQLiteStore) -> SQLiteStore:
        store.close()
        return self()


@pytest.fixture(params=sorted(FACTORIES))
async def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    opener = Opener(FACTORIES[request.param], tmp_path / "teahouse.db")
    yield opener
    for store in opener.opened:
        store.close()  # idempotent enough: a closed store's close only closes again


@pytest.fixture
def store(opener: Opener) -> SQLiteStore:
    return opener()


async def commit(store: SQLiteStore) -> StoreError | None:
    """Commit the pending batch; what ``done`` was called with (exactly once)."""
    calls: list[StoreError | None] = []
    settled = asyncio.get_running_loop().create_future()

    def done(error: StoreError | None) -> None:
        calls.append(error)
        if not settled.done():
            settled.set_result(None)

    store.commit(done)
    await asyncio.wait_for(settled, 10)
    await asyncio.sleep(0)  # a second call, if any, would have come by now
    assert len(calls) == 1, calls
    return calls[0]


def post(
    store: SQLiteStore,
    *,
    room: str | None = None,
    sender: Account | None = None,
    to: Account | None = None,
    text: str = "x",
    ts: int = NOW,
    nonce: str | None = None,
    sender_name: str = "guest1",
) -> int:
    """Append a message (batched): in ``room``, or a DM from ``sender`` to ``to``."""
    msg_id = store.next_message_id()
    store.append_message(
        StoredMessage(
            msg_id,
            sender.name if sender is not None else sender_name,
            text,
            ts,
            room,
            to.name if to is not None else None,
            nonce,
            sender.id if sender is not None else None,
            to.id if to is not None else None,
        )
    )
    return msg_id


def ids(page: Page) -> list[int]:
    return [m.id for m in page.messages]


# -- accounts -----------------------------------------------------------------------------


async def test_an_account_is_found_case_insensitively_with_its_spelling(
    store: SQLiteStore,
) -> None:
    created = await store.create_account("Alice", "hash-1", "admin")
    for name in ["Alice", "alice", "ALICE"]:
        account = store.get_account(name)
        assert account == created
        assert (account.name, account.role, account.password_hash) == ("Alice", "admin", "hash-1")
    assert store.account_by_id(created.id) == created
    assert store.get_account("bob") is None
    assert store.account_by_id(created.id + 1) is None


@pytest.mark.parametrize("name", ["alice", "ALICE", "Alice"])
async def test_account_names_are_unique_case_insensitively(store: SQLiteStore, name: str) -> None:
    await store.create_account("Alice", "h", "user")
    with pytest.raises(UserTaken):
        await store.create_account(name, "h2", "user")
    assert [a.name for a in store.list_accounts()] == ["Alice"]


async def test_account_changes_are_by_id_and_say_whether_the_account_existed(
    store: SQLiteStore,
) -> None:
    alice = await store.create_account("alice", "h", "user")
    assert await store.set_password(alice.id, "h2")
    assert await store.set_role(alice.id, "admin")
    account = store.get_account("alice")
    assert account is not None
    assert (account.password_hash, account.role) == ("h2", "admin")
    assert store.count_admins() == 1
    missing = alice.id + 100
    assert not await store.set_password(missing, "h")
    assert not await store.set_role(missing, "admin")
    assert await store.delete_account(alice.id)
    assert not await store.delete_account(alice.id)
    assert store.get_account("alice") is None
    assert store.count_admins() == 0


async def test_account_ids_increase_and_a_name_taken_again_gets_a_new_id(
    opener: Opener, store: SQLiteStore
) -> None:
    alice = await store.create_account("alice", "h", "user")
    bob = await store.create_account("bob", "h", "user")
    assert 0 < alice.id < bob.id
    assert await store.delete_account(bob.id)
    again = await store.create_account("bob", "h", "user")
    assert again.id > bob.id, "a later account of the same name is someone else"
    await store.delete_account(again.id)
    store = opener.reopen(store)
    third = await store.create_account("bob", "h", "user")
    assert third.id > again.id, "not even after a reopen"


async def test_accounts_are_listed_by_folded_name(store: SQLiteStore) -> None:
    for name in ["carol", "Bob", "alice"]:
        await store.create_account(name, "h", "user")
    assert [a.name for a in store.list_accounts()] == ["alice", "Bob", "carol"]


async def test_look_alike_accounts_are_found_by_their_key(store: SQLiteStore) -> None:
    from teahouse.protocol.lookalike import confusable_key

    alice = await store.create_account("alice", "h", "user")
    assert store.confusable_accounts(confusable_key("aIice")) == [alice]
    assert store.confusable_accounts(confusable_key("bob")) == []


async def test_account_writes_fail_on_a_full_disk_and_keep_nothing(store: SQLiteStore) -> None:
    store.min_free_bytes = FULL_DISK
    with pytest.raises(StoreError):
        await store.create_account("alice", "h", "user")
    assert store.get_account("alice") is None
    store.min_free_bytes = 0
    alice = await store.create_account("alice", "h", "user")
    assert store.get_account("alice") == alice


# -- message ids --------------------------------------------------------------------------


async def test_message_ids_start_at_one_and_strictly_increase(store: SQLiteStore) -> None:
    issued = [post(store, room="lobby") for _ in range(5)]
    assert issued == [1, 2, 3, 4, 5]
    assert await commit(store) is None


async def test_message_ids_continue_after_a_reopen(opener: Opener, store: SQLiteStore) -> None:
    issued = [post(store, room="lobby") for _ in range(5)]
    assert await commit(store) is None
    store = opener.reopen(store)
    assert store.next_message_id() > issued[-1]


async def test_message_ids_are_not_reused_after_a_failed_commit(
    opener: Opener, store: SQLiteStore
) -> None:
    store.min_free_bytes = FULL_DISK
    lost = post(store, room="lobby", text="lost")
    assert isinstance(await commit(store), StoreError)
    store.min_free_bytes = 0
    kept = post(store, room="lobby", text="kept")
    assert await commit(store) is None
    assert kept > lost
    store = opener.reopen(store)
    assert store.next_message_id() > kept


async def test_message_ids_are_not_reused_when_the_newest_messages_are_gone(
    opener: Opener, store: SQLiteStore
) -> None:
    # The first block of ids was reserved in a batch that failed; the messages that used
    # the block afterwards are deleted with their room. A reopen must not hand them out
    # again: a client may still hold them as its `since`.
    store.min_free_bytes = FULL_DISK
    post(store, room="lobby")
    assert isinstance(await commit(store), StoreError)
    store.min_free_bytes = 0
    store.create_room("attic", NOW)
    seen = [post(store, room="attic") for _ in range(3)]
    assert await commit(store) is None
    store.delete_room("attic")
    assert await commit(store) is None
    store = opener.reopen(store)
    assert store.next_message_id() > seen[-1]


async def test_a_new_account_has_seen_every_earlier_message(store: SQLiteStore) -> None:
    last = post(store, room="lobby")
    assert await commit(store) is None
    alice = await store.create_account("alice", "h", "user")
    assert store.dm_cursor(alice.id) == last


# -- rooms --------------------------------------------------------------------------------


async def test_rooms_are_created_once_and_keep_their_topic(store: SQLiteStore) -> None:
    first = store.create_room("lobby", NOW)
    assert (first.topic, first.topic_by, first.topic_ms, first.created_ms) == ("", "", 0, NOW)
    assert await commit(store) is None
    store.set_topic("lobby", "tea time", "alice", NOW + 1)
    again = store.create_room("lobby", NOW + 5)
    assert again.created_ms == NOW
    assert (again.topic, again.topic_by, again.topic_ms) == ("tea time", "alice", NOW + 1)
    store.create_room("attic", NOW)
    assert await commit(store) is None
    assert [r.name for r in store.list_rooms(None, 10)] == ["attic", "lobby"]
    assert store.count_rooms() == 2
    assert store.get_room("cellar") is None


async def test_rooms_are_listed_a_page_at_a_time_by_name(store: SQLiteStore) -> None:
    for name in ["delta", "alpha", "charlie", "bravo"]:
        store.create_room(name, NOW)
    assert await commit(store) is None
    assert [r.name for r in store.list_rooms(None, 2)] == ["alpha", "bravo"]
    assert [r.name for r in store.list_rooms("bravo", 2)] == ["charlie", "delta"]
    assert [r.name for r in store.list_rooms("b", 10)] == ["bravo", "charlie", "delta"]
    assert store.list_rooms("delta", 2) == []


async def test_a_registered_rooms_owner_grants_and_modes_are_kept(
    opener: Opener, store: SQLiteStore
) -> None:
    alice = await store.create_account("alice", "h", "user")
    bob = await store.create_account("bob", "h", "user")
    store.create_room("lobby", NOW)
    store.mark_community("lobby")
    store.register_room("lobby", alice.id, '{"flags":"nt"}')
    store.set_room_grant("lobby", bob.id, "op")
    assert await commit(store) is None
    store = opener.reopen(store)
    room = store.get_room("lobby")
    assert room is not None
    assert (room.owner_id, room.modes, room.community) == (alice.id, '{"flags":"nt"}', True)
    assert store.room_grants("lobby") == {alice.id: "owner", bob.id: "op"}
    store.set_room_grant("lobby", bob.id, None)
    store.save_room_modes("lobby", '{"flags":"n"}')
    assert await commit(store) is None
    assert store.room_grants("lobby") == {alice.id: "owner"}
    store.register_room("lobby", None, "")
    assert await commit(store) is None
    room = store.get_room("lobby")
    assert room is not None and room.owner_id is None
    assert store.room_grants("lobby") == {}


async def test_deleting_a_room_takes_its_history_and_grants(store: SQLiteStore) -> None:
    alice = await store.create_account("alice", "h", "user")
    store.create_room("lobby", NOW)
    store.register_room("lobby", alice.id, "")
    post(store, room="lobby")
    other = post(store, room="attic")
    assert await commit(store) is None
    store.delete_room("lobby")
    assert await commit(store) is None
    assert store.get_room("lobby") is None
    assert ids(store.room_after("lobby", 0, 10)) == []
    assert store.room_grants("lobby") == {}
    assert ids(store.room_after("attic", 0, 10)) == [other]


# -- room history paging ------------------------------------------------------------------


@pytest.fixture
async def lobby(store: SQLiteStore) -> list[int]:
    """Ten messages in lobby, interleaved with noise in another room and a DM."""
    alice = await store.create_account("alice", "h", "user")
    bob = await store.create_account("bob", "h", "user")
    out = []
    for i in range(10):
        out.append(post(store, room="lobby", text=f"l{i}"))
        post(store, room="attic")
        post(store, sender=alice, to=bob)
    assert await commit(store) is None
    return out


async def test_room_after_gives_the_newest_limit_after_id_oldest_first(
    store: SQLiteStore, lobby: list[int]
) -> None:
    page = store.room_after("lobby", lobby[2], 3)
    assert ids(page) == lobby[-3:]
    assert page.more
    page = store.room_after("lobby", lobby[2], 7)
    assert ids(page) == lobby[3:]
    assert not page.more
    assert ids(store.room_after("lobby", lobby[-1], 5)) == []


async def test_room_before_gives_the_newest_limit_before_id_oldest_first(
    store: SQLiteStore, lobby: list[int]
) -> None:
    page = store.room_before("lobby", lobby[5], 3)
    assert ids(page) == lobby[2:5]
    assert page.more
    page = store.room_before("lobby", lobby[3], 3)
    assert ids(page) == lobby[:3]
    assert not page.more
    page = store.room_before("lobby", None, 4)
    assert ids(page) == lobby[-4:]
    assert ids(store.room_before("lobby", lobby[0], 5)) == []


async def test_room_since_gives_the_oldest_limit_after_id(
    store: SQLiteStore, lobby: list[int]
) -> None:
    page = store.room_since("lobby", lobby[2], 3)
    assert ids(page) == lobby[3:6]
    assert page.more
    page = store.room_since("lobby", lobby[6], 3)
    assert ids(page) == lobby[7:]
    assert not page.more


async def test_room_pages_hold_only_that_room(store: SQLiteStore, lobby: list[int]) -> None:
    for page in [
        store.room_after("lobby", 0, 100),
        store.room_before("lobby", None, 100),
        store.room_since("lobby", 0, 100),
    ]:
        assert ids(page) == lobby
        assert {m.room for m in page.messages} == {"lobby"}
    assert store.room_after("lobby", 0, 1).messages[0].text == "l9"


async def test_retention_purges_old_messages_and_keeps_the_newest(store: SQLiteStore) -> None:
    old = [post(store, room="lobby", ts=NOW - 10_000 + i) for i in range(3)]
    new = [post(store, room="lobby", ts=NOW + i) for i in range(4)]
    elsewhere = post(store, room="attic", ts=NOW - 20_000)
    assert await commit(store) is None
    store.purge_messages("lobby", NOW, None)
    assert await commit(store) is None
    assert ids(store.room_after("lobby", 0, 100)) == new
    store.purge_messages("lobby", None, 2)
    assert await commit(store) is None
    assert ids(store.room_after("lobby", 0, 100)) == new[-2:]
    assert ids(store.room_after("attic", 0, 100)) == [elsewhere]
    assert old[0] < new[0]


# -- direct messages: by account id -------------------------------------------------------


@pytest.fixture
async def dms(store: SQLiteStore) -> dict[str, int]:
    alice = await store.create_account("alice", "h", "user")
    bob = await store.create_account("Bob", "h", "user")
    carol = await store.create_account("carol", "h", "user")
    out = {
        "a>b": post(store, sender=alice, to=bob),
        "b>a": post(store, sender=bob, to=alice),
        "c>b": post(store, sender=carol, to=bob),
        "room": post(store, sender=bob, room="lobby"),
        "a>c": post(store, sender=alice, to=carol),
        "a>b2": post(store, sender=alice, to=bob),
    }
    assert await commit(store) is None
    return out


def account_id(store: SQLiteStore, name: str) -> int:
    account = store.get_account(name)
    assert account is not None
    return account.id


async def test_dms_after_incoming_only_gives_messages_to_the_user(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    bob = account_id(store, "bob")
    page = store.dms_after(bob, 0, 10, incoming_only=True)
    assert ids(page) == [dms["a>b"], dms["c>b"], dms["a>b2"]]
    assert ids(store.dms_after(bob, dms["a>b"], 10, incoming_only=True)) == [
        dms["c>b"],
        dms["a>b2"],
    ]


async def test_dms_after_both_directions_adds_messages_from_the_user(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    page = store.dms_after(account_id(store, "bob"), 0, 10, incoming_only=False)
    assert ids(page) == [dms["a>b"], dms["b>a"], dms["c>b"], dms["a>b2"]]


async def test_dms_after_gives_the_newest_limit_and_says_more(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    page = store.dms_after(account_id(store, "bob"), 0, 2, incoming_only=False)
    assert ids(page) == [dms["c>b"], dms["a>b2"]]
    assert page.more


async def test_dms_before_and_since_page_both_directions(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    alice = account_id(store, "alice")
    mine = [dms[k] for k in ("a>b", "b>a", "a>c", "a>b2")]
    page = store.dms_before(alice, None, 2)
    assert (ids(page), page.more) == (mine[2:], True)
    page = store.dms_before(alice, mine[2], 10)
    assert (ids(page), page.more) == (mine[:2], False)
    page = store.dms_since(alice, mine[0], 2)
    assert (ids(page), page.more) == (mine[1:3], True)
    page = store.dms_since(alice, mine[1], 10)
    assert (ids(page), page.more) == (mine[2:], False)


async def test_dms_belong_to_the_account_id_not_to_the_name(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    old_bob = account_id(store, "bob")
    assert await store.delete_account(old_bob)
    new_bob = await store.create_account("bob", "h", "user")
    assert new_bob.id != old_bob
    for page in [
        store.dms_after(new_bob.id, 0, 10, incoming_only=True),
        store.dms_after(new_bob.id, 0, 10, incoming_only=False),
        store.dms_before(new_bob.id, None, 10),
        store.dms_since(new_bob.id, 0, 10),
    ]:
        assert page.messages == []
    # The old account's DMs went with it, from both sides.
    alice = account_id(store, "alice")
    assert ids(store.dms_before(alice, None, 10)) == [dms["a>c"]]


async def test_a_dm_carries_both_ids(store: SQLiteStore, dms: dict[str, int]) -> None:
    page = store.dms_after(account_id(store, "bob"), dms["a>b2"] - 1, 10, incoming_only=True)
    [last] = page.messages
    assert (last.sender, last.sender_id) == ("alice", account_id(store, "alice"))
    assert (last.recipient, last.recipient_id) == ("Bob", account_id(store, "bob"))


async def test_find_by_nonce_finds_the_senders_recent_message(store: SQLiteStore) -> None:
    alice = await store.create_account("Alice", "h", "user")
    bob = await store.create_account("bob", "h", "user")
    msg_id = post(store, room="lobby", sender=alice, nonce="n1", ts=NOW)
    assert await commit(store) is None
    found = store.find_by_nonce(alice.id, "n1", NOW - 1000)
    assert found is not None
    assert (found.id, found.sender_id) == (msg_id, alice.id)
    assert store.find_by_nonce(alice.id, "n1", NOW + 1) is None
    assert store.find_by_nonce(bob.id, "n1", 0) is None
    assert store.find_by_nonce(alice.id, "n2", 0) is None


async def test_dm_cursor_only_ever_rises(store: SQLiteStore) -> None:
    alice = await store.create_account("alice", "h", "user")
    store.set_dm_cursor(alice.id, 10)
    assert store.dm_cursor(alice.id) == 10
    store.set_dm_cursor(alice.id, 4)
    assert store.dm_cursor(alice.id) == 10
    assert await commit(store) is None
    assert store.dm_cursor(alice.id) == 10
    store.set_dm_cursor(alice.id, 11)
    assert await commit(store) is None
    assert store.dm_cursor(alice.id) == 11


async def test_dm_cursor_of_an_unknown_account_is_zero(store: SQLiteStore) -> None:
    assert store.dm_cursor(12345) == 0


# -- moderation ---------------------------------------------------------------------------


async def test_a_timed_ban_is_active_until_it_expires(store: SQLiteStore) -> None:
    store.add_ban(Ban("user", "7", NOW + 1000, "spam", "op", NOW))
    store.add_ban(Ban("ip", "10.0.0.0/8", None, "flood", "op", NOW))
    assert await commit(store) is None
    assert {b.value for b in store.active_bans(NOW)} == {"7", "10.0.0.0/8"}
    assert {b.value for b in store.active_bans(NOW + 999)} == {"7", "10.0.0.0/8"}
    assert {b.value for b in store.active_bans(NOW + 1000)} == {"10.0.0.0/8"}
    assert {b.value for b in store.active_bans(NOW * 2)} == {"10.0.0.0/8"}


async def test_a_ban_is_replaced_and_removed(store: SQLiteStore) -> None:
    store.add_ban(Ban("user", "7", NOW + 1000, "spam", "op", NOW))
    store.add_ban(Ban("user", "7", None, "again", "op2", NOW))
    assert await commit(store) is None
    [ban] = store.active_bans(NOW)
    assert (ban.until_ms, ban.reason, ban.by) == (None, "again", "op2")
    store.remove_ban("ip", "7")
    assert await commit(store) is None
    assert len(store.active_bans(NOW)) == 1
    store.remove_ban("user", "7")
    assert await commit(store) is None
    assert store.active_bans(NOW) == []


async def test_mutes_are_kept_by_account_id_until_they_expire(store: SQLiteStore) -> None:
    alice = await store.create_account("alice", "h", "user")
    bob = await store.create_account("bob", "h", "user")
    store.set_mute(alice.id, NOW + 1000, "op")
    store.set_mute(bob.id, None, "op")
    assert await commit(store) is None
    assert store.active_mutes(NOW) == {alice.id: NOW + 1000, bob.id: None}
    assert store.active_mutes(NOW + 1000) == {bob.id: None}
    store.remove_mute(bob.id)
    assert await commit(store) is None
    assert store.active_mutes(NOW) == {alice.id: NOW + 1000}


async def test_deleting_an_account_takes_its_dms_grants_mutes_bans_and_rooms(
    store: SQLiteStore,
) -> None:
    alice = await store.create_account("alice", "h", "user")
    bob = await store.create_account("bob", "h", "user")
    post(store, sender=alice, to=bob)
    post(store, sender=bob, to=alice)
    kept = post(store, room="lobby", sender=alice)
    store.create_room("lobby", NOW)
    store.register_room("lobby", alice.id, "")
    store.set_mute(alice.id, None, "op")
    store.add_ban(Ban("user", str(alice.id), None, "spam", "op", NOW))
    assert await commit(store) is None
    assert await store.delete_account(alice.id)
    assert store.dms_before(bob.id, None, 10).messages == []
    assert ids(store.room_after("lobby", 0, 10)) == [kept], "room history stays"
    room = store.get_room("lobby")
    assert room is not None and room.owner_id is None
    assert store.room_grants("lobby") == {}
    assert store.active_mutes(NOW) == {}
    assert store.active_bans(NOW) == []


async def test_an_invite_code_works_once(store: SQLiteStore) -> None:
    store.create_invite("abc", "op", NOW)
    assert await commit(store) is None
    assert store.invite_available("abc")
    assert await store.use_invite("abc", "newbie")
    assert not store.invite_available("abc")
    assert not await store.use_invite("abc", "other")
    assert not await store.use_invite("nope", "newbie")


# -- commits and failures -----------------------------------------------------------------


async def test_a_batch_is_invisible_to_other_readers_until_its_commit(
    store: SQLiteStore, opener: Opener
) -> None:
    msg_id = post(store, room="lobby")
    other = SQLiteStore(opener.path)
    try:
        assert other.room_after("lobby", 0, 10).messages == []
        assert await commit(store) is None
        assert ids(other.room_after("lobby", 0, 10)) == [msg_id]
    finally:
        other.close()


async def test_a_failed_batch_reports_once_keeps_nothing_and_the_next_works(
    store: SQLiteStore,
) -> None:
    alice = await store.create_account("alice", "h", "user")
    store.create_room("lobby", NOW)
    assert await commit(store) is None

    store.min_free_bytes = FULL_DISK
    post(store, room="lobby", text="lost")
    post(store, sender=alice, to=alice, text="lost dm")
    store.set_topic("lobby", "lost topic", "alice", NOW)
    store.create_room("attic", NOW)
    store.set_dm_cursor(alice.id, 99)
    store.add_ban(Ban("ip", "10.0.0.9", None, "lost", "op", NOW))
    store.set_mute(alice.id, None, "op")
    error = await commit(store)
    assert isinstance(error, StoreError)
    assert "free" in str(error)

    assert store.room_after("lobby", 0, 10).messages == []
    assert store.dms_before(alice.id, None, 10).messages == []
    room = store.get_room("lobby")
    assert room is not None and room.topic == ""
    assert store.get_room("attic") is None
    assert store.dm_cursor(alice.id) == 0
    assert store.active_bans(NOW) == []
    assert store.active_mutes(NOW) == {}

    store.min_free_bytes = 0  # space came back
    kept = post(store, room="lobby", text="kept")
    assert await commit(store) is None
    assert [m.text for m in store.room_after("lobby", 0, 10).messages] == ["kept"]
    assert ids(store.room_after("lobby", 0, 10)) == [kept]


async def test_an_empty_commit_reports_success(store: SQLiteStore) -> None:
    assert await commit(store) is None


async def test_batches_commit_in_order(store: SQLiteStore) -> None:
    order: list[int] = []
    settled = asyncio.get_running_loop().create_future()
    for i in range(5):
        post(store, room="lobby", text=f"m{i}")

        def done(error: StoreError | None, i: int = i) -> None:
            assert error is None
            order.append(i)
            if len(order) == 5:
                settled.set_result(None)

        store.commit(done)
    await asyncio.wait_for(settled, 10)
    assert order == [0, 1, 2, 3, 4]
    assert [m.text for m in store.room_after("lobby", 0, 10).messages] == [
        f"m{i}" for i in range(5)
    ]


async def test_sync_commits_what_is_pending_and_raises_on_failure(store: SQLiteStore) -> None:
    msg_id = post(store, room="lobby")
    await store.sync()
    assert ids(store.room_after("lobby", 0, 10)) == [msg_id]
    store.min_free_bytes = FULL_DISK
    post(store, room="lobby")
    with pytest.raises(StoreError):
        await store.sync()
    store.min_free_bytes = 0
    await store.sync()  # nothing pending: nothing to fail
    assert ids(store.room_after("lobby", 0, 10)) == [msg_id]


async def test_everything_survives_close_and_reopen(opener: Opener, store: SQLiteStore) -> None:
    created = await store.create_account("Alice", "h", "admin")
    bob = await store.create_account("bob", "h", "user")
    store.create_room("lobby", NOW)
    store.set_topic("lobby", "tea", "Alice", NOW + 7)
    room_ids = [post(store, room="lobby", text=f"m{i}") for i in range(3)]
    dm_id = post(store, sender=created, to=bob)
    store.set_dm_cursor(created.id, dm_id)
    store.add_ban(Ban("ip", "10.0.0.9", None, "flood", "op", NOW))
    store.set_mute(bob.id, None, "op")
    store.create_invite("abc", "op", NOW)
    store = opener.reopen(store)  # close commits what is pending

    account = store.get_account("alice")
    assert account is not None
    assert (account.id, account.name, account.role) == (created.id, "Alice", "admin")
    room = store.get_room("lobby")
    assert room is not None
    assert (room.topic, room.topic_by, room.topic_ms) == ("tea", "Alice", NOW + 7)
    assert ids(store.room_after("lobby", 0, 10)) == room_ids
    assert [m.text for m in store.room_after("lobby", 0, 10).messages] == ["m0", "m1", "m2"]
    assert ids(store.dms_after(bob.id, 0, 10, incoming_only=True)) == [dm_id]
    assert store.dm_cursor(created.id) == dm_id
    assert [b.value for b in store.active_bans(NOW)] == ["10.0.0.9"]
    assert store.active_mutes(NOW) == {bob.id: None}
    assert await store.use_invite("abc", "newbie")
    assert store.next_message_id() > dm_id


# -- reading one's own writes -------------------------------------------------------------


async def test_room_writes_are_read_back_before_their_commit(store: SQLiteStore) -> None:
    alice = await store.create_account("alice", "h", "user")
    store.create_room("lobby", NOW)
    assert (room := store.get_room("lobby")) is not None and room.created_ms == NOW
    assert [r.name for r in store.list_rooms(None, 10)] == ["lobby"]
    store.set_topic("lobby", "tea", "alice", NOW + 1)
    store.mark_community("lobby")
    store.register_room("lobby", alice.id, '{"flags":"n"}')
    room = store.get_room("lobby")
    assert room is not None
    assert (room.topic, room.topic_by, room.topic_ms) == ("tea", "alice", NOW + 1)
    assert (room.community, room.owner_id, room.modes) == (True, alice.id, '{"flags":"n"}')
    assert store.list_rooms(None, 10) == [room]
    assert await commit(store) is None
    assert store.get_room("lobby") == room, "the database says the same after the commit"
    store.delete_room("lobby")
    assert store.get_room("lobby") is None
    assert store.list_rooms(None, 10) == []
    assert await commit(store) is None
    assert store.get_room("lobby") is None


async def test_a_dm_cursor_is_read_back_before_its_commit(store: SQLiteStore) -> None:
    alice = await store.create_account("alice", "h", "user")
    store.set_dm_cursor(alice.id, 7)
    assert store.dm_cursor(alice.id) == 7
    assert await commit(store) is None
    assert store.dm_cursor(alice.id) == 7


async def test_what_a_failed_batch_wrote_is_no_longer_read_back(store: SQLiteStore) -> None:
    alice = await store.create_account("alice", "h", "user")
    store.min_free_bytes = FULL_DISK
    store.create_room("lobby", NOW)
    store.set_dm_cursor(alice.id, 7)
    assert store.get_room("lobby") is not None
    assert isinstance(await commit(store), StoreError)
    assert store.get_room("lobby") is None
    assert store.list_rooms(None, 10) == []
    assert store.dm_cursor(alice.id) == 0


# -- private files ------------------------------------------------------------------------


async def test_the_files_are_private_even_with_umask_0(opener: Opener) -> None:
    old = os.umask(0)
    try:
        store = opener()
        post(store, room="lobby")
        assert await commit(store) is None
        await store.create_account("alice", "h", "user")
    finally:
        os.umask(old)
    files = [Path(f"{opener.path}{suffix}") for suffix in ("", "-wal", "-shm")]
    assert files[0].exists()
    for path in files:
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == 0o600, f"{path.name} is {mode:o}"
