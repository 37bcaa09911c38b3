"""
What the desktop client shows, without Tk: lines, unread counts, mentions,
members and topics from the protocol's events; the title; completion and the
input's history.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from zope.interface import implementer
from zope.interface.verify import verifyObject

from chatsvc.gui.state import (
    ChatState,
    Conversation,
    Entry,
    IChatView,
    InputHistory,
    Kind,
    complete,
    describe,
    how_long,
    refusal,
)


@implementer(IChatView)
class RecordingView:
    """A view that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, Any]] = []

    def entry_added(self, conversation: Conversation, entry: Entry) -> None:
        self.told.append(("entry", (conversation.name, entry.render())))

    def conversations_changed(self) -> None:
        self.told.append(("list", None))

    def conversation_changed(self, conversation: Conversation) -> None:
        self.told.append(("members", conversation.name))

    def selected(self, conversation: Conversation | None) -> None:
        self.told.append(("selected", conversation.name if conversation else None))

    def title_changed(self, title: str) -> None:
        self.told.append(("title", title))

    def alert(self) -> None:
        self.told.append(("alert", None))

    def of(self, kind: str) -> list[Any]:
        return [what for told, what in self.told if told == kind]


class FixedClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def room(name: str, *nicks: str, topic: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "count": len(nicks),
        "members": [{"nick": n, "operator": n == "root", "away": None} for n in nicks],
        "topic": {"text": topic, "set_by": "root", "set_at": 1.0} if topic else None,
    }


def signed_on(*rooms: dict[str, Any]) -> tuple[ChatState, RecordingView]:
    view = RecordingView()
    state = ChatState(view, clock=FixedClock())
    state.nick = "alice"
    for data in rooms:
        state.apply({"type": "entered", "room": data})
    view.told.clear()
    return state, view


def said(room: str, nick: str, text: str, when: float = 60.0, **more: Any) -> dict[str, Any]:
    return {"type": "message", "room": room, "nick": nick, "text": text, "time": when, **more}


def test_the_recording_view_is_a_view() -> None:
    assert verifyObject(IChatView, RecordingView())


def test_lines_are_shown_with_their_time_in_local_time() -> None:
    # The suite's time zone is 13:45 ahead of UTC.
    assert Entry(Kind.MESSAGE, "hi", 0.0, "bob").render() == "[13:45] <bob> hi"
    assert Entry(Kind.ACTION, "waves", 60.0, "bob").render() == "[13:46] * bob waves"
    assert Entry(Kind.NOTICE, "build done", 0.0, "ci").render() == "[13:45] -ci- build done"
    assert Entry(Kind.EVENT, "bob joined #dev", 0.0).render() == "[13:45] *** bob joined #dev"
    assert Entry(Kind.STATUS, "Connected again.", 0.0).render() == "[13:45] -!- Connected again."
    assert Entry(Kind.MESSAGE, "alice: hi", 0.0, "bob", mention=True).tags == ("message", "mention")


def test_the_first_room_entered_is_on_view_with_its_members_and_topic() -> None:
    view = RecordingView()
    state = ChatState(view, clock=FixedClock())
    state.apply({"type": "entered", "room": room("lobby", "bob", "alice", "root", topic="hi")})
    lobby = state.on_view
    assert lobby is not None and lobby.name == "lobby" and lobby.joined
    assert [m.label for m in lobby.sorted_members()] == ["@root", "alice", "bob"]
    assert lobby.topic == "hi" and lobby.count == 3
    assert view.of("selected") == ["lobby"]
    assert view.of("members") == ["lobby"]


def test_history_is_shown_once_and_is_never_unread() -> None:
    state, view = signed_on(room("lobby", "alice"), room("dev", "alice"))
    lines = [said("dev", "bob", "alice: earlier", 0.0), said("dev", "bob", "later", 60.0)]
    state.apply({"type": "history", "room": "dev", "lines": lines, "joining": True})
    state.apply({"type": "history", "room": "dev", "lines": lines[1:], "joining": False})
    dev = state.room("dev")
    assert dev is not None
    assert [e.render() for e in dev.entries] == [
        "[13:45] <bob> alice: earlier",
        "[13:46] <bob> later",
    ]
    assert dev.unread == dev.mentions == 0 and not any(e.mention for e in dev.entries)
    assert view.of("alert") == []


