"""The web client in a real browser (Debian's chromium, driven by Playwright) against a real
server: people with only a browser chat with each other, with IRC users and with native
clients; reloads and cut connections resume without gap or duplicate; hostile text stays
text.

Skipped where chromium or Playwright is missing (.ci/run installs both, so CI runs these;
under CI=true a missing one is a failure). Screenshots go to a temporary directory; with
``TEAHOUSE_SCREENSHOTS=1`` they go to docs/images/ instead::

    TEAHOUSE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/integration/test_web_client.py
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RawClient, next_event

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the dev extra installs it
    async_playwright = None  # type: ignore[assignment]

PASSWORD = "correct-horse-1"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No network but loopback, no background traffic, no GPU: the brief of every test here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    missing = [
        what
        for what, there in (("chromium", CHROMIUM), ("playwright", async_playwright))
        if there is None
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing in CI: .ci/run should install them")
        pytest.skip(
            f"{', '.join(missing)} not installed (apt-get install chromium; pip install playwright)"
        )
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class WebUser:
    """One person in one browser tab (a context of its own: its own sessionStorage)."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )

    async def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    async def login(
        self, user: str, *, register: bool = True, password: str = PASSWORD, invite: str = ""
    ) -> None:
        page = self.page
        await page.goto(self.url)
        await page.fill("#login-user", user)
        await page.fill("#login-password", password)
        if register:
            await page.check("#login-register")
            if invite:
                await page.fill("#login-invite", invite)
        await page.click("#login-submit")

    async def ready(self, room: str = "lobby") -> None:
        await expect(self.page.locator("#chat")).to_be_visible()
        await expect(self.page.locator("#view-title")).to_have_text(f"#{room}")

    async def say(self, text: str) -> None:
        await self.page.fill("#entry", text)
        await self.page.press("#entry", "Enter")

    async def wait_for(self, text: str) -> None:
        await self.page.wait_for_function(
            """(t) => [...document.querySelectorAll('#transcript .msg[data-id] .text')]
                  .some((n) => n.textContent === t)""",
            arg=text,
        )

    async def transcript(self) -> list[tuple[int, str, str]]:
        """(id, sender, text) of every message shown in the open conversation, in order."""
        rows: list[list[Any]] = await self.page.evaluate(
            """() => [...document.querySelectorAll('#transcript .msg[data-id]')].map((li) => [
                Number(li.dataset.id),
                li.querySelector('.name').textContent,
                li.querySelector('.text').textContent,
            ])"""
        )
        return [(int(i), str(who), str(text)) for i, who, text in rows]

    async def shot(self, name: str, tmp: Path) -> None:
        folder = IMAGES if os.environ.get("TEAHOUSE_SCREENSHOTS") == "1" else tmp
        await self.page.screenshot(path=str(folder / f"{name}.png"))

    def clean(self) -> None:
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.errors == [], f"errors in the page: {self.errors}"


Opener = Callable[..., Awaitable[WebUser]]


@pytest.fixture
async def web(browser: Browser) -> AsyncIterator[Opener]:
    """Factory: ``await web(server, width=1280, height=800)`` -> a :class:`WebUser`."""
    contexts: list[Any] = []

    async def open_user(server: Any, width: int = 1280, height: int = 800, **kw: Any) -> WebUser:
        context = await browser.new_context(viewport={"width": width, "height": height}, **kw)
        contexts.append(context)
        page = await context.new_page()
        return WebUser(page, f"http://127.0.0.1:{server.doors['web']}/")

    yield open_user
    for context in contexts:
        await context.close()


async def native_user(
    raw: Any, server: Any, name: str, room: str = "lobby", register: bool = True
) -> RawClient:
    client: RawClient = await raw(server.port)
    await client.login(name, PASSWORD, register=register)
    await client.send(type="join", room=room)
    await client.recv_until("replay_end", room=room)
    return client


# -- two people with browsers ----------------------------------------------------------------


