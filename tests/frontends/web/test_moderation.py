"""
Accounts and moderation on the WebSocket (L{chatsvc.frontends.web.connection}),
in memory as L{tests.frontends.web.test_connection} has it: the typed
requests (C{register}, C{password}, C{unregister}, C{oper}, C{room-*},
C{voice}, C{ban}, C{mute}, C{except}, C{invex}, their lifting, C{bans},
C{invite}, room kicks),
their replies and error codes, the events the others get (C{removed},
C{mode}, C{voice}, C{sanctioned}, C{nick-released}), ranks and voices in
member lists, a banned user's sign-on; what a room's modes do (a key, a
limit, secret, words from outside, a topic open to all); the slash commands
typed in a room, run in that room; and hostile fields (wrong types, huge
masks, bad durations, unknown modes, keys and limits that cannot be).
"""

from __future__ import annotations

from typing import Any

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.accounts import Accounts, ChatRealm, hash_password
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.model import Chat
from chatsvc.registry import MemoryRegistry
from chatsvc.sessions.registration import Registrar
from chatsvc.streams.limits import Limits
from chatsvc.testing import FakeHistory
from tests.frontends.web.test_connection import User, Web, types
from tests.frontends.web.test_wire import NEW_ROOM
from tests.support import make_factory

T0 = 1764615780.0


def quick_hash(password: bytes) -> Deferred[str]:
    return succeed(hash_password(password, n=2))


def moderated_web(case: SynchronousTestCase, *, registration: bool = True) -> tuple[Web, Registrar]:
    """
    A web frontend whose users register accounts themselves (kept in a
    L{MemoryRegistry}), beside C{Root}, an operator of the configuration
    (password C{t00r}); the clock starts at L{T0}.
    """
    clock = Clock()
    clock.advance(T0)
    registered = RegisteredAccounts(run_in_thread=lambda f, a: succeed(f(a)))
    accounts = Accounts([InMemoryUsernamePasswordDatabaseDontUse(Root=b"t00r"), registered])
    chat = Chat(accounts=accounts, clock=clock.seconds)
    registry = MemoryRegistry()
    registrar = Registrar(registered, registry, clock, open=registration, hash=quick_hash)
    server = make_factory(
        chat=chat,
        clock=clock,
        portal=Portal(ChatRealm(["Root"]), [accounts]),
        history=FakeHistory(Clock()),
        limits=Limits(rate=0),
        registry=registry,
        registrar=registrar,
    )
    return Web(case, server), registrar


def registered(web: Web, nick: str, address: str = "192.0.2.1") -> User:
    """C{nick}, signed on (from C{address}) and registered with the password C{nick * 4}."""
    user = web.signed_on(nick, address=address)
    reply = user.answer("register", password=nick * 4)
    assert reply["type"] == "reply", reply
    user.take()
    return user


class AccountTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.web, self.registrar = moderated_web(self)
        self.maxDiff = None

    def test_hello_says_whether_one_may_register(self) -> None:
        user = self.web.connect()
        reply = user.answer("hello", versions=[1])
        self.assertEqual((reply["registration"], reply["limits"]["min_password"]), (True, 8))
        self.registrar.open = False
        self.assertFalse(user.answer("hello", versions=[1])["registration"])

    def test_register_change_the_password_and_unregister(self) -> None:
        alice = self.web.signed_on("alice")
        self.assertEqual(
            alice.answer("register", password="wonderland"),
            {
                "type": "reply",
                "id": alice.client.ids,
                "account": "alice",
                "text": [
                    "You registered the account alice and are logged in to it; "
                    "from now on, signing on as it asks for its password"
                ],
            },
        )
        self.assertEqual(
            alice.answer("password", old="wonderland", new="looking-glass"),
            {
                "type": "reply",
                "id": alice.client.ids,
                "account": "alice",
                "text": ["The password of alice is changed"],
            },
        )
        wrong = alice.answer("password", old="wonderland", new="whatever-else")
        self.assertEqual(
            (wrong["code"], wrong["message"]),
            ("wrong-password", "that is not your password; nothing changed"),
        )
        # Signing on again asks for the new password.
        alice.request("quit")
        alice.take()
        again = self.web.connect()
        again.answer("hello", versions=[1])
        self.assertEqual(again.answer("sign-on", nick="alice")["code"], "password-required")
        reply = again.answer("sign-on", nick="alice", password="looking-glass")
        self.assertEqual((reply["nick"], reply["account"]), ("alice", "alice"))
        self.assertEqual(
            again.answer("unregister"),
            {
                "type": "reply",
                "id": again.client.ids,
                "account": "alice",
                "text": ["The account alice is deleted; you are a guest now"],
            },
        )
        self.assertEqual(again.answer("unregister")["code"], "not-logged-in")

    def test_refusals_have_codes(self) -> None:
        alice = self.web.signed_on("alice")
        short = alice.answer("register", password="short")
        self.assertEqual(
            (short["code"], short["message"]),
            ("weak-password", "a password is at least 8 characters"),
        )
        self.assertEqual(alice.answer("register", password="x" * 257)["code"], "weak-password")
        self.assertEqual(alice.answer("register", password=12345678)["code"], "bad-request")
        self.assertEqual(alice.answer("register")["code"], "bad-request")
        self.assertEqual(alice.answer("password", old="a", new=None)["code"], "bad-request")
        self.assertEqual(alice.answer("password", old="a", new="b" * 9)["code"], "not-logged-in")
        alice.answer("register", password="wonderland")
        self.assertEqual(
            alice.answer("register", password="wonderland")["code"], "already-registered"
        )
        root = self.web.signed_on("root", "t00r")
        kept = root.answer("unregister")
        self.assertEqual(kept["code"], "not-allowed")
        self.registrar.open = False
        bob = self.web.signed_on("bob")
        closed = bob.answer("register", password="builder-bob")
        self.assertEqual(
            (closed["code"], closed["message"]),
            ("registration-closed", "registration is closed on this server: ask its operators"),
        )

    def test_too_many_registrations_from_one_address(self) -> None:
        for nick in ("ann", "ben", "cat"):
            registered(self.web, nick)
        dan = self.web.signed_on("dan")
        refused = dan.answer("register", password="dandandan")
        self.assertEqual(
            (refused["code"], refused["message"]),
            (
                "too-many-registrations",
                "too many accounts registered from your address; try again in 1h",
            ),
        )
        elsewhere = self.web.signed_on("eve", address="198.51.100.7")
        self.assertEqual(elsewhere.answer("register", password="eveeveeve")["account"], "eve")

    def test_a_guest_on_a_registered_nickname_is_released_to_its_owner(self) -> None:
        guest = self.web.signed_on("carol")
        self.registrar.accounts.add("carol", hash_password(b"carolcarol", n=2))
        owner = self.web.connect()
        owner.answer("hello", versions=[1])
        self.assertEqual(
            owner.answer("sign-on", nick="carol", password="carolcarol")["nick"], "carol"
        )
        got = guest.take()
        self.assertEqual(
            got[0],
            {
                "type": "nick-released",
                "old": "carol",
                "new": "carol_1",
                "text": [
                    "The nickname carol is registered, and its owner signed on: you are carol_1 now"
                ],
            },
        )

    def test_run_time_operators(self) -> None:
        root = self.web.signed_on("root", "t00r")
        alice = registered(self.web, "alice")
        self.assertEqual(alice.answer("oper", account="alice")["code"], "not-operator")
        self.assertEqual(
            root.answer("oper", account="alice"),
            {
                "type": "reply",
                "id": root.client.ids,
                "account": "alice",
                "operator": True,
                "text": ["alice is now a server operator"],
            },
        )
        self.assertEqual(alice.answer("stats")["type"], "reply")
        revoked = root.answer("oper", account="alice", given=False)
        self.assertEqual(revoked["operator"], False)
        self.assertEqual(root.answer("oper", account="nobody")["code"], "no-such-account")
        self.assertEqual(root.answer("oper", account="alice", given="yes")["code"], "bad-request")
        self.assertEqual(root.answer("oper", account=["alice"])["code"], "bad-request")


