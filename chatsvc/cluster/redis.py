"""
The cluster over Redis, with txredisapi: what a node's users do goes out
once, as one PUBLISH per operation (L{chatsvc.cluster.ops}), and what other
nodes publish comes in through a subscription, in order, once.

Keys (in the database of the C{--cluster} URL):

 - C{chatsvc:nick:NICK} (folded): the node that holds the nickname. Claimed
   atomically (a script that sets it only if no other node holds it) with a
   lease of C{lease} seconds, which the node renews every third of it; a
   node that dies loses its claims when the lease runs out.
 - C{chatsvc:alive:NODE}: the node is alive, on the same lease.
 - C{chatsvc:members:NODE}: a hash of the node's users (their nickname,
   account, rooms, away message), and C{_seq}, the number of the last
   operation that changed it: what another node reads to learn the node's
   users when it starts, when it missed operations, or when Redis is back.
 - C{chatsvc:nodes}: the set of nodes.
 - C{chatsvc:recent}: the last L{RECENT_MOST} operations of
   L{KEPT_WHILE_AWAY} published (the registry's changes, bans, mutes, room
   modes), each as published, appended in the same step as its PUBLISH: what
   a node that starts reads after it subscribed, for the changes made while
   it read the registry (or written to it just after).

Publishing. The operations of one reactor turn go out in one PUBLISH, a
line each, in order: one per line of chat at most, whatever the number of
recipients, and fewer in a burst.

Ordering and exactly once. Each node numbers its operations 1, 2, 3...;
a receiver applies a node's operation numbered one past the last it applied,
drops one it has seen, and on a gap (operations lost while Redis was away)
reads that node's members again and goes on from the number they are of.
Operations that arrive while a node's members are read wait for them.

Liveness. Every third of the lease, a node renews its claims and its own
C{alive} key, and looks for nodes whose C{alive} key is gone: their users
are signed off here, shown as having left (L{chatsvc.cluster.chat.GONE}).

Starting (or back from an outage). A node subscribes first; what it
receives from then on waits until its own C{hello} comes back on the
channel. Before saying C{hello} it reads C{chatsvc:recent}: the changes in
it that did not come on the channel meanwhile are those published before
the node subscribed, which the registry it read at start may lack; the
last of each is made so here (L{ClusterChat.recall}). Then what waited is
applied, in order: nothing published is missed, nothing is applied twice.

Redis unreachable (its answer late by a third of the lease, or the
connection lost): the node serves its own users, who are told so; what they
say meanwhile reaches only users of the same node. Once Redis answers
again, the node claims its users' nicknames again (one that another node
claimed meanwhile is that node's: the local user is told and signed off),
writes its members again, says C{hello} (so that the others read them), and
reads every other node's members.

test-case-name: tests.cluster.test_cluster
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

import attrs
import txredisapi
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTCP, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.chat.events import Action, Message
from chatsvc.chat.model import Participant, fold, is_valid_name
from chatsvc.cluster.chat import GONE, STOPPED, ClusterChat, Record, record
from chatsvc.cluster.ops import KEPT_WHILE_AWAY, BadOp, Op, Received, decode, encode
from chatsvc.history import IHistory, Line

LEASE = 15.0
"""Seconds a node's nickname claims outlive its last renewal, by default."""

_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
"""Claim (or renew) a nickname for node ARGV[1], unless another node holds it: 1 if ours."""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
"""Let go of a nickname, if this node holds it."""

_PUBLISH_RECORDING = """
for i = 4, #ARGV do
    redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
return redis.call('PUBLISH', ARGV[1], ARGV[2])
"""
"""PUBLISH ARGV[2] on ARGV[1], and add ARGV[4...] to the list KEYS[1] (its last ARGV[3] kept)."""

RECENT = "chatsvc:recent"
"""The list of the last operations of L{KEPT_WHILE_AWAY} published, oldest first."""

RECENT_MOST = 1000
"""How many of them C{chatsvc:recent} keeps."""

KEPT_MOST = 10_000
"""The most operations kept while Redis is unreachable (L{KEPT_WHILE_AWAY}); older ones go."""

SEQ = "_seq"
"""The field of a node's members hash that holds the number of its last change."""


def _why(failure: Failure) -> str:
    return failure.getErrorMessage() or repr(failure.value)


class BadClusterURL(ValueError):
    """A C{--cluster} that is not C{redis://HOST[:PORT][/DB]}."""