def test_a_live_line_is_not_shown_again_by_history_stamped_a_little_later() -> None:
    """The server stamps the event as it fans it out, the history line as it records it."""
    state, _ = signed_on(room("lobby", "alice"), room("dev", "alice", "bob"))
    state.apply(said("dev", "bob", "hi", 100.0))
    lines = [said("dev", "bob", "hi", 100.04), said("dev", "bob", "hi", 102.0)]
    state.apply({"type": "history", "room": "dev", "lines": lines, "joining": False})
    # said twice within a second, both in one page of history: both are lines
    twice = [said("dev", "bob", "ok", 110.0), said("dev", "bob", "ok", 110.5)]
    state.apply({"type": "history", "room": "dev", "lines": twice, "joining": False})
    dev = state.room("dev")
    assert dev is not None
    assert [(e.text, e.time) for e in dev.entries if e.said] == [
        ("hi", 100.0),
        ("hi", 102.0),
        ("ok", 110.0),
        ("ok", 110.5),
    ]


def test_a_line_in_a_room_not_on_view_is_unread_until_it_is_shown() -> None:
    state, view = signed_on(room("lobby", "alice"), room("dev", "alice", "bob"))
    state.apply(said("dev", "bob", "hi all"))
    state.apply(said("lobby", "bob", "and here"))  # on view: read
    dev, lobby = state.room("dev"), state.room("lobby")
    assert dev is not None and lobby is not None
    assert (dev.unread, dev.mentions, dev.label) == (1, 0, "#dev [1]")
    assert lobby.unread == 0 and lobby.label == "#lobby"
    assert view.of("entry") == [
        ("dev", "[13:46] <bob> hi all"),
        ("lobby", "[13:46] <bob> and here"),
    ]
    state.select(dev.key)
    assert (dev.unread, dev.label) == (0, "#dev")
    assert view.of("selected") == ["dev"]


def test_a_mention_counts_and_rings_while_the_window_is_not_focused() -> None:
    state, view = signed_on(room("lobby", "alice", "bob"), room("dev", "alice", "bob"))
    state.apply(said("dev", "bob", "ALICE, look"))
    dev = state.room("dev")
    assert dev is not None and dev.label == "#dev [1!]"
    assert state.title() == "(1) alice \N{EM DASH} #lobby \N{EM DASH} chatsvc-gui"
    assert view.of("alert") == []  # focused: the room list says it
    state.focus(False)
    state.apply(said("lobby", "bob", "alice?"))
    assert view.of("alert") == [None]
    assert view.of("title")[-1] == "(2) alice \N{EM DASH} #lobby \N{EM DASH} chatsvc-gui"
    state.focus(True)  # the lobby, on view, is read now; dev is not
    assert state.title() == "(1) alice \N{EM DASH} #lobby \N{EM DASH} chatsvc-gui"


def test_own_lines_and_the_word_inside_another_are_no_mentions() -> None:
    state, _ = signed_on(room("lobby", "alice", "bob"), room("dev", "alice", "bob"))
    state.apply(said("dev", "bob", "malice and alice.smith"))
    state.add(state.room("dev"), state.said(said("dev", "alice", "alice here")))  # type: ignore[arg-type]
    dev = state.room("dev")
    assert dev is not None and (dev.unread, dev.mentions) == (1, 0)
    assert [e.own for e in dev.entries] == [False, True]


def test_a_private_message_opens_its_conversation_and_counts_as_a_mention() -> None:
    state, view = signed_on(room("lobby", "alice", "bob"))
    state.focus(False)
    state.apply({"type": "private", "from": "bob", "to": "alice", "text": "psst", "time": 0.0})
    talk = state.get("private:bob")
    assert talk is not None and talk.private
    assert [e.render() for e in talk.entries] == ["[13:45] <bob> psst"]
    assert talk.entries[0].tags == ("private",)
    assert (talk.unread, talk.mentions, talk.label) == (1, 1, "bob [1!]")
    assert view.of("alert") == [None]
    # Our own, as the reply to msg: in the same conversation, not unread.
    state.private({"type": "private", "from": "alice", "to": "Bob", "text": "yes?", "time": 60.0})
    assert [e.render() for e in talk.entries][-1] == "[13:46] <alice> yes?"
    assert talk.unread == 1