async def test_two_browser_users_chat(make_server: Any, web: Opener, tmp_path: Path) -> None:
    server = make_server()
    alice, bob = await web(server), await web(server)
    await alice.login("alice")
    await alice.ready()
    await bob.login("bob")
    await bob.ready()
    await expect(alice.page.locator("#members-list")).to_contain_text("bob")

    await alice.say("hello bob, tea?")
    await bob.wait_for("hello bob, tea?")
    await bob.say("yes alice, milk first")
    await alice.wait_for("yes alice, milk first")
    # A message that names you is highlighted on your page; your own are not.
    mention = alice.page.locator("#transcript .msg.mention")
    await expect(mention).to_have_count(1)
    await expect(mention.locator(".text")).to_have_text("yes alice, milk first")
    await expect(bob.page.locator("#transcript .msg.mention .text")).to_have_text("hello bob, tea?")

    await bob.say("/me pours the tea")
    action = alice.page.locator("#transcript .msg.action")
    await expect(action).to_contain_text("* bob pours the tea")

    await alice.say("/topic tea, cake and gossip")
    await expect(bob.page.locator("#view-topic")).to_have_text("tea, cake and gossip")

    # A link becomes a link; a javascript: one stays text.
    await bob.say("see https://example.org/tea?x=1, or javascript:alert(1)")
    await alice.wait_for("see https://example.org/tea?x=1, or javascript:alert(1)")
    links = alice.page.locator("#transcript .msg .text a")
    await expect(links).to_have_count(1)
    assert await links.get_attribute("href") == "https://example.org/tea?x=1"
    assert await links.get_attribute("rel") == "noopener noreferrer nofollow ugc"

    # A direct message opens a conversation on both sides, with an unread count.
    await alice.say("/msg bob psst")
    await expect(alice.page.locator("#view-title")).to_have_text("bob")
    badge = bob.page.locator("#dm-list .view-button .badge")
    await expect(badge).to_have_text("1")
    await bob.page.locator("#dm-list .view-button").click()
    await bob.wait_for("psst")
    await expect(badge).to_have_count(0)

    # Keyboard: Alt+1 goes back to the first room, Alt+ArrowDown to the next conversation.
    await bob.page.keyboard.press("Alt+1")
    await expect(bob.page.locator("#view-title")).to_have_text("#lobby")
    await bob.page.keyboard.press("Alt+ArrowDown")
    await expect(bob.page.locator("#view-title")).to_have_text("alice")
    await expect(bob.page.locator("#entry")).to_be_focused()

    await alice.page.locator("#room-list .view-button").first.click()
    await alice.shot("web-desktop", tmp_path)
    alice.clean()
    bob.clean()


async def test_a_reload_resumes_without_gap_or_duplicate(
    make_server: Any, web: Opener, raw: Any
) -> None:
    server = make_server()
    nat = await native_user(raw, server, "Nat")
    bob = await web(server)
    await bob.login("bob")
    await bob.ready()
    await nat.send(type="say", room="lobby", text="one")
    await nat.send(type="say", room="lobby", text="two")
    await bob.wait_for("two")
    await bob.say("three")
    await bob.wait_for("three")

    # A plain reload: the tab logs in again by itself and shows the same, once.
    await bob.page.reload()
    await bob.ready()
    await bob.wait_for("three")
    assert [text for _, _, text in await bob.transcript()] == ["one", "two", "three"]

    # Away (the page unloaded), while the room goes on and a DM arrives; then back.
    await bob.page.goto("about:blank")
    await nat.recv_until("presence", user="bob", state="left")
    for text in ("four", "five", "six"):
        await nat.send(type="say", room="lobby", text=text)
    await nat.send(type="dm", to="bob", text="while you were out")
    await nat.recv_until("message", dm=True)
    await bob.page.goto(bob.url)
    await bob.ready()
    await bob.wait_for("six")
    shown = await bob.transcript()
    assert [text for _, _, text in shown] == ["one", "two", "three", "four", "five", "six"]
    ids = [i for i, _, _ in shown]
    assert ids == sorted(set(ids))  # in order, none twice
    badge = bob.page.locator("#dm-list .view-button .badge")
    await expect(badge).to_have_text("1")
    await bob.page.locator("#dm-list .view-button").click()
    await bob.wait_for("while you were out")
    assert len(await bob.transcript()) == 1
    bob.clean()


