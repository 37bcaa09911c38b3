"""IRC messages: parsing, tags and all, and writing them back."""

from __future__ import annotations

import pytest

from chatsvc.frontends.irc.message import (
    MAX_CLIENT_TAGS,
    Message,
    TooLong,
    client_tags,
    escape,
    line,
    parse,
    unescape,
    write_tags,
)


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
    tags = "a=" + "x" * (MAX_CLIENT_TAGS - 2)  # 4094 bytes between the "@" and the space
    assert parse(f"@{tags} PING x", 4103) == Message("PING", ("x",))
    with pytest.raises(TooLong):
        parse(f"@{tags}x PING x", 4104)
    with pytest.raises(TooLong):
        parse("@a=" + "\u00e9" * 2047 + " PING x", 4104)  # 4096 bytes, in 2050 characters


def test_client_tags_are_the_plus_ones_with_a_key_by_the_grammar() -> None:
    tags = {"+a": "1", "b": "2", "+v.example/c": "", "+": "x", "+d_e": "y", "+f": "n\0ul"}
    assert client_tags(tags) == (("+a", "1"), ("+v.example/c", ""), ("+f", "nul"))
    assert client_tags({}) == ()


def test_writing_tags() -> None:
    assert write_tags((("+a", "x y"), ("+b", ""), ("+c", "a;b\\"))) == "+a=x\\sy;+b;+c=a\\:b\\\\"
    parsed = parse("@" + write_tags((("+a", "x y;\r\n"),)) + " TAGMSG #a")
    assert parsed is not None and parsed.tags == {"+a": "x y;\r\n"}


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
