"""Parsing what a signed-on user types."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.commands import (
    BAN,
    HELP,
    HISTORY_CAPPED,
    HISTORY_LINES,
    HISTORY_MAX,
    MODES_USAGE,
    MUTE,
    ROOM_USAGE,
    ChangePassword,
    CommandError,
    GrantOperator,
    Help,
    History,
    Join,
    Kick,
    Lift,
    ListSanctions,
    Me,
    Msg,
    Nick,
    Quit,
    RankInRoom,
    Register,
    RegisterRoom,
    RoomMode,
    Rooms,
    Sanction,
    Say,
    Search,
    Stats,
    Topic,
    Unregister,
    UnregisterRoom,
    Voice,
    Wall,
    Who,
    parse,
)
from chatsvc.chat.events import ModeChange
from chatsvc.chat.sanctions import Mask


class _Parsing(SynchronousTestCase):
    def assertRefused(self, line: str, message: str) -> None:
        with self.assertRaises(CommandError) as caught:
            parse(line)
        self.assertEqual(str(caught.exception), message)


class ParseTests(_Parsing):
    def test_plain_text_is_said(self) -> None:
        self.assertEqual(parse("hello /there"), Say("hello /there"))
        self.assertEqual(parse(" /join x"), Say(" /join x"))

    def test_double_slash(self) -> None:
        self.assertEqual(parse("//join the club"), Say("/join the club"))
        self.assertEqual(parse("//"), Say("/"))

    def test_commands(self) -> None:
        self.assertEqual(parse("/help"), Help())
        self.assertEqual(parse("/nick alicia"), Nick("alicia"))
        self.assertEqual(parse("/join dev"), Join("dev"))
        self.assertEqual(parse("/rooms"), Rooms())
        self.assertEqual(parse("/who"), Who(None))
        self.assertEqual(parse("/who dev"), Who("dev"))
        self.assertEqual(parse("/msg bob hi  there "), Msg("bob", "hi  there"))
        self.assertEqual(parse("/msg bob    hi"), Msg("bob", "hi"))
        self.assertEqual(parse("/me waves  wildly"), Me("waves  wildly"))
        self.assertEqual(parse("/quit"), Quit(None))
        self.assertEqual(parse("/quit gone fishing"), Quit("gone fishing"))

    def test_moderation(self) -> None:
        self.assertEqual(parse("/topic"), Topic(None))
        self.assertEqual(parse("/topic   "), Topic(None))
        self.assertEqual(parse("/topic  Release day:  be nice "), Topic("Release day:  be nice"))
        self.assertEqual(parse("/kick bob"), Kick("bob", None))
        self.assertEqual(parse("/kick bob   "), Kick("bob", None))
        self.assertEqual(parse("/KICK bob  spamming  links "), Kick("bob", "spamming  links"))
        self.assertRefused("/kick", "usage: /kick NICK [REASON]")
        self.assertRefused("/kick   ", "usage: /kick NICK [REASON]")
        self.assertEqual(parse("/stats"), Stats())
        self.assertRefused("/stats now", "usage: /stats")
        self.assertEqual(parse("/wall  back at one "), Wall("back at one"))
        self.assertRefused("/wall", "usage: /wall TEXT")

    def test_command_names_ignore_case_and_surrounding_space(self) -> None:
        self.assertEqual(parse("/JOIN dev"), Join("dev"))
        self.assertEqual(parse("/join   dev  "), Join("dev"))

    def test_unknown(self) -> None:
        self.assertRefused("/frobnicate x", "unknown command /frobnicate (try /help)")
        self.assertRefused("/\u212aick bob", "unknown command /\u212aick (try /help)")
        self.assertRefused("/\u0130OIN dev", "unknown command /\u0130OIN (try /help)")
        self.assertRefused("/\u017fearch x", "unknown command /\u017fearch (try /help)")
        self.assertRefused("/", "no command after /; type // to start a message with /")
        self.assertRefused("/ x", "no command after /; type // to start a message with /")

    def test_bad_arguments(self) -> None:
        self.assertRefused("/nick", "usage: /nick NEW")
        self.assertRefused("/nick a b", "usage: /nick NEW")
        self.assertRefused("/join", "usage: /join ROOM [KEY]")
        self.assertRefused("/join a b c", "usage: /join ROOM [KEY]")
        self.assertRefused("/voice", "usage: /voice NICK")
        self.assertRefused("/devoice a b", "usage: /devoice NICK")
        self.assertRefused("/who a b", "usage: /who [ROOM]")
        self.assertRefused("/rooms x", "usage: /rooms")
        self.assertRefused("/help me", "usage: /help")
        self.assertRefused("/msg", "usage: /msg NICK TEXT")
        self.assertRefused("/msg bob", "usage: /msg NICK TEXT")
        self.assertRefused("/msg bob   ", "usage: /msg NICK TEXT")
        self.assertRefused("/me", "usage: /me ACTION")
        self.assertRefused("/me   ", "usage: /me ACTION")

    def test_help_names_every_command(self) -> None:
        text = "\n".join(HELP)
        names = ["/help", "/nick", "/join", "/rooms", "/who", "/msg", "/me", "/quit", "/topic"]
        for name in [*names, "/kick", "//"]:
            self.assertIn(name, text)


class HistoryCommandTests(SynchronousTestCase):
    def test_history(self) -> None:
        self.assertEqual(parse("/history"), History(HISTORY_LINES))
        self.assertEqual(parse("/history 5"), History(5))
        self.assertEqual(parse("/HISTORY  500 "), History(HISTORY_MAX))

    def test_history_bounds(self) -> None:
        for line in ["/history 0", "/history 000"]:
            with self.assertRaises(CommandError) as caught:
                parse(line)
            self.assertEqual(str(caught.exception), "/history shows 1 line or more")
        self.assertEqual(parse("/history 0500"), History(500))
        self.assertEqual(parse("/history 007"), History(7))

    def test_history_over_the_most(self) -> None:
        """More than the most is the most, and says so (the server tells the user)."""
        for n in ["501", "00501", "9999", "99999999999999999999", "9" * 5000]:
            self.assertEqual(parse(f"/history {n}"), History(HISTORY_MAX, capped=True), n[:30])
        self.assertEqual(HISTORY_CAPPED, "/history shows the last 500 lines at most")
        for line in [
            "/history x",
            "/history -1",
            "/history 1.5",
            "/history 1 2",
            "/history \u0663",
        ]:
            with self.assertRaises(CommandError) as caught:
                parse(line)
            self.assertEqual(str(caught.exception), "usage: /history [N]")

    def test_search(self) -> None:
        self.assertEqual(parse("/search deploy"), Search(("deploy",)))
        self.assertEqual(parse('/search  "a"  b* '), Search(('"a"', "b*")))
        with self.assertRaises(CommandError) as caught:
            parse("/search ")
        self.assertEqual(str(caught.exception), "usage: /search WORDS")


class AwayParseTests(SynchronousTestCase):
    def test_away_with_and_without_a_reason(self) -> None:
        from chatsvc.chat.commands import AWAY_MAX, Away

        self.assertEqual(parse("/away out to lunch"), Away("out to lunch"))
        self.assertEqual(parse("/AWAY   back at 2  "), Away("back at 2"))
        self.assertEqual(parse("/away"), Away(None))
        self.assertEqual(parse("/away " + "é" * (AWAY_MAX // 2)), Away("é" * (AWAY_MAX // 2)))
        with self.assertRaises(CommandError) as caught:
            parse("/away " + "x" * (AWAY_MAX + 1))
        self.assertEqual(
            str(caught.exception), f"an away message is at most {AWAY_MAX} bytes ({AWAY_MAX + 1})"
        )
        self.assertIn("/away [REASON]", "\n".join(HELP))


class ModerationParseTests(_Parsing):
    """The commands of accounts, registered rooms and sanctions, and their refusals."""

    def test_accounts(self) -> None:
        self.assertEqual(parse("/register open sesame"), Register("open sesame"))
        self.assertEqual(parse("/password old new one"), ChangePassword("old", "new one"))
        self.assertEqual(parse("/unregister"), Unregister())
        self.assertEqual(parse("/oper add Bob"), GrantOperator("Bob"))
        self.assertEqual(parse("/oper DEL bob"), GrantOperator("bob", given=False))
        self.assertRefused("/register", "usage: /register PASSWORD")
        self.assertRefused("/password onlyone", "usage: /password OLD NEW")
        self.assertRefused("/unregister now", "usage: /unregister")
        self.assertRefused("/oper give bob", "usage: /oper add|del NAME")
        self.assertRefused("/oper add bob carol", "usage: /oper add|del NAME")

    def test_rooms(self) -> None:
        self.assertEqual(parse("/room register"), RegisterRoom())
        self.assertEqual(parse("/room Unregister"), UnregisterRoom())
        self.assertEqual(
            parse("/room mode +i-m"), RoomMode((ModeChange("i", True), ModeChange("m", False)))
        )
        self.assertEqual(
            parse("/room mode +kl-s+n beer 20"),
            RoomMode(
                (
                    ModeChange("k", True, "beer"),
                    ModeChange("l", True, "20"),
                    ModeChange("s", False),
                    ModeChange("n", True),
                )
            ),
        )
        self.assertEqual(
            parse("/room mode -kl+t"),
            RoomMode((ModeChange("k", False), ModeChange("l", False), ModeChange("t", True))),
        )
        self.assertEqual(parse("/room op bob"), RankInRoom("bob", "operator"))
        self.assertEqual(parse("/room owner bob"), RankInRoom("bob", "owner"))
        self.assertEqual(parse("/room deop bob"), RankInRoom("bob", None))
        for line in ["/room", "/room op", "/room mode", "/room register dev", "/room close"]:
            self.assertRefused(line, ROOM_USAGE)
        self.assertRefused("/room mode +x", f"unknown room mode '+x': {MODES_USAGE}")
        self.assertRefused("/room mode i", f"unknown room mode 'i': {MODES_USAGE}")
        self.assertRefused("/room mode +k", "+k takes a key")
        self.assertRefused("/room mode +l", "+l takes a number")
        self.assertRefused("/room mode -k beer", f"too many arguments: {MODES_USAGE}")
        self.assertRefused("/room mode +", f"give the modes: {MODES_USAGE}")

    def test_join_and_voice(self) -> None:
        self.assertEqual(parse("/join dev beer"), Join("dev", "beer"))
        self.assertEqual(parse("/join  dev   beer "), Join("dev", "beer"))
        self.assertEqual(parse("/voice bob"), Voice("bob"))
        self.assertEqual(parse("/devoice bob"), Voice("bob", given=False))

    def test_sanctions(self) -> None:
        self.assertEqual(
            parse("/ban spam* 1h30m flooding the room"),
            Sanction(BAN, Mask.parse("spam*"), duration=5400.0, reason="flooding the room"),
        )
        self.assertEqual(
            parse("/mute -g 10.0.0.0/8 noisy"),
            Sanction(MUTE, Mask.parse("10.0.0.0/8"), chat_wide=True, reason="noisy"),
        )
        self.assertEqual(parse("/unban -g account:bob"), Lift(BAN, Mask.parse("account:bob"), True))
        self.assertEqual(parse("/bans -g"), ListSanctions(chat_wide=True))
        self.assertRefused("/ban", "usage: /ban [-g] MASK [TIME] [WHY]")
        self.assertRefused("/ban account:", "account: needs an account name after it")
        self.assertRefused("/ban *", "* would match everyone")
        self.assertRefused("/unban bob now", "usage: /unban [-g] MASK")
        self.assertRefused("/bans all", "usage: /bans [-g]")
        self.assertRefused(
            "/mute bob 2x",
            "'2x' is not a duration: use a number and s, m, h, d or w (as 30m or 1h30m)",
        )
        self.assertRefused("/ban bob 1h " + "x" * 301, "a reason is at most 300 characters (301)")
