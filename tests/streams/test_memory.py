"""
What an idle, signed-on connection costs in the server's own objects: the
bench's idle scenario measures the whole process (at most 2 KiB a connection
at 10,000); this holds chatsvc's part of it to a budget, counted in bytes
allocated, so a change that makes every connection bigger fails here first.
"""

from __future__ import annotations

import gc
import tracemalloc

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import Message
from chatsvc.history.cache import RecentCache
from chatsvc.streams.limits import Limits
from chatsvc.testing import FakeHistory
from tests.support import Connection, make_factory

BUDGET = 1024
"""Bytes of chatsvc's own objects (protocol, session, participant, names) per idle connection."""

CONNECTIONS = 300


def chatsvc_bytes(snapshot: tracemalloc.Snapshot, before: tracemalloc.Snapshot) -> int:
    only = [tracemalloc.Filter(True, "*/chatsvc/*")]
    return sum(
        stat.size_diff
        for stat in snapshot.filter_traces(only).compare_to(before.filter_traces(only), "filename")
    )


class IdleConnectionTests(SynchronousTestCase):
    def test_an_idle_connection_keeps_within_its_budget(self) -> None:
        clock = Clock()
        store = FakeHistory(clock)
        store.record(Message("lobby", "bob", "hello"))
        history = RecentCache(store, 20, clock=clock)
        factory = make_factory(clock=clock, history=history, replay=20, limits=Limits(max_per_ip=0))
        first = Connection(factory)
        first.send("first")  # the lobby's lines are in memory from here on
        connections = []
        gc.collect()
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        before = tracemalloc.take_snapshot()
        for n in range(CONNECTIONS):
            c = Connection(factory, 40000 + n)
            c.send(f"user{n}")
            c.transport.clear()
            connections.append(c)
        clock.advance(0)
        gc.collect()
        after = tracemalloc.take_snapshot()
        each = chatsvc_bytes(after, before) / CONNECTIONS
        self.assertLess(each, BUDGET)
        session = connections[-1].protocol.session
        assert session is not None
        self.assertIsNone(session._lookups, "a replay from memory makes no Lookups")
        self.assertIsNone(connections[-1].protocol._held)