class InDev(SynchronousTestCase):
    """alice, registered, and bob, a guest, in dev: alice made it, and operates it."""

    def setUp(self) -> None:
        self.web, _ = moderated_web(self)
        self.maxDiff = None
        self.alice = registered(self.web, "alice")
        self.bob = self.web.signed_on("bob")
        self.alice.answer("join", room="dev")
        self.bob.answer("join", room="dev")
        self.alice.take()
        self.bob.take()


class RoomTests(InDev):
    def test_register_a_room_and_rank_its_members(self) -> None:
        self.assertEqual(
            self.alice.answer("room-register", room="dev"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                "registered": True,
                "text": ["You registered dev, and own it; it stays when everyone has left"],
            },
        )
        self.assertEqual(
            self.alice.answer("members", room="dev")["members"],
            [
                {"nick": "alice", "operator": True, "rank": "owner", "voiced": False, "away": None},
                {"nick": "bob", "operator": False, "rank": None, "voiced": False, "away": None},
            ],
        )
        self.assertEqual(
            self.alice.answer("room-rank", room="dev", account="bob", rank="operator")["code"],
            "no-such-account",
        )
        carol = registered(self.web, "carol")
        carol.answer("join", room="dev")
        self.assertEqual(
            self.alice.answer("room-rank", room="dev", account="carol", rank="operator"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                "account": "carol",
                "rank": "operator",
                "changed": True,
                "text": ["carol is an operator of dev now"],
            },
        )
        made = {
            "type": "rank",
            "room": "dev",
            "account": "carol",
            "rank": "operator",
            "was": None,
            "by": "alice",
            "nicks": ["carol"],
        }
        self.assertEqual(self.bob.events("rank"), [made], "the room is told")
        self.assertEqual(self.alice.events("rank"), [made])
        self.assertEqual(
            carol.answer("members", room="dev")["members"][2],
            {"nick": "carol", "operator": True, "rank": "operator", "voiced": False, "away": None},
        )
        self.assertEqual(
            carol.answer("room-rank", room="dev", account="carol", rank="owner")["code"],
            "not-allowed",
        )
        self.assertEqual(
            self.alice.answer("room-rank", room="dev", account="carol", rank="god")["code"],
            "bad-request",
        )
        self.assertEqual(
            self.alice.answer("room-rank", room="dev", account="carol")["code"], "bad-request"
        )
        entered = carol.answer("join", room="lobby")
        self.assertEqual(entered["code"], "already-in-room")
        self.assertEqual(self.alice.answer("room-register", room="dev")["code"], "room-registered")
        self.assertEqual(self.bob.answer("room-unregister", room="dev")["code"], "not-allowed")
        self.assertEqual(self.alice.answer("room-unregister", room="dev")["registered"], False)
        self.assertEqual(
            self.alice.answer("room-unregister", room="dev")["code"], "room-not-registered"
        )

    def test_modes(self) -> None:
        self.assertEqual(
            self.alice.answer("room-mode", room="dev", mode="m", on=True),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                **NEW_ROOM,
                "moderated": True,
            },
        )
        self.assertEqual(
            self.bob.take(),
            [
                {
                    "type": "mode",
                    "room": "dev",
                    "by": "alice",
                    "changes": [{"mode": "m", "on": True}],
                }
            ],
        )
        said = self.bob.answer("say", room="dev", text="hello?")
        self.assertEqual(
            (said["code"], said["message"]),
            ("moderated", "dev is moderated: only its operators and voiced members may speak"),
        )
        self.assertEqual(
            self.bob.answer("room-mode", room="dev", mode="i", on=True)["code"], "not-operator"
        )
        for bad in ("x", "+i", "", "im", None, 1, ["i"]):
            self.assertEqual(
                self.alice.answer("room-mode", room="dev", mode=bad, on=True)["code"],
                "unknown-mode",
                bad,
            )
        self.assertEqual(
            self.alice.answer("room-mode", room="dev", mode="i")["code"], "bad-request"
        )
        self.assertEqual(
            self.alice.answer("room-mode", room="dev", mode="i", on="on")["code"], "bad-request"
        )
        self.assertEqual(
            self.alice.answer("room-mode", room="attic", mode="i", on=True)["code"], "not-in-room"
        )
        # Set again, nothing changes: the reply, and no event.
        self.assertEqual(
            self.alice.answer("room-mode", room="dev", mode="m", on=True)["moderated"], True
        )
        self.assertEqual(self.bob.events("mode"), [])

    def test_several_modes_at_once_are_one_event(self) -> None:
        changes = [
            {"mode": "k", "on": True, "value": "beer"},
            {"mode": "l", "on": True, "value": 20},
            {"mode": "s", "on": True},
            {"mode": "n", "on": False},
            {"mode": "t", "on": False},
            {"mode": "i", "on": False},  # off already: not in the event
        ]
        reply = self.alice.answer("room-mode", room="dev", changes=changes)
        self.assertEqual(
            reply,
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                **NEW_ROOM,
                "key": "beer",
                "limit": 20,
                "secret": True,
                "members_only": False,
                "topic_locked": False,
            },
        )
        made = [
            {"mode": "k", "on": True, "value": "beer"},
            {"mode": "l", "on": True, "value": 20},
            {"mode": "s", "on": True},
            {"mode": "n", "on": False},
            {"mode": "t", "on": False},
        ]
        for user in (self.alice, self.bob):
            self.assertEqual(
                user.events("mode"),
                [{"type": "mode", "room": "dev", "by": "alice", "changes": made}],
            )
        # What a member sees of the room when it enters: the key too.
        self.bob.answer("leave", room="dev")
        entered = self.bob.answer("join", room="dev", key="beer")["room"]
        self.assertEqual(
            {k: entered[k] for k in NEW_ROOM},
            {**NEW_ROOM, **{k: reply[k] for k in NEW_ROOM}},
        )
        cleared = [{"mode": "k", "on": False}, {"mode": "l", "on": False, "value": 7}]
        self.alice.take()
        reply = self.alice.answer("room-mode", room="dev", changes=cleared)
        self.assertEqual((reply["key"], reply["limit"]), (None, None))
        self.assertEqual(
            self.bob.events("mode")[0]["changes"],
            [{"mode": "k", "on": False}, {"mode": "l", "on": False}],
        )

    def test_a_bad_key_or_limit_changes_nothing_and_says_why(self) -> None:
        for change, message in (
            ({"mode": "k", "on": True}, "give the key: +k KEY"),
            ({"mode": "k", "on": True, "value": "a b"}, "a room key has no spaces, commas or"),
            ({"mode": "k", "on": True, "value": "k" * 24}, "a room key is 23 characters at most"),
            ({"mode": "k", "on": True, "value": 42}, "'value' must be a key (a string) for k"),
            ({"mode": "l", "on": True, "value": 0}, "the most members is from 1 to 1000000"),
            ({"mode": "l", "on": True, "value": "x"}, "give the most members as a whole number"),
        ):
            fields = {"changes": [{"mode": "i", "on": True}, change]}
            refused = self.alice.answer("room-mode", room="dev", **fields)
            self.assertEqual(
                (refused["code"], refused["mode"]), ("bad-mode-value", change["mode"]), change
            )
            self.assertTrue(refused["message"].startswith(message), refused)
        self.assertEqual(self.bob.take(), [], "not even the +i before it")
        self.assertFalse(self.web.server.chat.room("dev").invite_only)

    def test_a_key(self) -> None:
        self.alice.answer("room-mode", room="dev", mode="k", on=True, value="beer")
        self.bob.answer("leave", room="dev")
        for given in ({}, {"key": "stout"}, {"key": None}):
            refused = self.bob.answer("join", room="dev", **given)
            self.assertEqual(
                (refused["code"], refused["message"]),
                ("bad-key", "dev has a key: join it with the right one (/join dev KEY)"),
                given,
            )
        self.assertEqual(self.bob.answer("join", room="dev", key=7)["code"], "bad-request")
        joined = self.bob.answer("join", room="dev", key="beer")
        self.assertEqual((joined["room"]["name"], joined["room"]["key"]), ("dev", "beer"))
        # An operator's invitation lets one in once without it.
        self.bob.answer("leave", room="dev")
        self.alice.answer("invite", room="dev", nick="bob")
        self.assertEqual(self.bob.answer("join", room="dev")["room"]["name"], "dev")

    def test_a_limit(self) -> None:
        self.alice.answer("room-mode", room="dev", mode="l", on=True, value="2")
        carol = self.web.signed_on("carol")
        refused = carol.answer("join", room="dev")
        self.assertEqual(
            (refused["code"], refused["message"]),
            ("room-full", "dev is full: it takes 2 members at most"),
        )
        self.bob.answer("leave", room="dev")
        self.assertEqual(carol.answer("join", room="dev")["room"]["limit"], 2)

    def test_voice(self) -> None:
        self.assertEqual(
            self.alice.answer("voice", room="dev", nick="BOB"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                "nick": "bob",
                "voiced": True,
            },
        )
        given = {"type": "voice", "room": "dev", "nick": "bob", "by": "alice", "given": True}
        self.assertEqual(self.alice.events("voice"), [given])
        self.assertEqual(self.bob.events("voice"), [given])
        members = self.bob.answer("members", room="dev")["members"]
        self.assertEqual(
            [(m["nick"], m["voiced"]) for m in members], [("alice", False), ("bob", True)]
        )
        # Voiced, bob speaks in a moderated room.
        self.alice.answer("room-mode", room="dev", mode="m", on=True)
        self.assertEqual(self.bob.answer("say", room="dev", text="may I?")["type"], "reply")
        # Given again: nothing changes, and nobody is told.
        self.assertTrue(self.alice.answer("voice", room="dev", nick="bob")["voiced"])
        self.assertEqual(self.bob.events("voice"), [])
        self.assertFalse(self.alice.answer("voice", room="dev", nick="bob", given=False)["voiced"])
        self.assertEqual(self.bob.events("voice"), [{**given, "given": False}])
        self.assertEqual(self.bob.answer("say", room="dev", text="and now?")["code"], "moderated")
        carol = self.web.signed_on("carol")
        for user, fields, code in (
            (self.bob, {"room": "dev", "nick": "alice"}, "not-operator"),
            (self.alice, {"room": "dev", "nick": "carol"}, "not-a-member"),
            (self.alice, {"room": "dev", "nick": "nobody"}, "no-such-user"),
            (self.alice, {"room": "attic", "nick": "bob"}, "not-in-room"),
            (carol, {"room": "dev", "nick": "bob"}, "not-in-room"),
            (self.alice, {"room": "dev"}, "bad-request"),
            (self.alice, {"nick": "bob"}, "bad-request"),
            (self.alice, {"room": "dev", "nick": "bob", "given": "no"}, "bad-request"),
        ):
            self.assertEqual(user.answer("voice", **fields)["code"], code, fields)
        # A member who joins has no voice.
        carol.answer("join", room="dev")
        (joined,) = [e for e in self.bob.events("joined") if e["room"] == "dev"]
        self.assertEqual(joined["member"]["nick"], "carol")
        self.assertFalse(joined["member"]["voiced"])

    def test_a_secret_room_is_not_shown_to_those_outside_it(self) -> None:
        self.alice.answer("room-mode", room="dev", mode="s", on=True)
        carol = self.web.signed_on("carol")
        listed = [r["name"] for r in carol.answer("rooms")["rooms"]]
        self.assertNotIn("dev", listed)
        for kind, fields in (
            ("members", {}),
            ("topic", {}),
            ("history", {}),
            ("search", {"words": "x"}),
        ):
            self.assertEqual(carol.answer(kind, room="dev", **fields)["code"], "no-such-room")
        self.assertIn("dev", [r["name"] for r in self.bob.answer("rooms")["rooms"]])
        self.assertEqual(len(self.bob.answer("members", room="dev")["members"]), 2)
        root = self.web.signed_on("root", "t00r")  # a server operator sees it
        self.assertIn("dev", [r["name"] for r in root.answer("rooms")["rooms"]])
        # Typed, the same.
        typed = carol.answer("command", line="/rooms", room="lobby")
        self.assertNotIn("dev", [r["name"] for r in typed["rooms"]])
        typed = carol.answer("command", line="/who dev", room="lobby")
        self.assertEqual(typed["code"], "no-such-room")

    def test_words_from_outside_a_room_that_takes_them(self) -> None:
        carol = self.web.signed_on("carol")
        self.assertEqual(carol.answer("say", room="dev", text="hi")["code"], "not-in-room")
        self.alice.answer("room-mode", room="dev", mode="n", on=False)
        self.bob.take()
        said = carol.answer("say", room="dev", text="hi from outside")
        self.assertEqual(said["message"]["text"], "hi from outside")
        (got,) = self.bob.events("message")
        self.assertEqual((got["room"], got["nick"]), ("dev", "carol"))
        self.assertEqual(carol.answer("me", room="dev", text="waves")["message"]["type"], "action")

    def test_a_topic_any_member_may_set(self) -> None:
        self.assertEqual(self.bob.answer("topic", room="dev", text="mine")["code"], "not-operator")
        self.alice.answer("room-mode", room="dev", mode="t", on=False)
        reply = self.bob.answer("topic", room="dev", text="mine")
        self.assertEqual(reply["topic"]["text"], "mine")

    def test_invite_only(self) -> None:
        self.bob.answer("leave", room="dev")
        self.alice.answer("room-mode", room="dev", mode="i", on=True)
        refused = self.bob.answer("join", room="dev")
        self.assertEqual(
            (refused["code"], refused["message"]),
            ("invite-only", "dev is invite-only: an operator of it must /invite you"),
        )
        self.assertEqual(
            self.alice.answer("invite", room="dev", nick="bob"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                "nick": "bob",
                "away": None,
            },
        )
        (invited,) = self.bob.events("invited")
        self.assertEqual(invited, {"type": "invited", "room": "dev", "nick": "bob", "by": "alice"})
        joined = self.bob.answer("join", room="dev")
        self.assertEqual(joined["room"]["invite_only"], True)
        self.assertEqual(
            self.alice.answer("invite", room="dev", nick="bob")["code"], "already-a-member"
        )
        self.assertEqual(self.alice.answer("invite", nick="bob")["code"], "bad-request")

    def test_a_room_kick(self) -> None:
        self.assertEqual(self.bob.answer("kick", room="dev", nick="alice")["code"], "not-operator")
        self.assertEqual(
            self.alice.answer("kick", room="dev", nick="bob", reason="off topic"),
            {"type": "reply", "id": self.alice.client.ids},
        )
        removed = {
            "type": "removed",
            "room": "dev",
            "nick": "bob",
            "by": "alice",
            "reason": "off topic",
        }
        self.assertEqual(self.alice.events("removed"), [{**removed, "to": None}])
        # bob is in the lobby still: the room is closed, nothing else.
        self.assertEqual(self.bob.events("removed"), [{**removed, "to": None}])
        self.assertEqual(self.bob.answer("say", room="dev", text="x")["code"], "not-in-room")
        self.assertEqual(self.bob.answer("say", room="lobby", text="x")["type"], "reply")
        self.assertEqual(self.alice.answer("kick", room="dev", nick="bob")["code"], "not-a-member")

    def test_a_room_kick_from_the_last_room_is_back_to_the_lobby(self) -> None:
        self.bob.answer("leave", room="lobby")
        self.alice.answer("kick", room="dev", nick="bob")
        got = self.bob.take()
        self.assertEqual(
            got[0],
            {
                "type": "removed",
                "room": "dev",
                "nick": "bob",
                "by": "alice",
                "reason": None,
                "to": "lobby",
            },
        )

    def test_a_server_operator_kicks_from_a_room_or_from_the_chat(self) -> None:
        root = self.web.signed_on("root", "t00r")
        root.answer("join", room="dev")
        self.bob.take()
        root.answer("kick", room="dev", nick="bob")
        self.assertEqual(types(self.bob.take()), ["removed"])
        self.assertIsNone(self.bob.client.closed)
        root.answer("kick", nick="bob")
        self.assertEqual(types(self.bob.take()), ["kicked", "goodbye"])


