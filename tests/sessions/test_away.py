"""
Being away (C{/away}, IRC's C{AWAY}): wire-neutral, through the session's
results: who is away is marked where members are listed, and a private
message to an away user is answered with why, as IRC's C{301} does.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat import commands
from chatsvc.chat.events import PrivateMessage
from chatsvc.sessions.results import Away, Members, PrivateSent
from tests.sessions.test_session import FakeServer, entered


class AwayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer()
        self.alice = self.server.signed_on("alice")
        self.bob = self.server.signed_on("bob")
        self.alice.take()

    def test_marked_away_and_back(self) -> None:
        self.bob.session.perform(commands.Away("lunch"))
        self.assertEqual(self.bob.take(), [Away("lunch")])
        participant = self.server.chat.find("bob")
        assert participant is not None
        self.assertEqual(participant.away, "lunch")
        self.bob.session.perform(commands.Away(None))
        self.assertEqual(self.bob.take(), [Away(None)])
        self.assertIsNone(participant.away)
        self.assertEqual(self.alice.take(), [], "nobody else is told")

    def test_who_marks_those_away(self) -> None:
        self.bob.session.perform(commands.Away("lunch"))
        self.alice.session.perform(commands.Who())
        self.assertEqual(self.alice.take(), [Members("lobby", ("alice", "bob"), ("bob",))])
        self.bob.session.perform(commands.Away(None))
        self.alice.session.perform(commands.Who())
        self.assertEqual(self.alice.take(), [Members("lobby", ("alice", "bob"))])

    def test_entering_a_room_marks_them_too(self) -> None:
        self.bob.session.perform(commands.Away("lunch"))
        carol = self.server.connect()
        carol.session.sign_on_as("carol")
        self.assertEqual(carol.take()[1], entered("lobby", "alice", "bob", "carol", away=("bob",)))

    def test_a_private_message_to_one_away_says_why(self) -> None:
        self.bob.session.perform(commands.Away("lunch"))
        self.bob.take()
        self.alice.session.perform(commands.Msg("bob", "ping"))
        private = PrivateMessage("alice", "bob", "ping")
        self.assertEqual(self.alice.take(), [PrivateSent(private, away="lunch")])
        self.assertEqual(self.bob.take(), [private], "delivered all the same")

    def test_not_to_a_notice(self) -> None:
        """Automatic replies never answer a notice (RFC 2812 3.3.2)."""
        self.bob.session.perform(commands.Away("lunch"))
        self.alice.session.perform(commands.Msg("bob", "ping", notice=True))
        self.assertEqual(
            self.alice.take(), [PrivateSent(PrivateMessage("alice", "bob", "ping", notice=True))]
        )

    def test_nor_once_back(self) -> None:
        self.bob.session.perform(commands.Away("lunch"))
        self.bob.session.perform(commands.Away(None))
        self.alice.session.perform(commands.Msg("bob", "ping"))
        self.assertEqual(self.alice.take(), [PrivateSent(PrivateMessage("alice", "bob", "ping"))])
