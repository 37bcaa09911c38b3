"""
A node's chat alone, without Redis: two L{ClusterChat}s joined by a link in
memory that hands each operation to the other at once, as the Redis link
would, and records what it was told.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChange,
    ModeChanged,
    PrivateMessage,
    PrivateTagMessage,
    Removed,
    Sanctioned,
    TagMessage,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.model import (
    Account,
    BadKey,
    Barred,
    InviteOnly,
    Moderated,
    Participant,
    RoomFull,
)
from chatsvc.chat.sanctions import Mask, SanctionKind
from chatsvc.cluster.chat import GONE, ClusterChat, RemoteClient, record
from chatsvc.cluster.ops import Op, decode, encode
from tests.chat.test_model import RecordingClient


@attrs.define
class MemoryLink:
    """The link of node C{chat}: each operation straight to C{other}, and remembered."""

    chat: ClusterChat
    other: ClusterChat | None = None
    ops: list[Op] = attrs.field(factory=list)
    kept: dict[str, dict[str, object]] = attrs.field(factory=dict)
    released: list[str] = attrs.field(factory=list)
    rewritten: list[str] = attrs.field(factory=list)

    def rewrite(self, nick: str) -> None:
        self.rewritten.append(nick)

    def publish(
        self, op: Op | None, changed: Sequence[Participant] = (), gone: Sequence[str] = ()
    ) -> None:
        for nick in gone:
            self.released.append(nick)
            self.kept.pop(nick.lower(), None)
        for participant in changed:
            self.kept[participant.nick.lower()] = record(participant)
        if op is not None:
            self.ops.append(op)
            if self.other is not None:
                self.other.apply(self.chat.node, op)


def pair() -> tuple[ClusterChat, MemoryLink, ClusterChat, MemoryLink]:
    a, b = ClusterChat("a"), ClusterChat("b")
    to_b, to_a = MemoryLink(a, b), MemoryLink(b, a)
    a.link, b.link = to_b, to_a
    return a, to_b, b, to_a


class ClusterChatTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.a, self.a_link, self.b, self.b_link = pair()
        self.alice_client, self.bob_client = RecordingClient(), RecordingClient()
        self.alice = self.a.sign_on("alice", self.alice_client)
        self.bob = self.b.sign_on("bob", self.bob_client)

    def test_users_of_the_other_node_are_remote_participants(self) -> None:
        remote = self.a.find("bob")
        assert remote is not None
        self.assertIsInstance(remote.client, RemoteClient)
        self.assertFalse(self.a.is_local(remote))
        self.assertEqual(self.a.lobby.nicks(), ["alice", "bob"])
        self.assertEqual(self.b.lobby.nicks(), ["alice", "bob"])
        self.assertEqual(self.alice_client.take(), [Joined("lobby", "bob")])
        self.assertEqual(self.a.local(), [self.alice])
        self.assertEqual(self.a.nodes(), ["b"])

    def test_a_line_is_one_operation_and_reaches_the_other_nodes_members(self) -> None:
        self.alice_client.take()
        self.a_link.ops.clear()
        self.a.say(self.alice, "hello")
        self.assertEqual(
            self.a_link.ops,
            [{"op": "say", "nick": "alice", "room": "lobby", "text": "hello", "notice": False}],
        )
        self.assertEqual(self.bob_client.take(), [Message("lobby", "alice", "hello")])
        self.assertEqual(self.alice_client.take(), [])
        self.assertEqual(self.b_link.ops[-1]["op"], "on")  # b published nothing for it

    def test_client_tags_go_with_what_is_said_to_the_other_node(self) -> None:
        tags = (("+reply", "a-1"),)
        self.a.say(self.alice, "hello", tags=tags)
        self.a.act(self.alice, "waves", tags=tags)
        self.a.whisper(self.alice, "bob", "psst", tags=tags)
        self.assertEqual(
            self.bob_client.take(),
            [
                Message("lobby", "alice", "hello", tags=tags),
                Action("lobby", "alice", "waves", tags=tags),
                PrivateMessage("alice", "bob", "psst", tags=tags),
            ],
        )
        self.assertEqual(self.a_link.ops[-3]["tags"], tags)

    def test_tags_alone_reach_the_other_nodes_clients_that_take_tags(self) -> None:
        carol_client = RecordingClient(takes_tags=True)
        self.b.sign_on("carol", carol_client)
        self.bob_client.take(), carol_client.take()
        self.a_link.ops.clear()
        tags = (("+typing", "active"),)
        self.a.send_tags(self.alice, tags)
        self.a.whisper_tags(self.alice, "carol", tags)
        self.a.whisper_tags(self.alice, "bob", tags)
        self.assertEqual(
            carol_client.take(),
            [TagMessage("lobby", "alice", tags), PrivateTagMessage("alice", "carol", tags)],
        )
        self.assertEqual(self.bob_client.take(), [], "bob's client takes no tags")
        self.assertEqual(
            self.a_link.ops,
            [
                {"op": "tag", "nick": "alice", "room": "lobby", "tags": tags},
                {"op": "tagpm", "nick": "alice", "to": "carol", "tags": tags},
                {"op": "tagpm", "nick": "alice", "to": "bob", "tags": tags},
            ],
        )

    def test_tags_as_published_and_read_back(self) -> None:
        carol_client = RecordingClient(takes_tags=True)
        self.b.sign_on("carol", carol_client)
        carol_client.take()
        op = {"op": "tag", "nick": "alice", "room": "lobby", "tags": (("+a", "x y;"),)}
        self.b.apply("a", decode(encode("a", 1, op)).op)
        self.assertEqual(carol_client.take(), [TagMessage("lobby", "alice", (("+a", "x y;"),))])
        self.b.apply("a", {**op, "tags": [["+a", 1]]})
        self.b.apply("a", {**op, "tags": "+a"})
        self.assertEqual(carol_client.take(), [], "not tags: logged, not applied")

    def test_what_a_node_keeps_of_its_users(self) -> None:
        self.a.join(self.alice, "dev")
        self.a.set_away(self.alice, "lunch")
        self.assertEqual(
            self.a_link.kept["alice"],
            {
                "nick": "alice",
                "account": None,
                "operator": False,
                "rooms": ["lobby", "dev"],
                "away": "lunch",
                "homeless": False,
                "voiced": [],
            },
        )
        remote = self.b.find("alice")
        assert remote is not None
        self.assertEqual([r.name for r in remote.rooms], ["lobby", "dev"])
        self.assertEqual(remote.away, "lunch")

    def test_private_messages_and_renames(self) -> None:
        self.a.whisper(self.alice, "bob", "psst")
        self.assertEqual(self.bob_client.take()[-1], PrivateMessage("alice", "bob", "psst"))
        self.a.rename(self.alice, "alicia")
        self.assertIsNotNone(self.b.find("alicia"))
        self.assertIsNone(self.b.find("alice"))
        self.assertEqual(self.a_link.released, ["alice"])
        self.assertIn("alicia", self.a_link.kept)

    def test_signing_off_frees_the_nickname_and_tells_the_other_node(self) -> None:
        self.bob_client.take()
        self.a.sign_off(self.alice, "bye", from_user=True)
        self.assertEqual(
            self.bob_client.take(),
            [Left("lobby", "alice", "bye", from_user=True, signed_off=True)],
        )
        self.assertIsNone(self.b.find("alice"))
        self.assertEqual(self.b.nodes(), [])
        self.assertEqual(self.a_link.released, ["alice"])

    def test_an_operator_on_one_node_kicks_a_user_of_another(self) -> None:
        root_client = RecordingClient()
        root = self.a.sign_on("root", root_client, Account("root", operator=True))
        self.a.kick(root, "bob", "spam")
        self.assertEqual(self.bob_client.kicked_by, Kicked("lobby", "bob", "root", "spam"))
        self.assertIsNone(self.b.find("bob"))
        self.assertIsNone(self.a.find("bob"))
        self.assertEqual(self.b_link.released, ["bob"])
        remote_root = self.b.find("root")
        assert remote_root is not None
        self.assertTrue(remote_root.operator)

    def test_topics_of_remote_users(self) -> None:
        self.b.join(self.bob, "dev")
        self.a.join(self.alice, "dev")
        self.alice_client.take()
        self.b.set_topic(self.bob, "deploys", 1_795_000_000.0, self.b.room("dev"))
        self.assertEqual(self.alice_client.take(), [TopicChanged("dev", "bob", "deploys")])
        topic = self.a.room("dev").topic
        assert topic is not None
        self.assertEqual((topic.text, topic.set_by), ("deploys", "bob"))

    def test_a_node_that_went_away_loses_its_users(self) -> None:
        self.alice_client.take()
        self.a.reconcile("b", {})
        self.assertEqual(self.alice_client.take(), [Left("lobby", "bob", GONE, signed_off=True)])
        self.assertIsNone(self.a.find("bob"))

    def test_reconcile_makes_a_nodes_users_what_it_keeps(self) -> None:
        self.a.reconcile(
            "c",
            {
                "carol": {"nick": "carol", "account": None, "rooms": ["dev"], "away": None},
            },
        )
        carol = self.a.find("carol")
        assert carol is not None
        self.assertEqual([r.name for r in carol.rooms], ["dev"])
        self.a.reconcile(
            "c",
            {"carol": {"nick": "Carol", "account": None, "rooms": ["ops"], "away": "off"}},
        )
        self.assertEqual(carol.nick, "Carol")
        self.assertEqual([r.name for r in carol.rooms], ["ops"])
        self.assertEqual(carol.away, "off")

    def test_a_nickname_taken_here_and_there_at_once_is_left_to_the_claims(self) -> None:
        lost: list[Participant] = []
        self.a.lost_nickname = lost.append
        self.a.apply("c", {"op": "on", "nick": "ALICE", "lobby": True})
        self.assertIs(self.a.find("alice"), self.alice)  # kept, until the claims say
        self.a.lost("alice")
        self.assertEqual(lost, [self.alice])

    def test_operations_naming_nobody_known_change_nothing(self) -> None:
        self.a.apply("b", {"op": "say", "nick": "nobody", "room": "lobby", "text": "x"})
        self.a.apply("b", {"op": "join", "nick": "bob", "room": "!bad!"})
        self.assertEqual([r.name for r in self.a.rooms()], ["lobby"])

    def test_dissolving_signs_this_nodes_users_off_elsewhere(self) -> None:
        self.a.dissolve()
        self.assertIsNone(self.b.find("alice"))
        self.assertEqual(self.a_link.ops[-1], {"op": "bye"})


class ModerationAcrossNodesTests(SynchronousTestCase):
    """
    Bans, mutes, modes and room kicks set at one node hold at the other:
    each node applies them with its rules to its own users, and tells the
    other whom a ban put out.
    """

    def setUp(self) -> None:
        self.a, self.a_link, self.b, self.b_link = pair()
        self.root_client, self.bob_client = RecordingClient(), RecordingClient()
        self.root = self.a.sign_on("root", self.root_client, Account("root", operator=True))
        self.bob = self.b.sign_on("bob", self.bob_client, address="10.1.2.3")
        self.a.join(self.root, "dev")
        self.b.join(self.bob, "dev")
        self.dev_at_a, self.dev_at_b = self.a.room("dev"), self.b.room("dev")
        self.bob_client.take()

    def test_a_room_ban_by_address_puts_a_user_of_the_other_node_out(self) -> None:
        sanction, held = self.a.sanction(
            self.root, SanctionKind.BAN, Mask.parse("10.0.0.0/8"), self.dev_at_a,
            duration=600.0, reason="spam",
        )  # fmt: skip
        self.assertEqual(held, [])  # a does not know bob's address
        events = self.bob_client.take()
        self.assertEqual([type(event) for event in events], [Sanctioned, Removed])
        assert isinstance(events[0], Sanctioned) and isinstance(events[1], Removed)
        self.assertEqual((events[0].by, events[0].reason), ("root", "spam"))
        self.assertEqual(events[1], Removed("dev", "bob", "root", "banned: spam"))
        # b kept it as a set it, and told a whom it put out.
        self.assertEqual(list(self.b.sanctions), [sanction])
        self.assertEqual(self.b_link.ops[-1]["op"], "put_out")
        self.assertEqual(self.dev_at_a.nicks(), ["root"])
        self.assertEqual(self.b_link.kept["bob"]["rooms"], ["lobby"])
        with self.assertRaises(Barred):
            self.b.join(self.bob, "dev")

    def test_a_chat_wide_ban_puts_the_user_out_of_the_chat_at_its_node(self) -> None:
        self.a.sanction(self.root, SanctionKind.BAN, Mask.parse("bob"), None, reason="flood")
        self.assertEqual(self.bob_client.kicked_by, Kicked("lobby", "bob", "root", "banned: flood"))
        self.assertIsNone(self.a.find("bob"))
        self.assertIsNone(self.b.find("bob"))
        self.assertEqual(self.b_link.released, ["bob"])
        self.assertEqual(self.a.nodes(), [])

    def test_a_mute_silences_and_its_lifting_gives_the_word_back(self) -> None:
        self.a.sanction(self.root, SanctionKind.MUTE, Mask.parse("bob"), self.dev_at_a)
        with self.assertRaises(Barred):
            self.b.say(self.bob, "hello", self.dev_at_b)
        self.bob_client.take()
        self.a.lift(self.root, SanctionKind.MUTE, Mask.parse("BOB"), self.dev_at_a)
        self.assertEqual(
            [event.text for event in self.bob_client.take() if isinstance(event, Sanctioned)],
            ["you may speak in dev now"],
        )
        self.b.say(self.bob, "hello", self.dev_at_b)
        self.assertEqual(list(self.b.sanctions), [])

    def test_an_exception_set_at_one_node_lets_past_a_ban_at_the_other(self) -> None:
        self.a.sanction(self.root, SanctionKind.EXCEPTION, Mask.parse("bob"), self.dev_at_a)
        self.a.sanction(self.root, SanctionKind.BAN, Mask.parse("10.0.0.0/8"), self.dev_at_a)
        self.assertEqual(self.dev_at_b.nicks(), ["bob", "root"])  # not put out at its node
        self.b.part(self.bob, "dev")
        self.b.join(self.bob, "dev")
        self.a.lift(self.root, SanctionKind.EXCEPTION, Mask.parse("bob"), self.dev_at_a)
        self.b.part(self.bob, "dev")
        with self.assertRaises(Barred):
            self.b.join(self.bob, "dev")
        self.a.set_mode(self.root, self.dev_at_a, "i", True)
        self.a.lift(self.root, SanctionKind.BAN, Mask.parse("10.0.0.0/8"), self.dev_at_a)
        with self.assertRaises(InviteOnly):
            self.b.join(self.bob, "dev")
        self.a.sanction(self.root, SanctionKind.INVITATION, Mask.parse("bob"), self.dev_at_a)
        self.b.join(self.bob, "dev")

    def test_the_room_is_told_its_ban_list_changed_once_at_every_node(self) -> None:
        carol_client = RecordingClient()
        carol = self.b.sign_on("carol", carol_client)
        self.b.join(carol, "dev")
        self.root_client.take(), self.bob_client.take(), carol_client.take()
        bob = Mask.parse("bob")
        sanction, _ = self.a.sanction(
            self.root, SanctionKind.MUTE, bob, self.dev_at_a, duration=60.0, reason="flood"
        )
        changed = BanListChanged("dev", "root", "mute", bob, sanction.until, "flood")
        told = self.bob_client.take()
        self.assertEqual([type(event) for event in told], [Sanctioned, BanListChanged])
        self.assertEqual(told[1], changed)
        self.assertEqual(carol_client.take(), [changed])
        self.assertEqual(self.root_client.take(), [changed], "the setter's node tells it once")
        self.a.lift(self.root, SanctionKind.MUTE, bob, self.dev_at_a)
        lifted = BanListChanged("dev", "root", "mute", bob, on=False)
        self.assertEqual(self.bob_client.take()[1:], [lifted])
        self.assertEqual(carol_client.take(), [lifted])
        self.assertEqual(self.root_client.take(), [lifted])
        self.a.sanction(self.root, SanctionKind.BAN, Mask.parse("dave"), None)
        self.assertEqual(carol_client.take() + self.root_client.take(), [], "chat-wide: no room's")

    def test_modes_and_room_kicks(self) -> None:
        self.a.set_mode(self.root, self.dev_at_a, "m", True)
        self.assertEqual(
            self.bob_client.take(), [ModeChanged("dev", "root", (ModeChange("m", True),))]
        )
        self.assertTrue(self.dev_at_b.moderated)
        self.a.remove(self.root, self.dev_at_a, "bob", "off topic")
        self.assertEqual(self.bob_client.take(), [Removed("dev", "bob", "root", "off topic")])
        self.assertEqual(self.b_link.kept["bob"]["rooms"], ["lobby"])
        self.assertEqual(self.dev_at_a.nicks(), ["root"])

    def test_a_ban_and_a_mode_apply_though_their_setter_is_not_here(self) -> None:
        # As they come once Redis is back, from a node whose operator signed off.
        self.b.apply("a", {"op": "off", "nick": "root", "reason": None})
        self.bob_client.take()
        self.b.apply("a", {"op": "mode", "nick": "root", "room": "dev", "mode": "m", "on": True})
        ban = {"kind": "ban", "mask": "nick:bob", "room": "dev", "by": "root", "set_at": 0.0}
        self.b.apply("a", {"op": "sanction", "nick": "root", **ban, "reason": None, "until": None})
        events = self.bob_client.take()
        self.assertEqual(events[0], ModeChanged("dev", "root", (ModeChange("m", True),)))
        self.assertIsInstance(events[1], Sanctioned)
        self.assertEqual(events[2:], [Removed("dev", "bob", "root", "banned")])
        self.assertEqual(self.b_link.ops[-1]["op"], "put_out")

    def test_modes_set_at_once_are_one_operation_and_one_event_with_their_values(self) -> None:
        changes = [
            ModeChange("k", True, "sekrit"),
            ModeChange("l", True, "05"),
            ModeChange("s", True),
            ModeChange("n", False),
            ModeChange("t", False),
            ModeChange("m", False),  # it is not: nothing changes, nothing is told
        ]
        self.a.set_modes(self.root, self.dev_at_a, changes)
        made = [["k", True, "sekrit"], ["l", True, "5"], ["s", True, None]]
        made += [["n", False, None], ["t", False, None]]
        op = {"op": "mode", "nick": "root", "room": "dev", "changes": made}
        self.assertEqual(self.a_link.ops[-1], op)
        self.assertEqual(decode(encode("a", 9, op)).op, op)  # as JSON carries it
        told = ModeChanged(
            "dev",
            "root",
            (
                ModeChange("k", True, "sekrit"),
                ModeChange("l", True, "5"),
                ModeChange("s", True),
                ModeChange("n", False),
                ModeChange("t", False),
            ),
        )
        self.assertEqual(self.bob_client.take(), [told])
        dev = self.dev_at_b
        self.assertEqual((dev.key, dev.limit, dev.secret), ("sekrit", 5, True))
        self.assertEqual((dev.members_only, dev.topic_locked), (False, False))
        self.assertEqual(dev.modes(), self.dev_at_a.modes())
        self.a.set_modes(self.root, self.dev_at_a, [ModeChange("k", False), ModeChange("l", False)])
        self.assertEqual(self.a_link.ops[-1]["changes"], [["k", False, None], ["l", False, None]])
        self.assertEqual((dev.key, dev.limit), (None, None))
        self.assertEqual(dev.modes(), "+s")

    def test_a_mode_operation_that_is_not_one_changes_nothing(self) -> None:
        op: Op = {"op": "mode", "nick": "root", "room": "dev"}
        for changes in (
            [["m", True, None], ["x", True, None]],  # all are checked before any is made
            [["m", True, None], ["k", True, "two words"]],
            [["m", True, None], ["l", True, "many"]],
            [["m", "yes", None]],
            [["m", True]],
            [],
            "+m",
        ):
            self.b.apply("a", {**op, "changes": changes})
        self.assertEqual((self.dev_at_b.modes(), self.bob_client.take()), ("+nt", []))
        self.b.apply("a", {**op, "mode": "m", "on": True})  # as nodes published it before
        self.assertEqual(
            self.bob_client.take(), [ModeChanged("dev", "root", (ModeChange("m", True),))]
        )

    def test_a_key_set_at_one_node_is_asked_at_the_other(self) -> None:
        self.a.set_mode(self.root, self.dev_at_a, "k", True, "sekrit")
        carol = self.b.sign_on("carol", RecordingClient())
        for key in (None, "wrong", "SEKRIT"):
            with self.assertRaises(BadKey):
                self.b.join(carol, "dev", key=key)
            with self.assertRaises(BadKey):
                self.b.move(carol, "dev", key=key)
        self.assertEqual(self.dev_at_a.nicks(), ["bob", "root"])
        self.b.join(carol, "dev", key="sekrit")
        self.assertNotIn("sekrit", self.b_link.ops[-1].values())  # the key is not told again
        self.assertEqual(self.dev_at_a.nicks(), ["bob", "carol", "root"])
        dave = self.a.sign_on("dave", RecordingClient())
        self.a.move(dave, "dev", key="sekrit")
        self.assertEqual(self.dev_at_b.nicks(), ["bob", "carol", "dave", "root"])

    def test_a_limit_counts_the_members_of_every_node(self) -> None:
        self.a.set_mode(self.root, self.dev_at_a, "l", True, "3")
        carol = self.b.sign_on("carol", RecordingClient())
        dave = self.a.sign_on("dave", RecordingClient())
        erin = self.b.sign_on("erin", RecordingClient())
        self.b.join(carol, "dev")  # root of a, bob and carol of b: full
        with self.assertRaises(RoomFull):
            self.a.join(dave, "dev")
        with self.assertRaises(RoomFull):
            self.b.join(erin, "dev")
        # An operator's invitation lets one in past it, once, at its own node.
        self.a.invite(self.root, self.dev_at_a, "erin")
        self.b.join(erin, "dev")
        self.assertEqual(len(self.dev_at_a), len(self.dev_at_b))
        self.assertEqual(self.dev_at_a.nicks(), ["bob", "carol", "erin", "root"])
        self.assertEqual((self.dev_at_a._invited, self.dev_at_b._invited), ({}, {}))
        self.b.part(erin, "dev")
        with self.assertRaises(RoomFull):
            self.b.join(erin, "dev")

    def test_an_invitation_is_used_up_at_every_node_as_at_its_own(self) -> None:
        carol = self.b.sign_on("carol", RecordingClient())
        self.a.invite(self.root, self.dev_at_a, "carol")
        self.b.join(carol, "dev")  # open to all: not needed, so not used up
        self.assertEqual(self.dev_at_a._invited, {"carol": None})
        self.assertEqual(self.dev_at_b._invited, {"carol": None})
        self.b.part(carol, "dev")
        self.a.set_mode(self.root, self.dev_at_a, "i", True)
        self.b.join(carol, "dev")
        self.assertEqual((self.dev_at_a._invited, self.dev_at_b._invited), ({}, {}))
        self.b.part(carol, "dev")
        with self.assertRaises(InviteOnly):
            self.b.join(carol, "dev")

    def test_a_voice_given_at_one_node_holds_at_the_other_and_in_its_record(self) -> None:
        self.a.set_mode(self.root, self.dev_at_a, "m", True)
        self.bob_client.take()
        self.a.set_voice(self.root, self.dev_at_a, "bob")
        self.assertEqual(
            self.a_link.ops[-1],
            {"op": "voice", "nick": "root", "room": "dev", "target": "bob", "given": True},
        )
        self.assertEqual(self.bob_client.take(), [VoiceChanged("dev", "bob", "root")])
        self.assertTrue(self.dev_at_b.is_voiced(self.bob))
        self.assertEqual(self.b_link.kept["bob"]["voiced"], ["dev"])  # its node keeps it
        self.root_client.take()
        self.b.say(self.bob, "may I?", self.dev_at_b)
        self.assertEqual(self.root_client.take(), [Message("dev", "bob", "may I?")])
        self.a.set_voice(self.root, self.dev_at_a, "bob", given=False)
        self.assertEqual(self.bob_client.take(), [VoiceChanged("dev", "bob", "root", False)])
        self.assertEqual(self.b_link.kept["bob"]["voiced"], [])
        with self.assertRaises(Moderated):
            self.b.say(self.bob, "may I?", self.dev_at_b)

    def test_a_voice_in_a_record_read_again_is_so_without_telling_anyone(self) -> None:
        self.a.set_mode(self.root, self.dev_at_a, "m", True)
        self.root_client.take()
        kept = {**record(self.bob), "voiced": ["DEV"]}
        self.a.reconcile("b", {"bob": kept})
        bob_at_a = self.a.find("bob")
        assert bob_at_a is not None
        self.assertTrue(self.dev_at_a.is_voiced(bob_at_a))
        self.a.reconcile("b", {"bob": {**kept, "voiced": []}})
        self.assertFalse(self.dev_at_a.is_voiced(bob_at_a))
        self.assertEqual(self.root_client.take(), [])

    def test_a_user_outside_a_room_open_to_all_speaks_in_it_at_every_node(self) -> None:
        self.a.set_mode(self.root, self.dev_at_a, "n", False)
        carol = self.b.sign_on("carol", RecordingClient())
        self.root_client.take()
        self.b.say(carol, "hello from outside", self.b.addressed(carol, "dev"))
        self.b.act(carol, "knocks", self.dev_at_b)
        self.assertEqual(
            self.root_client.take(),
            [Message("dev", "carol", "hello from outside"), Action("dev", "carol", "knocks")],
        )


class RecallTests(SynchronousTestCase):
    """What a node may have missed of the registry's changes, made so without telling anyone."""

    def setUp(self) -> None:
        self.a, self.a_link, self.b, self.b_link = pair()
        self.bob_client = RecordingClient()
        self.bob = self.b.sign_on("bob", self.bob_client)
        self.b.join(self.bob, "dev")
        self.b.join(self.bob, "ops")
        self.bob_client.take()

    def test_the_last_change_of_each_thing_holds_and_nobody_is_told(self) -> None:
        room = {"op": "room", "name": "dev", "owners": ["root"], "operators": [], "topic": None}
        ban: Op = {"op": "sanction", "nick": "root", "kind": "ban", "room": "dev", "by": "root"}
        ban |= {"set_at": 0.0, "reason": None, "until": None}
        self.b.recall([
            {"op": "oper", "name": "dave", "given": True},
            {**room, "invite_only": False},
            {"op": "mode", "nick": "root", "room": "dev", "mode": "i", "on": True},
            {**ban, "mask": "nick:bob"},
            {**ban, "mask": "nick:carol"},
            {"op": "lift", "nick": "root", "kind": "ban", "mask": "carol", "room": "dev"},
            {**ban, "mask": "nick:eve", "room": "ops"},  # not registered: no one keeps it
            {"op": "oper", "name": "dave", "given": False},
            {"op": "oper", "name": "erin", "given": True},
        ])  # fmt: skip
        self.assertEqual(self.b.operators, {"erin": "erin"})
        dev = self.b.room("dev")
        assert dev.registration is not None
        self.assertTrue(dev.invite_only)
        self.assertEqual([str(s.mask) for s in self.b.sanctions], ["nick:bob"])
        self.assertEqual(dev.nicks(), ["bob"])  # its records say where users are
        self.assertEqual(self.bob_client.take(), [])

    def test_the_last_state_of_each_mode_holds_of_changes_made_at_once(self) -> None:
        room = {"op": "room", "name": "dev", "owners": ["root"], "operators": [], "topic": None}
        mode: Op = {"op": "mode", "nick": "root", "room": "dev"}
        self.b.recall([
            {**room, "invite_only": False, "key": "zero", "secret": True},
            {**mode, "changes": [["k", True, "one"], ["l", True, "5"], ["m", True, None]]},
            {**mode, "changes": [["k", True, "two"], ["m", False, None], ["t", False, None]]},
            {**mode, "mode": "i", "on": True},  # as nodes published it before
            {**mode, "changes": [["l", False, None], ["s", False, None]]},
            {**mode, "changes": [["x", True, None]]},  # not one: left out
        ])  # fmt: skip
        dev = self.b.room("dev")
        assert dev.registration is not None
        self.assertEqual((dev.key, dev.limit, dev.secret), ("two", None, False))
        self.assertEqual((dev.invite_only, dev.moderated), (True, False))
        self.assertEqual((dev.members_only, dev.topic_locked), (True, False))
        self.assertEqual(self.bob_client.take(), [])

    def test_a_mode_of_a_room_nobody_registered_is_not_recalled(self) -> None:
        op = {"op": "mode", "nick": "root", "room": "ops", "changes": [["k", True, "sekrit"]]}
        self.b.recall([op])
        self.assertIsNone(self.b.room("ops").key)
