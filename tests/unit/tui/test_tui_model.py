"""The terminal client's model: conversations, unread counts, mentions, dedupe, status."""

from __future__ import annotations

from teahouse.client.events import Connected, Disconnected, EventsDropped, Reconnecting
from teahouse.client.tui.model import SERVER, Alert, Model, mentions
from teahouse.protocol import frames as f

TS = "2026-11-25T12:59:19.262Z"


def msg(id: int, sender: str, text: str, room: str | None = "lobby", **kw: object) -> f.Message:
    return f.Message(id=id, sender=sender, text=text, ts=TS, room=room, **kw)  # type: ignore[arg-type]


def joined(room: str, *members: str, topic: str = "") -> f.Joined:
    return f.Joined(room=room, topic=topic, members=list(members))


def model() -> Model:
    m = Model("alice", "host:6680", clock=lambda: TS)
    m.apply(Connected("alice", "user", "teahouse/0.1.0", reconnect=False), 0.0)
    return m


def texts(m: Model, key: str) -> list[str]:
    return [ln.message.text for ln in m.conversations[key].lines if ln.message is not None]


def test_the_first_room_joined_is_shown_and_others_count_unread() -> None:
    m = model()
    assert m.current == SERVER
    m.apply(joined("lobby", "alice", "bob"), 0)
    m.apply(joined("tea", "alice", "bob"), 0)
    assert m.current == "#lobby"
    m.apply(msg(1, "bob", "in lobby"), 0)
    m.apply(msg(2, "bob", "in tea", room="tea"), 0)
    m.apply(msg(3, "bob", "alice: tea is ready", room="tea"), 0)
    lobby, tea = m.conversations["#lobby"], m.conversations["#tea"]
    assert (lobby.unread, tea.unread, tea.mentioned) == (0, 2, True)
    assert [ln.mention for ln in tea.lines if ln.message] == [False, True]
    m.select("#tea")
    assert (tea.unread, tea.mentioned, m.current) == (0, False, "#tea")
    assert m.order() == [SERVER, "#lobby", "#tea"]
    assert m.step(1) == SERVER and m.step(-1) == "#tea" and m.step(-1) == "#lobby"


def test_own_messages_never_count_and_replays_count_only_after_a_reconnect() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.apply(joined("tea", "alice"), 0)
    m.apply(msg(1, "alice", "mine", room="tea"), 0)
    m.apply(msg(2, "bob", "context", room="tea", replay=True), 0)
    assert m.conversations["#tea"].unread == 0
    m.apply(Disconnected("heartbeat_timeout", will_reconnect=True), 0)
    m.apply(Connected("alice", "user", "teahouse/0.1.0", reconnect=True), 0)
    m.apply(msg(3, "bob", "missed", room="tea", replay=True), 0)
    assert m.conversations["#tea"].unread == 1


def test_a_message_is_shown_once_however_it_comes_back() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    said = msg(5, "alice", "hello")
    assert m.add_message(said)  # the reply to our say
    m.apply(msg(5, "alice", "hello", replay=True), 0)  # and again in a rejoin's replay
    assert texts(m, "#lobby") == ["hello"]


def test_direct_messages_go_to_one_conversation_per_partner() -> None:
    m = model()
    m.apply(msg(1, "Bob", "psst", room=None, dm=True, to="alice"), 0)
    m.apply(msg(2, "alice", "yes?", room=None, dm=True, to="bob"), 0)
    conv = m.conversations["@bob"]
    assert conv.title == "@Bob" and texts(m, "@bob") == ["psst", "yes?"]
    assert (conv.unread, conv.mentioned) == (1, True)
    m.apply(joined("lobby", "alice", "bob"), 0)
    m.select("@bob")
    assert m.members() == [("alice", "online"), ("Bob", "online")]