def test_joins_leaves_nicknames_topics_and_kicks_change_members_and_are_shown() -> None:
    state, _ = signed_on(room("lobby", "alice", "bob"))
    state.apply({"type": "joined", "room": "lobby", "member": {"nick": "carol", "operator": False}})
    state.apply({"type": "nick", "room": "lobby", "old": "bob", "new": "rob"})
    state.apply({"type": "topic", "room": "lobby", "nick": "rob", "text": "cake", "time": 0.0})
    state.apply(
        {"type": "left", "room": "lobby", "nick": "rob", "reason": "bye", "signed_off": True}
    )
    state.apply({"type": "kicked", "room": "lobby", "nick": "carol", "by": "root", "reason": None})
    state.apply({"type": "frobnicated", "room": "lobby"})  # unknown: ignored
    lobby = state.room("lobby")
    assert lobby is not None
    assert [e.text for e in lobby.entries] == [
        "carol joined #lobby",
        "bob is now known as rob",
        "rob set the topic: cake",
        "rob quit (bye)",
        "carol was kicked out by root",
    ]
    assert [m.nick for m in lobby.sorted_members()] == ["alice"]
    assert lobby.topic == "cake"
    assert lobby.unread == 0


def test_our_own_nickname_change_is_the_state_s() -> None:
    state, _ = signed_on(room("lobby", "alice", "bob"))
    state.apply({"type": "nick", "room": "lobby", "old": "alice", "new": "alicia"})
    assert state.nick == "alicia"
    assert "alicia" in state.title()


def test_a_private_conversation_follows_its_peer_s_new_nickname() -> None:
    state, _ = signed_on(room("lobby", "alice", "bob"))
    state.apply({"type": "private", "from": "bob", "to": "alice", "text": "hi", "time": 0.0})
    state.select("private:bob")
    state.apply({"type": "nick", "room": "lobby", "old": "bob", "new": "rob"})
    assert state.get("private:bob") is None
    talk = state.get("private:rob")
    assert talk is not None and talk.name == "rob" and state.current == talk.key


def test_offline_rooms_are_marked_so() -> None:
    state, _ = signed_on(room("lobby", "alice"))
    state.offline()
    lobby = state.room("lobby")
    assert lobby is not None and lobby.label == "#lobby (offline)"


def test_removing_the_conversation_on_view_shows_another() -> None:
    state, view = signed_on(room("lobby", "alice"), room("dev", "alice"))
    state.select("room:dev")
    state.remove("room:dev")
    assert state.current == "room:lobby"
    assert view.of("selected")[-1] == "lobby"


def test_a_conversation_keeps_its_latest_lines() -> None:
    state, _ = signed_on(room("lobby", "alice"))
    for n in range(2100):
        state.apply(said("lobby", "bob", f"line {n}", float(n)))
    lobby = state.room("lobby")
    assert lobby is not None
    assert len(lobby.entries) == 2000 and lobby.entries[0].text == "line 100"


def test_replies_are_described() -> None:
    topic = {"text": "release on Friday", "set_by": "alice", "set_at": 1.0}
    rooms = {
        "rooms": [
            {"name": "attic", "count": 2, "topic": topic},
            {"name": "lobby", "count": 0, "topic": None},
        ]
    }
    assert describe(rooms) == ["2 rooms:", "#attic (2): release on Friday", "#lobby (0)"]
    members = {"room": "dev", "members": [{"nick": "root", "operator": True, "away": "tea"}]}
    assert describe(members) == ["In #dev: @root (away: tea)"]
    assert describe({"commands": [{"usage": "/nick NEW", "summary": "change it"}]}) == [
        "/nick NEW: change it"
    ]
    assert describe({"room": "dev", "topic": None}) == ["#dev has no topic"]
    assert describe({"away": None}) == ["You are back"]
    assert describe({"message": {}, "away": "lunch"}) == []


# Moderation


def member(nick: str, rank: str | None = None, operator: bool | None = None) -> dict[str, Any]:
    given = rank is not None if operator is None else operator
    return {"nick": nick, "operator": given, "rank": rank, "away": None}


def ranked_room(name: str = "dev") -> dict[str, Any]:
    members = [member("alice"), member("bob", "operator"), member("zed", "owner"), member("carol")]
    return {"name": name, "count": 4, "members": members, "topic": None}


def texts(state: ChatState, name: str) -> list[str]:
    found = state.room(name)
    assert found is not None
    return [e.render() for e in found.entries]


