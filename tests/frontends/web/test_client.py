"""
The web client's behaviour in a real browser, against a scripted server
(L{tests.frontends.web.scripted}) that sends it what a test says: events no
real server would send (markup in nicknames and file names), lost
connections at chosen moments; and what the client asks for in return.

test-case-name: tests.frontends.web.test_client
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet.defer import maybeDeferred
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.frontends.web import browser
from tests.frontends.web.browser import on_reactor, wait_for, wait_for_line
from tests.frontends.web.scripted import ScriptedServer, member, room


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    pytest_twisted.blockon(maybeDeferred(scripted.stop))


@pytest_twisted.ensureDeferred
async def test_signs_on_and_shows_the_lobby(server: ScriptedServer) -> None:
    port = server.listen()
    server.after_sign_on[0] = {"type": "entered", "room": room("lobby", member("alice"), member("bob", operator=True))}

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            wait_for(driver, lambda d: "bob" in d.find_element(By.ID, "member-list").text, "bob listed")
            on_reactor(server.send, {"type": "message", "room": "lobby", "nick": "bob", "text": "hi alice", "time": 1764615780.5, "notice": False, "files": []})
            wait_for_line(driver, "hi alice")
            browser.no_script_errors(driver)

    await browser.in_thread(scenario)