def test_members_follow_presence_and_go_stale_while_disconnected() -> None:
    m = model()
    m.apply(joined("lobby", "alice", "bob"), 0)
    m.apply(f.Presence(room="lobby", user="carol", state="joined"), 0)
    m.apply(f.Presence(room="lobby", user="bob", state="left", reason="quit"), 0)
    assert m.members() == [("alice", "online"), ("carol", "online")]
    notes = [ln.text for ln in m.conversations["#lobby"].lines if ln.message is None]
    assert notes[-2:] == ["carol joined #lobby", "bob left #lobby (quit)"]
    m.apply(Disconnected("eof", will_reconnect=True), 0)
    assert m.members() == [("alice", "unknown"), ("carol", "unknown")]
    assert m.status.state == "reconnecting"
    m.apply(Reconnecting(delay=2.5, attempt=1), 10.0)
    assert (m.status.retry_at, m.status.attempt) == (12.5, 1)
    m.apply(Connected("alice", "user", "teahouse/0.1.0", reconnect=True), 0)
    m.apply(joined("lobby", "alice", "carol"), 0)
    assert m.members() == [("alice", "online"), ("carol", "online")]
    assert m.status.state == "connected" and m.resumed


def test_a_session_ended_for_good_is_offline() -> None:
    m = model()
    m.apply(Disconnected("banned", will_reconnect=False), 0)
    assert m.status.state == "offline"
    lines = m.conversations[SERVER].lines
    assert lines[-1].level == "error" and "banned" in lines[-1].text


def test_history_goes_above_and_the_screen_redraws() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    for i in range(10, 13):
        m.apply(msg(i, "bob", f"m{i}"), 0)
    conv = m.conversations["#lobby"]
    assert conv.take_fresh(100) and conv.fresh == 0
    added = m.add_history("lobby", [msg(i, "bob", f"m{i}") for i in range(7, 11)])
    assert added == 3  # id 10 was there already
    assert texts(m, "#lobby") == ["m7", "m8", "m9", "m10", "m11", "m12"]
    assert conv.redraw and conv.oldest_id == 7
    assert m.add_history("lobby", []) == 0 and conv.history_exhausted


def test_fresh_lines_are_taken_in_batches_and_a_burst_skips_what_would_scroll_out() -> None:
    m = Model("alice", "h:1", max_lines=100, clock=lambda: TS)
    m.apply(joined("lobby", "alice"), 0)
    conv = m.conversations["#lobby"]
    conv.take_fresh(10)
    for i in range(1, 251):
        m.apply(msg(i, "bob", f"m{i}"), 0)
    assert len(conv.lines) == 100 and conv.fresh == 100
    assert conv.skip_fresh(40) == 60
    first = conv.take_fresh(30)
    assert [ln.message.text for ln in first if ln.message] == [f"m{i}" for i in range(211, 241)]
    assert conv.fresh == 10


def test_errors_notices_and_dropped_events_become_notes() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.apply(f.Error(code="forbidden", message="muted", fatal=False), 0)
    m.apply(f.Notice(text="maintenance at noon", by="root"), 0)
    m.apply(EventsDropped(12), 0)
    m.apply(f.ReplayEnd(count=3, truncated=True, room="lobby", oldest_id=40), 0)
    notes = [(ln.level, ln.text) for ln in m.conversations["#lobby"].lines if ln.message is None]
    assert ("error", "forbidden: muted") in notes
    assert not any("maintenance" in text for _, text in notes)  # not in the open room
    assert any(level == "error" and "12 events" in text for level, text in notes)
    assert any("before id 40" in text for _, text in notes)
    m.apply(f.Error(code="forbidden", message="no", fatal=False, ref="auto:join:vip"), 0)
    assert "#vip" not in m.conversations


def test_mentions_are_whole_names() -> None:
    assert mentions("alice: hi", "alice")
    assert mentions("hi @Alice!", "alice")
    assert not mentions("malice aforethought", "alice")
    assert not mentions("alice_bot says hi", "alice")


def test_parting_closes_the_room() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.apply(joined("tea", "alice"), 0)
    m.select("#tea")
    m.parted("tea")
    assert "#tea" not in m.conversations and m.current == "#lobby"


def test_a_replay_cut_after_a_reconnect_is_a_gap_to_fill_not_a_hint() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.apply(msg(1, "bob", "one"), 0)
    m.apply(msg(2, "bob", "two"), 0)
    assert m.gap_before("lobby", 9) is None  # not resumed: nothing is missing
    m.apply(Disconnected("eof", will_reconnect=True), 0)
    m.apply(Connected("alice", "user", "teahouse/0.1.0", reconnect=True), 0)
    m.apply(msg(9, "bob", "nine", replay=True), 0)
    m.apply(f.ReplayEnd(count=1, truncated=True, room="lobby", oldest_id=9), 0)
    assert m.gap_before("lobby", 9) == 2
    notes = [ln.text for ln in m.conversations["#lobby"].lines if ln.message is None]
    assert not any("/history" in text for text in notes)
    assert m.add_history("lobby", [msg(i, "bob", f"m{i}") for i in range(3, 9)]) == 6
    assert texts(m, "#lobby") == ["one", "two", "m3", "m4", "m5", "m6", "m7", "m8", "nine"]