async def test_cut_off_connections_reconnect_and_resend_once(
    make_server: Any, web: Opener, raw: Any, tmp_path: Path
) -> None:
    server = make_server()
    nat = await native_user(raw, server, "Nat")
    bob = await web(server)
    await bob.login("bob")
    await bob.ready()

    # The server cuts bob off (an operator's kick): he comes back by himself.
    kicked = await asyncio.to_thread(server.admin, "kick", "bob", "testing")
    assert kicked.returncode == 0, kicked.stderr
    await nat.recv_until("presence", user="bob", state="left")
    await nat.send(type="say", room="lobby", text="said while bob was away")
    await nat.recv_until("presence", user="bob", state="joined", timeout=20)
    await bob.wait_for("said while bob was away")
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "connected")

    # The link drops right after a message left: it is sent again after the reconnect,
    # with the same nonce, and everyone sees it once.
    await bob.page.fill("#entry", "sent as the link died")
    await bob.page.evaluate(
        """() => {
            document.getElementById('composer').requestSubmit();
            window.teahouseDrop();
        }"""
    )
    heard = await nat.recv_until("message", text="sent as the link died", timeout=20)
    await bob.wait_for("sent as the link died")
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "connected")
    await nat.send(type="say", room="lobby", text="after")
    await bob.wait_for("after")
    texts = [text for _, _, text in await bob.transcript()]
    assert texts.count("sent as the link died") == 1
    assert texts.count("said while bob was away") == 1
    assert await bob.page.locator("#transcript .msg.pending").count() == 0
    await nat.send(type="history", room="lobby", limit=50, ref="h")
    page = await nat.recv_until("history", ref="h")
    stored = [m for m in page["messages"] if m["text"] == "sent as the link died"]
    assert [m["id"] for m in stored] == [heard["id"]]  # stored once

    bob.clean()

    # The server goes away: the page says so and keeps trying (each try that finds no
    # server is a console error of the browser's own, and nothing else may be).
    server.stop()
    await expect(bob.page.locator("#status")).to_have_attribute("data-state", "reconnecting")
    await expect(bob.page.locator("#retry")).to_be_visible()
    await bob.shot("web-reconnecting", tmp_path)
    bob.errors = [e for e in bob.errors if "ERR_CONNECTION_REFUSED" not in e]
    bob.clean()


