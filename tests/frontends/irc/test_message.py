"""IRC messages: parsing, tags and all, and writing them back."""

from __future__ import annotations

import pytest

from chatsvc.frontends.irc.message import Message, TooLong, escape, line, parse, unescape


def test_a_plain_message() -> None:
    assert parse("privmsg #dev :hello  there") == Message("PRIVMSG", ("#dev", "hello  there"))


def test_tags_and_source() -> None:
    message = parse(r"@time=x;+draft/reply=a\sb\:c;flag :nick!u@h JOIN #a")
    assert message is not None
    assert message.tags == {"time": "x", "+draft/reply": "a b;c", "flag": ""}
    assert (message.source, message.command, message.params) == ("nick!u@h", "JOIN", ("#a",))


def test_spaces_between_middle_parameters_do_not_count() -> None:
    assert parse("USER  u 0  * :Real  Name") == Message("USER", ("u", "0", "*", "Real  Name"))


def test_empty_lines_and_lines_without_a_command() -> None:
    assert parse("") is None
    assert parse("   ") is None
    assert parse(":source") is None
    assert parse("@a=b") is None


def test_an_empty_trailing_parameter() -> None:
    assert parse("TOPIC #a :") == Message("TOPIC", ("#a", ""))


def test_limits() -> None:
    parse("PRIVMSG a :" + "x" * 499, 510)
    with pytest.raises(TooLong):
        parse("PRIVMSG a :" + "x" * 500, 511)
    with pytest.raises(TooLong):
        parse("@a=" + "x" * 8190 + " PING x", 8200)


def test_tag_escapes_round_trip() -> None:
    value = "a; b\\c\r\nd"
    assert unescape(escape(value)) == value
    assert unescape("trailing\\") == "trailing"
    assert unescape(r"\q") == "q"


def test_writing_puts_a_colon_where_it_must() -> None:
    assert line("s", "PRIVMSG", "#a", "hi") == ":s PRIVMSG #a hi"
    assert line("s", "PRIVMSG", "#a", "hi there") == ":s PRIVMSG #a :hi there"
    assert line("s", "PRIVMSG", "#a", ":)") == ":s PRIVMSG #a ::)"
    assert line("s", "TOPIC", "#a", "") == ":s TOPIC #a :"
    assert line(None, "PING", "x", tags="time=t") == "@time=t PING x"
