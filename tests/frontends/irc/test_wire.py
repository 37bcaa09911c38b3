"""The chat's events on IRC's wire, and what IRC users' text keeps."""

from __future__ import annotations

from twisted.internet.task import Clock

from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Joined,
    Kicked,
    Left,
    Message,
    NickChange,
    PrivateMessage,
    PrivateTagMessage,
    TagMessage,
    TopicChanged,
)
from chatsvc.chat.sanctions import Mask
from chatsvc.frontends.irc.wire import (
    IrcServer,
    User,
    action_of,
    sanitise,
    server_time,
    split_text,
)
from chatsvc.frontends.line.wire import render


def test_events() -> None:
    server = IrcServer()
    server.users["alice"] = User("~a", "Alice")
    events = server.events(Clock(), timed=False)
    assert events.render(Message("dev", "Alice", "hi")) == b":Alice!~a@chatsvc PRIVMSG #dev :hi\r\n"
    assert events.lines(Action("dev", "bob", "waves")) == [
        ":bob!bob@chatsvc PRIVMSG #dev :\x01ACTION waves\x01"
    ]
    assert events.lines(Joined("dev", "bob")) == [":bob!bob@chatsvc JOIN #dev"]
    assert events.lines(Left("dev", "bob")) == [":bob!bob@chatsvc PART #dev"]
    assert events.lines(Left("dev", "bob", "bye", True, signed_off=True)) == [
        ":bob!bob@chatsvc QUIT :Quit: bye"
    ]
    assert events.lines(Left("dev", "bob", "not reading", signed_off=True)) == [
        ":bob!bob@chatsvc QUIT :not reading"
    ]
    assert events.lines(NickChange("dev", "bob", "rob")) == [":bob!bob@chatsvc NICK rob"]
    assert events.lines(TopicChanged("dev", "bob", "new")) == [":bob!bob@chatsvc TOPIC #dev new"]
    assert events.lines(Kicked("dev", "bob", "Root")) == [":Root!Root@chatsvc KICK #dev bob Root"]


def test_ban_list_changes_are_mode_lines() -> None:
    events = IrcServer().events(Clock(), timed=False)
    bob, network = Mask.parse("bob"), Mask.parse("192.0.2.0/24")
    assert events.render(BanListChanged("dev", "alice", "ban", bob, 60.0, "spam")) == (
        b":alice!alice@chatsvc MODE #dev +b bob!*@*\r\n"
    )
    assert events.lines(BanListChanged("dev", "alice", "mute", network)) == [
        ":alice!alice@chatsvc MODE #dev +b m:*!*@192.0.2.0/24"
    ]
    assert events.lines(
        BanListChanged("dev", "alice", "ban", Mask.parse("account:carol"), on=False)
    ) == [":alice!alice@chatsvc MODE #dev -b a:carol"]
    assert events.lines(BanListChanged("dev", "alice", "mute", bob, on=False)) == [
        ":alice!alice@chatsvc MODE #dev -b m:bob!*@*"
    ]
    # One that ran out is unset by the server.
    assert events.lines(BanListChanged("dev", "alice", "ban", bob, on=False, expired=True)) == [
        ":chatsvc MODE #dev -b bob!*@*"
    ]


def test_one_renderer_per_kind_of_connection() -> None:
    server, clock = IrcServer(), Clock()
    assert server.events(clock, timed=True) is server.events(clock, timed=True)
    assert server.events(clock, timed=True) is not server.events(clock, timed=False)
    clock.advance(2.25)
    assert server.events(clock, timed=True).render(Joined("a", "b")) == (
        b"@time=1970-01-01T00:00:02.250Z :b!b@chatsvc JOIN #a\r\n"
    )