async def test_hostile_text_stays_text(make_server: Any, web: Opener, raw: Any) -> None:
    server = make_server()
    bob = await web(server)
    await bob.login("bob")
    await bob.ready()
    # Watch for any element made from a message, and for any script that would run.
    await bob.page.evaluate(
        """() => {
            window.created = [];
            const ours = ['LI', 'TIME', 'BDI', 'SPAN', 'A', 'BUTTON', 'OL'];
            new MutationObserver((records) => {
                for (const record of records) for (const node of record.addedNodes) {
                    if (node.nodeType !== 1) continue;
                    for (const el of [node, ...node.querySelectorAll('*')]) {
                        if (!ours.includes(el.tagName)) {
                            window.created.push(el.tagName);
                        }
                    }
                }
            }).observe(document.body, { childList: true, subtree: true });
            window.alert = window.confirm = window.prompt = () => window.created.push('ALERT');
        }"""
    )
    nat = await native_user(raw, server, "Mallory")
    long_word = "W" * 4000
    hostile = [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script>",
        '"><svg onload=alert(3)>',
        "\u202eevil.exe \u202dtxt.gnp and \u2067rtl\u2069",
        "שלום, hello עולם",
        long_word,
        "javascript:alert(4) data:text/html,<b>x</b>",
    ]
    sent = []
    for n, text in enumerate(hostile):
        await nat.send(type="say", room="lobby", text=text, ref=n)
        sent.append((await nat.recv_until("message", ref=n))["text"])
    await nat.send(type="topic", room="lobby", text="\u202e<img src=x onerror=alert(5)>", ref="t")
    topic = (await nat.recv_until("topic", ref="t"))["text"]
    await bob.wait_for(sent[-1])
    await expect(bob.page.locator("#view-topic")).to_have_text(topic)
    # Exactly what the server sent is shown, as text. (Whether the server passes direction
    # overrides on at all is its text rules' business; the page must be safe either way.)
    shown = [text for _, who, text in await bob.transcript() if who == "Mallory"]
    assert shown == sent
    assert long_word in shown and "<img src=x onerror=alert(1)>" in shown
    assert await bob.page.evaluate("window.created") == []
    assert (
        await bob.page.locator("#transcript img, #transcript script, #transcript svg").count() == 0
    )
    assert await bob.page.locator("#transcript a").count() == 0

    # The layout holds: no sideways scrolling, the long word wraps inside the transcript.
    widths = await bob.page.evaluate(
        """() => {
            const t = document.getElementById('transcript');
            const items = [...t.querySelectorAll('.msg')]
                .map((li) => li.getBoundingClientRect().right);
            return {
                page: document.documentElement.scrollWidth, view: window.innerWidth,
                scroll: t.scrollWidth, client: t.clientWidth,
                right: Math.max(...items), edge: t.getBoundingClientRect().right,
            };
        }"""
    )
    assert widths["page"] <= widths["view"], widths
    assert widths["scroll"] <= widths["client"], widths
    assert widths["right"] <= widths["edge"], widths

    # The right-to-left overrides turn only the text around: every line still starts with
    # the time and the sender on the left, at the same place, and the text comes after
    # them (on the same line, but for the long word, which starts a line of its own).
    boxes = await bob.page.evaluate(
        """() => [...document.querySelectorAll('#transcript .msg[data-id]')].map((li) => {
            const name = li.querySelector('.name').getBoundingClientRect();
            const text = li.querySelector('.text').getClientRects()[0];
            return {
                ts: li.querySelector('.ts').getBoundingClientRect().left,
                name: name.left, text: text.left,
                sameLine: Math.abs(text.top - name.top) < 2,
                words: li.querySelector('.text').textContent,
            };
        })"""
    )
    assert len({round(b["ts"]) for b in boxes}) == 1, boxes
    assert len({round(b["name"]) for b in boxes}) == 1, boxes
    assert all(b["ts"] < b["name"] for b in boxes), boxes
    same_line = [b for b in boxes if b["sameLine"]]
    assert [b["words"] for b in boxes if not b["sameLine"]] == [long_word]
    assert all(b["name"] < b["text"] for b in same_line), boxes
    bob.clean()


async def test_a_browser_user_an_irc_user_and_a_native_client_in_one_room(
    make_server: Any, web: Opener
) -> None:
    from teahouse.client import Client, Message
    from tests.integration.test_irc import LibIrc, registered

    server = make_server()
    bob = await web(server)
    await bob.login("bob")
    await bob.ready()

    irc = LibIrc()
    await irc.connect(server.irc_port, "ircy")
    await registered(irc)
    irc.conn.join("#lobby")
    await irc.next("join", where=lambda e: e.target == "#lobby")

    async with Client(
        "127.0.0.1", server.port, "natty", PASSWORD, register=True, rooms=["lobby"]
    ) as nat:
        await expect(bob.page.locator("#members-list")).to_contain_text("natty")
        await expect(bob.page.locator("#members-list")).to_contain_text("ircy")

        await bob.say("hello from the browser")
        got = await next_event(nat, Message, text="hello from the browser")
        assert got.sender == "bob"
        heard = await irc.next("pubmsg", where=lambda e: e.arguments == ["hello from the browser"])
        assert heard.source.nick == "bob"

        irc.conn.privmsg("#lobby", "hello from IRC")
        await bob.wait_for("hello from IRC")
        irc.conn.action("#lobby", "waves")
        await expect(bob.page.locator("#transcript .msg.action")).to_contain_text("* ircy waves")

        await nat.say("lobby", "hello from Python")
        await bob.wait_for("hello from Python")
        await irc.next("pubmsg", where=lambda e: e.arguments == ["hello from Python"])
        shown = [(who, text) for _, who, text in await bob.transcript()]
        assert ("bob", "hello from the browser") in shown
        assert ("ircy", "hello from IRC") in shown
        assert ("natty", "hello from Python") in shown
    irc.close()
    bob.clean()