def test_owners_and_operators_are_marked_and_listed_first() -> None:
    state, _ = signed_on(room("lobby", "alice"), ranked_room())
    state.apply({"type": "joined", "room": "dev", "member": member("amy", "owner")})
    state.apply({"type": "joined", "room": "dev", "member": member("root", None, operator=True)})
    dev = state.room("dev")
    assert dev is not None
    assert [m.label for m in dev.sorted_members()] == [
        "~amy",
        "~zed",
        "@bob",
        "@root",  # an operator of the chat, without a rank from an older server
        "alice",
        "carol",
    ]


def test_a_rank_changes_the_marks_of_the_account_s_members_and_is_shown() -> None:
    state, view = signed_on(room("lobby", "alice"), ranked_room())
    made = {"type": "rank", "room": "dev", "account": "carol", "rank": "operator"}
    state.apply({**made, "was": None, "by": "zed", "nicks": ["carol"]})
    state.apply({**made, "rank": "owner", "was": "operator", "by": "zed", "nicks": ["carol"]})
    unmade = {"type": "rank", "room": "dev", "account": "bob", "rank": None, "was": "operator"}
    state.apply({**unmade, "by": "zed", "nicks": ["bob", "gone"]})
    dev = state.room("dev")
    assert dev is not None
    assert [m.label for m in dev.sorted_members()] == ["~carol", "~zed", "alice", "bob"]
    assert texts(state, "dev") == [
        "[13:45] *** zed made carol an operator of #dev",
        "[13:45] *** zed made carol an owner of #dev",
        "[13:45] *** zed took bob off the operators of #dev",
    ]
    assert view.of("members") == ["dev", "dev", "dev"]


def test_an_operator_given_or_taken_keeps_an_owner_an_owner() -> None:
    state, _ = signed_on(room("lobby", "alice"), ranked_room())
    for nick, given in (("zed", False), ("carol", True), ("bob", False)):
        state.apply({"type": "operator", "room": "dev", "nick": nick, "by": "root", "given": given})
    dev = state.room("dev")
    assert dev is not None
    assert [m.label for m in dev.sorted_members()] == ["~zed", "@carol", "alice", "bob"]


def test_another_put_out_of_a_room_leaves_its_members() -> None:
    state, _ = signed_on(room("lobby", "alice"), ranked_room())
    removed = {"type": "removed", "room": "dev", "nick": "carol", "by": "bob", "to": None}
    state.apply({**removed, "reason": "banned: spam"})
    dev = state.room("dev")
    assert dev is not None and dev.joined and dev.count == 3
    assert "carol" not in dev.members
    assert texts(state, "dev") == ["[13:45] *** carol was put out of #dev by bob (banned: spam)"]


def test_put_out_of_a_room_it_is_no_longer_joined_and_says_why() -> None:
    state, view = signed_on(room("lobby", "alice"), ranked_room())
    state.apply(
        {
            "type": "removed",
            "room": "dev",
            "nick": "Alice",
            "by": "bob",
            "reason": "banned: spam",
            "to": None,
        }
    )
    dev = state.room("dev")
    assert dev is not None and not dev.joined and dev.members == {}
    assert dev.label == "#dev (put out)"
    assert state.header(dev) == "#dev: (no topic) \N{EM DASH} bob put you out (banned: spam)"
    assert texts(state, "dev") == ["[13:45] *** bob put you out of #dev (banned: spam)"]
    assert ("list", None) in view.told
    state.apply({"type": "entered", "room": ranked_room()})  # back in, once the ban is lifted
    assert dev.joined and dev.label == "#dev" and state.header(dev) == "#dev: (no topic)"


def mode(by: str, *changes: dict[str, Any], room: str = "dev") -> dict[str, Any]:
    return {"type": "mode", "room": room, "by": by, "changes": list(changes)}