def test_msgid_is_one_per_message_whichever_renderer() -> None:
    server, clock = IrcServer(msgid_prefix="m"), Clock()
    tagged, timed = (
        server.events(clock, timed=False, tagged=True),
        server.events(clock, timed=True, tagged=True),
    )
    assert tagged is not server.events(clock, timed=False)
    first, again = Message("dev", "bob", "hi"), Message("dev", "bob", "hi")
    assert tagged.render(first) == b"@msgid=m1 :bob!bob@chatsvc PRIVMSG #dev :hi\r\n"
    assert timed.render(first) == (
        b"@time=1970-01-01T00:00:00.000Z;msgid=m1 :bob!bob@chatsvc PRIVMSG #dev :hi\r\n"
    )
    assert tagged.render(again) == b"@msgid=m2 :bob!bob@chatsvc PRIVMSG #dev :hi\r\n", (
        "the same words said again are another message"
    )
    assert tagged.render(Joined("dev", "bob")) == b":bob!bob@chatsvc JOIN #dev\r\n"
    assert server.events(clock, timed=False).render(first) == (
        b":bob!bob@chatsvc PRIVMSG #dev :hi\r\n"
    )


def test_client_tags_only_where_tags_are_rendered() -> None:
    server, clock = IrcServer(msgid_prefix="m"), Clock()
    tagged, timed, plain = (
        server.events(clock, timed=False, tagged=True),
        server.events(clock, timed=True, tagged=False),
        server.events(clock, timed=False),
    )
    said = Message("dev", "bob", "hi", tags=(("+reply", "m0"), ("+a", "x y;z")))
    assert tagged.render(said) == (
        b"@msgid=m1;+reply=m0;+a=x\\sy\\:z :bob!bob@chatsvc PRIVMSG #dev :hi\r\n"
    )
    assert timed.render(said) == (
        b"@time=1970-01-01T00:00:00.000Z :bob!bob@chatsvc PRIVMSG #dev :hi\r\n"
    )
    assert plain.render(said) == b":bob!bob@chatsvc PRIVMSG #dev :hi\r\n"
    private = PrivateMessage("bob", "al", "psst", tags=(("+a", ""),))
    assert tagged.render(private) == b"@msgid=m2;+a :bob!bob@chatsvc PRIVMSG al :psst\r\n"


def test_tag_messages() -> None:
    server, clock = IrcServer(msgid_prefix="m"), Clock()
    tagged = server.events(clock, timed=False, tagged=True)
    both = server.events(clock, timed=True, tagged=True)
    sent = TagMessage("dev", "bob", (("+typing", "active"),))
    assert tagged.render(sent) == b"@msgid=m1;+typing=active :bob!bob@chatsvc TAGMSG #dev\r\n"
    assert both.render(sent) == (
        b"@time=1970-01-01T00:00:00.000Z;msgid=m1;+typing=active :bob!bob@chatsvc TAGMSG #dev\r\n"
    )
    alone = PrivateTagMessage("bob", "al", (("+typing", "done"),))
    assert tagged.render(alone) == b"@msgid=m2;+typing=done :bob!bob@chatsvc TAGMSG al\r\n"


def test_long_text_is_split_at_character_boundaries() -> None:
    pieces = split_text(":n!u@h PRIVMSG #a", "€" * 400)
    assert len(pieces) == 3
    assert all(len(piece.encode()) <= 510 for piece in pieces)
    assert "".join(piece.split(" :", 1)[1] for piece in pieces) == "€" * 400


def test_formatting_is_kept_for_irc_and_removed_for_lines() -> None:
    text = sanitise("\x02bold\x02 \x0304,01red\x03 \x1b[31m\x1ditalic\x0f")
    assert text == "\x02bold\x02 \x0304,01red\x03 [31m\x1ditalic\x0f"
    assert render(Message("a", "b", text)) == b"<b> bold red [31mitalic\n"


def test_actions() -> None:
    assert action_of("\x01ACTION waves\x01") == "waves"
    assert action_of("\x01ACTION waves") == "waves"
    assert action_of("\x01VERSION\x01") is None
    assert action_of("hello") is None


def test_server_time() -> None:
    assert server_time(0.5) == "1970-01-01T00:00:00.500Z"