async def test_history_loads_as_you_scroll_up(make_server: Any, web: Opener, raw: Any) -> None:
    server = make_server(limits={"frames_per_second": 0, "bytes_per_second": 0})
    nat = await native_user(raw, server, "Nat")
    for n in range(1, 131):
        await nat.send(type="say", room="lobby", text=f"line {n}")
    await nat.recv_until("message", text="line 130")
    bob = await web(server, height=500)
    await bob.login("bob")
    await bob.ready()
    await bob.wait_for("line 130")
    # A first join shows the newest 50 (a slow machine may already be loading more, as
    # the page starts scrolled to the top of a short transcript).
    first = [text for _, _, text in await bob.transcript()]
    assert len(first) >= 50 and first[-50:] == [f"line {n}" for n in range(81, 131)]
    for _ in range(10):
        shown = await bob.transcript()
        if len(shown) == 130:
            break
        await bob.page.locator("#transcript").evaluate("(t) => { t.scrollTop = 0; }")
        await bob.page.wait_for_function(
            "(n) => document.querySelectorAll('#transcript .msg[data-id]').length > n",
            arg=len(shown),
        )
    shown = await bob.transcript()
    assert [text for _, _, text in shown] == [f"line {n}" for n in range(1, 131)]
    await expect(bob.page.locator(".older button")).to_have_text("This is the beginning")
    bob.clean()


async def test_history_pages_the_server_cut_short_go_on(
    make_server: Any, web: Opener, raw: Any
) -> None:
    """50 long messages are more than one history frame carries (512 KiB): the server sends
    fewer, with ``more``, and the page must not take that for the beginning."""
    server = make_server(limits={"max_text": 12000, "frames_per_second": 0, "bytes_per_second": 0})
    nat = await native_user(raw, server, "Nat")
    filler = "x" * 11000
    for n in range(1, 131):
        await nat.send(type="say", room="lobby", text=f"line {n} {filler}")
    await nat.recv_until("message", text=f"line 130 {filler}", timeout=20)
    bob = await web(server, height=500)
    await bob.login("bob")
    await bob.ready()
    await bob.wait_for(f"line 130 {filler}")
    for _ in range(10):
        shown = await bob.transcript()
        if len(shown) == 130:
            break
        await bob.page.locator("#transcript").evaluate("(t) => { t.scrollTop = 0; }")
        await bob.page.wait_for_function(
            "(n) => document.querySelectorAll('#transcript .msg[data-id]').length > n",
            arg=len(shown),
        )
    shown = await bob.transcript()
    assert [text.split()[1] for _, _, text in shown] == [str(n) for n in range(1, 131)]
    await expect(bob.page.locator(".older button")).to_have_text("This is the beginning")
    bob.clean()


