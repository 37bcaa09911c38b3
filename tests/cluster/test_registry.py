"""
The registry of a cluster's node: each change is kept in the shared store
and told to the other node, whose chat and accounts apply it without
keeping it again (two nodes joined in memory, as in L{tests.cluster.test_chat}).
"""

from __future__ import annotations

import attrs
from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from chatsvc.accounts import hash_password
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.model import Account, NicknameRegistered, Participant, RoomModes, Topic
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.cluster.chat import ClusterChat
from chatsvc.cluster.registry import ClusterRegistry
from chatsvc.registry import IRegistry, MemoryRegistry, RoomRecord, Snapshot
from tests.chat.test_model import RecordingClient
from tests.cluster.test_chat import MemoryLink

HASH = hash_password(b"correct horse", n=2)


def node(name: str) -> tuple[ClusterChat, RegisteredAccounts]:
    accounts = RegisteredAccounts(run_in_thread=lambda f, a: succeed(f(a)))
    chat = ClusterChat(name, accounts=accounts)
    chat.registered_accounts = accounts
    return chat, accounts


class ClusterRegistryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.a, self.a_accounts = node("a")
        self.b, self.b_accounts = node("b")
        self.a_link, self.b_link = MemoryLink(self.a, self.b), MemoryLink(self.b, self.a)
        self.a.link, self.b.link = self.a_link, self.b_link
        self.store = MemoryRegistry()
        self.registry = ClusterRegistry(self.store)
        self.registry.link = self.a_link
        self.alice = self.a.sign_on("alice", RecordingClient())

    def test_provides_the_interface_and_reads_the_store(self) -> None:
        verifyObject(IRegistry, self.registry)
        self.store.save_operator("root")
        self.assertEqual(self.registry.open(), Snapshot(operators=("root",)))

    def test_an_account_registered_at_one_node_is_known_at_the_other(self) -> None:
        self.a_accounts.add("alice", HASH)
        self.registry.save_account("alice", HASH)
        self.alice.account = Account("alice")  # as the session does, in the same turn
        self.assertEqual(self.store.accounts, {"alice": ("alice", HASH)})
        self.assertEqual(self.a_link.rewritten, ["alice"])
        self.assertEqual(self.b_accounts.account_for("ALICE"), "alice")
        remote = self.b.find("alice")
        assert remote is not None
        self.assertEqual(remote.account, Account("alice"))
        checked: list[bool] = []
        self.b_accounts.check("alice", b"correct horse").addCallback(checked.append)
        self.assertEqual(checked, [True])
        # Protected there: nobody signs on as it without logging in to it.
        self.a.sign_off(self.alice)
        with self.assertRaises(NicknameRegistered):
            self.b.sign_on("alice", RecordingClient())

    def test_a_guest_holding_a_nickname_registered_elsewhere_is_released(self) -> None:
        released: list[Participant] = []
        self.b.released = released.append
        guest = self.b.sign_on("carol", RecordingClient())
        self.registry.save_account("carol", HASH)  # both held it while they could not see
        self.assertEqual(released, [guest])

    def test_a_deleted_account_is_gone_everywhere(self) -> None:
        self.registry.save_account("alice", HASH)
        self.registry.delete_account("alice")
        self.assertEqual(self.store.accounts, {})
        self.assertIsNone(self.b_accounts.account_for("alice"))
        remote = self.b.find("alice")
        assert remote is not None
        self.assertIsNone(remote.account)

    def test_operators_made_and_unmade_at_run_time(self) -> None:
        self.b_accounts.add("dave", HASH)
        dave = self.b.sign_on("dave", RecordingClient(), Account("dave"))
        self.registry.save_operator("dave")
        self.assertTrue(dave.operator)
        self.assertEqual(self.b.operators, {"dave": "dave"})
        self.assertTrue(self.b_link.kept["dave"]["operator"])
        self.registry.delete_operator("dave")
        self.assertFalse(dave.operator)
        self.assertFalse(self.b_link.kept["dave"]["operator"])
        self.assertEqual((self.b.operators, self.store.operators), ({}, {}))

    def test_registered_rooms_their_ranks_topic_and_modes(self) -> None:
        record = RoomRecord("Dev", ("alice",), ("bob",), Topic("work", "alice", 5.0), True, False)
        self.registry.save_room(record)
        room = self.b.room("dev")
        assert room.registration is not None
        self.assertEqual(
            (room.registration.owners, room.registration.operators),
            ({"alice": "alice"}, {"bob": "bob"}),
        )
        self.assertEqual((room.topic, room.modes()), (Topic("work", "alice", 5.0), "+int"))
        self.assertEqual(RoomRecord.of(room), record)
        self.b.sanctions.add(Sanction(SanctionKind.BAN, Mask.parse("eve"), "dev", "alice", 1.0))
        self.registry.delete_room("dev")
        self.assertEqual([r.name for r in self.b.rooms()], ["lobby"])  # nobody in it
        self.assertEqual(list(self.b.sanctions), [])
        self.assertEqual(self.store.rooms, {})

    def test_a_registered_rooms_key_limit_and_other_modes(self) -> None:
        modes = RoomModes("sekrit", 20, secret=True, members_only=False, topic_locked=False)
        record = RoomRecord("Dev", ("alice",), moderated=True, created=1.0, modes=modes)
        self.registry.save_room(record)
        told = {
            "op": "room",
            "name": "Dev",
            "owners": ["alice"],
            "operators": [],
            "topic": None,
            "invite_only": False,
            "moderated": True,
            "created": 1.0,
        }
        new = {"key": "sekrit", "limit": 20, "secret": True}
        new |= {"members_only": False, "topic_locked": False}
        self.assertEqual(self.a_link.ops[-1], {**told, **new})
        room = self.b.room("dev")
        self.assertEqual(room.modes(), "+klms sekrit 20")
        self.assertEqual(RoomRecord.of(room), record)
        # As a node published it before rooms had them: as a new room's.
        self.b.apply("a", told)
        self.assertEqual(RoomRecord.of(room), attrs.evolve(record, modes=RoomModes()))

    def test_sanctions_are_kept_not_told(self) -> None:
        """The cluster chat's own operations tell them (and in rooms not registered)."""
        ban = Sanction(SanctionKind.BAN, Mask.parse("eve"), None, "root", 1.0)
        self.a_link.ops.clear()
        self.registry.save_sanction(ban)
        self.assertEqual(list(self.store.sanctions.values()), [ban])
        self.registry.delete_sanction(ban.kind, ban.mask, None)
        self.assertEqual((self.store.sanctions, self.a_link.ops), ({}, []))
