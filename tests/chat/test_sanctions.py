"""Masks, durations and the bounded list of bans and mutes, alone."""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.sanctions import (
    MAX_DURATION,
    Identity,
    Mask,
    MaskKind,
    Sanction,
    SanctionKind,
    Sanctions,
    describe_duration,
    parse_duration,
)


class DurationTests(SynchronousTestCase):
    def test_units(self) -> None:
        self.assertEqual(parse_duration("45s"), 45)
        self.assertEqual(parse_duration("10m"), 600)
        self.assertEqual(parse_duration("2H"), 7200)
        self.assertEqual(parse_duration("1d"), 86400)
        self.assertEqual(parse_duration("1w"), 604800)
        self.assertEqual(parse_duration("1h30m"), 5400)

    def test_bad(self) -> None:
        bad = ["", "10", "m", "5x", "1h 30m", "-5m", "1.5h", "\u0661\u0662m", "9" * 10 + "s", "0s"]
        for text in bad:
            with self.assertRaises(ValueError, msg=text):
                parse_duration(text)

    def test_bounded(self) -> None:
        self.assertEqual(parse_duration("3650d"), MAX_DURATION)
        with self.assertRaises(ValueError) as e:
            parse_duration("3651d")
        self.assertEqual(str(e.exception), "a duration is at most 3650d")
        with self.assertRaises(ValueError):
            parse_duration("999999999w")

    def test_describe(self) -> None:
        self.assertEqual(describe_duration(45), "45s")
        self.assertEqual(describe_duration(5400), "1h 30m")
        self.assertEqual(describe_duration(90061), "1d 1h")