async def test_a_room_operator_kicks_and_everyone_sees_who_and_why(
    make_server: Any, web: Opener, raw: Any
) -> None:
    server = make_server()
    bob = await web(server)
    await bob.login("bob")
    await bob.ready()
    await bob.say("/join tea")  # the first in a new room: its operator
    await expect(bob.page.locator("#view-title")).to_have_text("#tea")
    nat = await native_user(raw, server, "Nat", room="tea")
    carol = await native_user(raw, server, "carol", room="lobby")
    members = bob.page.locator("#members-list li")
    await expect(members).to_have_text(["@bob", "Nat"])

    notes = bob.page.locator("#transcript .system")
    await bob.say("/mode +k sesame")
    await expect(notes.last).to_have_text("you set +k sesame (modes now: +nk)")
    await nat.recv_until("mode", room="tea", changes="+k")

    await nat.send(type="away", text="lunch")
    await expect(members.nth(1)).to_have_text("Nat (away)")
    await expect(members.nth(1)).to_have_attribute("title", "away: lunch")
    await bob.say("/whois nat")
    await expect(notes.filter(has_text="rooms:").last).to_have_text("rooms: #tea")
    await expect(notes.filter(has_text="away:").last).to_have_text("away: lunch")
    await expect(notes.filter(has_text="is online").last).to_have_text(
        "Nat is online through the native protocol"
    )

    await bob.say("/invite carol")
    await expect(notes.last).to_have_text("you invited carol to #tea")
    invited = await carol.recv_until("invited")
    assert (invited["room"], invited["by"]) == ("tea", "bob")

    await bob.say("/kick Nat too loud")
    kicked = await nat.recv_until("presence", user="Nat", state="left")
    assert (kicked["reason"], kicked["by"], kicked["text"]) == ("kicked", "bob", "too loud")
    await expect(members).to_have_text(["@bob"])
    await expect(notes.last).to_have_text("Nat was kicked by you: too loud")
    await bob.page.wait_for_timeout(300)  # the reply and the room's presence: one line
    assert await notes.filter(has_text="was kicked").count() == 1
    await nat.send(type="join", room="tea", ref=1)
    refused = await nat.recv_until("error", ref=1)
    assert refused["code"] == "forbidden"

    await bob.say("/away tea break")
    await expect(notes.last).to_have_text("you are away: tea break")
    await expect(bob.page.locator("#me")).to_have_text("bob (away)")
    await carol.send(type="join", room="tea", key="sesame", ref=2)
    await carol.recv_until("joined", ref=2)
    await bob.say("/back")
    back = await carol.recv_until("away", user="bob")
    assert "text" not in back
    await expect(bob.page.locator("#me")).to_have_text("bob")

    dora = await web(server)
    await dora.login("dora")
    await dora.ready()
    await dora.say("/join tea")
    await expect(dora.page.locator("#transcript .system.error").last).to_contain_text(
        "cannot join #tea: tea needs a key"
    )
    await dora.say("/join tea sesame")
    await expect(dora.page.locator("#view-title")).to_have_text("#tea")
    await dora.say("/kick bob")
    await expect(dora.page.locator("#transcript .system.error").last).to_have_text(
        "forbidden: you are not a room operator"
    )
    bob.clean()
    dora.clean()


async def test_on_a_phone_the_conversations_are_a_drawer(
    make_server: Any, web: Opener, raw: Any, tmp_path: Path
) -> None:
    server = make_server()
    nat = await native_user(raw, server, "Nat")
    phone = await web(
        server, width=390, height=844, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    await phone.login("pocket")
    await phone.ready()
    await nat.send(type="say", room="lobby", text="tea at five? https://example.org/menu")
    await nat.send(type="say", room="lobby", text="pocket: bring the biscuits")
    await phone.wait_for("pocket: bring the biscuits")
    await phone.say("on my way")
    await phone.wait_for("on my way")
    page = phone.page
    await expect(page.locator("#sidebar")).to_be_hidden()
    await expect(page.locator("#members")).to_be_hidden()
    sizes = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1]
    await phone.shot("web-phone", tmp_path)
    await page.click("#menu")
    await expect(page.locator("#sidebar")).to_be_visible()
    await phone.shot("web-phone-drawer", tmp_path)
    await page.keyboard.press("Escape")
    await expect(page.locator("#sidebar")).to_be_hidden()
    phone.clean()


