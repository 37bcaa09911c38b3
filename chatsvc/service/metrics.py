"""
C{--metrics}: the server's numbers for Prometheus at C{/metrics}, and its
readiness at C{/healthz}, served by C{twisted.web}.

Counting costs the serving nothing it can notice: what the traffic adds to
are plain integers (L{chatsvc.streams.traffic.Traffic}), the model is read
only when scraped (L{ChatCollector}), and of the fan-outs only one in
L{FAN_OUT_SAMPLE} is timed. The page is made in the reactor's thread, not in
a thread pool as C{prometheus_client.twisted.MetricsResource} makes it,
because the collector reads the chat, which only the reactor's thread may.

test-case-name: tests.service.test_metrics
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from time import perf_counter
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from chatsvc.chat.events import Event
from chatsvc.chat.interfaces import IChatClient
from chatsvc.chat.model import FanOut
from chatsvc.streams.traffic import wire_of

if TYPE_CHECKING:
    from chatsvc.frontends.line.server import ChatFactory
    from chatsvc.frontends.web.connection import WebChat
    from chatsvc.history.sqlite import SQLiteHistory

FAN_OUT_SAMPLE = 16
"""One fan-out in this many is timed for C{chatsvc_fan_out_seconds}."""

FAN_OUT_BUCKETS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
WRITE_BUCKETS = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def by_wire(counts: Iterable[tuple[type, int]]) -> dict[str, int]:
    """C{counts} by connection class, added up by wire; every wire there, if only as 0."""
    wires = {"line": 0, "irc": 0, "web": 0}
    for kind, n in counts:
        wires[wire_of(kind)] += n
    return wires


class Readiness(Protocol):
    """What C{/healthz} asks: the service's L{chatsvc.service.tap.ChatService.state}."""

    @property
    def state(self) -> str:
        """C{starting}, C{ready} or C{stopping}."""


class ClusterState(Protocol):
    """What the metrics read of the link to the other nodes (L{chatsvc.cluster.redis.RedisLink})."""

    up: bool
    published: int
    on_published: Callable[[float], None] | None