class MaskTests(SynchronousTestCase):
    def test_forms(self) -> None:
        self.assertEqual(Mask.parse("Bob*"), Mask(MaskKind.NICK, "bob*"))
        self.assertEqual(Mask.parse("nick:Bob"), Mask(MaskKind.NICK, "bob"))
        self.assertEqual(Mask.parse("account:Alice"), Mask(MaskKind.ACCOUNT, "alice"))
        self.assertEqual(Mask.parse("192.0.2.7"), Mask(MaskKind.ADDRESS, "192.0.2.7/32"))
        self.assertEqual(Mask.parse("192.0.2.7/24"), Mask(MaskKind.ADDRESS, "192.0.2.0/24"))
        self.assertEqual(Mask.parse("2001:DB8::1/32"), Mask(MaskKind.ADDRESS, "2001:db8::/32"))
        self.assertEqual(str(Mask.parse("account:Alice")), "account:alice")
        self.assertEqual(str(Mask.parse("10.0.0.0/8")), "10.0.0.0/8")

    def test_bad_masks(self) -> None:
        bad = {
            "": "no nickname pattern given",
            "nick:": "no nickname pattern given",
            "account:": "account: needs an account name after it",
            "*": "* would match everyone",
            "nick:*?*": "*?* would match everyone",
            "0.0.0.0/0": "0.0.0.0/0 would match every address",
            "::/0": "::/0 would match every address",
            "10.0.0.0/33": "'10.0.0.0/33' is not a mask",
            "host:x": "'host:x' is not a mask",
            "account:al*": "an account mask names one account",
            "bob!*@*": "'bob!*@*' is not a nickname pattern",
            "x" * 65: "'" + "x" * 50 + "' is not a nickname pattern",
            "a\x00b": "'a\\x00b' is not a nickname pattern",
        }
        for text, message in bad.items():
            with self.assertRaises(ValueError, msg=text) as e:
                Mask.parse(text)
            self.assertTrue(str(e.exception).startswith(message), (text, str(e.exception)))

    def test_matches(self) -> None:
        bob = Identity("Bobby", "bob", "192.0.2.7")
        self.assertTrue(Mask.parse("bob*").matches(bob))
        self.assertTrue(Mask.parse("b?bby").matches(bob))
        self.assertFalse(Mask.parse("bob").matches(bob))
        self.assertTrue(Mask.parse("account:BOB").matches(bob))
        self.assertFalse(Mask.parse("account:bob").matches(Identity("bob")))
        self.assertTrue(Mask.parse("192.0.2.0/24").matches(bob))
        self.assertFalse(Mask.parse("198.51.100.0/24").matches(bob))
        self.assertFalse(Mask.parse("192.0.2.0/24").matches(Identity("bob")))

    def test_brackets_are_nickname_characters(self) -> None:
        self.assertTrue(Mask.parse("[afk]*").matches(Identity("[afk]bob")))
        self.assertFalse(Mask.parse("[afk]*").matches(Identity("abob")))

    def test_ipv6_and_mapped_addresses(self) -> None:
        self.assertTrue(Mask.parse("2001:db8::/32").matches(Identity("x", None, "2001:db8::5")))
        self.assertTrue(Mask.parse("192.0.2.7").matches(Identity("x", None, "::ffff:192.0.2.7")))
        self.assertFalse(Mask.parse("2001:db8::/32").matches(Identity("x", None, "192.0.2.7")))
        self.assertFalse(Mask.parse("2001:db8::/32").matches(Identity("x", None, "not an ip")))

    def test_many_wildcards_are_cheap(self) -> None:
        mask = Mask.parse("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
        self.assertFalse(mask.matches(Identity("a" * 32)))


def _ban(
    mask: str, at: float = 0, until: float | None = None, room: str | None = "dev"
) -> Sanction:
    return Sanction(SanctionKind.BAN, Mask.parse(mask), room, "op", at, None, until)


class SanctionsTests(SynchronousTestCase):
    def test_scopes_apart(self) -> None:
        kept = Sanctions()
        kept.add(_ban("bob"))
        bob = Identity("bob")
        self.assertIsNotNone(kept.matching(SanctionKind.BAN, "DEV", bob, 0))
        self.assertIsNone(kept.matching(SanctionKind.BAN, None, bob, 0))
        self.assertIsNone(kept.matching(SanctionKind.MUTE, "dev", bob, 0))
        self.assertIsNone(kept.matching(SanctionKind.BAN, "ops", bob, 0))

    def test_again_replaces(self) -> None:
        kept = Sanctions()
        first = _ban("bob", 0, 10)
        self.assertIsNone(kept.add(first))
        self.assertEqual(kept.add(_ban("BOB", 5, None)), first)
        self.assertEqual(len(kept.listed("dev", 100)), 1)

    def test_expiry(self) -> None:
        kept = Sanctions()
        kept.add(_ban("bob", 0, 60))
        self.assertIsNotNone(kept.matching(SanctionKind.BAN, "dev", Identity("bob"), 59.9))
        self.assertIsNone(kept.matching(SanctionKind.BAN, "dev", Identity("bob"), 60))
        self.assertEqual(list(kept), [])

    def test_bounded(self) -> None:
        kept = Sanctions(max_per_scope=3)
        for n in range(3):
            kept.add(_ban(f"bob{n}"))
        with self.assertRaises(ValueError) as e:
            kept.add(_ban("bob9"))
        self.assertEqual(
            str(e.exception), "dev has 3 bans already, the most it may have: lift some first"
        )
        kept.add(_ban("bob0"))  # replacing one is not one more
        kept.add(_ban("x", room=None))  # another scope
        self.assertEqual(len(kept.listed("dev", 0)), 3)

    def test_full_of_expired_makes_room(self) -> None:
        kept = Sanctions(max_per_scope=2)
        kept.add(_ban("a", 0, 10))
        kept.add(_ban("b", 0, 10))
        kept.add(_ban("c", 20))
        self.assertEqual([str(s.mask) for s in kept.listed("dev", 20)], ["nick:c"])

    def test_muting_says_whether_any_mute_is_kept(self) -> None:
        kept = Sanctions()
        kept.add(_ban("bob", room=None))
        self.assertFalse(kept.muting)  # a ban is no mute
        mute = attrs.evolve(_ban("carol", 0, 60), kind=SanctionKind.MUTE)
        kept.add(mute)
        kept.add(attrs.evolve(mute, room=None))
        self.assertTrue(kept.muting)
        kept.remove(SanctionKind.MUTE, mute.mask, "dev")
        self.assertTrue(kept.muting)  # the chat-wide one is left
        kept.matching(SanctionKind.MUTE, None, Identity("x"), 60)  # met expired: dropped
        self.assertFalse(kept.muting)
        kept.add(mute)
        kept.expire(60)
        self.assertFalse(kept.muting)
        kept.add(mute)
        kept.forget_room("DEV")
        self.assertFalse(kept.muting)
        self.assertEqual([s.kind for s in kept], [SanctionKind.BAN])