async def test_login_errors_invites_and_notifications(
    make_server: Any, web: Opener, raw: Any, tmp_path: Path
) -> None:
    server = make_server(accounts={"registration": "invite"})
    made = await asyncio.to_thread(server.admin, "invite")
    assert made.returncode == 0, made.stderr
    code = json.loads(made.stdout)["data"]["code"]

    visitor = await web(server)
    await visitor.login("visitor")  # no invite
    await expect(visitor.page.locator("#login-status")).to_contain_text("invite")
    await visitor.shot("web-login", tmp_path)
    await visitor.page.fill("#login-invite", code)
    await visitor.page.click("#login-submit")
    await visitor.ready()

    wrong = await web(server)
    await wrong.login("visitor", register=False, password="not-the-password")
    await expect(wrong.page.locator("#login-status")).not_to_be_empty()
    await expect(wrong.page.locator("#login")).to_be_visible()

    # A mention in a conversation that is not open raises a notification.
    await visitor.page.evaluate(
        """() => {
            window.notes = [];
            window.Notification = class {
                static permission = 'granted';
                constructor(title, options) { window.notes.push([title, options.body]); }
            };
        }"""
    )
    await visitor.say("/join kitchen")
    await expect(visitor.page.locator("#view-title")).to_have_text("#kitchen")
    added = await asyncio.to_thread(server.admin, "user", "add", "Nat", PASSWORD)
    assert added.returncode == 0, added.stderr
    nat = await native_user(raw, server, "Nat", register=False)
    await nat.send(type="say", room="lobby", text="visitor, the kettle!")
    await visitor.page.wait_for_function("() => window.notes.length > 0")
    assert await visitor.page.evaluate("window.notes") == [["Nat (#lobby)", "visitor, the kettle!"]]
    lobby = visitor.page.locator("#room-list .view-button.has-mention .badge")
    await expect(lobby).to_have_text("1")
    visitor.clean()


