"""
The web client's behaviour in a real browser, against a scripted server
(L{tests.frontends.web.scripted}) that sends it what a test says: events no
real server would send (markup in nicknames and file names), lost
connections at chosen moments; and checks what the client asks for in
return. The client against the real server: L{test_browser}.

test-case-name: tests.frontends.web.test_client
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from twisted.internet.defer import maybeDeferred

from chatsvc.chat.commands import MODES_USAGE
from tests.frontends.web import browser
from tests.frontends.web.browser import XSS_PAYLOADS, on_reactor, wait_for, wait_for_line
from tests.frontends.web.scripted import Frame, Refusal, ScriptedServer, hello_reply, member, room

T0 = 1764615780.25


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    pytest_twisted.blockon(maybeDeferred(scripted.stop))


def message(room: str, nick: str, text: str, time: float = T0, **more: Any) -> Frame:
    return {
        "type": "message",
        "room": room,
        "nick": nick,
        "text": text,
        "time": time,
        **more,
    }


def requests(server: ScriptedServer, kind: str) -> list[Frame]:
    """The requests of type C{kind} received so far (read on the reactor)."""
    found: list[Frame] = on_reactor(lambda: [r for r in server.requests if r["type"] == kind])
    return found


def request(server: ScriptedServer, kind: str, **fields: Any) -> Frame:
    """The first request of type C{kind} with C{fields}, waited for."""

    def match(frame: Frame) -> bool:
        return frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items())

    frame: Frame = on_reactor(server.requested, match)
    return frame


def sent(server: ScriptedServer, wanted: Frame) -> Frame:
    """The request like C{wanted} (its type and fields), waited for, less its C{id}."""
    fields = {k: v for k, v in wanted.items() if k != "type"}
    return {k: v for k, v in request(server, wanted["type"], **fields).items() if k != "id"}


def texts(driver: WebDriver, selector: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def run(work: Any) -> Any:
    return browser.in_thread(work)


@pytest_twisted.ensureDeferred
async def test_signs_on_and_shows_the_lobby_its_members_and_messages(
    server: ScriptedServer,
) -> None:
    port = server.listen()
    server.after_sign_on[0] = {
        "type": "entered",
        "room": room(
            "lobby",
            member("alice"),
            member("bob", operator=True),
            member("carol", away="lunch"),
            topic={"text": "rules: be nice", "set_by": "bob", "set_at": T0},
        ),
    }

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            wait_for(
                driver, lambda d: "bob" in d.find_element(By.ID, "member-list").text, "bob listed"
            )
            assert texts(driver, "#member-list li.op .name") == ["bob"]
            assert texts(driver, "#member-list li.away .name") == ["carol"]
            assert driver.find_element(By.ID, "topic-text").text == "rules: be nice"
            assert driver.find_element(By.ID, "conversation-title").text == "#lobby"
            assert not driver.find_element(By.ID, "topic-edit").is_displayed()  # not an operator
            on_reactor(server.send, message("lobby", "bob", "hi there"))
            on_reactor(server.send, message("lobby", "bob", "how are you", T0 + 5))
            on_reactor(server.send, message("lobby", "carol", "fine", T0 + 6))
            wait_for_line(driver, "fine")
            # bob's two lines are grouped under one name; carol's starts a group
            assert texts(driver, "#log li.message .sender") == ["bob", "carol"]
            assert len(driver.find_elements(By.CSS_SELECTOR, "#log li.message.continued")) == 1
            stamp = driver.find_element(By.CSS_SELECTOR, "#log li.message time")
            assert stamp.get_attribute("datetime") == "2025-12-01T19:03:00.250Z"
            browser.no_script_errors(driver)

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_markup_from_the_server_is_shown_as_text_and_never_runs(
    server: ScriptedServer,
) -> None:
    """
    Every place user text reaches the page, given payloads: messages,
    actions, nicknames (which the real server would refuse, so only a
    scripted server can send them), topics, file names, private messages.
    """
    port = server.listen()
    payloads = list(XSS_PAYLOADS)
    hostile = payloads[1]
    server.after_sign_on[0] = {
        "type": "entered",
        "room": room(
            "lobby",
            member("alice"),
            member(hostile, operator=True),
            topic={"text": payloads[0], "set_by": hostile, "set_at": T0},
        ),
    }

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            for i, payload in enumerate(payloads):
                on_reactor(server.send, message("lobby", hostile, payload, T0 + i))
            on_reactor(
                server.send,
                {
                    "type": "action",
                    "room": "lobby",
                    "nick": hostile,
                    "text": payloads[2],
                    "time": T0 + 20,
                },
            )
            on_reactor(
                server.send, {"type": "joined", "room": "lobby", "member": member(payloads[3])}
            )
            on_reactor(
                server.send,
                {
                    "type": "topic",
                    "room": "lobby",
                    "nick": hostile,
                    "text": payloads[4],
                    "time": T0 + 21,
                },
            )
            image = {
                "url": "/files/" + "0" * 64 + "/x.png",
                "name": payloads[1],
                "size": 10,
                "type": "image/png",
                "image": True,
            }
            on_reactor(
                server.send,
                message("lobby", hostile, f"shared {payloads[1]} (10 B)", T0 + 22, files=[image]),
            )
            on_reactor(
                server.send,
                {
                    "type": "private",
                    "from": hostile,
                    "to": "alice",
                    "text": payloads[5],
                    "time": T0 + 23,
                },
            )
            on_reactor(
                server.send,
                {"type": "nick", "room": "lobby", "old": payloads[3], "new": payloads[6]},
            )
            wait_for_line(driver, f"is now known as {payloads[6]}")
            log = browser.log_text(driver)
            for payload in payloads:
                assert payload in log
            assert driver.find_element(By.ID, "topic-text").text == payloads[4]
            assert payloads[3] not in driver.find_element(By.ID, "member-list").text
            assert payloads[6] in driver.find_element(By.ID, "member-list").text
            # the file's name is the preview's alt text, not markup
            preview = driver.find_element(By.CSS_SELECTOR, "#log img.preview")
            assert preview.get_attribute("alt") == payloads[1]
            browser.select(driver, f"private:{hostile.lower()}")
            wait_for_line(driver, payloads[5])
            browser.no_alert(driver)
            # nothing the payloads name became an element, and nothing but our links is one
            for selector in (
                "#log script",
                "#log iframe",
                "#log svg",
                "#log b",
                "#log img:not(.preview)",
                "#topic script",
                "#member-list img",
                "#room-list img",
                "#private-list img",
            ):
                assert driver.find_elements(By.CSS_SELECTOR, selector) == [], selector
            assert driver.execute_script("return window.__xss === undefined")

    await run(scenario)
    assert server.connections == 1


@pytest_twisted.ensureDeferred
async def test_links_are_http_and_https_only_and_open_with_noopener(server: ScriptedServer) -> None:
    port = server.listen()

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            on_reactor(
                server.send,
                message(
                    "lobby",
                    "bob",
                    "see https://example.org/a?b=1&c=2, (http://example.org/wiki/Film_(1999)) "
                    "javascript:alert(1) data:text/html,x ftp://example.org/f",
                ),
            )
            wait_for_line(driver, "ftp://example.org/f")
            links = driver.find_elements(By.CSS_SELECTOR, "#log a")
            assert [a.get_attribute("href") for a in links] == [
                "https://example.org/a?b=1&c=2",
                "http://example.org/wiki/Film_(1999)",
            ]
            for a in links:
                assert a.get_attribute("rel") == "noopener noreferrer"
                assert a.get_attribute("target") == "_blank"
            browser.no_alert(driver)

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_unread_counts_mentions_and_highlights(server: ScriptedServer) -> None:
    port = server.listen()
    server.answers["join"] = lambda r: {"room": room(r["room"], member("alice"), member("bob"))}

    def badge(driver: WebDriver, key: str, kind: str) -> str:
        found = driver.find_elements(By.CSS_SELECTOR, f'li[data-key="{key}"] .badge.{kind}')
        return found[0].text if found else ""

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            browser.say(driver, "/join dev")
            wait_for(
                driver,
                lambda d: d.find_element(By.ID, "conversation-title").text == "#dev",
                "in dev",
            )
            on_reactor(server.send, message("lobby", "bob", "anyone?"))
            on_reactor(server.send, message("lobby", "bob", "morning"))
            wait_for(
                driver, lambda d: badge(d, "room:lobby", "unread-count") == "2", "2 unread in lobby"
            )
            on_reactor(server.send, message("lobby", "bob", "ALICE, look", T0 + 1))
            wait_for(driver, lambda d: badge(d, "room:lobby", "mention") == "1", "a mention badge")
            on_reactor(
                server.send, message("dev", "bob", "malice is not a mention, alice. is", T0 + 2)
            )
            wait_for_line(driver, "malice")
            marks = texts(driver, "#log li.mentioned mark.mention")
            assert marks == ["alice"], marks
            assert driver.title == "(1) chatsvc"
            browser.select(driver, "room:lobby")
            wait_for(driver, lambda d: badge(d, "room:lobby", "mention") == "", "badges cleared")
            assert texts(driver, "#log li.mentioned .body mark") == ["ALICE"]
            # Alt+Up: the conversation above in the list, from the keyboard alone
            keys = ActionChains(driver).key_down(Keys.ALT).send_keys(Keys.ARROW_UP)
            keys.key_up(Keys.ALT).perform()
            wait_for(
                driver,
                lambda d: d.find_element(By.ID, "conversation-title").text == "#dev",
                "dev, above the lobby",
            )

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_every_slash_command_becomes_its_request(server: ScriptedServer) -> None:
    port = server.listen()
    server.answers["members"] = lambda r: {
        "room": r["room"],
        "members": [member("alice"), member("bob", True, "lunch")],
    }
    server.answers["rooms"] = lambda r: {
        "rooms": [
            {"name": "dev", "count": 3, "topic": {"text": "Friday", "set_by": "bob", "set_at": T0}},
            {"name": "lobby", "count": 2, "topic": None},
        ]
    }
    server.answers["away"] = lambda r: {"away": r.get("reason")}
    server.answers["nick"] = lambda r: {"nick": r["nick"]}
    server.answers["topic"] = lambda r: {
        "room": r["room"],
        "topic": {"text": "hello", "set_by": "bob", "set_at": T0},
    }
    server.answers["say"] = lambda r: {"message": message(r["room"], "alice", r["text"])}
    server.answers["me"] = lambda r: {
        "message": {
            "type": "action",
            "room": r["room"],
            "nick": "alice",
            "text": r["text"],
            "time": T0,
        }
    }
    server.answers["msg"] = lambda r: {
        "message": {
            "type": "private",
            "from": "alice",
            "to": r["nick"],
            "text": r["text"],
            "time": T0,
        },
        "away": "lunch",
    }
    server.answers["history"] = lambda r: {
        "room": r["room"],
        "lines": [message(r["room"], "bob", "old line")],
        "more": False,
    }

    def refuse(r: Frame) -> Frame:
        raise Refusal({"code": "bad-request", "message": "unknown command /frob (try /help)"})

    server.answers["command"] = refuse
    lines: dict[str, Frame] = {
        "/who": {"type": "members", "room": "lobby"},
        "/who dev": {"type": "members", "room": "dev"},
        "/rooms": {"type": "rooms"},
        "/msg bob  psst there": {"type": "msg", "nick": "bob", "text": "psst there"},
        "/me waves": {"type": "me", "room": "lobby", "text": "waves"},
        "/away lunch": {"type": "away", "reason": "lunch"},
        "/away": {"type": "away", "reason": None},
        "/nick alicia": {"type": "nick", "nick": "alicia"},
        "/topic": {"type": "topic", "room": "lobby"},
        "/topic new <topic>": {"type": "topic", "room": "lobby", "text": "new <topic>"},
        "/kick bob flooding": {"type": "kick", "nick": "bob", "reason": "flooding"},
        "/history 3": {"type": "history", "room": "lobby", "limit": 3},
        "/search green build": {"type": "search", "room": "lobby", "words": ["green", "build"]},
        "//slash": {"type": "say", "room": "lobby", "text": "/slash"},
        "/frob it": {"type": "command", "room": "lobby", "line": "/frob it"},
        "/join #dev": {"type": "join", "room": "dev"},
        "/kick carol off topic": {
            "type": "kick",
            "nick": "carol",
            "reason": "off topic",
            "room": "dev",
        },
        "/part": {"type": "leave", "room": "dev"},
        "/quit gone home": {"type": "quit", "reason": "gone home"},
    }

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            for line, wanted in lines.items():
                browser.say(driver, line)
                got = sent(server, wanted)
                assert got == wanted, (line, got)
                if line == "/who":
                    wait_for_line(driver, "@bob (away)")
                elif line == "/rooms":
                    wait_for_line(driver, "2 rooms:\ndev (3): Friday\nlobby (2)")
                elif line.startswith("/msg"):
                    wait_for(
                        driver,
                        lambda d: d.find_elements(By.CSS_SELECTOR, 'li[data-key="private:bob"]'),
                        "a private conversation",
                    )
                    browser.select(driver, "room:lobby")
                elif line == "/away lunch":
                    wait_for_line(driver, "You are marked as away: lunch")
                elif line == "/nick alicia":
                    wait_for(
                        driver,
                        lambda d: d.find_element(By.ID, "own-nick").text == "alicia",
                        "renamed",
                    )
                elif line == "/topic":
                    wait_for_line(driver, "Topic for lobby: hello (set by bob")
                elif line == "/history 3":
                    wait_for_line(driver, "<bob> old line")
                elif line == "/frob it":
                    wait_for_line(driver, "unknown command /frob (try /help)")
                elif line == "/search green build":
                    wait_for(
                        driver,
                        lambda d: d.find_element(By.ID, "search").is_displayed(),
                        "the search panel",
                    )
                elif line == "/join #dev":
                    wait_for(
                        driver,
                        lambda d: d.find_element(By.ID, "conversation-title").text == "#dev",
                        "in dev",
                    )
            browser.say(driver, "/msg bob")
            wait_for_line(driver, "usage: /msg NICK TEXT")
            browser.say(driver, "/help")
            wait_for_line(driver, "/kick [-g] NICK [REASON]")

    await run(scenario)
    assert not [r for r in server.requests if r.get("type") == "msg" and r.get("text") is None]


@pytest_twisted.ensureDeferred
async def test_a_registered_nickname_is_asked_for_its_password(server: ScriptedServer) -> None:
    port = server.listen()

    def sign_on(r: Frame) -> Frame:
        if r.get("password") is None:
            raise Refusal(
                {"code": "password-required", "message": "the nickname alice is registered"}
            )
        if r["password"] != "wonderland":
            raise Refusal({"code": "wrong-password", "message": "wrong password for alice"})
        return {"nick": "alice", "account": "alice", "operator": True, "upload_token": "t"}

    server.answers["sign-on"] = sign_on

    def scenario() -> None:
        with browser.chromium() as driver:
            driver.get(f"http://127.0.0.1:{port}/")
            browser.signon_form(driver).send_keys("alice", Keys.ENTER)
            password = browser.element(
                driver, "#signon-password", "the password prompt", shown=True
            )
            assert "alice is registered" in driver.find_element(By.ID, "signon-error").text
            password.send_keys("nope", Keys.ENTER)
            wait_for(
                driver,
                lambda d: "wrong password" in d.find_element(By.ID, "signon-error").text,
                "wrong password",
            )
            password.send_keys("wonderland", Keys.ENTER)
            wait_for(driver, lambda d: d.find_element(By.ID, "chat").is_displayed(), "signed on")
            # an operator may edit the topic
            wait_for(
                driver,
                lambda d: d.find_element(By.ID, "topic-edit").is_displayed(),
                "the topic's edit button",
            )
            assert "wonderland" not in driver.current_url

    await run(scenario)
    passwords = [r.get("password") for r in server.requests if r["type"] == "sign-on"]
    assert passwords == [None, "nope", "wonderland"]


@pytest_twisted.ensureDeferred
async def test_operators_edit_the_topic_and_kick_from_the_member_list(
    server: ScriptedServer,
) -> None:
    port = server.listen()
    server.answers["sign-on"] = lambda r: {
        "nick": r["nick"],
        "account": r["nick"],
        "operator": True,
        "upload_token": "t",
    }
    server.after_sign_on[0] = {
        "type": "entered",
        "room": room("lobby", member("alice", True), member("bob")),
    }

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            driver.find_element(By.ID, "topic-edit").click()
            field = driver.find_element(By.ID, "topic-input")
            field.send_keys("release on Friday", Keys.ENTER)
            assert request(server, "topic")["text"] == "release on Friday"
            kick = browser.element(driver, '#member-list li[data-nick="bob"] .kick', "bob's kick")
            assert (
                driver.find_elements(By.CSS_SELECTOR, '#member-list li[data-nick="alice"] .kick')
                == []
            )
            kick.click()
            assert requests(server, "kick") == []  # the first click only arms it
            driver.find_element(By.CSS_SELECTOR, '#member-list li[data-nick="bob"] .kick').click()
            # in the lobby, out of the chat: out of the lobby alone is straight back in
            assert request(server, "kick") == {"type": "kick", "id": 4, "nick": "bob"}
            on_reactor(
                server.send,
                {"type": "kicked", "room": "lobby", "nick": "bob", "by": "alice", "reason": None},
            )
            wait_for_line(driver, "bob was kicked by alice")
            assert "bob" not in driver.find_element(By.ID, "member-list").text

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_older_history_comes_page_by_page(server: ScriptedServer) -> None:
    port = server.listen()
    server.after_sign_on[1] = {
        "type": "history",
        "room": "lobby",
        "joining": True,
        "lines": [message("lobby", "bob", f"recent {i}", T0 + i) for i in range(3)],
    }

    def page(r: Frame) -> Frame:
        before = r.get("before")
        if before == T0:
            return {
                "room": "lobby",
                "lines": [message("lobby", "bob", f"older {i}", T0 - 100 + i) for i in range(2)],
                "more": True,
            }
        return {
            "room": "lobby",
            "lines": [message("lobby", "bob", "oldest", T0 - 1000)],
            "more": False,
        }

    server.answers["history"] = page

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            wait_for_line(driver, "recent 2")
            driver.find_element(By.ID, "older").click()
            wait_for_line(driver, "older 1")
            driver.find_element(By.ID, "older").click()
            wait_for_line(driver, "oldest")
            bodies = [t.removeprefix("bob ") for t in texts(driver, "#log li.message .body")]
            assert bodies == ["oldest", "older 0", "older 1", "recent 0", "recent 1", "recent 2"], (
                bodies
            )
            wait_for(
                driver, lambda d: not d.find_element(By.ID, "older").is_displayed(), "no more pages"
            )

    await run(scenario)
    pages = [(r["limit"], r.get("before")) for r in server.requests if r["type"] == "history"]
    assert pages == [(50, T0), (50, T0 - 100)]


@pytest_twisted.ensureDeferred
async def test_reconnects_with_backoff_back_into_its_rooms_with_what_it_missed(
    server: ScriptedServer,
) -> None:
    port = server.listen()
    server.answers["join"] = lambda r: {"room": room(r["room"], member("alice"))}

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            browser.say(driver, "/join dev")
            request(server, "join", room="dev")
            on_reactor(server.send, message("dev", "bob", "before the drop", T0))
            wait_for_line(driver, "before the drop")
            on_reactor(server.drop)
            wait_for(
                driver,
                lambda d: "Disconnected" in d.find_element(By.ID, "connection-state").text,
                "disconnected",
            )
            browser.say(driver, "typed while away")
            # back: signed on again as alice, in dev again, asking for what was said since
            missed = request(server, "history", room="dev", after=T0)
            assert missed["limit"] == 500
            wait_for_line(driver, "Connected again.")
            wait_for_line(driver, "said meanwhile")
            assert browser.log_text(driver).count("before the drop") == 1

    server.answers["history"] = lambda r: {
        "room": r["room"],
        "lines": [message("dev", "bob", "said meanwhile", T0 + 1)] if r.get("after") else [],
        "more": False,
    }
    await run(scenario)
    signons = [r["nick"] for r in server.requests if r["type"] == "sign-on"]
    assert signons == ["alice", "alice"]
    assert [r["room"] for r in server.requests if r["type"] == "join"] == ["dev", "dev"]
    assert [r["text"] for r in server.requests if r["type"] == "say"] == ["typed while away"]
    assert server.connections == 2


@pytest_twisted.ensureDeferred
async def test_a_room_with_a_key_is_joined_with_it_and_again_after_a_reconnection(
    server: ScriptedServer,
) -> None:
    """
    Refused for want of the key, it says how to give it; joined with it (typed,
    or in the join form), the room's key as its members see it is given again
    after a reconnection, changed meanwhile.
    """
    port = server.listen()

    def join(r: Frame) -> Frame:
        if r.get("key") not in {"dev": ("beer", "porter"), "attic": ("stout",)}[r["room"]]:
            raise Refusal(
                {
                    "code": "bad-key",
                    "message": f"{r['room']} has a key: join it with the right one"
                    f" (/join {r['room']} KEY)",
                }
            )
        return {"room": {**room(r["room"], member("alice")), "key": r.get("key")}}

    server.answers["join"] = join

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            browser.say(driver, "/join dev")
            wait_for_line(driver, "dev has a key: join it with the right one (/join dev KEY)")
            browser.say(driver, "/join dev beer")
            request(server, "join", room="dev", key="beer")
            badge = "return document.querySelector('#room-modes .mode')?.title"
            wait_for(
                driver,
                lambda d: d.execute_script(badge) == "Joining it takes the key beer (+k)",
                "the key in dev's header",
            )
            driver.find_element(By.ID, "join-input").send_keys("attic stout", Keys.ENTER)
            request(server, "join", room="attic", key="stout")
            changed = {"mode": "k", "on": True, "value": "porter"}
            on_reactor(
                server.send, {"type": "mode", "room": "dev", "by": "bob", "changes": [changed]}
            )
            on_reactor(server.drop)
            request(server, "join", room="dev", key="porter")
            request(server, "join", room="attic", key="stout")
            wait_for_line(driver, "Connected again.")
            assert "has a key" not in browser.log_text(driver)  # attic's log on view

    await run(scenario)
    joins = [(r["room"], r.get("key")) for r in server.requests if r["type"] == "join"]
    assert joins[:3] == [("dev", None), ("dev", "beer"), ("attic", "stout")]
    assert sorted(joins[3:]) == [("attic", "stout"), ("dev", "porter")]


@pytest_twisted.ensureDeferred
async def test_after_a_kick_it_does_not_reconnect_but_offers_to_sign_on_again(
    server: ScriptedServer,
) -> None:
    port = server.listen()

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            on_reactor(
                server.send,
                {
                    "type": "kicked",
                    "room": "lobby",
                    "nick": "alice",
                    "by": "root",
                    "reason": "spam",
                },
            )
            on_reactor(server.goodbye, "kicked", "You were kicked by root (spam)")
            wait_for(
                driver, lambda d: d.find_element(By.ID, "signon").is_displayed(), "the sign-on form"
            )
            error = driver.find_element(By.ID, "signon-error").text
            assert error == "You were kicked by root (spam)"
            assert driver.find_element(By.ID, "signon-submit").text == "Sign on again"
            # it does not reconnect by itself: stopped, with no attempt waiting
            stopped = "const c = window.chatsvc.connection; return [c.stopped, c.timer, c.socket]"
            assert driver.execute_script(stopped) == [True, None, None]
            assert on_reactor(lambda: server.connections) == 1
            field = driver.find_element(By.ID, "signon-nick")
            field.clear()
            field.send_keys("alice2", Keys.ENTER)
            wait_for(driver, lambda d: d.find_element(By.ID, "chat").is_displayed(), "back in")
            assert driver.find_element(By.ID, "own-nick").text == "alice2"

    await run(scenario)
    assert server.connections == 2
    assert [r["nick"] for r in server.requests if r["type"] == "sign-on"] == ["alice", "alice2"]


@pytest_twisted.ensureDeferred
async def test_notifications_are_asked_for_on_a_click_and_shown_while_hidden(
    server: ScriptedServer,
) -> None:
    port = server.listen()
    # A Notification that records, and a tab that the test hides, installed
    # before the page's own scripts (by the browser, not by the page: CSP
    # does not apply).
    spy = """
      window.__shown = []; window.__asked = 0; window.__hidden = false;
      window.Notification = class {
        static permission = "default";
        static async requestPermission() {
          window.__asked += 1; this.permission = "granted"; return "granted";
        }
        constructor(title, options) { window.__shown.push([title, options.body]); }
        addEventListener() {}
        close() {}
      };
      Object.defineProperty(Document.prototype, "visibilityState",
        { get() { return window.__hidden ? "hidden" : "visible"; } });
    """

    def scenario() -> None:
        with browser.chromium() as driver:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": spy})
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            on_reactor(server.send, message("lobby", "bob", "alice: before asking", T0))
            wait_for_line(driver, "before asking")
            assert driver.execute_script("return [window.__asked, window.__shown.length]") == [0, 0]
            driver.find_element(By.ID, "notify-button").click()
            wait_for(
                driver,
                lambda d: not d.find_element(By.ID, "notify-button").is_displayed(),
                "permission given",
            )
            on_reactor(server.send, message("lobby", "bob", "alice: seen, not notified", T0 + 1))
            wait_for_line(driver, "seen, not notified")
            driver.execute_script("window.__hidden = true")
            on_reactor(server.send, message("lobby", "bob", "no mention here", T0 + 2))
            on_reactor(server.send, message("lobby", "bob", "alice: are you there?", T0 + 3))
            on_reactor(
                server.send,
                {
                    "type": "private",
                    "from": "carol",
                    "to": "alice",
                    "text": "psst",
                    "time": T0 + 4,
                },
            )
            wait_for(
                driver,
                lambda d: d.execute_script("return window.__shown.length") == 2,
                "two notifications",
            )
            assert driver.execute_script("return [window.__asked, window.__shown]") == [
                1,
                [["bob in #lobby", "alice: are you there?"], ["carol (private)", "psst"]],
            ]

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_emoji_picker_and_the_smile_and_frown_buttons(server: ScriptedServer) -> None:
    port = server.listen()
    server.answers["say"] = lambda r: {"message": message(r["room"], "alice", r["text"])}

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            driver.find_element(By.ID, "smile").click()
            assert request(server, "say", text="\U0001f642")["room"] == "lobby"
            driver.find_element(By.ID, "frown").click()
            request(server, "say", text="\U0001f641")
            driver.find_element(By.ID, "input").send_keys("party ")
            driver.find_element(By.ID, "emoji-button").click()
            panel = driver.find_element(By.ID, "emoji-panel")
            assert panel.is_displayed()
            panel.find_element(By.CSS_SELECTOR, 'button[aria-label="\U0001f389"]').click()
            assert not panel.is_displayed()
            driver.find_element(By.ID, "input").send_keys(Keys.ENTER)
            request(server, "say", text="party \U0001f389")
            # the keyboard: open, move, Escape closes and gives the focus back
            driver.find_element(By.ID, "emoji-button").send_keys(Keys.ENTER)
            driver.switch_to.active_element.send_keys(Keys.ESCAPE)
            assert not panel.is_displayed()
            assert driver.switch_to.active_element.get_attribute("id") == "emoji-button"

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_the_join_form_offers_the_rooms_most_populous_first(server: ScriptedServer) -> None:
    port = server.listen()
    server.answers["rooms"] = lambda r: {
        "rooms": [
            {"name": "dev", "count": 3, "topic": {"text": "Friday", "set_by": "bob", "set_at": T0}},
            {"name": "lobby", "count": 2, "topic": None},
        ]
    }

    def offered(driver: WebDriver) -> list[tuple[str | None, str | None]]:
        options = driver.find_elements(By.CSS_SELECTOR, "#room-directory option")
        return [(o.get_attribute("value"), o.get_attribute("label")) for o in options]

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            assert offered(driver) == []
            driver.find_element(By.ID, "join-input").click()
            request(server, "rooms")
            wait_for(driver, offered, "rooms offered")
            assert offered(driver) == [("dev", "dev (3): Friday"), ("lobby", "lobby (2)")]
            browser.no_script_errors(driver)

    await run(scenario)


def test_payloads_are_json_safe() -> None:
    """The payloads survive the trip through JSON unchanged (the scripted server sends them so)."""
    for payload in XSS_PAYLOADS:
        assert json.loads(json.dumps(payload)) == payload


UNITS = """
const done = arguments[arguments.length - 1];
Promise.all([
  import("/js/backoff.js"), import("/js/commands.js"), import("/js/mentions.js"),
  import("/js/linkify.js"), import("/js/events/file.js"), import("/js/state.js"),
  import("/js/time.js"), import("/js/events/mode.js"), import("/js/client.js"),
  import("/js/memberlist.js"),
]).then(([backoff, commands, mentions, linkify, file, state, time, mode, client, memberlist]) => {
  const parse = (line) => {
    try { return commands.parse(line); } catch (error) { return error.message; }
  };
  done({
    delays: [0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoff.delay(n, () => 0)),
    jitter: backoff.delay(0, () => 0.999),
    parsed: ["/HISTORY 0500", "/history 501", "/history 00", "/away " + "x".repeat(201),
             "/ME", "/\\u212aick bob", "/kick", "/part #dev", "/search  a  b ", "/topic",
             "/room mode im", "/room mode +", "/room frob", "/oper add", "/oper add a b",
             "/bans x", "/ban -g", "/unban a b", "/ban 10.0.0.0/8 30 x", "/except -g bob 1h",
             "/invex", "/Uninvex a b",
             "/mute a " + "y".repeat(301), "/room OWNER Carol", "/password onlyone",
             "/join #dev beer", "/join dev", "/join dev a b", "/join", "/voice bob", "/DEVOICE bob",
             "/voice", "/voice a b", "/room mode +kl-i beer 20", "/room MODE -k-l", "/room mode +k",
             "/room mode +l", "/room mode +i extra", "/room mode +l many", "/room mode +snt-nt"]
             .map(parse),
    modeLines: [
      [{ mode: "k", on: true, value: "beer" }, { mode: "l", on: true, value: 20 }],
      [{ mode: "i", on: false }, { mode: "m", on: true }, { mode: "x", on: true }],
      [{ mode: "k", on: false }, { mode: "l", on: false }, { mode: "s", on: true },
       { mode: "n", on: false }, { mode: "t", on: false }],
    ].map(mode.modesSet),
    described: [
      { invite_only: false, moderated: false },
      { moderated: true },
      { invite_only: true, key: "beer", limit: 20, secret: true,
        members_only: false, topic_locked: false },
    ].map(client.describeModes),
    modesOf: client.modesOf({ invite_only: true, key: "beer", limit: 5 }),
    applied: (() => {
      const room = {};
      const changes = [{ mode: "k", on: true, value: "beer" }, { mode: "l", on: true, value: 9 },
                       { mode: "n", on: false }, { mode: "s", on: true }, { mode: "l", on: false }];
      for (const change of changes) client.applyMode(room, change);
      return room;
    })(),
    standings: [{ rank: "owner", operator: true }, { operator: true, voiced: true },
                { voiced: true }, {}].map(memberlist.standing),
    durations: [0.4, 45, 60, 3599, 7200, 90061, 1209600].map(time.describeDuration),
    mentions: [["hi alice.", "alice"], ["malice", "alice"], ["@alice", "alice"],
               ["[alice]", "alice"], ["alice_ there", "alice"], ["ALICE!", "alice"],
               ["a.lice", "a.lice"]]
               .map(([text, nick]) => mentions.mentions(text, nick)),
    links: linkify.splitLinks("x http://a.example/b). y https://c.example/(d) z")
               .filter((p) => typeof p !== "string").map((p) => p.url),
    sizes: [0, 1023, 1024, 48213, 10485760].map(file.size),
    own: ["/files/abc/x.png", "https://elsewhere.example/files/x.png", "javascript:alert(1)"]
               .map(file.isOwnFile),
    same: [[0, "hi", "bob"], [40, "hi", "bob"], [900, "hi", "bob"], [1500, "hi", "bob"],
           [40, "ho", "bob"], [40, "hi", "carol"]]
               .map(([later, text, nick]) => state.sameLine(
                 { said: true, nick: "bob", text: "hi", time: 1000 },
                 { said: true, nick, text, time: 1000 + later })),
  });
}, (error) => done(String(error)));
"""


@pytest_twisted.ensureDeferred
async def test_the_modules_alone(server: ScriptedServer) -> None:
    """The pure parts of the client, run in the browser as the page loads them."""
    port = server.listen()

    def scenario() -> dict[str, Any]:
        with browser.chromium() as driver:
            driver.get(f"http://127.0.0.1:{port}/")
            result: dict[str, Any] = driver.execute_async_script(UNITS)
            return result

    result = await run(scenario)
    assert result["delays"] == [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    assert result["jitter"] == 1999
    assert result["parsed"] == [
        {"command": "history", "lines": 500},
        {"command": "history", "lines": 500, "capped": True},
        "/history shows 1 line or more",
        "an away message is at most 200 bytes (201)",
        "usage: /me ACTION",
        "unknown command /\u212aick (try /help)",
        "usage: /kick [-g] NICK [REASON]",
        {"command": "part", "room": "dev"},
        {"command": "search", "words": ["a", "b"]},
        {"command": "topic", "text": None},
        f"unknown room mode 'im': {MODES_USAGE}",
        f"give the modes: {MODES_USAGE}",
        "usage: /room WHAT",
        "usage: /oper add|del NAME",
        "usage: /oper add|del NAME",
        "usage: /bans [-g]",
        "usage: /ban [-g] MASK [TIME] [WHY]",
        "usage: /unban [-g] MASK",
        {
            "command": "ban",
            "chatWide": False,
            "mask": "10.0.0.0/8",
            "duration": "30",
            "reason": "x",
        },
        {
            "command": "except",
            "chatWide": True,
            "mask": "bob",
            "duration": "1h",
            "reason": None,
        },
        "usage: /invex MASK [TIME] [WHY]",
        "usage: /uninvex MASK",
        "a reason is at most 300 characters (301)",
        {"command": "room-rank", "account": "Carol", "rank": "owner"},
        "usage: /password OLD NEW",
        {"command": "join", "room": "dev", "key": "beer"},
        {"command": "join", "room": "dev", "key": None},
        "usage: /join ROOM [KEY]",
        "usage: /join ROOM [KEY]",
        {"command": "voice", "nick": "bob", "given": True},
        {"command": "voice", "nick": "bob", "given": False},
        "usage: /voice NICK",
        "usage: /voice NICK",
        {
            "command": "room-mode",
            "changes": [
                {"mode": "k", "on": True, "value": "beer"},
                {"mode": "l", "on": True, "value": 20},
                {"mode": "i", "on": False},
            ],
        },
        {
            "command": "room-mode",
            "changes": [{"mode": "k", "on": False}, {"mode": "l", "on": False}],
        },
        "+k takes a key",
        "+l takes a number",
        f"too many arguments: {MODES_USAGE}",
        {"command": "room-mode", "changes": [{"mode": "l", "on": True, "value": "many"}]},
        {
            "command": "room-mode",
            "changes": [
                {"mode": "s", "on": True},
                {"mode": "n", "on": True},
                {"mode": "t", "on": True},
                {"mode": "n", "on": False},
                {"mode": "t", "on": False},
            ],
        },
    ]
    assert result["modeLines"] == [
        "set +k, +l 20 (a key to join; 20 members at most)",
        "set -i, +m, +x (open to all; moderated: only its operators and voiced members may speak)",
        "set -k, -l, +s, -n, -t (no key to join; any number of members;"
        " secret: not listed, nor its members shown, to those outside it;"
        " those outside it may speak in it too; any member may set the topic)",
    ]
    assert result["described"] == [
        "open to all, and anyone in it may speak",
        "moderated (only its operators and voiced members may speak)",
        "invite-only, joined with a key, 20 members at most, secret (not listed),"
        " open to messages from outside and its topic set by any member",
    ]
    assert result["modesOf"] == {
        "invite_only": True,
        "moderated": False,
        "registered": False,
        "joinKey": "beer",
        "limit": 5,
        "secret": False,
        "members_only": True,
        "topic_locked": True,
    }
    assert result["applied"] == {
        "joinKey": "beer",
        "limit": None,
        "members_only": False,
        "secret": True,
    }
    assert result["standings"] == [3, 2, 1, 0]
    assert result["durations"] == ["1s", "45s", "1m", "59m 59s", "2h", "1d 1h", "2w"]
    # "[alice]" may be another nickname: brackets are nickname characters
    assert result["mentions"] == [True, False, True, False, False, True, True]
    assert result["links"] == ["http://a.example/b", "https://c.example/(d)"]
    assert result["sizes"] == ["0 B", "1023 B", "1.0 KiB", "47.1 KiB", "10.0 MiB"]
    assert result["own"] == [True, False, False]
    # A live line and the same line from history are stamped apart by the
    # time the server took between fanning it out and recording it.
    assert result["same"] == [True, True, True, False, False, False]


SANCTION = {
    "kind": "ban",
    "mask": "nick:bob",
    "room": "lobby",
    "by": "alice",
    "set_at": T0,
    "until": T0 + 7200,
    "reason": "spam <b>",
    "left": 7200.0,
}


@pytest_twisted.ensureDeferred
async def test_every_moderation_command_becomes_its_request(server: ScriptedServer) -> None:
    port = server.listen()
    server.answers["ban"] = lambda r: {
        "sanction": SANCTION,
        "held": ["bob"],
        "text": ["Banned nick:bob in lobby, 2h left (until ...): spam <b>; it holds for bob"],
    }
    server.answers["bans"] = lambda r: {
        "room": r["room"],
        "sanctions": [
            SANCTION,
            {
                **SANCTION,
                "kind": "mute",
                "mask": "10.0.0.0/8",
                "until": None,
                "left": None,
                "reason": None,
            },
            {**SANCTION, "kind": "exception", "mask": "account:carol", "reason": "a regular"},
        ],
        "now": T0,
        "text": ["not shown: the table is"],
    }
    server.answers["room-mode"] = lambda r: {
        "room": r["room"],
        "invite_only": {"mode": "i", "on": True} in r["changes"],
        "moderated": {"mode": "m", "on": True} in r["changes"],
        "registered": False,
        "key": next((c["value"] for c in r["changes"] if c["mode"] == "k" and c["on"]), None),
        "limit": next((c["value"] for c in r["changes"] if c["mode"] == "l" and c["on"]), None),
        "secret": False,
        "members_only": True,
        "topic_locked": True,
    }
    server.answers["voice"] = lambda r: {"room": r["room"], "nick": r["nick"], "voiced": r["given"]}
    server.answers["register"] = lambda r: {"account": "alice", "text": ["You registered alice"]}
    server.answers["members"] = lambda r: {"room": r["room"], "members": [member("alice", True)]}
    server.answers["invite"] = lambda r: {"room": r["room"], "nick": r["nick"], "away": "lunch"}
    lines: dict[str, Frame] = {
        "/ban bob 2h spam <b>": {
            "type": "ban",
            "room": "lobby",
            "mask": "bob",
            "duration": "2h",
            "reason": "spam <b>",
        },
        "/ban -g 10.0.0.0/8": {
            "type": "ban",
            "room": None,
            "mask": "10.0.0.0/8",
            "duration": None,
            "reason": None,
        },
        "/mute bob* too loud": {
            "type": "mute",
            "room": "lobby",
            "mask": "bob*",
            "duration": None,
            "reason": "too loud",
        },
        "/unban bob": {"type": "unban", "room": "lobby", "mask": "bob"},
        "/except account:carol 2h a regular": {
            "type": "except",
            "room": "lobby",
            "mask": "account:carol",
            "duration": "2h",
            "reason": "a regular",
        },
        "/invex carol*": {
            "type": "invex",
            "room": "lobby",
            "mask": "carol*",
            "duration": None,
            "reason": None,
        },
        # a room's only: sent chat-wide all the same, for the server to refuse
        "/except -g carol": {
            "type": "except",
            "room": None,
            "mask": "carol",
            "duration": None,
            "reason": None,
        },
        "/unexcept account:carol": {"type": "unexcept", "room": "lobby", "mask": "account:carol"},
        "/uninvex carol*": {"type": "uninvex", "room": "lobby", "mask": "carol*"},
        "/unmute -g bob*": {"type": "unmute", "room": None, "mask": "bob*"},
        "/bans": {"type": "bans", "room": "lobby"},
        "/bans -g": {"type": "bans", "room": None},
        "/room register": {"type": "room-register", "room": "lobby"},
        "/room unregister": {"type": "room-unregister", "room": "lobby"},
        "/room mode -i": {
            "type": "room-mode",
            "room": "lobby",
            "changes": [{"mode": "i", "on": False}],
        },
        "/room mode +m": {
            "type": "room-mode",
            "room": "lobby",
            "changes": [{"mode": "m", "on": True}],
        },
        "/room mode +kl-t beer 20": {
            "type": "room-mode",
            "room": "lobby",
            "changes": [
                {"mode": "k", "on": True, "value": "beer"},
                {"mode": "l", "on": True, "value": 20},
                {"mode": "t", "on": False},
            ],
        },
        "/voice carol": {"type": "voice", "room": "lobby", "nick": "carol", "given": True},
        "/devoice carol": {"type": "voice", "room": "lobby", "nick": "carol", "given": False},
        "/room op carol": {
            "type": "room-rank",
            "room": "lobby",
            "account": "carol",
            "rank": "operator",
        },
        "/room deowner carol": {
            "type": "room-rank",
            "room": "lobby",
            "account": "carol",
            "rank": None,
        },
        "/invite carol": {"type": "invite", "room": "lobby", "nick": "carol"},
        "/kick -g bob bye": {"type": "kick", "nick": "bob", "reason": "bye"},
        "/oper del carol": {"type": "oper", "account": "carol", "given": False},
        "/register wonderland": {"type": "register", "password": "wonderland"},
        "/password wonderland looking glass": {
            "type": "password",
            "old": "wonderland",
            "new": "looking glass",
        },
        "/unregister": {"type": "unregister"},
    }

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            for line, wanted in lines.items():
                browser.say(driver, line)
                got = sent(server, wanted)
                assert got == wanted, (line, got)
                if line.startswith("/ban bob"):
                    wait_for_line(driver, "Banned nick:bob in lobby, 2h left (until ...): spam <b>")
                elif line == "/bans":
                    table = browser.element(driver, "#log table.bans", "the ban list")
                    rows = [
                        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
                    ]
                    assert [row[:3] + row[5:] for row in rows] == [
                        ["ban", "nick:bob", "alice", "spam <b>"],
                        ["mute", "10.0.0.0/8", "alice", ""],
                        ["exception", "account:carol", "alice", "a regular"],
                    ]
                    assert rows[0][4].startswith("2h left (until ")
                    assert rows[1][4] == "for good"
                    kinds = table.find_elements(By.CSS_SELECTOR, "tbody td.kind")
                    assert kinds[2].get_attribute("title") == (
                        "let past the room's bans and mutes (+e)"
                    )
                    assert (
                        "Bans, mutes, exceptions and invitations in lobby (3):"
                        in browser.log_text(driver)
                    )
                elif line == "/room mode +m":
                    wait_for_line(
                        driver,
                        "lobby is moderated (only its operators and voiced members may speak)",
                    )
                elif line == "/room mode +kl-t beer 20":
                    wait_for_line(driver, "lobby is joined with a key and 20 members at most")
                elif line == "/voice carol":
                    wait_for_line(driver, "carol has a voice in lobby")
                elif line == "/devoice carol":
                    wait_for_line(driver, "carol has no voice in lobby")
                elif line == "/invite carol":
                    wait_for_line(driver, "You invited carol to lobby (away: lunch)")
                elif line == "/register wonderland":
                    wait_for_line(driver, "You registered alice")
                    state = "return [window.chatsvc.state.account, window.chatsvc.credentials]"
                    assert driver.execute_script(state) == [
                        "alice",
                        {"nick": "alice", "password": "wonderland"},
                    ]
            browser.say(driver, "/room mode +x")
            wait_for_line(driver, f"unknown room mode '+x': {MODES_USAGE}")
            browser.say(driver, "/room mode +k")
            wait_for_line(driver, "+k takes a key")
            browser.say(driver, "/ban")
            wait_for_line(driver, "usage: /ban [-g] MASK [TIME] [WHY]")
            browser.say(driver, "/invex")
            wait_for_line(driver, "usage: /invex MASK [TIME] [WHY]")
            browser.say(driver, "/help")
            wait_for_line(driver, "/unmute [-g] MASK")
            wait_for_line(driver, "/uninvex MASK")

    await run(scenario)
    # A rank given, the member list is asked for again.
    assert [r["room"] for r in server.requests if r["type"] == "members"] == ["lobby", "lobby"]


@pytest_twisted.ensureDeferred
async def test_moderation_as_the_user_sees_it(server: ScriptedServer) -> None:
    port = server.listen()
    server.after_sign_on[0] = {
        "type": "entered",
        "room": {
            **room(
                "lobby",
                {**member("alice"), "rank": None},
                {**member("bob", True), "rank": "owner"},
                {**member("carol", True), "rank": "operator"},
            ),
            "invite_only": False,
            "moderated": False,
            "registered": True,
        },
    }
    server.answers["join"] = lambda r: {
        "room": {**room(r["room"], member("alice")), "invite_only": True}
    }
    server.answers["members"] = lambda r: {"room": r["room"], "members": [member("alice")]}
    server.answers["topic"] = lambda r: {"room": r["room"], "topic": None}
    badges = "return [...document.querySelectorAll('#room-modes .mode')].map((e) => e.textContent)"

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            # owners and operators marked, first
            marks = lambda d: [  # noqa: E731
                (li.get_attribute("data-nick"), li.find_element(By.CSS_SELECTOR, ".op-mark").text)
                for li in d.find_elements(By.CSS_SELECTOR, "#member-list li")
            ]
            wait_for(
                driver,
                lambda d: marks(d) == [("bob", "~"), ("carol", "@"), ("alice", "")],
                "the ranks",
            )
            assert driver.execute_script(badges) == ["registered"]
            assert driver.find_elements(By.CSS_SELECTOR, "#member-list .kick") == []
            send = lambda frame: on_reactor(server.send, frame)  # noqa: E731
            rank = {"type": "rank", "room": "lobby", "account": "carol", "by": "bob"}
            send({**rank, "rank": "owner", "was": "operator", "nicks": ["carol"]})
            wait_for_line(driver, "bob made carol an owner of lobby")
            wait_for(
                driver,
                lambda d: marks(d) == [("bob", "~"), ("carol", "~"), ("alice", "")],
                "carol an owner",
            )
            send({**rank, "rank": "operator", "was": "owner", "nicks": ["carol"]})
            wait_for(
                driver,
                lambda d: marks(d) == [("bob", "~"), ("carol", "@"), ("alice", "")],
                "carol an operator again",
            )
            mode = {"type": "mode", "room": "lobby", "by": "bob"}
            send({**mode, "changes": [{"mode": "m", "on": True}]})
            wait_for_line(
                driver, "bob set +m (moderated: only its operators and voiced members may speak)"
            )
            assert driver.execute_script(badges) == ["moderated", "registered"]
            # a voice: marked after the operators, and listed so
            voice = {"type": "voice", "room": "lobby", "nick": "alice", "by": "bob"}
            send({**voice, "given": True})
            wait_for_line(driver, "bob gave alice a voice in lobby")
            wait_for(
                driver,
                lambda d: marks(d) == [("bob", "~"), ("carol", "@"), ("alice", "+")],
                "alice voiced",
            )
            item = driver.find_element(By.CSS_SELECTOR, "#member-list li[data-nick=alice]")
            assert item.get_attribute("aria-label") == "alice, voiced, you"
            # a key and a limit, in the header; the key not in the log
            keyed = [
                {"mode": "k", "on": True, "value": "beer"},
                {"mode": "l", "on": True, "value": 20},
            ]
            send({**mode, "changes": [*keyed, {"mode": "t", "on": False}]})
            wait_for_line(
                driver,
                "bob set +k, +l 20, -t (a key to join; 20 members at most;"
                " any member may set the topic)",
            )
            assert "beer" not in browser.log_text(driver)
            assert driver.execute_script(badges) == [
                "key",
                "limit 20",
                "moderated",
                "topic open",
                "registered",
            ]
            titles = (
                "return [...document.querySelectorAll('#room-modes .mode')].map((e) => e.title)"
            )
            assert driver.execute_script(titles)[0] == "Joining it takes the key beer (+k)"
            # -t: anyone in the room may edit its topic
            wait_for(
                driver,
                lambda d: d.find_element(By.ID, "topic-edit").is_displayed(),
                "the topic open to alice",
            )
            unkeyed = [{"mode": "k", "on": False}, {"mode": "l", "on": False}]
            send({**mode, "changes": [*unkeyed, {"mode": "t", "on": True}]})
            wait_for(
                driver,
                lambda d: d.execute_script(badges) == ["moderated", "registered"],
                "the key and the limit gone",
            )
            assert not driver.find_element(By.ID, "topic-edit").is_displayed()
            send({**voice, "given": False})
            wait_for_line(driver, "bob took alice's voice in lobby")
            wait_for(
                driver,
                lambda d: marks(d) == [("bob", "~"), ("carol", "@"), ("alice", "")],
                "alice's voice taken",
            )
            banned = {"type": "ban-list", "room": "lobby", "by": "bob", "on": True, "kind": "ban"}
            banned |= {"mask": "nick:spam*", "until": T0 + 7200, "left": 7200.0, "reason": "flood"}
            send(banned)
            wait_for_line(driver, "bob banned nick:spam* in lobby for 2h (flood)")
            send({**banned, "kind": "mute", "until": None, "left": None, "reason": None})
            wait_for_line(driver, "bob muted nick:spam* in lobby for good")
            send({**banned, "on": False, "until": None, "left": None, "reason": None})
            wait_for_line(driver, "bob lifted the ban of nick:spam* in lobby")
            send({**banned, "on": False, "expired": True, "until": None, "left": None})
            wait_for_line(driver, "The ban of nick:spam* in lobby ran out")
            excepted = {**banned, "kind": "exception", "mask": "account:carol", "reason": None}
            send(excepted)
            wait_for_line(driver, "bob let account:carol past the bans and mutes of lobby for 2h")
            send({**excepted, "kind": "invitation", "until": None, "left": None})
            wait_for_line(driver, "bob let account:carol into lobby uninvited for good")
            send({**excepted, "on": False, "until": None, "left": None})
            wait_for_line(driver, "bob lifted the exception of account:carol in lobby")
            send({**excepted, "kind": "invitation", "on": False, "expired": True})
            wait_for_line(driver, "The invitation of account:carol in lobby ran out")
            send(
                {
                    "type": "sanctioned",
                    "nick": "alice",
                    "kind": "mute",
                    "room": "lobby",
                    "by": "bob",
                    "reason": "calm down",
                    "until": T0 + 600,
                    "left": 600.0,
                    "given": True,
                    "text": "you are muted in lobby for 10m (until 2025-12-01 19:13 UTC): "
                    "calm down",
                }
            )
            wait_for_line(
                driver,
                "You are muted in lobby for 10m (until 2025-12-01 19:13 UTC): calm down (by bob)",
            )
            alert = driver.find_element(By.CSS_SELECTOR, "#log .sanction [role=alert]")
            assert alert.text.startswith("You are muted in lobby")
            assert driver.execute_script(badges)[-1].startswith("muted until ")
            # Set again for half a second: its badge goes when it runs out.
            send(
                {
                    "type": "sanctioned",
                    "nick": "alice",
                    "kind": "mute",
                    "room": "lobby",
                    "by": "bob",
                    "reason": None,
                    "until": T0 + 0.5,
                    "left": 0.5,
                    "given": True,
                    "text": "you are muted in lobby for 1s (until 2025-12-01 19:03 UTC)",
                }
            )
            wait_for_line(
                driver, "You are muted in lobby for 1s (until 2025-12-01 19:03 UTC) (by bob)"
            )
            wait_for(
                driver,
                lambda d: d.execute_script(badges) == ["moderated", "registered"],
                "the mute's badge gone when it ran out",
            )
            send(
                {
                    "type": "removed",
                    "room": "lobby",
                    "nick": "carol",
                    "by": "bob",
                    "reason": "<i>off topic</i>",
                    "to": None,
                }
            )
            wait_for_line(driver, "carol was put out of lobby by bob (<i>off topic</i>)")
            assert "carol" not in driver.find_element(By.ID, "member-list").text
            send({"type": "invited", "room": "attic", "nick": "alice", "by": "bob"})
            wait_for_line(driver, "bob invites you to attic: /join attic")
            # put out of a room: closed, its log kept; out of the last: back in the lobby
            browser.say(driver, "/join attic")
            wait_for(driver, lambda d: d.execute_script(badges) == ["invite-only"], "in attic")
            send(
                {
                    "type": "removed",
                    "room": "attic",
                    "nick": "alice",
                    "by": "bob",
                    "reason": None,
                    "to": None,
                }
            )
            wait_for_line(driver, "You were put out of attic by bob.")
            assert driver.execute_script(badges) == ["not joined"]
            browser.select(driver, "room:lobby")
            send(
                {
                    "type": "removed",
                    "room": "lobby",
                    "nick": "alice",
                    "by": "bob",
                    "reason": "banned: spam",
                    "to": "lobby",
                }
            )
            wait_for_line(
                driver, "You were put out of lobby by bob (banned: spam). You are back in lobby."
            )
            wait_for_line(driver, "You are back in lobby.")
            # a guest's nickname taken by its owner
            send(
                {
                    "type": "nick-released",
                    "old": "alice",
                    "new": "alice_1",
                    "text": [
                        "The nickname alice is registered, and its owner signed on: "
                        "you are alice_1 now"
                    ],
                }
            )
            wait_for(
                driver, lambda d: d.find_element(By.ID, "own-nick").text == "alice_1", "renamed"
            )
            wait_for_line(driver, "its owner signed on: you are alice_1 now")
            # banned from the chat: why and for how long, on the sign-on screen
            send(
                {
                    "type": "sanctioned",
                    "nick": "alice_1",
                    "kind": "ban",
                    "room": None,
                    "by": "root",
                    "reason": "flood",
                    "until": None,
                    "left": None,
                    "given": True,
                    "text": "you are banned from the chat for good: flood",
                }
            )
            send(
                {
                    "type": "kicked",
                    "room": "lobby",
                    "nick": "alice_1",
                    "by": "root",
                    "reason": "banned: flood",
                }
            )
            on_reactor(server.goodbye, "kicked", "root kicked you out: banned: flood")
            wait_for(driver, lambda d: d.find_element(By.ID, "signon").is_displayed(), "signed off")
            assert (
                driver.find_element(By.ID, "signon-error").text
                == "You are banned from the chat for good: flood."
            )

    await run(scenario)
    assert [r["room"] for r in server.requests if r["type"] in ("members", "topic")] == [
        "lobby",
        "lobby",
    ]


@pytest_twisted.ensureDeferred
async def test_a_banned_user_signing_on_is_told_why_and_for_how_long(
    server: ScriptedServer,
) -> None:
    port = server.listen()
    text = "you are banned from the chat for 1h 59m (until 2025-12-01 21:03 UTC): flood"

    def sign_on(r: Frame) -> Frame:
        raise Refusal({"code": "banned", "message": text, "sanction": SANCTION, "left": 7140.0})

    server.answers["sign-on"] = sign_on

    def scenario() -> None:
        with browser.chromium() as driver:
            driver.get(f"http://127.0.0.1:{port}/")
            browser.signon_form(driver).send_keys("bob", Keys.ENTER)
            wait_for(
                driver,
                lambda d: d.find_element(By.ID, "signon-error").text == f"Y{text[1:]}.",
                "the ban's reason",
            )
            assert not driver.find_element(By.ID, "signon-password-row").is_displayed()
            assert not driver.find_element(By.ID, "chat").is_displayed()

    await run(scenario)


@pytest_twisted.ensureDeferred
async def test_the_account_panel(server: ScriptedServer) -> None:
    port = server.listen()
    server.answers["hello"] = lambda r: {
        **hello_reply(r),
        "registration": True,
        "limits": {"max_upload": 1 << 20, "min_password": 8},
    }
    registered: list[str] = []

    def register(r: Frame) -> Frame:
        if len(r["password"]) < 8:
            raise Refusal(
                {"code": "weak-password", "message": "a password is at least 8 characters"}
            )
        registered.append(r["password"])
        return {"account": "alice", "text": ["You registered the account alice"]}

    def change(r: Frame) -> Frame:
        if r["old"] != "wonderland":
            raise Refusal(
                {"code": "wrong-password", "message": "that is not your password; nothing changed"}
            )
        return {"account": "alice", "text": ["The password of alice is changed"]}

    server.answers["register"] = register
    server.answers["password"] = change
    server.answers["unregister"] = lambda r: {"account": "alice", "text": ["deleted"]}

    def typed(driver: WebDriver, values: dict[str, str]) -> None:
        for name, value in values.items():
            field = driver.find_element(By.ID, name)
            field.clear()
            field.send_keys(value)

    def error(driver: WebDriver, form: str, text: str) -> None:
        wait_for(driver, lambda d: d.find_element(By.ID, f"{form}-error").text == text, text)

    def scenario() -> None:
        with browser.chromium() as driver:
            browser.sign_on(driver, f"http://127.0.0.1:{port}/", "alice")
            driver.find_element(By.ID, "account-button").click()
            dialog = browser.element(driver, "#account-dialog", "the account panel", shown=True)
            assert "a guest" in driver.find_element(By.ID, "account-status").text
            assert "Register alice" in dialog.text
            assert "At least 8 characters." in dialog.text
            assert not driver.find_element(By.ID, "password-form").is_displayed()
            typed(driver, {"register-password": "wonderland", "register-confirm": "wonderlnad"})
            driver.find_element(By.ID, "register-submit").click()
            error(driver, "register", "The two passwords differ.")
            assert requests(server, "register") == []
            typed(driver, {"register-password": "short", "register-confirm": "short"})
            driver.find_element(By.ID, "register-submit").click()
            error(driver, "register", "a password is at least 8 characters")
            typed(driver, {"register-password": "wonderland", "register-confirm": "wonderland"})
            driver.find_element(By.ID, "register-submit").click()
            browser.element(driver, "#password-form", "the change of password", shown=True)
            assert not driver.find_element(By.ID, "register-form").is_displayed()
            status = driver.find_element(By.ID, "account-status").text
            assert status == (
                "Registered: from now on, signing on as this nickname asks for this password."
            )
            # a wrong password now, then the right one
            typed(
                driver,
                {
                    "password-old": "nope",
                    "password-new": "looking-glass",
                    "password-confirm": "looking-glass",
                },
            )
            driver.find_element(By.ID, "password-submit").click()
            error(driver, "password", "that is not your password; nothing changed")
            typed(
                driver,
                {
                    "password-old": "wonderland",
                    "password-new": "looking-glass",
                    "password-confirm": "looking-glass",
                },
            )
            driver.find_element(By.ID, "password-submit").click()
            wait_for(
                driver,
                lambda d: (
                    d.find_element(By.ID, "account-status").text == "Your password is changed."
                ),
                "changed",
            )
            credentials = "return window.chatsvc.credentials"
            assert driver.execute_script(credentials) == {
                "nick": "alice",
                "password": "looking-glass",
            }
            # deleting takes the box ticked
            driver.find_element(By.ID, "unregister-submit").click()
            error(driver, "unregister", "Tick the box to say you mean it.")
            assert requests(server, "unregister") == []
            driver.find_element(By.ID, "unregister-confirm").click()
            driver.find_element(By.ID, "unregister-submit").click()
            browser.element(driver, "#register-form", "the registration again", shown=True)
            assert driver.execute_script(credentials) == {"nick": "alice", "password": None}
            driver.find_element(By.ID, "account-close").click()
            wait_for(
                driver,
                lambda d: not d.find_element(By.ID, "account-dialog").is_displayed(),
                "closed",
            )
            # /account opens it too
            browser.say(driver, "/account")
            browser.element(driver, "#account-dialog", "the account panel", shown=True)

    await run(scenario)
    assert registered == ["wonderland"]
    assert [r["old"] for r in server.requests if r["type"] == "password"] == ["nope", "wonderland"]