def test_modes_are_shown_in_the_room_and_its_header() -> None:
    state, view = signed_on(room("lobby", "alice"), {**ranked_room(), "registered": True})
    dev = state.room("dev")
    assert dev is not None
    assert state.header(dev) == "#dev: (no topic) [registered]"
    state.apply(mode("zed", {"mode": "i", "on": True}, {"mode": "m", "on": True}))
    assert state.header(dev) == "#dev: (no topic) [invite-only, moderated, registered]"
    state.apply(
        mode(
            "zed",
            {"mode": "k", "on": True, "value": "beer"},
            {"mode": "l", "on": True, "value": 20},
            {"mode": "s", "on": True},
            {"mode": "n", "on": False},
            {"mode": "t", "on": False},
        )
    )
    assert (dev.join_key, dev.limit, dev.secret, dev.members_only, dev.topic_locked) == (
        "beer",
        20,
        True,
        False,
        False,
    )
    assert state.header(dev) == (
        "#dev: (no topic) [invite-only, key beer, limit 20, secret, moderated,"
        " open to outsiders, topic open, registered]"
    )
    state.apply(mode("zed", *({"mode": m, "on": False} for m in "iklms")))
    state.apply(mode("zed", {"mode": "n", "on": True}, {"mode": "t", "on": True}))
    state.apply(mode("zed", {"mode": "x", "on": True}))  # a mode unknown: as IRC writes it
    state.apply(mode("zed"))  # no change: nothing
    assert state.header(dev) == "#dev: (no topic) [registered]"
    assert texts(state, "dev") == [
        "[13:45] *** zed set +i, +m in #dev (invite-only: only those invited may join;"
        " moderated: only its operators and voiced members may speak)",
        "[13:45] *** zed set +k, +l 20, +s, -n, -t in #dev (a key to join; 20 members at most;"
        " secret: not listed, nor its members shown, to those outside it;"
        " those outside it may speak in it too; any member may set the topic)",
        "[13:45] *** zed set -i, -k, -l, -m, -s in #dev (open to all; no key to join;"
        " any number of members; everyone in it may speak; no longer secret)",
        "[13:45] *** zed set +n, +t in #dev (only its members may speak in it;"
        " only its operators set the topic)",
        "[13:45] *** zed set +x in #dev",
    ]
    assert view.of("members") == ["dev"] * 5
    entered = {
        **ranked_room("ops"),
        "invite_only": True,
        "moderated": True,
        "key": "k3y",
        "limit": 5,
        "secret": True,
        "members_only": False,
        "topic_locked": False,
    }
    state.apply({"type": "entered", "room": entered})
    ops = state.room("ops")
    assert ops is not None and state.header(ops) == (
        "#ops: (no topic) [invite-only, key k3y, limit 5, secret, moderated,"
        " open to outsiders, topic open]"
    )
    # +n and +t hold unless the room's data says otherwise (an older server's says nothing).
    state.apply({"type": "entered", "room": ranked_room("ops")})
    assert (ops.join_key, ops.limit, ops.members_only, ops.topic_locked) == (None, None, True, True)
    assert state.header(ops) == "#ops: (no topic)"


def test_voiced_members_are_marked_after_operators_and_listed_so() -> None:
    members = [*ranked_room()["members"], {**member("vic"), "voiced": True}]
    state, view = signed_on(room("lobby", "alice"), {**ranked_room(), "members": members})
    dev = state.room("dev")
    assert dev is not None
    voice = {"type": "voice", "room": "dev", "by": "zed"}
    state.apply({**voice, "nick": "carol", "given": True})
    state.apply({**voice, "nick": "bob", "given": True})  # an operator, marked as one
    state.apply({**voice, "nick": "vic", "given": False})
    state.apply({**voice, "nick": "gone", "given": True})  # not listed: only the line
    assert [m.label for m in dev.sorted_members()] == ["~zed", "@bob", "+carol", "alice", "vic"]
    assert dev.members["bob"].voiced and not dev.members["vic"].voiced
    assert texts(state, "dev") == [
        "[13:45] *** zed gave carol a voice in #dev",
        "[13:45] *** zed gave bob a voice in #dev",
        "[13:45] *** zed took vic's voice in #dev",
        "[13:45] *** zed gave gone a voice in #dev",
    ]
    assert view.of("members")[-4:] == ["dev"] * 4
    # An operator taken off the operators keeps its voice.
    state.apply({"type": "operator", "room": "dev", "nick": "bob", "by": "zed", "given": False})
    assert [m.label for m in dev.sorted_members()][:3] == ["~zed", "+bob", "+carol"]
    state.apply({**voice, "room": "elsewhere", "nick": "carol"})  # not in it: nothing
    assert state.room("elsewhere") is None
    listed = {
        "room": "dev",
        "members": [member("zed", "owner"), {**member("carol"), "voiced": True}],
    }
    assert describe(listed) == ["In #dev: ~zed, +carol"]