def test_an_announcement_goes_to_the_server_pane_marked_unread() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.alerts.clear()
    m.apply(f.Notice(text="maintenance at noon", by="root"), 0)
    server, lobby = m.conversations[SERVER], m.conversations["#lobby"]
    assert m.current == "#lobby"
    assert [(ln.level, ln.text) for ln in server.lines][-1] == (
        "notice",
        "announcement from root: maintenance at noon",
    )
    assert (server.unread, server.mentioned) == (1, True)
    assert not any("maintenance" in ln.text for ln in lobby.lines)
    assert [(a.key, a.title) for a in m.alerts] == [(SERVER, "announcement from root")]
    m.select(SERVER)
    assert (server.unread, server.mentioned) == (0, False)


def test_room_and_private_notices_go_where_they_belong() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.apply(joined("tea", "alice"), 0)
    m.alerts.clear()
    m.apply(f.Notice(text="brb", by="bob", room="tea"), 0)
    tea = m.conversations["#tea"]
    assert tea.lines[-1].text == "-bob- brb" and tea.lines[-1].level == "notice"
    assert (tea.unread, tea.mentioned) == (1, False)
    m.apply(f.Notice(text="psst", by="bob", to="alice"), 0)
    dm = m.conversations["@bob"]
    assert dm.lines[-1].text == "-bob- psst" and (dm.unread, dm.mentioned) == (1, True)
    assert [a.key for a in m.alerts] == ["@bob"]


def test_highlight_words_mark_lines_and_make_alerts() -> None:
    m = model()
    m.highlights = ("scones",)
    m.apply(joined("lobby", "alice"), 0)
    m.apply(joined("tea", "alice"), 0)
    m.alerts.clear()
    m.apply(msg(1, "bob", "fresh Scones!", room="tea"), 0)
    m.apply(msg(2, "bob", "sconesy is not a word", room="tea"), 0)
    m.apply(msg(3, "bob", "/me waves at alice", room="lobby"), 0)  # on screen: still an alert
    m.apply(msg(4, "bob", "context alice", room="tea", replay=True), 0)  # a join's replay
    tea = m.conversations["#tea"]
    assert [ln.mention for ln in tea.lines if ln.message] == [True, False, True]
    assert (tea.unread, tea.mentioned) == (2, True)
    assert [(a.key, a.title, a.body) for a in m.alerts] == [
        ("#tea", "bob in #tea", "fresh Scones!"),
        ("#lobby", "bob in #lobby", "* bob waves at alice"),
    ]
    m.apply(msg(5, "bob", "a secret", room=None, dm=True, to="alice"), 0)
    assert m.alerts[-1] == Alert("@bob", "bob", "a secret")


def test_ignored_users_are_not_shown_and_never_counted() -> None:
    m = model()
    m.ignored = frozenset({"spammer"})
    m.apply(joined("lobby", "alice", "spammer"), 0)
    m.apply(joined("tea", "alice"), 0)
    m.apply(msg(1, "Spammer", "buy now, alice", room="tea"), 0)
    m.apply(msg(2, "spammer", "dm spam", room=None, dm=True, to="alice"), 0)
    m.apply(f.Notice(text="spam notice", by="spammer"), 0)
    m.apply(msg(3, "bob", "real", room="tea"), 0)
    assert texts(m, "#tea") == ["real"]
    assert "@spammer" not in m.conversations
    assert not any("spam" in ln.text for ln in m.conversations[SERVER].lines)
    assert m.conversations["#tea"].unread == 1 and not m.alerts
    m.ignored = frozenset({"alice"})  # never yourself
    m.apply(msg(4, "alice", "mine", room="tea"), 0)
    assert texts(m, "#tea") == ["real", "mine"]


