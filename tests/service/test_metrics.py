"""
C{--metrics}: C{/metrics} scraped over a real socket while users talk, and
C{/healthz} through a start and a stop.
"""

from __future__ import annotations

import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from chatsvc.service.tap import ChatService
from tests.frontends.line.test_endtoend import TIMEOUT, connect, tcp_endpoint
from tests.support import Services

LOOPBACK = "tcp:0:interface=127.0.0.1"


def monitor_endpoint(service: ChatService) -> TCP4ClientEndpoint:
    port = service.monitor_port
    assert port is not None
    return TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)  # type: ignore[attr-defined]


class Raw(Protocol):
    """An HTTP/1.0 connection: what it received, once the server has closed it."""

    def __init__(self) -> None:
        self.received = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.closed.callback(None)

    def ask(self, path: str) -> None:
        self.transport.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())  # type: ignore[union-attr]

    async def response(self) -> tuple[int, bytes, str]:
        """The status, body and content type of the response."""
        await self.closed.addTimeout(TIMEOUT, reactor)
        head, _, body = self.received.partition(b"\r\n\r\n")
        status, *headers = head.decode().split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in headers)
        kind: str = fields.get("content-type", "")
        return int(status.split()[1]), body, kind


async def get(service: ChatService, path: str) -> tuple[int, bytes, str]:
    """The status, body and content type of GET C{path} on the C{--metrics} endpoint."""
    raw: Raw = await connectProtocol(monitor_endpoint(service), Raw())
    raw.ask(path)
    return await raw.response()


async def scrape(service: ChatService) -> dict[str, float]:
    """Every sample of C{/metrics}, by its name and labels as Prometheus writes them."""
    code, body, kind = await get(service, "/metrics")
    assert code == 200
    assert kind.startswith("text/plain; version=")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest_twisted.ensureDeferred
async def test_counters_move_with_the_traffic(services: Services) -> None:
    service = services.start(
        "--port", LOOPBACK, "--irc", LOOPBACK, "--metrics", LOOPBACK, "--rate", "0"
    )
    before = await scrape(service)
    assert before['chatsvc_connections{wire="line"}'] == 0
    assert before['chatsvc_sign_ons_total{wire="line"}'] == 0
    assert before["chatsvc_rooms"] == 1  # the lobby
    assert before["chatsvc_ready"] == 1
    assert before["process_resident_memory_bytes"] > 0

    endpoint = tcp_endpoint(service)
    alice = await connect(endpoint, "alice")
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    bob = await connect(endpoint, "bob")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    await alice.expect("*** bob joined lobby")
    carol = await connect(endpoint)  # connected, not signed on
    for n in range(3):
        alice.say(f"hello {n}")
        await bob.expect(f"<alice> hello {n}")
    alice.say("/me waves")
    await bob.expect("* alice waves")
    alice.say("/msg bob psst")
    await bob.expect("*alice* psst")

    after = await scrape(service)
    assert after['chatsvc_connections{wire="line"}'] == 3
    assert after['chatsvc_connections{wire="irc"}'] == 0
    assert after['chatsvc_connections_accepted_total{wire="line"}'] == 3
    assert after['chatsvc_users{wire="line"}'] == 2
    assert after['chatsvc_sign_ons_total{wire="line"}'] == 2
    assert after["chatsvc_rooms"] == 1
    assert after['chatsvc_messages_relayed_total{kind="message"}'] == 3
    assert after['chatsvc_messages_relayed_total{kind="action"}'] == 1
    assert after['chatsvc_messages_relayed_total{kind="private"}'] == 1
    # alice's joining (to nobody), bob's (to alice), 3 lines and an action (to bob).
    assert after["chatsvc_fan_outs_total"] == 6
    assert after["chatsvc_deliveries_total"] == 5
    sent = len(b"*** bob joined lobby\n") + sum(
        len(f"<alice> hello {n}\n".encode()) for n in range(3)
    )
    assert after["chatsvc_sent_bytes_total"] == sent + len(b"* alice waves\n")
    assert after["chatsvc_history_queue_lines"] >= 0
    assert after['chatsvc_history_lookups_in_flight{kind="replays"}'] == 0
    assert "chatsvc_fan_out_seconds_count" in after
    assert carol.transport is not None
    carol.transport.loseConnection()
    await carol.expect_closed()
    assert (await scrape(service))['chatsvc_connections{wire="line"}'] == 2


@pytest_twisted.ensureDeferred
async def test_throttled_reads_and_wrong_passwords_are_counted(services: Services) -> None:
    argv = f"--port {LOOPBACK} --metrics {LOOPBACK} --rate 1 --burst 1 --auth memory:alice:pw"
    service = services.start(*argv.split())
    endpoint = tcp_endpoint(service)
    client = await connect(endpoint)
    client.say("alice")
    await client.expect("*** Password for alice:")
    client.say("wrong")
    await client.expect("*** Error: wrong password for alice")
    samples = await scrape(service)
    assert samples["chatsvc_login_failures_total"] == 1
    assert samples["chatsvc_reads_throttled_total"] >= 1


@pytest_twisted.ensureDeferred
async def test_history_writes_are_timed(services: Services) -> None:
    service = services.start("--port", LOOPBACK, "--metrics", LOOPBACK, "--rate", "0")
    alice = await connect(tcp_endpoint(service), "alice")
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    alice.say("kept")
    alice.say("/search kept")  # waits for the line to be written
    lines = [await alice.next_line() for _ in range(2)]
    assert lines[-1].endswith("<alice> kept"), lines
    samples = await scrape(service)
    assert samples["chatsvc_history_write_seconds_count"] >= 1


@pytest_twisted.ensureDeferred
async def test_healthz_through_start_and_stop(services: Services) -> None:
    service = services.start("--port", LOOPBACK, "--metrics", LOOPBACK)
    assert await get(service, "/healthz") == (200, b"ready\n", "text/plain; charset=utf-8")
    assert (await get(service, "/nothing"))[0] == 404
    raw: Raw = await connectProtocol(monitor_endpoint(service), Raw())
    stopped = service.stopService()
    assert service.state == "stopping"
    raw.ask("/healthz")
    assert await raw.response() == (503, b"stopping\n", "text/plain; charset=utf-8")
    await stopped


def test_starting_until_every_listener_listens() -> None:
    from tests.support import service_for

    service = service_for("--port", LOOPBACK, "--metrics", LOOPBACK)
    assert service.state == "starting"