def test_the_replies_of_room_mode_and_voice_in_words() -> None:
    modes = {
        "room": "dev",
        "invite_only": False,
        "moderated": True,
        "registered": True,
        "key": "beer",
        "limit": 20,
        "secret": False,
        "members_only": True,
        "topic_locked": False,
    }
    assert describe(modes) == [
        "#dev is joined with the key beer, 20 members at most, moderated"
        " and its topic set by any member"
    ]
    assert describe({**modes, "key": None, "limit": None, "topic_locked": True}) == [
        "#dev is moderated"
    ]
    plain = {"room": "dev", "invite_only": False, "moderated": False, "registered": False}
    assert describe(plain) == ["#dev is open to everyone"]
    assert describe({"room": "dev", "nick": "bob", "voiced": True}) == ["bob has a voice in #dev"]
    assert describe({"room": "dev", "nick": "bob", "voiced": False}) == ["bob has no voice in #dev"]


def test_a_rooms_ban_list_changes_are_lines_in_it() -> None:
    state, view = signed_on(room("lobby", "alice"), ranked_room())
    changed = {"type": "ban-list", "room": "dev", "by": "zed", "on": True, "kind": "ban"}
    state.apply({**changed, "mask": "nick:bob", "until": 5400.0, "left": 5400.0, "reason": "spam"})
    state.apply({**changed, "kind": "mute", "mask": "192.0.2.0/24", "until": None, "left": None})
    state.apply({**changed, "on": False, "mask": "nick:bob", "until": None, "left": None})
    state.apply({**changed, "room": "elsewhere", "mask": "nick:bob"})  # not in it: nothing
    ran_out = {"on": False, "expired": True, "until": None, "left": None}
    state.apply({**changed, **ran_out, "kind": "mute", "mask": "192.0.2.0/24"})
    assert texts(state, "dev") == [
        "[13:45] *** zed banned nick:bob in #dev for 1h 30m (spam)",
        "[13:45] *** zed muted 192.0.2.0/24 in #dev for good",
        "[13:45] *** zed lifted the ban of nick:bob in #dev",
        "[13:45] *** The mute of 192.0.2.0/24 in #dev ran out",
    ]
    assert state.room("elsewhere") is None
    assert view.of("members") == ["dev"] * 4


def test_a_rooms_exceptions_and_invitations_are_worded_by_kind() -> None:
    state, _ = signed_on(room("lobby", "alice"), ranked_room())
    changed = {"type": "ban-list", "room": "dev", "by": "zed", "on": True, "mask": "nick:bob"}
    state.apply(
        {**changed, "kind": "exception", "until": None, "left": None, "reason": "a regular"}
    )
    state.apply({**changed, "kind": "invitation", "until": 5400.0, "left": 5400.0})
    state.apply({**changed, "kind": "exception", "on": False, "until": None, "left": None})
    ran_out = {"on": False, "expired": True, "until": None, "left": None}
    state.apply({**changed, **ran_out, "kind": "invitation"})
    state.apply({**changed, "kind": "quiet", "until": None, "left": None})  # a later server's
    assert texts(state, "dev") == [
        "[13:45] *** zed let nick:bob past the bans and mutes of #dev for good (a regular)",
        "[13:45] *** zed let nick:bob into #dev uninvited for 1h 30m",
        "[13:45] *** zed lifted the exception of nick:bob in #dev",
        "[13:45] *** The invitation of nick:bob in #dev ran out",
        "[13:45] *** zed added nick:bob to the quiet list of #dev for good",
    ]


def sanctioned(kind: str, room: str | None, text: str, given: bool = True) -> dict[str, Any]:
    return {
        "type": "sanctioned",
        "nick": "alice",
        "kind": kind,
        "room": room,
        "by": "bob",
        "reason": "calm down",
        "until": 600.0,
        "left": 600.0,
        "given": given,
        "text": text,
    }


def test_a_mute_in_a_room_is_shown_there_prominently_and_in_its_header_until_lifted() -> None:
    state, view = signed_on(room("lobby", "alice"), ranked_room())
    state.focus(False)
    view.told.clear()
    said = "you are muted in dev for 10m (until 2026-12-01 22:40 UTC): calm down"
    state.apply(sanctioned("mute", "dev", said))
    dev = state.room("dev")
    assert dev is not None
    told = "You are muted in dev for 10m (until 2026-12-01 22:40 UTC): calm down."
    assert texts(state, "dev") == [f"[13:45] !!! {told}"]
    assert dev.entries[-1].tags == ("sanction",)
    assert texts(state, "lobby") == []
    assert state.header(dev) == f"#dev: (no topic) \N{EM DASH} {told}"
    assert view.of("alert") == [None]
    state.apply(sanctioned("mute", "dev", "you may speak again in dev", given=False))
    assert state.header(dev) == "#dev: (no topic)"
    assert texts(state, "dev")[-1] == "[13:45] !!! You may speak again in dev."