def test_away_users_show_in_the_member_pane_and_you_in_the_status() -> None:
    m = model()
    m.apply(joined("lobby", "alice", "bob"), 0)
    m.apply(f.AwayChanged(user="bob", text="lunch"), 0)
    assert m.members() == [("alice", "online"), ("bob", "away")]
    m.apply(f.AwayChanged(user="alice", text="tea"), 0)
    assert m.status.away == "tea"
    m.apply(f.AwayChanged(user="bob"), 0)
    assert m.members()[1] == ("bob", "online")
    m.apply(Disconnected("eof", will_reconnect=True), 0)
    assert m.status.away is None and not m.away


def test_mode_changes_are_noted_in_their_room_with_the_operators() -> None:
    m = model()
    m.apply(f.Joined(room="lobby", topic="", members=["alice", "bob"], modes="+nt", ops=["Bob"]), 0)
    lobby = m.conversations["#lobby"]
    assert (lobby.modes, lobby.ops) == ("+nt", {"bob"})
    m.apply(
        f.ModeChanged(
            room="lobby", modes="+knt", params=["s"], changes="+ko", args=["s", "alice"], by="bob"
        ),
        0,
    )
    assert lobby.lines[-1].text == "bob set +ko s alice on #lobby (modes now: +knt s)"
    assert (lobby.modes, lobby.ops) == ("+knt", {"alice", "bob"})
    m.apply(f.ModeChanged(room="lobby", modes="+knt", changes="-o", args=["bob"], by="alice"), 0)
    assert lobby.ops == {"alice"} and "members" in m.changed
    m.apply(f.ModeChanged(room="elsewhere", modes="+n", changes="+n", by="x"), 0)
    assert "#elsewhere" not in m.conversations


def test_a_kick_is_said_once_with_who_and_why() -> None:
    m = model()
    m.apply(f.Joined(room="tea", topic="", members=["alice", "bob", "carol"], ops=["alice"]), 0)
    tea = m.conversations["#tea"]

    def kick(user: str, text: str, by: str = "alice") -> f.Presence:
        return f.Presence(room="tea", user=user, state="left", reason="kicked", by=by, text=text)

    # The kicker gets the room's presence and the reply to the kick (the user as typed).
    m.apply(kick("bob", "flooding"), 0)
    m.presence(kick("BOB", "flooding"))
    assert [ln.text for ln in tea.lines if "kicked" in ln.text] == [
        "bob was kicked by you: flooding"
    ]
    assert "bob" not in tea.members and tea.joined
    m.apply(kick("alice", "carol", by="carol"), 0)  # the default reason: the kicker's name
    assert tea.lines[-1].text == "you were kicked by carol" and tea.lines[-1].level == "error"
    assert not tea.joined and "alice" not in tea.members
    m.presence(kick("alice", "carol", by="carol"))
    assert [ln.text for ln in tea.lines].count("you were kicked by carol") == 1


def test_an_invitation_is_said_where_you_look_and_alerts() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    m.alerts.clear()
    m.apply(f.Invited(room="tea", user="alice", by="bob"), 0)
    assert m.conversations["#lobby"].lines[-1].text == "bob invited you to #tea: /join tea"
    assert m.alerts == [Alert("#lobby", "invited to #tea", "bob")]


def test_history_ends_only_when_the_server_says_so() -> None:
    m = model()
    m.apply(joined("lobby", "alice"), 0)
    lobby = m.conversations["#lobby"]
    m.add_history("lobby", [msg(5, "bob", "five")], more=True)  # a short page, with more
    assert not lobby.history_exhausted
    m.add_history("lobby", [msg(4, "bob", "four")], more=False)
    assert lobby.history_exhausted and texts(m, "#lobby") == ["four", "five"]


def test_an_operator_answer_of_several_lines_is_one_note_each() -> None:
    m = model()
    m.apply(f.AdminResult(cmd="who", text="alice 1.2.3.4\nbob 5.6.7.8"), 0)
    assert [ln.text for ln in m.conversations[SERVER].lines][-2:] == [
        "alice 1.2.3.4",
        "bob 5.6.7.8",
    ]


def test_a_notice_for_a_room_not_shown_goes_to_the_server_pane_as_such() -> None:
    m = model()
    m.apply(f.Notice(text="hi", by="bob", room="gone"), 0)
    assert m.conversations[SERVER].lines[-1].text == "#gone -bob- hi"
    assert not m.alerts