class SanctionTests(InDev):
    def test_a_room_ban(self) -> None:
        reply = self.alice.answer("ban", room="dev", mask="bob", duration="2h", reason="spam")
        sanction = {
            "kind": "ban",
            "mask": "nick:bob",
            "room": "dev",
            "by": "alice",
            "set_at": T0,
            "until": T0 + 7200,
            "reason": "spam",
        }
        self.assertEqual(
            reply,
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "sanction": {**sanction, "left": 7200.0},
                "held": ["bob"],
                "text": [
                    "Banned nick:bob in dev, 2h left (until 2025-12-01 21:03 UTC): spam; "
                    "it holds for bob"
                ],
            },
        )
        removed = {
            "type": "removed",
            "room": "dev",
            "nick": "bob",
            "by": "alice",
            "reason": "banned: spam",
            "to": None,
        }
        self.assertEqual(
            self.bob.take(),
            [
                {
                    "type": "sanctioned",
                    "nick": "bob",
                    "kind": "ban",
                    "room": "dev",
                    "by": "alice",
                    "reason": "spam",
                    "until": T0 + 7200,
                    "left": 7200.0,
                    "given": True,
                    "text": "you are banned from dev for 2h (until 2025-12-01 21:03 UTC): spam",
                },
                removed,
            ],
        )
        changed = {
            "type": "ban-list",
            "room": "dev",
            "by": "alice",
            "on": True,
            "expired": False,
            "kind": "ban",
            "mask": "nick:bob",
            "until": T0 + 7200,
            "left": 7200.0,
            "reason": "spam",
        }
        self.assertEqual(
            self.alice.take(),
            [removed, changed],
            "the room (alice too) is told its ban list changed; bob is out of it by then",
        )
        self.web.clock.advance(1800)
        refused = self.bob.answer("join", room="dev")
        self.assertEqual(
            refused,
            {
                "type": "error",
                "id": self.bob.client.ids,
                "code": "banned",
                "message": "you are banned from dev for 1h 30m (until 2025-12-01 21:03 UTC): spam",
                "sanction": sanction,
                "left": 5400.0,
            },
        )
        self.assertEqual(
            self.alice.answer("bans", room="dev"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                "sanctions": [{**sanction, "left": 5400.0}],
                "now": T0 + 1800,
                "text": [
                    "Bans and mutes in dev (1):",
                    "ban nick:bob by alice, 1h 30m left (until 2025-12-01 21:03 UTC): spam",
                    "End of list",
                ],
            },
        )
        lifted = self.alice.answer("unban", room="dev", mask="bob")
        self.assertEqual(lifted["sanction"], sanction)
        self.assertEqual(
            self.alice.take(),
            [{**changed, "on": False, "until": None, "left": None, "reason": None}],
        )
        self.assertEqual(
            self.alice.answer("unban", room="dev", mask="bob")["code"], "no-such-sanction"
        )
        self.assertEqual(self.bob.answer("join", room="dev")["type"], "reply")

    def test_a_chat_wide_ban_and_signing_on_again(self) -> None:
        root = self.web.signed_on("root", "t00r")
        self.bob.take()
        self.assertEqual(
            self.alice.answer("ban", room=None, mask="bob", reason="flood")["code"], "not-operator"
        )
        reply = root.answer("ban", room=None, mask="bob", reason="flood")
        self.assertEqual((reply["sanction"]["room"], reply["sanction"]["left"]), (None, None))
        got = self.bob.take()
        self.assertEqual(types(got), ["sanctioned", "kicked", "goodbye"])
        self.assertEqual(got[0]["text"], "you are banned from the chat for good: flood")
        self.assertEqual(self.bob.client.closed, (True, 1000, None))
        again = self.web.connect()
        again.answer("hello", versions=[1])
        self.assertEqual(
            again.answer("sign-on", nick="bob"),
            {
                "type": "error",
                "id": again.client.ids,
                "code": "banned",
                "message": "you are banned from the chat for good: flood",
                "sanction": {
                    "kind": "ban",
                    "mask": "nick:bob",
                    "room": None,
                    "by": "root",
                    "set_at": T0,
                    "until": None,
                    "reason": "flood",
                },
                "left": None,
            },
        )
        # Another nickname is not banned; the same connection may sign on with it.
        self.assertEqual(again.answer("sign-on", nick="robert")["nick"], "robert")

    def test_a_ban_of_a_network(self) -> None:
        root = self.web.signed_on("root", "t00r", address="203.0.113.1")
        root.answer("ban", room=None, mask="192.0.2.0/24", duration="1d")
        self.assertEqual(self.alice.client.closed, (True, 1000, None))
        self.assertEqual(self.bob.client.closed, (True, 1000, None))
        near = self.web.connect(address="192.0.2.200")
        near.answer("hello", versions=[1])
        refused = near.answer("sign-on", nick="someone")
        self.assertEqual((refused["code"], refused["left"]), ("banned", 86400.0))
        self.assertEqual(refused["sanction"]["mask"], "192.0.2.0/24")
        far = self.web.connect(address="198.51.100.1")
        far.answer("hello", versions=[1])
        self.assertEqual(far.answer("sign-on", nick="someone")["nick"], "someone")

    def test_a_mute(self) -> None:
        self.alice.answer("mute", room="dev", mask="account:nobody", duration=60)
        reply = self.alice.answer("mute", room="dev", mask="bob*", duration=60)
        self.assertEqual(reply["held"], ["bob"])
        (told,) = self.bob.events("sanctioned")
        self.assertEqual((told["kind"], told["left"]), ("mute", 60.0))
        refused = self.bob.answer("say", room="dev", text="hey")
        self.assertEqual(refused["code"], "muted")
        self.assertEqual(refused["left"], 60.0)
        self.assertEqual(self.bob.answer("say", room="lobby", text="hey")["type"], "reply")
        self.alice.answer("unmute", room="dev", mask="bob*")
        (lifted,) = self.bob.events("sanctioned")
        self.assertEqual(
            (lifted["given"], lifted["text"], lifted["until"]),
            (False, "you may speak in dev now", None),
        )
        self.web.clock.advance(61)
        self.assertEqual(self.alice.answer("bans", room="dev")["sanctions"], [])

    def test_an_exception_lets_past_the_room_s_bans_and_mutes(self) -> None:
        """
        C{except}: set, told to the room as its ban list changing (and to
        nobody as a sanction), listed in C{bans}, lifted; a room's only.
        """
        root = self.web.signed_on("root", "t00r")
        self.alice.answer("mute", room="dev", mask="bob*", duration="1h")
        self.bob.take()
        self.alice.take()
        reply = self.alice.answer("except", room="dev", mask="bob", reason="trusted")
        exception = {
            "kind": "exception",
            "mask": "nick:bob",
            "room": "dev",
            "by": "alice",
            "set_at": T0,
            "until": None,
            "reason": "trusted",
        }
        self.assertEqual(
            reply,
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "sanction": {**exception, "left": None},
                "held": [],
                "text": ["Excepted nick:bob in dev, for good: trusted"],
            },
        )
        changed = {
            "type": "ban-list",
            "room": "dev",
            "by": "alice",
            "on": True,
            "expired": False,
            "kind": "exception",
            "mask": "nick:bob",
            "until": None,
            "left": None,
            "reason": "trusted",
        }
        self.assertEqual(self.alice.take(), [changed])
        self.assertEqual(self.bob.take(), [changed], "told as a member, not as one sanctioned")
        # Past the mute, and past a ban: bob stays, and comes back.
        self.assertEqual(self.bob.answer("say", room="dev", text="hi")["type"], "reply")
        self.assertEqual(self.alice.answer("ban", room="dev", mask="bob")["held"], [])
        self.assertEqual(types(self.bob.take()), ["ban-list"], "not put out")
        self.bob.answer("leave", room="dev")
        self.assertEqual(self.bob.answer("join", room="dev")["type"], "reply")
        listed = self.alice.answer("bans", room="dev")
        self.assertEqual(
            [(s["kind"], s["mask"]) for s in listed["sanctions"]],
            [("ban", "nick:bob"), ("mute", "nick:bob*"), ("exception", "nick:bob")],
        )
        self.assertEqual(listed["sanctions"][2], {**exception, "left": None})
        self.assertEqual(listed["text"][0], "Bans, mutes, exceptions and invitations in dev (3):")
        self.assertEqual(listed["text"][3], "exception nick:bob by alice, for good: trusted")
        # Only the room's operators; a room's only, even for a server operator.
        refused = self.bob.answer("except", room="dev", mask="bob")
        self.assertEqual(
            (refused["code"], refused["message"]),
            ("not-operator", "only operators may set exceptions in dev"),
        )
        self.assertEqual(
            self.bob.answer("unexcept", room="dev", mask="bob")["code"], "not-operator"
        )
        for user in (root, self.alice):
            refused = user.answer("except", room=None, mask="bob")
            self.assertEqual(
                (refused["code"], refused["message"]),
                ("room-only", "an exception is a room's, not the chat's: name the room"),
            )
        self.assertEqual(root.answer("unexcept", room=None, mask="bob")["code"], "room-only")
        self.alice.take()
        self.bob.take()
        lifted = self.alice.answer("unexcept", room="dev", mask="bob")
        self.assertEqual(
            (lifted["sanction"], lifted["text"]),
            (exception, ["Lifted the exception of nick:bob in dev"]),
        )
        self.assertEqual(
            self.bob.take(),
            [{**changed, "on": False, "until": None, "left": None, "reason": None}],
        )
        self.assertEqual(
            self.alice.answer("unexcept", room="dev", mask="bob")["code"], "no-such-sanction"
        )
        self.assertEqual(self.bob.answer("say", room="dev", text="hi")["code"], "muted")
        self.assertEqual(self.bob.answer("join", room="elsewhere")["type"], "reply")

    def test_an_invitation_lets_into_an_invite_only_room(self) -> None:
        """C{invex}: whom it matches joins the invite-only room uninvited; lifted, not."""
        root = self.web.signed_on("root", "t00r")
        self.bob.answer("leave", room="dev")
        self.alice.answer("room-mode", room="dev", mode="i", on=True)
        self.alice.take()
        self.bob.take()
        self.assertEqual(self.bob.answer("join", room="dev")["code"], "invite-only")
        reply = self.alice.answer("invex", room="dev", mask="account:bob", duration=600)
        invitation = {
            "kind": "invitation",
            "mask": "account:bob",
            "room": "dev",
            "by": "alice",
            "set_at": T0,
            "until": T0 + 600,
            "reason": None,
        }
        self.assertEqual(reply["sanction"], {**invitation, "left": 600.0})
        self.assertEqual(reply["held"], [])
        self.assertEqual(
            reply["text"], ["Invited account:bob in dev, 10m left (until 2025-12-01 19:13 UTC)"]
        )
        (changed,) = self.alice.events("ban-list")
        self.assertEqual(
            (changed["kind"], changed["mask"], changed["left"]),
            ("invitation", "account:bob", 600.0),
        )
        self.assertEqual(self.bob.take(), [], "not in dev: not told")
        # bob, a guest, is no account:bob; signed on again and registered, he is
        self.assertEqual(self.bob.answer("join", room="dev")["code"], "invite-only")
        self.bob.request("quit")
        self.assertEqual(types(self.bob.take()), ["goodbye"])
        bob = registered(self.web, "bob", address="192.0.2.9")
        self.assertEqual(bob.answer("join", room="dev")["room"]["invite_only"], True)
        listed = self.alice.answer("bans", room="dev")["sanctions"]
        self.assertEqual(listed, [{**invitation, "left": 600.0}])
        refused = bob.answer("invex", room="dev", mask="carol")
        self.assertEqual(
            (refused["code"], refused["message"]),
            ("not-operator", "only operators may set invitations in dev"),
        )
        refused = root.answer("invex", room=None, mask="carol", duration="1h")
        self.assertEqual(
            (refused["code"], refused["message"]),
            ("room-only", "an invitation is a room's, not the chat's: name the room"),
        )
        self.assertEqual(
            self.alice.answer("uninvex", room="dev", mask="account:bob")["sanction"], invitation
        )
        bob.answer("leave", room="dev")
        self.assertEqual(bob.answer("join", room="dev")["code"], "invite-only")
        self.assertEqual(
            self.alice.answer("uninvex", room="dev", mask="account:bob")["code"], "no-such-sanction"
        )
        self.assertEqual(self.alice.answer("bans", room="dev")["sanctions"], [])

    def test_hostile_fields(self) -> None:
        def code(kind: str, **fields: Any) -> str:
            answer = self.alice.answer(kind, **fields)
            assert answer["type"] == "error", answer
            return str(answer["code"])

        for mask in (
            "*",
            "**?",
            "0.0.0.0/0",
            "::/0",
            "nick:",
            "account:a*",
            "a b",
            "x:y/z",
            "m" * 65,
            "1" * 100,
        ):
            self.assertEqual(code("ban", room="dev", mask=mask), "bad-mask", mask)
        self.assertEqual(code("ban", room="dev", mask="1" * 10_000), "bad-mask")
        for wrong in (None, 7, ["bob"], {"nick": "bob"}):
            self.assertEqual(code("ban", room="dev", mask=wrong), "bad-request", wrong)
        for duration in (
            "abc",
            "0s",
            "5",
            "-1h",
            "3651d",
            "9" * 50 + "s",
            0,
            -5,
            0.5,
            1e20,
            True,
            [60],
            {"s": 1},
        ):
            self.assertEqual(
                code("mute", room="dev", mask="bob", duration=duration), "bad-duration", duration
            )
        self.assertEqual(code("ban", mask="bob"), "bad-request")  # no room: not chat-wide
        self.assertEqual(code("ban", room=7, mask="bob"), "bad-request")
        self.assertEqual(code("ban", room="dev", mask="bob", reason="x" * 301), "too-long")
        self.assertEqual(code("ban", room="dev", mask="bob", reason=5), "bad-request")
        self.assertEqual(code("ban", room="dev", mask="alice"), "refused")  # matches oneself
        self.assertEqual(code("bans", room=None), "not-operator")
        self.assertEqual(code("bans"), "bad-request")
        # NaN and Infinity are JSON to Python's reader, and no duration.
        for raw in ("NaN", "Infinity", "-Infinity"):
            self.alice.client.ids += 1
            self.alice.client.sendMessage(
                b'{"type":"mute","id":%d,"room":"dev","mask":"bob","duration":%s}'
                % (self.alice.client.ids, raw.encode())
            )
            (error,) = self.alice.take()
            self.assertEqual(error["code"], "bad-duration", raw)
        self.assertEqual(self.alice.answer("bans", room="dev")["sanctions"], [])

    def test_a_full_ban_list(self) -> None:
        for n in range(500):
            self.alice.answer("ban", room="dev", mask=f"spammer{n}")
        full = self.alice.answer("ban", room="dev", mask="one-more")
        self.assertEqual(
            (full["code"], full["message"]),
            (
                "too-many-sanctions",
                "dev has 500 bans already, the most it may have: lift some first",
            ),
        )
        listed = self.alice.answer("bans", room="dev")
        self.assertEqual(len(listed["sanctions"]), 500)
        self.assertEqual(listed["text"][0], "Bans and mutes in dev (500); the newest 100 of them:")


