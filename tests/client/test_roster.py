"""Who is in our room, from the lines the server sends; and what Tab completes a word to."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.client.roster import SPEAKERS_KEPT, Completion, Roster, complete
from chatsvc.client.session import classify


def roster_after(*lines: str, nick: str = "bob") -> Roster:
    roster = Roster()
    for text in lines:
        roster.follow(classify(text, nick))
    return roster


JOINED = ["*** You joined attic (4 members):", "*** alice, bob, Carol (away)", "*** dave"]


class RosterTests(SynchronousTestCase):
    def test_the_listing_on_joining(self) -> None:
        """Every line of the listing, those away too; what follows it is not a listing."""
        roster = roster_after(*JOINED, "*** eve")
        self.assertEqual(roster.room, "attic")
        self.assertEqual(roster.nicks(), ["alice", "bob", "Carol", "dave"])
        self.assertEqual(roster.nicks(exclude="BOB"), ["alice", "Carol", "dave"])

    def test_speakers_first_the_latest_first(self) -> None:
        roster = roster_after(*JOINED, "<dave> hi", "* Carol waves", "<dave> again", "<alice> x")
        self.assertEqual(roster.nicks(exclude="bob"), ["alice", "dave", "Carol"])

    def test_comings_and_goings(self) -> None:
        roster = roster_after(
            *JOINED,
            "<dave> hi",
            "*** eve joined attic",
            "*** alice left attic (quit: bye)",
            "*** dave is now known as david",
            "*** Carol was kicked by bob (spam)",
            "*** frank joined lobby",  # not our room
        )
        self.assertEqual(roster.nicks(exclude="bob"), ["david", "eve"])

    def test_a_new_room_starts_over(self) -> None:
        roster = roster_after(*JOINED, "<dave> hi", "*** You joined dev (1 member):", "*** bob")
        self.assertEqual((roster.room, roster.nicks()), ("dev", ["bob"]))

    def test_who_of_our_room_refreshes_it(self) -> None:
        roster = roster_after(
            *JOINED,
            "*** Members of lobby (1 member):",
            "*** zed",
            "*** Members of attic (2 members):",
            "*** alice, bob",
        )
        self.assertEqual(roster.nicks(), ["alice", "bob"])

    def test_a_room_too_big_to_list(self) -> None:
        """Those who speak are known all the same."""
        roster = roster_after(
            "*** You joined big (5000 members):",
            "*** Too many to list here; /who big lists them.",
            "*** Topic for big: x, y (set by alice, 2026-11-21 14:03 UTC)",
            "<zoe> hello",
        )
        self.assertEqual(roster.nicks(), ["zoe"])

    def test_speakers_are_bounded(self) -> None:
        roster = roster_after(*[f"<n{i}> hi" for i in range(SPEAKERS_KEPT + 10)])
        nicks = roster.nicks()
        self.assertEqual(nicks[0], f"n{SPEAKERS_KEPT + 9}")
        self.assertEqual(nicks[SPEAKERS_KEPT - 1], "n10")
        self.assertEqual(sorted(nicks[SPEAKERS_KEPT:]), sorted(f"n{i}" for i in range(10)))


class CompleteTests(SynchronousTestCase):
    NICKS = ["dave", "alice", "Albert"]
    COMMANDS = ["join", "help", "kick", "clear"]

    def complete(self, text: str, cursor: int | None = None) -> Completion | None:
        at = len(text) if cursor is None else cursor
        return complete(text, at, self.NICKS, self.COMMANDS)

    def test_a_nickname_at_the_start_of_the_line(self) -> None:
        self.assertEqual(self.complete("al"), Completion(0, ("alice: ", "Albert: ")))
        self.assertEqual(self.complete("ALB"), Completion(0, ("Albert: ",)))

    def test_a_nickname_elsewhere(self) -> None:
        self.assertEqual(self.complete("hi d"), Completion(3, ("dave ",)))
        self.assertEqual(self.complete("/msg al"), Completion(5, ("alice ", "Albert ")))

    def test_the_word_before_the_cursor(self) -> None:
        self.assertEqual(self.complete("hi d there", 4), Completion(3, ("dave ",)))

    def test_nothing_typed_yet(self) -> None:
        """Tab on an empty line offers the latest speaker first."""
        self.assertEqual(self.complete(""), Completion(0, ("dave: ", "alice: ", "Albert: ")))

    def test_commands(self) -> None:
        self.assertEqual(self.complete("/j"), Completion(0, ("/join ",)))
        self.assertEqual(
            self.complete("/"), Completion(0, ("/clear ", "/help ", "/join ", "/kick "))
        )
        self.assertEqual(self.complete("/K"), Completion(0, ("/kick ",)))

    def test_no_completion(self) -> None:
        self.assertIsNone(self.complete("zz"))
        self.assertIsNone(self.complete("/zz"))
        self.assertIsNone(self.complete("hi "), "after a space: no word, and no nickname is ''")