class ChatCollector(Collector):
    """The chat's numbers, read from the server, its web frontend and its history when scraped."""

    def __init__(
        self,
        server: ChatFactory,
        web: WebChat | None = None,
        store: SQLiteHistory | None = None,
        service: Readiness | None = None,
        cluster: ClusterState | None = None,
    ) -> None:
        self.server = server
        self.web = web
        self.store = store
        self.service = service
        self.cluster = cluster

    def _wired(self, name: str, doc: str, counts: dict[str, int], *, counter: bool) -> Metric:
        family: CounterMetricFamily | GaugeMetricFamily
        if counter:
            family = CounterMetricFamily(name, doc, labels=["wire"])
        else:
            family = GaugeMetricFamily(name, doc, labels=["wire"])
        for wire, n in sorted(counts.items()):
            family.add_metric([wire], n)
        return family

    def collect(self) -> Iterator[Metric]:
        server, traffic = self.server, self.server.traffic
        open_now: Counter[type] = Counter(type(c) for c in server.connections)
        if self.web is not None:
            open_now.update(type(c) for c in self.web.connections)
        yield self._wired(
            "chatsvc_connections", "Connections open.", by_wire(open_now.items()), counter=False
        )
        yield self._wired(
            "chatsvc_connections_accepted",
            "Connections accepted (not refused for a limit).",
            by_wire(traffic.accepted.items()),
            counter=True,
        )
        users: Counter[type] = Counter(type(p.client) for p in server.chat)
        yield self._wired(
            "chatsvc_users", "Users signed on.", by_wire(users.items()), counter=False
        )
        yield self._wired(
            "chatsvc_sign_ons", "Sign-ons.", by_wire(traffic.sign_ons.items()), counter=True
        )
        yield GaugeMetricFamily(
            "chatsvc_rooms", "Rooms.", value=sum(1 for _ in server.chat.rooms())
        )
        relayed = CounterMetricFamily(
            "chatsvc_messages_relayed", "Lines relayed, by kind.", labels=["kind"]
        )
        for kind in ("message", "action", "notice", "private"):
            relayed.add_metric([kind], traffic.relayed[kind])
        yield relayed
        for name, doc, value in (
            ("chatsvc_fan_outs", "Events said to a room, each fanned out once.", traffic.fan_outs),
            ("chatsvc_deliveries", "Recipients of the events fanned out.", traffic.deliveries),
            ("chatsvc_sent_bytes", "Bytes of the events fanned out, as sent.", traffic.sent_bytes),
            (
                "chatsvc_reads_throttled",
                "Times a connection's reading was paused for going over --rate.",
                traffic.throttled,
            ),
            (
                "chatsvc_slow_readers_dropped",
                "Connections dropped for not reading what they were sent.",
                traffic.dropped,
            ),
            (
                "chatsvc_login_failures",
                "Wrong passwords given (signing on, or for an operator's account).",
                traffic.login_failures,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        if self.store is not None:
            lookups = GaugeMetricFamily(
                "chatsvc_history_lookups_in_flight",
                "History lookups being answered by the database.",
                labels=["kind"],
            )
            for kind, n in self.store.lookups_in_flight.items():
                lookups.add_metric([kind], n)
            yield lookups
            yield GaugeMetricFamily(
                "chatsvc_history_queue_lines",
                "History lines waiting to be written to the database.",
                value=self.store.unsaved,
            )
            yield GaugeMetricFamily(
                "chatsvc_history_queue_bytes",
                "Bytes of text in the history lines waiting to be written.",
                value=self.store.unsaved_bytes,
            )
        if self.cluster is not None:
            yield GaugeMetricFamily(
                "chatsvc_cluster_redis_up",
                "1 while Redis answers (as of the node's last lease renewal), else 0.",
                value=1 if self.cluster.up else 0,
            )
            yield CounterMetricFamily(
                "chatsvc_cluster_publishes",
                "PUBLISHes to the other nodes that Redis acknowledged (a turn's lines each).",
                value=self.cluster.published,
            )
        if self.service is not None:
            yield GaugeMetricFamily(
                "chatsvc_ready",
                "1 once serving, 0 while starting or stopping.",
                value=1 if self.service.state == "ready" else 0,
            )


def sampled(fan_out: FanOut, histogram: Histogram, every: int = FAN_OUT_SAMPLE) -> FanOut:
    """C{fan_out}, one call in C{every} of it timed into C{histogram}."""
    count = 0
    observe = histogram.observe

    def fan_out_sampled(
        event: Event, clients: Collection[IChatClient], exclude: IChatClient | None
    ) -> None:
        nonlocal count
        count += 1
        if count < every:
            fan_out(event, clients, exclude)
            return
        count = 0
        started = perf_counter()
        fan_out(event, clients, exclude)
        observe(perf_counter() - started)

    return fan_out_sampled


class ChatMetrics:
    """
    The registry that C{/metrics} shows: the chat's numbers (L{ChatCollector}),
    the fan-out and history write times, and the process's own (memory, CPU,
    open files).
    """

    def __init__(self, collector: ChatCollector) -> None:
        self.registry = CollectorRegistry()
        self.collector = collector
        self.registry.register(collector)
        server, store = collector.server, collector.store
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.fan_out_seconds = Histogram(
            "chatsvc_fan_out_seconds",
            f"Time to fan an event out to a room's members (one fan-out in {FAN_OUT_SAMPLE}).",
            buckets=FAN_OUT_BUCKETS,
            registry=self.registry,
        )
        self.history_write_seconds = Histogram(
            "chatsvc_history_write_seconds",
            "Time to write one batch of history lines to the database.",
            buckets=WRITE_BUCKETS,
            registry=self.registry,
        )
        server.chat.fan_out = sampled(server.chat.fan_out, self.fan_out_seconds)
        if store is not None:
            store.on_written = self._written
        if collector.cluster is not None:
            publish_seconds = Histogram(
                "chatsvc_cluster_publish_seconds",
                "Time for Redis to acknowledge one PUBLISH to the other nodes.",
                buckets=WRITE_BUCKETS,
                registry=self.registry,
            )
            collector.cluster.on_published = publish_seconds.observe

    def _written(self, seconds: float, lines: int) -> None:
        self.history_write_seconds.observe(seconds)


class MetricsPage(Resource):
    """C{/metrics}: the registry in Prometheus's text format, made in the reactor's thread."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self.registry)


class HealthPage(Resource):
    """
    C{/healthz}: 200 C{ready} once every listener is up and the history
    open; 503 C{starting} before, and C{stopping} from the moment the
    service begins to stop, for a load balancer to send no one new.
    """

    isLeaf = True

    def __init__(self, service: Readiness) -> None:
        super().__init__()
        self.service = service

    def render_GET(self, request: Request) -> bytes:
        state = self.service.state
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if state != "ready":
            request.setResponseCode(503)
        return f"{state}\n".encode()


class MonitoringSite(Site):
    """The site of C{--metrics}; it logs no requests: a scrape every few seconds says nothing."""

    noisy = False
    displayTracebacks = False

    def log(self, request: object) -> None:
        pass


def monitoring_site(metrics: ChatMetrics, service: Readiness) -> MonitoringSite:
    """The site of C{--metrics}: C{/metrics} and C{/healthz}; anything else is not found."""
    root = Resource()
    root.putChild(b"metrics", MetricsPage(metrics.registry))
    root.putChild(b"healthz", HealthPage(service))
    return MonitoringSite(root)


__all__ = [
    "ChatCollector",
    "ChatMetrics",
    "HealthPage",
    "MetricsPage",
    "MonitoringSite",
    "Readiness",
    "by_wire",
    "monitoring_site",
    "sampled",
    "wire_of",
]