class TypedCommandTests(SynchronousTestCase):
    """Moderation typed in the client's input (C{command}), in the room it is typed in."""

    def setUp(self) -> None:
        self.web, _ = moderated_web(self)
        self.maxDiff = None
        self.alice = registered(self.web, "alice")
        self.bob = self.web.signed_on("bob")
        for user in (self.alice, self.bob):
            user.answer("join", room="dev")
            user.answer("join", room="attic")  # joined last: no command goes there by itself
            user.take()

    def command(self, user: User, line: str, room: str | None = "dev") -> dict[str, Any]:
        fields = {"line": line} if room is None else {"line": line, "room": room}
        return user.answer("command", **fields)

    def test_a_ban_in_the_room_it_is_typed_in(self) -> None:
        reply = self.command(self.alice, "/ban bob 1h30m spam and more")
        self.assertEqual(
            {k: reply["sanction"][k] for k in ("mask", "room", "until", "reason")},
            {"mask": "nick:bob", "room": "dev", "until": T0 + 5400, "reason": "spam and more"},
        )
        self.assertEqual(
            [(e["type"], e["room"]) for e in self.bob.take()],
            [("sanctioned", "dev"), ("removed", "dev")],
        )
        listed = self.command(self.alice, "/bans")
        self.assertEqual((listed["room"], len(listed["sanctions"])), ("dev", 1))
        self.assertEqual(self.command(self.alice, "/unban bob")["sanction"]["room"], "dev")
        for line, code in (
            ("/ban bob 5x", "bad-duration"),
            ("/mute bob 0s", "bad-duration"),
            ("/ban *", "bad-mask"),
            ("/ban a:b", "bad-mask"),
            ("/ban account:b*", "bad-mask"),
            ("/ban account:", "bad-mask"),
            ("/mute nick:", "bad-mask"),
            ("/room mode +x", "unknown-mode"),
            ("/room mode +", "unknown-mode"),
            ("/mute bob 1h " + "x" * 301, "too-long"),
            ("/ban", "bad-request"),
        ):
            self.assertEqual(self.command(self.alice, line)["code"], code, line)
        self.assertEqual(self.command(self.alice, "/bans -g")["code"], "not-operator")

    def test_exceptions_and_invitations_in_the_room_they_are_typed_in(self) -> None:
        reply = self.command(self.alice, "/except bob 2h a regular")
        self.assertEqual(
            {k: reply["sanction"][k] for k in ("kind", "mask", "room", "until", "reason")},
            {
                "kind": "exception",
                "mask": "nick:bob",
                "room": "dev",
                "until": T0 + 7200,
                "reason": "a regular",
            },
        )
        self.assertEqual(
            self.command(self.alice, "/invex account:carol")["sanction"]["room"], "dev"
        )
        self.assertEqual(
            [(e["room"], e["kind"], e["mask"]) for e in self.bob.events("ban-list")],
            [("dev", "exception", "nick:bob"), ("dev", "invitation", "account:carol")],
        )
        listed = self.command(self.alice, "/bans")
        self.assertEqual([s["kind"] for s in listed["sanctions"]], ["exception", "invitation"])
        self.assertEqual(self.command(self.alice, "/unexcept bob")["sanction"]["kind"], "exception")
        self.assertEqual(
            self.command(self.alice, "/uninvex account:carol")["sanction"]["kind"], "invitation"
        )
        for line, code in (
            ("/except -g bob", "room-only"),
            ("/invex -g bob 1h", "room-only"),
            ("/except bob", "not-operator"),
            ("/unexcept bob", "not-operator"),
            ("/invex *", "bad-mask"),
            ("/except bob 5x", "bad-duration"),
            ("/uninvex", "bad-request"),
        ):
            user = self.bob if code == "not-operator" else self.alice
            self.assertEqual(self.command(user, line)["code"], code, line)
        self.assertEqual(self.command(self.alice, "/unexcept bob")["code"], "no-such-sanction")

    def test_room_commands(self) -> None:
        self.assertEqual(self.command(self.alice, "/room register")["room"], "dev")
        self.assertEqual(
            self.command(self.alice, "/room mode +im"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                **NEW_ROOM,
                "invite_only": True,
                "moderated": True,
                "registered": True,
            },
        )
        self.assertEqual(
            [e["changes"] for e in self.bob.events("mode")],
            [[{"mode": "i", "on": True}, {"mode": "m", "on": True}]],
        )
        reply = self.command(self.alice, "/room mode -i+kl-t beer 20")
        self.assertEqual(
            (reply["invite_only"], reply["key"], reply["limit"], reply["topic_locked"]),
            (False, "beer", 20, False),
        )
        self.assertEqual(
            [e["changes"] for e in self.bob.events("mode")],
            [
                [
                    {"mode": "i", "on": False},
                    {"mode": "k", "on": True, "value": "beer"},
                    {"mode": "l", "on": True, "value": 20},
                    {"mode": "t", "on": False},
                ]
            ],
        )
        self.assertEqual(self.command(self.alice, "/room mode +x")["code"], "unknown-mode")
        for line, mode in (("/room mode +k", "k"), ("/room mode +l many", "l")):
            refused = self.command(self.alice, line)
            self.assertEqual((refused["code"], refused.get("mode")), ("bad-mode-value", mode), line)
        self.assertEqual(self.command(self.alice, "/room mode +i x")["code"], "bad-request")
        self.assertEqual(self.bob.events("mode"), [])
        self.assertEqual(self.command(self.alice, "/invite carol")["code"], "no-such-user")
        self.assertEqual(self.command(self.alice, "/invite bob")["code"], "already-a-member")

    def test_voices_and_keys(self) -> None:
        self.assertEqual(
            self.command(self.alice, "/voice bob"),
            {
                "type": "reply",
                "id": self.alice.client.ids,
                "room": "dev",
                "nick": "bob",
                "voiced": True,
            },
        )
        self.assertEqual(
            self.bob.events("voice"),
            [{"type": "voice", "room": "dev", "nick": "bob", "by": "alice", "given": True}],
        )
        self.assertFalse(self.command(self.alice, "/devoice bob")["voiced"])
        self.assertEqual(self.command(self.bob, "/voice alice")["code"], "not-operator")
        self.assertEqual(self.command(self.alice, "/voice")["code"], "bad-request")
        self.assertEqual(self.command(self.alice, "/voice bob", room=None)["code"], "bad-request")
        self.command(self.alice, "/room mode +k beer")
        carol = self.web.signed_on("carol")
        refused = self.command(carol, "/join dev", room="lobby")
        self.assertEqual(refused["code"], "bad-key")
        self.assertEqual(self.command(carol, "/join dev beer", room="lobby")["room"]["name"], "dev")

    def test_kicks(self) -> None:
        self.command(self.alice, "/kick bob go away")
        self.assertEqual(
            self.bob.events("removed"),
            [
                {
                    "type": "removed",
                    "room": "dev",
                    "nick": "bob",
                    "by": "alice",
                    "reason": "go away",
                    "to": None,
                }
            ],
        )
        root = self.web.signed_on("root", "t00r")
        root.answer("join", room="attic")
        self.bob.take()
        self.command(root, "/kick bob", room="attic")
        self.assertEqual(types(self.bob.take()), ["removed"])
        self.command(root, "/kick -g bob enough")
        got = self.bob.take()
        self.assertEqual(types(got), ["kicked", "goodbye"])
        self.assertEqual(got[0]["reason"], "enough")
        # In the lobby (everyone's: put out of it, one is back in it), out of the chat.
        carl = self.web.signed_on("carl")
        self.command(root, "/kick carl", room="lobby")
        self.assertEqual(types(carl.take()), ["kicked", "goodbye"])

    def test_accounts(self) -> None:
        self.assertEqual(self.command(self.bob, "/register builder-bob")["account"], "bob")
        self.assertEqual(
            self.command(self.bob, "/password builder-bob bobthebuilder")["account"], "bob"
        )
        self.assertEqual(self.command(self.bob, "/unregister")["account"], "bob")