@attrs.frozen
class RedisAddress:
    host: str
    port: int
    db: int

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            raise BadClusterURL(f"{url!r} is not redis://HOST[:PORT][/DB]")
        try:
            port = parts.port or 6379
            db = int(parts.path.strip("/") or 0)
        except ValueError:
            raise BadClusterURL(f"{url!r} is not redis://HOST[:PORT][/DB]") from None
        return cls(parts.hostname, port, db)


def valid_node_name(name: str) -> bool:
    """Node names are as nicknames: they show in why users left."""
    return is_valid_name(name)


class _Subscriber(txredisapi.SubscriberProtocol):  # type: ignore[misc]
    """The subscription to the cluster's channel: each message to the link."""

    link: RedisLink

    def connectionMade(self) -> Deferred[Any]:
        d: Deferred[Any] = super().connectionMade()
        d.addCallback(lambda _: self.subscribe(self.link.channel))
        d.addCallbacks(lambda _: self.link.subscribed(), self.link.failed)
        return d

    def messageReceived(self, pattern: object, channel: object, message: str | bytes) -> None:
        self.link.received(message)

    def connectionLost(self, why: Failure) -> None:
        self.link.unsubscribed()
        super().connectionLost(why)


class RedisLink(Service):
    """
    Node C{chat.node} of the cluster in the Redis at C{address}: the
    L{chatsvc.cluster.chat.ClusterLink} of C{chat}. C{notify} tells this
    node's users about the cluster (Redis gone, back); C{history} is told the
    lines other nodes' users say (their own node keeps them in the shared
    store), so that replays from memory have them.
    """

    _log = Logger()

    def __init__(
        self,
        chat: ClusterChat,
        address: RedisAddress,
        *,
        reactor: IReactorTCP,
        clock: IReactorTime,
        history: IHistory,
        notify: Callable[[str], None] = lambda text: None,
        lease: float = LEASE,
    ) -> None:
        self.chat = chat
        self.node = chat.node
        self.address = address
        self.lease = lease
        self.channel = f"chatsvc:{address.db}:ops"
        self.up = False
        """Whether Redis answers (as of the last renewal)."""
        self.seq = 0
        self._reactor = reactor
        self._clock = clock
        self._history = history
        self._notify = notify
        self._claimed: set[str] = set()
        self._last: dict[str, int] = {}
        self._syncing: dict[str, list[Received]] = {}
        self._synced: dict[str, list[Deferred[None]]] = {}
        """Who waits for the sync of a node under way to end (see L{_sync})."""
        self._redis: Any = None
        self._subscriber: Any = None
        self._subscribed = False
        self._renewing = LoopingCall(self._renew)
        self._renewing.clock = clock
        self._renewal: Deferred[None] | None = None
        self._outgoing: list[str] = []
        self._recording: list[str] = []
        """What of L{_outgoing} goes to C{chatsvc:recent} as well."""
        self._early: list[Received] | None = None
        """What came on the channel since subscribing, until this node's hello comes back."""
        self._hello = 0
        self._recent: list[str] | None = None
        """C{chatsvc:recent} as read before the last hello."""
        self._rewriting: set[str] = set()
        self._kept: list[Op] = []
        """What of L{KEPT_WHILE_AWAY} was done while Redis was unreachable: published on return."""
        self._sending: IDelayedCall | None = None
        self.published = 0
        """PUBLISHes Redis has acknowledged (each a reactor turn's operations)."""
        self.on_published: Callable[[float], None] | None = None
        """Told the seconds each PUBLISH took Redis to acknowledge (for metrics)."""
        chat.link = self

    # Keys

    def _nick_key(self, nick: str) -> str:
        return f"chatsvc:nick:{fold(nick)}"

    def _members_key(self, node: str) -> str:
        return f"chatsvc:members:{node}"

    def _alive_key(self, node: str) -> str:
        return f"chatsvc:alive:{node}"

    # Starting and stopping

    def startService(self) -> None:
        super().startService()
        host, port, db = self.address.host, self.address.port, self.address.db
        self._redis = txredisapi.lazyConnection(
            host, port, dbid=db, reconnect=True, replyTimeout=self.lease / 2
        )
        factory = txredisapi.SubscriberFactory(isLazy=True)
        link = self

        class Subscriber(_Subscriber):
            pass

        Subscriber.link = link
        factory.protocol = Subscriber
        factory.startConnecting(TCP4ClientEndpoint(self._reactor, host, port, timeout=5))
        self._subscriber = factory
        self._renewing.start(self.lease / 3, now=True)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self._renewing.running:
            self._renewing.stop()
        if self._renewal is not None:
            await self._renewal
        if self._sending is not None:
            self._sending.cancel()
            self._send()
        if self.up:
            try:
                await self._guarded(self._leave())
            except Exception as e:
                self._log.warn("Could not leave the cluster cleanly: {why}", why=str(e))
        for connection in (self._subscriber, self._redis):
            if connection is not None:
                closing: Deferred[Any] = connection.disconnect()
                closing.addTimeout(self.lease, self._clock)
                closing.addErrback(lambda failure: None)  # a stop always ends
                await closing

    async def _leave(self) -> None:
        """A clean stop: the claims go now, not when their lease ends."""
        for nick in list(self._claimed):
            await self._redis.eval(_RELEASE, [self._nick_key(nick)], [self.node])
        await self._redis.delete([self._members_key(self.node), self._alive_key(self.node)])
        await self._redis.srem("chatsvc:nodes", self.node)

    def _guarded(self, work: Any) -> Deferred[Any]:
        """C{work}, failed with a timeout if Redis takes a third of the lease to do it."""
        d: Deferred[Any] = ensureDeferred(work)
        return d.addTimeout(self.lease / 3, self._clock)

    # What this node's users do

    def publish(
        self, op: Op | None, changed: Sequence[Participant] = (), gone: Sequence[str] = ()
    ) -> None:
        seq = self.seq
        if op is not None:
            self.seq = seq = seq + 1
            if op["op"] in ("say", "act"):
                op = {**op, "at": self._clock.seconds()}
        if not self.up:
            # Re-registered, and told with hello, once Redis is back; and
            # what is in no record is published again then.
            if op is not None and op["op"] in KEPT_WHILE_AWAY:
                self._keep(op)
            return
        redis = self._redis
        for nick in gone:
            self._claimed.discard(fold(nick))
            redis.eval(_RELEASE, [self._nick_key(nick)], [self.node]).addErrback(self.failed)
            redis.hdel(self._members_key(self.node), [fold(nick)]).addErrback(self.failed)
        records = {fold(p.nick): json.dumps(record(p)) for p in changed}
        for participant in changed:
            if fold(participant.nick) not in self._claimed:
                self._claim(participant.nick)
        if records or (gone and op is not None):
            redis.hmset(self._members_key(self.node), {**records, SEQ: seq}).addErrback(self.failed)
        if op is not None:
            line = encode(self.node, seq, op)
            self._outgoing.append(line)
            if op["op"] in KEPT_WHILE_AWAY:
                self._recording.append(line)
            if self._sending is None:
                self._sending = self._clock.callLater(0, self._send)

    def _keep(self, op: Op) -> None:
        self._kept.append(op)
        if len(self._kept) > KEPT_MOST:
            dropped = self._kept.pop(0)
            self._log.warn(
                "Redis is away too long: the {op} operation is dropped", op=dropped["op"]
            )

    def rewrite(self, nick: str) -> None:
        self._rewriting.add(nick)
        if self._sending is None:
            self._sending = self._clock.callLater(0, self._send)

    def _send(self) -> None:
        """
        Publish the operations of this reactor turn, in order, as one message
        (a line each): a burst of lines costs Redis and every other node one
        message per turn, not one per line. The records of L{rewrite} are
        written first.
        """
        self._sending = None
        batch, self._outgoing = self._outgoing, []
        recording, self._recording = self._recording, []
        rewriting, self._rewriting = self._rewriting, set()
        local = [
            p for p in map(self.chat.find, rewriting) if p is not None and self.chat.is_local(p)
        ]
        if local and self.up:
            records = {fold(p.nick): json.dumps(record(p)) for p in local}
            d = self._redis.hmset(self._members_key(self.node), {**records, SEQ: self.seq})
            d.addErrback(self.failed)
        if batch and self.up:
            started = perf_counter()
            message = "\n".join(batch)
            if recording:
                d = self._redis.eval(
                    _PUBLISH_RECORDING, [RECENT], [self.channel, message, RECENT_MOST, *recording]
                )
            else:
                d = self._redis.publish(self.channel, message)
            d.addCallbacks(lambda _: self._published(perf_counter() - started), self.failed)

    def _published(self, seconds: float) -> None:
        self.published += 1
        if self.on_published is not None:
            self.on_published(seconds)

    def _claim(self, nick: str) -> Deferred[None]:
        key = fold(nick)
        self._claimed.add(key)
        d = self._redis.eval(_CLAIM, [self._nick_key(nick)], [self.node, int(self.lease * 1000)])

        def settled(ours: int) -> None:
            if not ours and key in self._claimed:
                self._claimed.discard(key)
                self._log.info("Another node holds the nickname {nick}", nick=nick)
                self.chat.lost(nick)
                for node in list(self._last):  # the holder's user, whom ours kept out
                    self._sync(node)

        claimed: Deferred[None] = d.addCallback(settled)
        return claimed

    def failed(self, failure: Failure) -> None:
        """A command to Redis failed: Redis is unreachable, until the next renewal says not."""
        if failure.check(txredisapi.ConnectionError, txredisapi.RedisError):
            self._down(_why(failure))
        else:
            self._log.failure("Unexpected error talking to Redis", failure)

    # Renewal, and nodes that went away

    def _renew(self) -> Deferred[None] | None:
        if self._renewal is not None:
            return None  # the last one is still waiting for Redis

        def done(result: object) -> None:
            self._renewal = None

        def down(failure: Failure) -> None:
            self._down(_why(failure))

        d = self._guarded(self._renew_and_look())
        d.addErrback(down)
        self._renewal = d.addBoth(done)
        return None

    async def _renew_and_look(self) -> None:
        redis = self._redis
        await redis.set(self._alive_key(self.node), "1", pexpire=int(self.lease * 1000))
        if not self.up:
            if self._subscribed:  # else once subscribed: nothing published may be missed
                await self._join()
            return
        await DeferredList([self._claim(nick) for nick in list(self._claimed)])
        if self._early is not None:
            # A renewal since this node joined, and its hello never came
            # back (or it never said one): not deaf for it.
            self._log.warn("This node's hello did not come back; going on without it")
            self._caught_up()
        await self._look_for_the_gone()

    async def _join(self) -> None:
        """Redis answers (at start, or after an outage): register this node, learn the others."""
        redis = self._redis
        was_down = self.seq > 0 or bool(self.chat.local())
        self.up = True
        local = self.chat.local()
        self._claimed = set()
        for participant in local:
            self._claim(participant.nick)
        self.seq += 1
        members = {fold(p.nick): json.dumps(record(p)) for p in local}
        await redis.delete(self._members_key(self.node))
        await redis.hmset(self._members_key(self.node), {**members, SEQ: self.seq})
        await redis.sadd("chatsvc:nodes", self.node)
        self._send()  # what was said before, first
        if self._early is None:
            self._early = []  # still subscribed: from now on
        self._recent = None
        # What this reads was published before the hello: what comes after
        # it on the channel, and what came already, waits for the hello.
        self._recent = [str(line) for line in await redis.lrange(RECENT, 0, -1)]
        self._hello = self.seq
        await redis.publish(self.channel, encode(self.node, self.seq, {"op": "hello"}))
        kept, self._kept = self._kept, []
        for op in kept:  # after hello: the others know this node's users again
            self.publish(op)
        nodes = [str(node) for node in await redis.smembers("chatsvc:nodes")]
        await DeferredList([self._sync(node) for node in nodes if node != self.node])
        await self._look_for_the_gone()
        # Said once the others' users are known here, not before: a user
        # signing on from now on sees the whole chat.
        self._log.info("In the cluster as {node}", node=self.node)
        if was_down:
            self._notify("the other servers of this chat are reachable again")

    def _caught_up(self) -> None:
        """
        This node's hello came back: what came meanwhile is applied, after
        what of C{chatsvc:recent} did not come (published before this node
        subscribed).
        """
        early, self._early = self._early or [], None
        recent, self._recent = self._recent or [], None
        heard = {(received.node, received.seq) for received in early}
        missed = []
        for line in recent:
            try:
                received = decode(line)
            except BadOp:
                continue
            if received.node != self.node and (received.node, received.seq) not in heard:
                missed.append(received.op)
        self.chat.recall(missed)
        for received in early:
            self._receive(received)

    async def _look_for_the_gone(self) -> None:
        redis = self._redis
        for member in await redis.smembers("chatsvc:nodes"):
            node = str(member)
            if node == self.node or await redis.exists(self._alive_key(node)):
                continue
            self._log.info("Node {node} went away; its users leave", node=node)
            self._gone(node, GONE)
            await redis.srem("chatsvc:nodes", node)
            await redis.delete(self._members_key(node))

    def _gone(self, node: str, reason: str) -> None:
        self._last.pop(node, None)
        self._syncing.pop(node, None)
        self.chat.reconcile(node, {}, reason)

    def _down(self, why: str) -> None:
        if not self.up:
            return
        self.up = False
        self._log.error(
            "Redis at {host}:{port} is unreachable ({why})",
            host=self.address.host,
            port=self.address.port,
            why=why,
        )
        self._notify(
            "the other servers of this chat cannot be reached: only users of this server "
            "see what you say, until they can"
        )

    # What other nodes' users did

    def subscribed(self) -> None:
        self._subscribed = True
        if self._early is None:
            self._early = []
        if self.up:
            for node in self.chat.nodes():
                self._sync(node)
        elif self._renewing.running:
            self._renew()

    def unsubscribed(self) -> None:
        self._subscribed = False
        self._down("the subscription was lost")

    def received(self, data: str | bytes) -> None:
        """A message on the channel: one operation a line (see L{_send})."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for line in text.split("\n"):
            try:
                received = decode(line)
            except BadOp as e:
                self._log.warn(
                    "Not a cluster operation ({why}): {line!r}", why=str(e), line=line[:200]
                )
                continue
            self._receive(received)

    def _receive(self, received: Received) -> None:
        node = received.node
        if self._early is not None:
            if (
                node == self.node
                and received.op["op"] == "hello"
                and received.seq == self._hello
                and self._recent is not None
            ):
                self._caught_up()
            else:
                self._early.append(received)
            return
        if node == self.node:
            return
        waiting = self._syncing.get(node)
        if waiting is not None:
            waiting.append(received)
            return
        last = self._last.get(node)
        if last is None or received.seq > last + 1 or received.op["op"] == "hello":
            self._sync(node, received)
            return
        if received.seq <= last:
            return  # seen already
        self._apply(received)

    def _apply(self, received: Received) -> None:
        node, op = received.node, received.op
        self._last[node] = received.seq
        if op["op"] == "bye":
            self._gone(node, STOPPED)
            return
        self.chat.apply(node, op)
        if op["op"] in ("say", "act") and hasattr(self._history, "remember"):
            room, nick, text = str(op["room"]), str(op["nick"]), str(op["text"])
            event = (
                Message(room, nick, text, bool(op.get("notice")))
                if op["op"] == "say"
                else Action(room, nick, text)
            )
            self._history.remember(Line(float(op.get("at", 0.0)), event))

    def _sync(self, node: str, first: Received | None = None) -> Deferred[None]:
        """
        Read C{node}'s members, make them so here, then apply what came
        meanwhile. The L{Deferred} returned fires once that is done (or
        Redis failed to answer), whether this call or an earlier one began it.
        """
        done: Deferred[None] = Deferred()
        self._synced.setdefault(node, []).append(done)
        if node in self._syncing:
            if first is not None:
                self._syncing[node].append(first)
            return done
        self._syncing[node] = [] if first is None else [first]

        def settled() -> None:
            for waiter in self._synced.pop(node, []):
                waiter.callback(None)

        def read(fields: dict[Any, Any]) -> None:
            try:
                _read(fields)
            finally:
                settled()

        def _read(fields: dict[Any, Any]) -> None:
            waiting = self._syncing.pop(node, [])
            fields = {str(k): v for k, v in fields.items()}
            seq = int(fields.pop(SEQ, 0))
            records: dict[str, Record] = {}
            for key, value in fields.items():
                try:
                    records[key] = json.loads(value)
                except ValueError:
                    self._log.warn("A bad member record of {node}: {key}", node=node, key=key)
            self.chat.reconcile(node, records, GONE)
            self._last[node] = seq
            for received in sorted(waiting, key=lambda r: r.seq):
                if received.seq > self._last[node]:
                    self._apply(received)

        def failed(failure: Failure) -> None:
            self._syncing.pop(node, None)
            settled()
            self.failed(failure)

        self._redis.hgetall(self._members_key(node)).addCallbacks(read, failed)
        return done
