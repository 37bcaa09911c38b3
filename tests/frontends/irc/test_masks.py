"""IRC's ban masks as the chat's, and back (L{chatsvc.frontends.irc.masks})."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.sanctions import Mask, MaskKind, SanctionKind
from chatsvc.frontends.irc.masks import irc_mask, parse_ban, parse_mask

BAN, MUTE = SanctionKind.BAN, SanctionKind.MUTE


class ParseTests(SynchronousTestCase):
    def test_nicknames(self) -> None:
        for written in ("Bob", "bob!*@*", "bob!~*@*", "bob!*", "bob@*", "spam*"):
            with self.subTest(written):
                expected = "spam*" if written == "spam*" else "bob"
                self.assertEqual(parse_mask(written), Mask(MaskKind.NICK, expected))

    def test_addresses(self) -> None:
        self.assertEqual(parse_mask("*!*@192.0.2.7"), Mask(MaskKind.ADDRESS, "192.0.2.7/32"))
        self.assertEqual(parse_mask("*!*@192.0.2.0/24"), Mask(MaskKind.ADDRESS, "192.0.2.0/24"))
        self.assertEqual(parse_mask("*@2001:db8::/32"), Mask(MaskKind.ADDRESS, "2001:db8::/32"))
        self.assertEqual(parse_mask("10.0.0.0/8"), Mask(MaskKind.ADDRESS, "10.0.0.0/8"))

    def test_accounts(self) -> None:
        for written in ("a:Alice", "$a:alice", "R:alice"):
            with self.subTest(written):
                self.assertEqual(parse_mask(written), Mask(MaskKind.ACCOUNT, "alice"))

    def test_mutes(self) -> None:
        self.assertEqual(parse_ban("m:bob!*@*"), (MUTE, Mask(MaskKind.NICK, "bob")))
        self.assertEqual(parse_ban("M:a:bob"), (MUTE, Mask(MaskKind.ACCOUNT, "bob")))
        self.assertEqual(parse_ban("bob"), (BAN, Mask(MaskKind.NICK, "bob")))

    def test_what_the_chat_cannot_tell_apart(self) -> None:
        refused = {
            "*!ident@*": "*!ident@*: idents are not checked here; use *!*@ADDRESS or a:ACCOUNT",
            "*!*@host.example": "*!*@host.example: hosts are hidden here; "
            "ban an address or network (*!*@192.0.2.0/24)",
            "bob!*@10.0.0.1": "bob!*@10.0.0.1: ban a nickname (nick!*@*) or an address "
            "(*!*@ADDRESS)",
            "*": "* would match everyone",
            "*!*@*": "* would match everyone",
            "*!*@0.0.0.0/0": "0.0.0.0/0 would match every address",
            "a:al*": "an account mask names one account: no wildcards",
            "m:": "no nickname pattern given",
            "b\x00b": "'b\\x00b' is not a nickname pattern: use letters, digits, _ - . [ ] { } ^ | "
            "and the wildcards * and ?, at most 64",
        }
        for written, why in refused.items():
            with self.subTest(written):
                with self.assertRaises(ValueError) as raised:
                    parse_ban(written)
                self.assertEqual(str(raised.exception), why)


class WriteTests(SynchronousTestCase):
    def test_each_kind(self) -> None:
        self.assertEqual(irc_mask(BAN, Mask(MaskKind.NICK, "bob")), "bob!*@*")
        self.assertEqual(irc_mask(BAN, Mask(MaskKind.ADDRESS, "10.0.0.0/8")), "*!*@10.0.0.0/8")
        self.assertEqual(irc_mask(MUTE, Mask(MaskKind.ACCOUNT, "bob")), "m:a:bob")

    def test_round_trip(self) -> None:
        for written in ("bob!*@*", "*!*@10.0.0.0/8", "a:bob", "m:spam*!*@*", "m:*!*@2001:db8::/32"):
            with self.subTest(written):
                self.assertEqual(irc_mask(*parse_ban(written)), written)