def test_a_mute_leaves_the_header_when_its_time_is_up() -> None:
    clock = FixedClock(1000.0)
    state = ChatState(clock=clock)
    state.nick = "alice"
    state.apply({"type": "entered", "room": ranked_room()})
    state.apply(sanctioned("mute", "dev", "you are muted in dev for 10m: calm down"))
    dev = state.room("dev")
    assert dev is not None
    assert (
        state.header(dev) == "#dev: (no topic) \N{EM DASH} You are muted in dev for 10m: calm down."
    )
    clock.now += 600.0  # no event says a mute ran out
    assert state.header(dev) == "#dev: (no topic)"


def test_a_mute_told_only_by_a_refusal_is_shown_in_the_header() -> None:
    state, view = signed_on(room("lobby", "alice"), ranked_room())
    sanction = {"kind": "mute", "mask": "account:alice", "room": None, "by": "root"}
    state.refused("muted", {"sanction": sanction, "left": None}, "You are muted in the chat.")
    state.refused("not-in-room", {"sanction": sanction}, "ignored")
    for conversation in state.rooms():
        assert state.header(conversation).endswith("\N{EM DASH} You are muted in the chat.")
    assert view.of("members") == ["lobby", "dev"]


def test_a_chat_wide_sanction_is_shown_in_every_room_joined() -> None:
    state, _ = signed_on(room("lobby", "alice"), ranked_room())
    said = "you are muted in the chat for good: calm down"
    state.apply(sanctioned("mute", None, said))
    for name in ("lobby", "dev"):
        assert texts(state, name) == ["[13:45] !!! You are muted in the chat for good: calm down."]
        conversation = state.room(name)
        assert conversation is not None
        assert state.header(conversation).endswith("You are muted in the chat for good: calm down.")
    state.apply(sanctioned("mute", None, "you may speak again in the chat", given=False))
    lobby = state.room("lobby")
    assert lobby is not None and state.header(lobby) == "#lobby: (no topic)"


def test_a_sanction_without_words_is_said_from_its_fields() -> None:
    state, _ = signed_on(room("lobby", "alice"))
    state.apply({**sanctioned("ban", "dev", ""), "left": 5400.0})  # not a room of ours: on view
    assert texts(state, "lobby") == ["[13:45] !!! You are banned from #dev for 1h 30m: calm down."]
    # No server tells anyone of an exception or an invitation so; one that did is worded.
    state.apply({**sanctioned("exception", "dev", ""), "left": None})
    assert texts(state, "lobby")[-1] == (
        "[13:45] !!! You are excepted from the bans and mutes of #dev for good: calm down."
    )
    state.apply({**sanctioned("invitation", "dev", ""), "left": None, "reason": None})
    assert texts(state, "lobby")[-1] == (
        "[13:45] !!! You are let in without an invitation to #dev for good."
    )


def test_a_released_nickname_renames_us_and_says_why() -> None:
    state, view = signed_on(room("lobby", "alice", "bob"))
    text = "The nickname alice is registered, and its owner signed on: you are Guest42 now"
    state.apply({"type": "nick-released", "old": "alice", "new": "Guest42", "text": [text]})
    state.apply({"type": "nick", "room": "lobby", "old": "alice", "new": "Guest42"})  # once only
    assert state.nick == "Guest42"
    lobby = state.room("lobby")
    assert lobby is not None and [m.nick for m in lobby.sorted_members()] == ["bob", "Guest42"]
    assert texts(state, "lobby") == [
        "[13:45] *** alice is now known as Guest42",
        f"[13:45] !!! {text}.",
    ]
    assert "Guest42" in view.of("title")[-1]


def test_moderation_refusals_say_why_and_for_how_long() -> None:
    message = "you are banned from dev for 1h 30m (until 2026-12-01 22:30 UTC): flooding"
    sanction = {"kind": "ban", "mask": "nick:alice", "room": "dev", "by": "bob", "reason": "x"}
    assert refusal("banned", message, {"sanction": sanction, "left": 5400.0}) == (
        "You are banned from dev for 1h 30m (until 2026-12-01 22:30 UTC): flooding."
    )
    muted = {"sanction": {**sanction, "kind": "mute"}, "left": None}
    assert refusal("muted", "", muted) == "You are muted in #dev for good: x."
    assert refusal("moderated", "dev is moderated: only its operators may speak", {}) == (
        "dev is moderated: only its operators may speak."  # a room's name as it is
    )
    bad_key = "dev has a key: join it with the right one (/join dev KEY)"
    assert refusal("bad-key", bad_key, {}) == f"{bad_key}."
    full = "dev is full: it takes 20 members at most"
    assert refusal("room-full", full, {}) == f"{full}."
    assert refusal("not-in-room", "you are not in dev", {}) == "you are not in dev"