async def test_the_pages_pure_rules(make_server: Any, web: Opener) -> None:
    """policy.js and text.js, run in the browser: links, mentions, commands, backoff,
    heartbeat and cursors."""
    server = make_server()
    user = await web(server)
    await user.page.goto(user.url)
    result = await user.page.evaluate(
        """async () => {
            const text = await import('/text.js');
            const policy = await import('/policy.js');
            const links = (t) => text.linkSegments(t)
                .map((s) => s.href ? ['a', s.text] : s.text);
            const cursors = new policy.Cursors();
            return {
                plain: links('no links here'),
                sentence: links('see https://example.org/a.b, then (https://x.org/y).'),
                wiki: links('https://en.wikipedia.org/wiki/Tea_(meal)'),
                schemes: links('javascript:alert(1) ftp://x.org data:text/html,hi'),
                bidi: links('https://x.org/\\u202egnp.exe'),
                broken: links('https://[::1'),
                mention: [
                    text.mentionTest('bob').test('hi bob!'),
                    text.mentionTest('bob').test('hi BOB'),
                    text.mentionTest('bob').test('bobby'),
                    text.mentionTest('bob').test('kebob'),
                    text.mentionTest('a[1]').test('ping a[1].'),
                ],
                entries: [
                    'hello', '//etc', '/me waves', '/join #Lobby', '/msg bob hi there',
                    '/nope', 'a\\nb',
                ].map(text.parseEntry),
                commands: [
                    '/join #vault sesame', '/join a b c', '/away out for tea', '/away', '/back',
                    '/whois bob', '/kick bob  too loud ', '/kick', '/invite carol',
                    '/mode', '/mode +kl key 5', '/mode bob',
                ].map(text.parseEntry),
                whois: [
                    text.whoisLines({user: 'bob', rooms: ['a', 'b'], away: 'lunch',
                                     door: 'irc,web', idle: 75, address: '::1'}),
                    text.whoisLines({user: 'carol', online: false}),
                ],
                kicks: [
                    text.kickLine({user: 'bob', by: 'alice', text: 'loud'}, 'carol'),
                    text.kickLine({user: 'Carol', by: 'alice', text: 'alice'}, 'carol'),
                ],
                modes: [
                    text.modeLine({room: 'tea', modes: '+kn', params: ['s']}, 'me'),
                    text.modeLine({room: 'tea', modes: '+', params: []}, 'me'),
                    text.modeLine({room: 'tea', modes: '+n', changes: '-k', args: ['s'],
                                   by: 'bob'}, 'me'),
                ],
                length: text.textLength('😀é'),
                backoff: [0, 1, 2, 10, 100]
                    .map((n) => policy.backoffDelay(n, 0.5, 30, () => 0.999)),
                heartbeat: [[10, null], [20, null], [30, 20], [60, 40]].map(([now, lastPing]) =>
                    policy.heartbeatAction(
                        {interval: 20, timeout: 60, now, lastReceived: 0, lastPing})),
                cursors: [
                    ...[[5, 'lobby'], [5, 'lobby'], [3, 'lobby'], [4, 'other'], [2, null]]
                        .map(([id, room]) => cursors.accept(room ? {id, room} : {id, dm: true})),
                    JSON.stringify(cursors),
                ],
                rooms: ['#Lobby ', 'bad name', ''].map(policy.roomName),
            };
        }"""
    )
    assert result["plain"] == ["no links here"]
    assert result["sentence"] == [
        "see ",
        ["a", "https://example.org/a.b"],
        ", then (",
        ["a", "https://x.org/y"],
        ").",
    ]
    assert result["wiki"] == [["a", "https://en.wikipedia.org/wiki/Tea_(meal)"]]
    assert result["schemes"] == ["javascript:alert(1) ftp://x.org data:text/html,hi"]
    assert result["bidi"] == [["a", "https://x.org/"], "\u202egnp.exe"]
    assert result["broken"] == ["https://[::1"]
    assert result["mention"] == [True, True, False, False, True]
    kinds = [(e["kind"], e.get("text") or e.get("room") or e.get("to")) for e in result["entries"]]
    assert kinds == [
        ("say", "hello"),
        ("say", "/etc"),
        ("say", "/me waves"),
        ("join", "#Lobby"),
        ("dm", "hi there"),
        ("error", result["entries"][5]["text"]),
        ("say", "a b"),
    ]
    assert result["entries"][4]["to"] == "bob"
    commands = result["commands"]
    assert commands[0] == {"kind": "join", "room": "#vault", "key": "sesame"}
    assert commands[1]["kind"] == "error"
    assert [c.get("text") for c in commands[2:5]] == ["out for tea", None, None]
    assert {c["kind"] for c in commands[2:5]} == {"away"}
    assert commands[5] == {"kind": "whois", "user": "bob"}
    assert commands[6] == {"kind": "kick", "user": "bob", "reason": "too loud"}
    assert commands[7]["kind"] == "error"
    assert commands[8] == {"kind": "invite", "user": "carol"}
    assert commands[9] == {"kind": "mode", "changes": None, "args": []}
    assert commands[10] == {"kind": "mode", "changes": "+kl", "args": ["key", "5"]}
    assert commands[11]["kind"] == "error"
    assert result["whois"] == [
        [
            "bob is online through IRC and the web",
            "rooms: #a, #b",
            "away: lunch",
            "idle: 1 min 15 s",
            "address: ::1",
        ],
        ["carol is not online"],
    ]
    assert result["kicks"] == ["bob was kicked by alice: loud", "you were kicked by alice"]
    assert result["modes"] == [
        "#tea modes: +kn s",
        "#tea modes: none",
        "bob set -k s (modes now: +n)",
    ]
    assert result["length"] == 2
    assert result["backoff"] == pytest.approx([0.4995, 0.999, 1.998, 29.97, 29.97])
    assert result["heartbeat"] == [["nothing", 20], ["ping", 40], ["nothing", 40], ["dead", 60]]
    assert result["cursors"][:5] == [True, False, False, True, True]
    assert json.loads(result["cursors"][5]) == {"lobby": 5, "other": 4, "@dm": 2}
    assert result["rooms"] == ["lobby", None, None]
    user.clean()
