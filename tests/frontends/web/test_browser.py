"""
The web client against the real server (C{twistd chat --web}), in headless
Chromium: two browser users and an C{nc} user chatting; history on entering
a room, and older pages of it; reconnection after the server restarts; an
image shared, and previewed; a phone's narrow screen; and markup in
messages, topics and file names shown as text, never run.

Screenshots of these go to C{docs/web-*.png} when C{CHATSVC_SCREENSHOTS} is
set (to anything), and to the test's own directory otherwise.

test-case-name: tests.frontends.web.test_browser
"""

from __future__ import annotations

import os
import queue
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest_twisted
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from chatsvc.service.tap import ChatService
from tests import system
from tests.frontends.web import browser
from tests.frontends.web.browser import (
    DOCS,
    XSS_PAYLOADS,
    on_reactor,
    say,
    select,
    wait_for,
    wait_for_line,
)
from tests.support import Services

TIMEOUT = browser.WAIT


class NcUser:
    """A line-protocol user: C{nc} itself, its lines read in a thread of their own."""

    def __init__(self, port: int, nick: str) -> None:
        nc = system.require("nc", None)
        self.process = subprocess.Popen(
            [nc, "127.0.0.1", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("*** Choose a nickname:")
        self.say(nick)
        self.expect(f"*** Hello {nick}!")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def expect(self, text: str) -> str:
        """The next line that has C{text} in it, waited for; fails after L{TIMEOUT} seconds."""
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"nc never got {text!r}; it got {self.seen[-20:]}") from None
            self.seen.append(line)
            if text in line:
                return line

    def close(self) -> None:
        with suppress(OSError):
            self.say("/quit")
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def nc(port: int, nick: str) -> Iterator[NcUser]:
    user = NcUser(port, nick)
    try:
        yield user
    finally:
        user.close()


def start(
    services: Services,
    tmp_path: Path,
    *argv: str,
    line: str = "tcp:0:interface=127.0.0.1",
    web: str = "tcp:0:interface=127.0.0.1",
) -> tuple[ChatService, int, int]:
    """The server, its history in a file; the port of its line protocol, and its web port."""
    service = services.start(
        "--port",
        line,
        "--web",
        web,
        "--db",
        str(tmp_path / "chat.sqlite"),
        "--files-dir",
        str(tmp_path / "files"),
        *argv,
    )
    line_port, web_port = (port.getHost().port for port in service.ports)  # type: ignore[attr-defined]
    return service, line_port, web_port


def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("CHATSVC_SCREENSHOTS") else tmp_path


def screenshot(driver: WebDriver, directory: Path, name: str) -> None:
    path = directory / f"web-{name}.png"
    driver.save_screenshot(str(path))
    assert path.read_bytes().startswith(b"\x89PNG")


def png(width: int, height: int) -> bytes:
    """A PNG image: a gradient, so that a preview shows something."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 180)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


LOADED = "return arguments[0].complete && arguments[0].naturalWidth"
"""The width of an image once loaded (0 if it could not be)."""

DROP_OR_PASTE = """
  const [kind, bytes] = arguments;
  const file = new File([new Uint8Array(bytes)], kind + "ped.png", {type: "image/png"});
  const data = new DataTransfer();
  data.items.add(file);
  const options = {bubbles: true, cancelable: true};
  const event = kind === "drop"
    ? new DragEvent("drop", {...options, dataTransfer: data})
    : new ClipboardEvent("paste", {...options, clipboardData: data});
  document.getElementById(kind === "drop" ? "conversation" : "input").dispatchEvent(event);
"""
"""A file dropped on the conversation, or pasted into the input, as a user's would be."""


def in_room(driver: WebDriver, room: str) -> None:
    """Wait until C{room} is the conversation on view."""
    title = f"#{room}"
    wait_for(
        driver, lambda d: d.find_element(By.ID, "conversation-title").text == title, f"in {room}"
    )


def members(driver: WebDriver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#member-list .name")]


@pytest_twisted.ensureDeferred
async def test_two_browser_users_and_an_nc_user_chat(services: Services, tmp_path: Path) -> None:
    _, line_port, web_port = start(services, tmp_path)
    url = f"http://127.0.0.1:{web_port}/"
    directory = shots(tmp_path)

    def scenario() -> None:
        with (
            browser.chromium() as alice,
            browser.chromium() as bob,
            nc(line_port, "carol") as carol,
        ):
            browser.sign_on(alice, url, "alice")
            browser.sign_on(bob, url, "bob")
            carol.expect("*** bob joined lobby")
            wait_for(
                alice,
                lambda d: (
                    members(d) == ["alice", "bob", "carol"]
                    or sorted(members(d)) == ["alice", "bob", "carol"]
                ),
                "three in the lobby",
            )
            say(alice, "hello everyone, see https://example.org/notes")
            carol.expect("<alice> hello everyone, see https://example.org/notes")
            wait_for_line(bob, "hello everyone")
            link = bob.find_element(By.CSS_SELECTOR, "#log a")
            assert link.get_attribute("href") == "https://example.org/notes"
            carol.say("hi alice and bob")
            wait_for_line(alice, "hi alice and bob")
            wait_for_line(bob, "hi alice and bob")
            assert alice.find_elements(By.CSS_SELECTOR, "#log li.mentioned")  # alice is named
            say(bob, "/me waves")
            carol.expect("* bob waves")
            wait_for_line(alice, "* bob waves")
            # rooms side by side: dev beside the lobby
            alice.find_element(By.ID, "join-input").send_keys("dev", Keys.ENTER)
            in_room(alice, "dev")
            say(bob, "/join dev")
            wait_for(alice, lambda d: "bob" in members(d), "bob in dev")
            say(bob, "dev is quiet")
            wait_for_line(alice, "dev is quiet")
            carol.say("alice: lunch?")
            wait_for(
                alice,
                lambda d: (
                    d.find_element(By.CSS_SELECTOR, 'li[data-key="room:lobby"] .badge.mention').text
                    == "1"
                ),
                "a mention badge on the lobby",
            )
            # a private conversation, both ways, beside the rooms
            carol.say("/msg alice are you free at noon?")
            wait_for(
                alice,
                lambda d: d.find_elements(
                    By.CSS_SELECTOR, 'li[data-key="private:carol"] .badge.mention'
                ),
                "carol's private message",
            )
            select(alice, "private:carol")
            wait_for_line(alice, "are you free at noon?")
            say(alice, "yes, at noon")
            carol.expect("*alice* yes, at noon")
            # the smile button, at one click
            select(alice, "room:dev")
            alice.find_element(By.ID, "smile").click()
            wait_for_line(bob, "\U0001f642")
            say(bob, "https://example.org/build/42 is green, alice")
            wait_for_line(alice, "is green")
            screenshot(alice, directory, "chat")
            bob.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
            )
            select(bob, "room:lobby")
            wait_for_line(bob, "lunch?")
            screenshot(bob, directory, "dark")
            background = bob.execute_script(
                "return getComputedStyle(document.body).backgroundColor"
            )
            assert background == "rgb(23, 25, 29)", background
            browser.no_script_errors(alice)
            browser.no_script_errors(bob)

    await browser.in_thread(scenario)


@pytest_twisted.ensureDeferred
async def test_history_on_entering_a_room_older_pages_and_search(
    services: Services, tmp_path: Path
) -> None:
    _, line_port, web_port = start(services, tmp_path, "--rate", "0", "--history", "20")
    url = f"http://127.0.0.1:{web_port}/"

    def scenario() -> None:
        with nc(line_port, "carol") as carol:
            carol.say("/join attic")
            carol.expect("*** You joined attic")
            for i in range(80):
                carol.say(
                    f"line {i:02d} of the attic{' with the green build' if i in (5, 70) else ''}"
                )
            carol.say("/history 1")
            carol.expect("line 79 of the attic")
            with browser.chromium() as alice:
                browser.sign_on(alice, url, "alice")
                say(alice, "/join attic")
                wait_for_line(alice, "line 79 of the attic")
                log = browser.log_text(alice)
                assert "line 60 of the attic" in log and "line 59 of the attic" not in log
                assert len(alice.find_elements(By.CSS_SELECTOR, "#log li.history")) == 20
                alice.find_element(By.ID, "older").click()
                wait_for_line(alice, "line 10 of the attic")
                assert "line 09 of the attic" not in browser.log_text(alice)
                alice.find_element(By.ID, "older").click()
                wait_for_line(alice, "line 00 of the attic")
                bodies = [
                    e.text.removeprefix("carol ")
                    for e in alice.find_elements(By.CSS_SELECTOR, "#log li.message .body")
                ]
                assert bodies == [
                    f"line {i:02d} of the attic{' with the green build' if i in (5, 70) else ''}"
                    for i in range(80)
                ], bodies[:3]
                # search the room
                alice.find_element(By.ID, "search-button").click()
                alice.find_element(By.ID, "search-input").send_keys("green build", Keys.ENTER)
                wait_for(
                    alice,
                    lambda d: len(d.find_elements(By.CSS_SELECTOR, "#search-results li")) == 2,
                    "two found",
                )
                found = alice.find_element(By.ID, "search-results").text
                assert "line 05" in found and "line 70" in found

    await browser.in_thread(scenario)


@pytest_twisted.ensureDeferred
async def test_reconnects_after_the_server_restarts(services: Services, tmp_path: Path) -> None:
    service, line_port, web_port = start(services, tmp_path)
    url = f"http://127.0.0.1:{web_port}/"

    def restart() -> object:
        async def both() -> None:
            await service.stopService()
            start(
                services,
                tmp_path,
                line=f"tcp:{line_port}:interface=127.0.0.1",
                web=f"tcp:{web_port}:interface=127.0.0.1",
            )

        from twisted.internet.defer import ensureDeferred

        return ensureDeferred(both())

    def scenario() -> None:
        with browser.chromium() as alice:
            browser.sign_on(alice, url, "alice")
            say(alice, "/join dev")
            wait_for(
                alice,
                lambda d: d.find_element(By.ID, "conversation-title").text == "#dev",
                "in dev",
            )
            with nc(line_port, "carol") as carol:
                carol.say("/join dev")
                carol.say("before the restart")
                wait_for_line(alice, "before the restart")
            on_reactor(restart)
            with nc(line_port, "carol") as carol:
                carol.say("/join dev")
                carol.expect("*** You joined dev")
                carol.say("while you were away")
                wait_for_line(alice, "Connected again.")
                wait_for(alice, lambda d: "alice" in members(d), "alice back in dev")
                wait_for_line(alice, "while you were away")
                carol.expect("*** alice joined dev")
                say(alice, "I am back")
                carol.expect("<alice> I am back")
            log = browser.log_text(alice)
            assert log.count("before the restart") == 1
            assert log.count("while you were away") == 1
            assert alice.find_element(By.ID, "conversation-title").text == "#dev"
            assert {
                e.get_attribute("data-key")
                for e in alice.find_elements(By.CSS_SELECTOR, "#room-list li")
            } == {"room:dev", "room:lobby"}

    await browser.in_thread(scenario)


@pytest_twisted.ensureDeferred
async def test_an_image_shared_is_previewed(services: Services, tmp_path: Path) -> None:
    _, line_port, web_port = start(services, tmp_path)
    url = f"http://127.0.0.1:{web_port}/"
    image = tmp_path / "sunset over the bay.png"
    image.write_bytes(png(96, 64))
    directory = shots(tmp_path)

    def scenario() -> None:
        with (
            browser.chromium() as alice,
            browser.chromium() as bob,
            nc(line_port, "carol") as carol,
        ):
            browser.sign_on(alice, url, "alice")
            browser.sign_on(bob, url, "bob")
            say(alice, "look at this")
            alice.find_element(By.ID, "file-input").send_keys(str(image))
            shared = carol.expect("<alice> shared sunset over the bay.png")
            assert f"http://127.0.0.1:{web_port}/files/" in shared
            for driver in (alice, bob):
                preview = browser.element(driver, "#log img.preview", "the preview")

                def loaded(d: WebDriver, image: WebElement = preview) -> bool:
                    return bool(d.execute_script(LOADED, image) == 96)

                wait_for(driver, loaded, "the image loaded")
                assert preview.get_attribute("alt") == "sunset over the bay.png"
            # dropped on the conversation, and pasted into the input
            for kind in ("drop", "paste"):
                alice.execute_script(
                    DROP_OR_PASTE,
                    kind,
                    list(png(8, 8)),
                )
                carol.expect(f"<alice> shared {kind}ped.png")
            wait_for(
                bob,
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log img.preview")) == 3,
                "three previews",
            )
            screenshot(bob, directory, "image")
            # a file that is no image is linked, not previewed
            notes = tmp_path / "notes.txt"
            notes.write_text("not an image\n")
            alice.find_element(By.ID, "file-input").send_keys(str(notes))
            carol.expect("<alice> shared notes.txt")
            wait_for_line(bob, "shared notes.txt")
            assert len(bob.find_elements(By.CSS_SELECTOR, "#log img.preview")) == 3
            browser.no_script_errors(alice)
            browser.no_script_errors(bob)

    await browser.in_thread(scenario)


@pytest_twisted.ensureDeferred
async def test_a_narrow_screen(services: Services, tmp_path: Path) -> None:
    _, line_port, web_port = start(services, tmp_path)
    url = f"http://127.0.0.1:{web_port}/"
    directory = shots(tmp_path)

    def scenario() -> None:
        with browser.chromium(390, 844) as phone, nc(line_port, "carol") as carol:
            browser.sign_on(phone, url, "alice")
            carol.say("welcome, alice! the release is on Friday")
            wait_for_line(phone, "release is on Friday")
            say(phone, "thanks carol")
            carol.expect("<alice> thanks carol")
            assert not phone.find_element(By.ID, "sidebar").is_displayed()
            assert not phone.find_element(By.ID, "members").is_displayed()
            assert phone.find_element(By.ID, "input").is_displayed()
            assert phone.find_element(By.ID, "smile").is_displayed()
            width = phone.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert width[0] <= width[1], width
            screenshot(phone, directory, "narrow")
            phone.find_element(By.ID, "toggle-rooms").click()
            wait_for(
                phone, lambda d: d.find_element(By.ID, "sidebar").is_displayed(), "the room list"
            )
            phone.find_element(By.ID, "join-input").send_keys("dev", Keys.ENTER)
            wait_for(
                phone,
                lambda d: d.find_element(By.ID, "conversation-title").text == "#dev",
                "in dev",
            )
            phone.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            wait_for(
                phone,
                lambda d: not d.find_element(By.ID, "sidebar").is_displayed(),
                "the room list closed",
            )
            phone.find_element(By.ID, "toggle-members").click()
            wait_for(
                phone, lambda d: d.find_element(By.ID, "members").is_displayed(), "the member list"
            )
            assert members(phone) == ["alice"]
            screenshot(phone, directory, "narrow-members")

    await browser.in_thread(scenario)


@pytest_twisted.ensureDeferred
async def test_markup_is_shown_as_text_and_never_runs(services: Services, tmp_path: Path) -> None:
    """
    Payloads in messages, actions, private messages, a topic, an away
    reason and file names, from a browser and from nc; and a nickname with
    markup, which the server refuses (its refusal is shown as text).
    """
    _, line_port, web_port = start(
        services, tmp_path, "--auth", "memory:alice:wonderland", "--op", "alice"
    )
    url = f"http://127.0.0.1:{web_port}/"
    payloads = list(XSS_PAYLOADS)
    named = tmp_path / "<img src=x onerror=alert('file')>.png"
    named.write_bytes(png(4, 4))

    def scenario() -> None:
        with (
            browser.chromium() as alice,
            browser.chromium() as bob,
            nc(line_port, "carol") as carol,
        ):
            browser.sign_on(alice, url, "alice", password="wonderland")
            # a nickname with markup is refused, and the refusal shown as text
            bob.get(url)
            field = browser.signon_form(bob)
            field.send_keys(payloads[1][:32], Keys.ENTER)
            wait_for(bob, lambda d: d.find_element(By.ID, "signon-error").text, "the refusal")
            browser.no_alert(bob)
            field.clear()
            field.send_keys("bob", Keys.ENTER)
            wait_for(bob, lambda d: d.find_element(By.ID, "chat").is_displayed(), "bob signed on")
            for payload in payloads:
                say(alice, payload)
                carol.expect(f"<alice> {payload}")
            carol.say(payloads[2])
            carol.say(f"/me {payloads[3]}")
            say(alice, f"/msg bob {payloads[4]}")
            say(alice, f"/topic {payloads[5]}")
            carol.expect("*** alice set the topic")
            say(bob, f"/away {payloads[6]}")
            bob.find_element(By.ID, "file-input").send_keys(str(named))
            carol.expect("<bob> shared <img src=x onerror=alert('file')>.png")
            wait_for_line(alice, "shared <img src=x onerror=alert('file')>.png")
            wait_for(
                alice,
                lambda d: d.find_element(By.ID, "topic-text").text == payloads[5],
                "the topic",
            )
            wait_for(
                bob,
                lambda d: d.find_element(By.ID, "topic-text").text == payloads[5],
                "bob's topic",
            )
            log = browser.log_text(alice)
            for payload in payloads:
                assert payload in log, payload
            assert f"* carol {payloads[3]}" in log
            preview = alice.find_element(By.CSS_SELECTOR, "#log img.preview")
            assert preview.get_attribute("alt") == "<img src=x onerror=alert('file')>.png"
            select(bob, "private:alice")
            wait_for_line(bob, payloads[4])
            select(bob, "room:lobby")
            for driver in (alice, bob):
                browser.no_alert(driver)
                for selector in (
                    "#log script",
                    "#log iframe",
                    "#log svg",
                    "#log b",
                    "#log img:not(.preview)",
                    "#topic a",
                    "#topic img",
                ):
                    assert driver.find_elements(By.CSS_SELECTOR, selector) == [], selector
                browser.no_script_errors(driver)
            # the operator kicks bob from the member list: two clicks; bob is out, and stays out
            kick = '#member-list li[data-nick="bob"] .kick'
            browser.element(alice, kick, "bob's kick button").click()
            browser.element(alice, kick, "the armed kick button").click()
            carol.expect("*** bob was kicked by alice")
            wait_for(bob, lambda d: d.find_element(By.ID, "signon").is_displayed(), "bob's sign-on")
            assert "alice" in bob.find_element(By.ID, "signon-error").text
            assert bob.find_element(By.ID, "signon-submit").text == "Sign on again"
            stopped = "const c = window.chatsvc.connection; return [c.stopped, c.timer]"
            assert bob.execute_script(stopped) == [True, None]
            wait_for(alice, lambda d: "bob" not in members(d), "bob gone from the list")

    await browser.in_thread(scenario)


def account_panel(driver: WebDriver) -> WebElement:
    driver.find_element(By.ID, "account-button").click()
    return browser.element(driver, "#account-dialog", "the account panel", shown=True)


@pytest_twisted.ensureDeferred
async def test_registering_in_the_account_panel_and_bans_as_the_banned_user_sees_them(
    services: Services, tmp_path: Path
) -> None:
    """
    alice registers her nickname in the account panel (an operator by
    C{--op} once she signs on with it), signs on again with its password,
    and bans bob: from dev, which is closed in his browser with why and for
    how long; mutes carol, then lets her past the mute (an exception); then
    bans bob from the chat, which his sign-on screen explains, and
    again when he tries to sign on.
    """
    _, line_port, web_port = start(services, tmp_path, "--op", "alice")
    url = f"http://127.0.0.1:{web_port}/"
    directory = shots(tmp_path)

    def scenario() -> None:
        with (
            browser.chromium() as alice,
            browser.chromium() as bob,
            nc(line_port, "carol") as carol,
        ):
            browser.sign_on(alice, url, "alice")
            account_panel(alice)
            alice.find_element(By.ID, "register-password").send_keys("wonderland")
            alice.find_element(By.ID, "register-confirm").send_keys("wonderland")
            screenshot(alice, directory, "account")
            alice.find_element(By.ID, "register-confirm").send_keys(Keys.ENTER)
            browser.element(alice, "#password-form", "the change of password", shown=True)
            alice.find_element(By.ID, "account-close").click()
            # the next sign-on asks for the password, and makes her the operator --op says
            say(alice, "/quit")
            browser.element(alice, "#signon-nick", "the sign-on form", shown=True)
            carol.say("/nick alice")
            carol.expect("*** Error: the nickname alice is registered")
            browser.sign_on(alice, url, "alice", password="wonderland")
            assert alice.execute_script("return window.chatsvc.state.operator") is True
            # a room ban, as bob sees it
            browser.sign_on(bob, url, "bob")
            say(alice, "/join dev")
            in_room(alice, "dev")
            say(bob, "/join dev")
            wait_for(alice, lambda d: "bob" in members(d), "bob in dev")
            say(alice, "/ban bob 1h spam")
            wait_for_line(alice, "Banned nick:bob in dev, 1h left")
            carol.say("/join dev")
            carol.expect("*** You joined dev")
            wait_for_line(bob, "You are banned from dev for 1h (until ")
            wait_for_line(bob, "): spam (by alice)")
            wait_for_line(bob, "You were put out of dev by alice (banned: spam).")
            badges = (
                "return [...document.querySelectorAll('#room-modes .mode')]"
                ".map((e) => e.textContent)"
            )
            assert bob.execute_script(badges) == ["not joined"]
            say(bob, "/join dev")
            wait_for_line(bob, "you are banned from dev for ")  # 1h, or 59m 59s by now
            screenshot(bob, directory, "banned")
            say(alice, "/mute carol 30m calm down")
            carol.expect("*** You are muted in dev for 30m")
            # an exception lets carol past the mute, and tells nobody she is sanctioned
            say(alice, "/except carol")
            wait_for_line(alice, "alice let nick:carol past the bans and mutes of dev for good")
            wait_for_line(alice, "Excepted nick:carol in dev, for good")
            carol.expect("*** alice let nick:carol past the bans and mutes of dev for good")
            carol.say("past the mute")
            wait_for_line(alice, "past the mute")
            say(alice, "/bans")
            table = browser.element(alice, "#log table.bans", "the ban list")
            assert "nick:bob" in table.text and "spam" in table.text
            assert "nick:carol" in table.text and "calm down" in table.text
            kinds = [c.text for c in table.find_elements(By.CSS_SELECTOR, "tbody td.kind")]
            assert kinds == ["ban", "mute", "exception"], kinds
            screenshot(alice, directory, "bans")
            # banned from the chat: the sign-on screen says why and for how long
            say(alice, "/ban -g bob 2h flood")
            wait_for(bob, lambda d: d.find_element(By.ID, "signon").is_displayed(), "bob out")
            told = bob.find_element(By.ID, "signon-error").text
            assert told.startswith("You are banned from the chat for 2h (until "), told
            assert told.endswith("): flood."), told
            field = bob.find_element(By.ID, "signon-nick")
            field.clear()
            field.send_keys("bob", Keys.ENTER)
            wait_for(
                bob,
                lambda d: (
                    d.find_element(By.ID, "signon-error").text.startswith(
                        "You are banned from the chat for 1h 59m"
                    )
                    or d.find_element(By.ID, "signon-error").text.startswith(
                        "You are banned from the chat for 2h"
                    )
                ),
                "refused again, with the time left",
            )
            assert not bob.find_element(By.ID, "chat").is_displayed()
            for driver in (alice, bob):
                browser.no_script_errors(driver)

    await browser.in_thread(scenario)


@pytest_twisted.ensureDeferred
async def test_a_room_s_key_limit_and_voices(services: Services, tmp_path: Path) -> None:
    """
    alice, who made dev, sets its modes at once as typed (a key, a limit,
    moderated): bob is refused without the key, told how to give it, and let
    in with it; given a voice (marked C{+}), he speaks in the moderated room,
    and an nc user outside it is refused for the limit.
    """
    _, line_port, web_port = start(services, tmp_path)
    url = f"http://127.0.0.1:{web_port}/"
    badges = "return [...document.querySelectorAll('#room-modes .mode')].map((e) => e.textContent)"
    marks = (
        "return [...document.querySelectorAll('#member-list li')]"
        ".map((e) => e.querySelector('.op-mark').textContent + e.dataset.nick)"
    )

    def scenario() -> None:
        with (
            browser.chromium() as alice,
            browser.chromium() as bob,
            nc(line_port, "carol") as carol,
        ):
            browser.sign_on(alice, url, "alice")
            browser.sign_on(bob, url, "bob")
            say(alice, "/join dev")
            in_room(alice, "dev")
            say(alice, "/room mode +klm beer 2")
            wait_for_line(alice, "alice set +k, +l 2, +m (a key to join; 2 members at most;")
            shown = ["key", "limit 2", "moderated"]
            wait_for(alice, lambda d: d.execute_script(badges) == shown, "the modes in the header")
            say(bob, "/join dev")
            wait_for_line(bob, "dev has a key: join it with the right one (/join dev KEY)")
            say(bob, "/join dev beer")
            in_room(bob, "dev")
            assert bob.execute_script(badges) == shown
            say(bob, "may I?")
            wait_for_line(bob, "dev is moderated: only its operators and voiced members may speak")
            say(alice, "/voice bob")
            wait_for_line(alice, "bob has a voice in dev")
            wait_for_line(bob, "alice gave bob a voice in dev")
            wait_for(bob, lambda d: d.execute_script(marks) == ["@alice", "+bob"], "bob voiced")
            say(bob, "now I may")
            wait_for_line(alice, "now I may")
            carol.say("/join dev beer")
            carol.expect("*** Error: dev is full: it takes 2 members at most")
            for driver in (alice, bob):
                browser.no_script_errors(driver)

    await browser.in_thread(scenario)