def test_how_long_is_said_in_its_two_largest_units() -> None:
    assert how_long(None) == "for good"
    assert how_long(0.2) == "for 1s"
    assert how_long(90061.0) == "for 1d 1h"
    assert how_long(600) == "for 10m"


def test_moderation_replies_are_described() -> None:
    lines = ["Bans and mutes in dev (1):", "ban nick:bob by alice, 2h left: spam", "End of list"]
    assert describe({"room": "dev", "sanctions": [{}], "text": lines}) == lines
    assert describe({"account": "alice", "text": "You registered alice"}) == [
        "You registered alice"
    ]
    bans = {
        "room": None,
        "sanctions": [
            {"kind": "ban", "mask": "10.0.0.0/8", "by": "root", "reason": "spam", "left": 7200.0},
            {"kind": "mute", "mask": "nick:bob", "by": "root", "reason": None, "left": None},
        ],
    }
    assert describe(bans) == [
        "Bans and mutes in the chat (2):",
        "ban 10.0.0.0/8 by root, for 2h: spam",
        "mute nick:bob by root, for good",
    ]
    exempting = {
        "room": "dev",
        "sanctions": [
            {"kind": "ban", "mask": "nick:bob*", "by": "zed", "reason": None, "left": None},
            {"kind": "exception", "mask": "nick:bob", "by": "zed", "reason": "ok", "left": None},
            {"kind": "invitation", "mask": "account:carol", "by": "zed", "left": 600.0},
        ],
    }
    assert describe(exempting) == [
        "Bans, mutes, exceptions and invitations in #dev (3):",
        "ban nick:bob* by zed, for good",
        "exception nick:bob by zed, for good: ok",
        "invitation account:carol by zed, for 10m",
    ]
    modes = {"room": "dev", "invite_only": True, "moderated": True, "registered": False}
    assert describe(modes) == ["#dev is invite-only and moderated"]
    assert describe({**modes, "invite_only": False, "moderated": False}) == [
        "#dev is open to everyone"
    ]
    assert describe({"room": "dev", "nick": "bob", "away": "lunch"}) == [
        "You invited bob to #dev (away: lunch)"
    ]


def test_tab_completes_a_nickname() -> None:
    names = ["alice", "Bob", "bobby", "carol"]
    assert complete("al", 2, names) == ("alice: ", 7)
    assert complete("hi ca", 5, names) == ("hi carol ", 9)
    assert complete("b", 1, names) == ("Bob", 3)  # what both share, in the first's case
    assert complete("bob", 3, names) is None  # nothing more to add
    assert complete("hi zed and", 6, names) is None
    assert complete("hi  x", 3, names) is None  # no word before the cursor
    assert complete("x al y", 4, names) == ("x alice  y", 8)


def test_up_and_down_bring_back_what_was_sent() -> None:
    history = InputHistory()
    assert history.back("typing") is None
    history.sent("one")
    history.sent("two")
    history.sent("two")  # the same twice is kept once
    assert history.back("half") == "two"
    assert history.back("ignored") == "one"
    assert history.back("x") is None
    assert history.forward() == "two"
    assert history.forward() == "half"  # what was being typed
    assert history.forward() is None


def test_a_line_with_a_password_is_never_brought_back() -> None:
    history = InputHistory()
    history.sent("/join dev")
    for secret in ("/register wonderland", "/PASSWORD old new"):
        history.sent(secret)
    assert history.back("") == "/join dev"
    assert history.back("") is None


def test_the_client_s_logic_needs_no_tk() -> None:
    """The state and the client import without Tk: what they do is tested here, not in a window."""
    code = (
        "import sys, chatsvc.gui.state, chatsvc.gui.client, chatsvc.gui.local;"
        "sys.exit('tkinter' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    window = "import sys, chatsvc.gui.window; sys.exit('tkinter' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", window], check=False).returncode == 1
