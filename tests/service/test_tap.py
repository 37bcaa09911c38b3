"""twistd chat: the plugin, its options, and the service they make."""

from __future__ import annotations

import gc
import io
import os
import re
import tempfile
from pathlib import Path

import pytest_twisted
from twisted.application.service import IServiceMaker
from twisted.cred.credentials import UsernamePassword
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.accounts import Accounts, hash_password
from chatsvc.chat.commands import HISTORY_LINES
from chatsvc.chat.interfaces import IAccount
from chatsvc.chat.model import Account, is_valid_name
from chatsvc.cluster.chat import ClusterChat
from chatsvc.cluster.redis import RedisAddress, RedisLink
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.history import NoHistory
from chatsvc.history.cache import RecentCache
from chatsvc.history.postgresql import PostgreSQLHistory
from chatsvc.history.sqlite import SQLiteHistory
from chatsvc.service.startup import StartupError
from chatsvc.service.tap import ChatService, Options, makeService, with_backlog
from chatsvc.streams import eagertcp
from chatsvc.streams.traffic import RATE_WINDOW, SAMPLE_EVERY
from chatsvc.testing import FakeHistory
from tests.frontends.line.test_endtoend import connect, start, tcp_endpoint
from tests.support import Connection, make_certificates, make_factory, scratch_directory


def parse(*argv: str) -> Options:
    """
    The options of C{argv}; the database in memory unless it names one, so
    that no test leaves a C{chatsvc.sqlite} (of accounts and bans, kept even
    with C{--no-history}) where it runs.
    """
    if "--db" not in argv:
        argv = (*argv, "--db", ":memory:")
    options = Options()
    options.parseOptions(list(argv))
    return options


class PluginTests(SynchronousTestCase):
    def test_discoverable(self) -> None:
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        self.assertIn("chat", makers)
        maker = makers["chat"]
        self.assertIs(maker.options, Options)
        self.assertIn("chat server", maker.description)


class OptionsTests(SynchronousTestCase):
    def test_default(self) -> None:
        options = parse()
        self.assertEqual(options["endpoints"], ["tcp:8080"])
        self.assertFalse(options["log-messages"])

    def test_port_number(self) -> None:
        self.assertEqual(parse("--port", "9000")["endpoints"], ["tcp:9000"])
        self.assertEqual(parse("-p", "9000")["endpoints"], ["tcp:9000"])

    def test_port_endpoint(self) -> None:
        self.assertEqual(
            parse("--port", "tcp:8080:interface=127.0.0.1")["endpoints"],
            ["tcp:8080:interface=127.0.0.1"],
        )
        self.assertEqual(
            parse("--port", "unix:/run/chat.sock")["endpoints"], ["unix:/run/chat.sock"]
        )

    def test_bare_ipv6_interface_is_escaped(self) -> None:
        cases = {
            "tcp:8080:interface=::": r"tcp:8080:interface=\:\:",
            "tcp:8080:interface=::1:backlog=5": r"tcp:8080:interface=\:\:1:backlog=5",
            "tcp6:port=8080:interface=fe80::1%eth0": r"tcp6:port=8080:interface=fe80\:\:1%eth0",
            r"tcp:8080:interface=\:\:": r"tcp:8080:interface=\:\:",
            "tcp:8080:interface=0.0.0.0": "tcp:8080:interface=0.0.0.0",
        }
        for given, expected in cases.items():
            self.assertEqual(parse("--port", given)["endpoints"], [expected], given)
        self.assertEqual(
            parse("--listen", "tcp:1:interface=::")["endpoints"], [r"tcp:1:interface=\:\:"]
        )

    def test_listen_repeatable(self) -> None:
        options = parse("--listen", "tcp:1", "--listen", "unix:/tmp/c.sock", "--port", "2")
        self.assertEqual(options["endpoints"], ["tcp:2", "tcp:1", "unix:/tmp/c.sock"])
        self.assertEqual(parse("--listen", "tcp:1")["endpoints"], ["tcp:1"])

    def test_log_messages(self) -> None:
        self.assertTrue(parse("--log-messages")["log-messages"])

    def test_history_defaults(self) -> None:
        options = Options()
        options.parseOptions([])
        self.assertEqual(options["history"], 20)
        self.assertEqual(options["db"], "chatsvc.sqlite")
        self.assertEqual(options["retention-days"], 30)
        self.assertEqual(options["max-lookups"], 8)
        self.assertEqual(options["query-timeout"], 2.0)
        self.assertEqual(options["max-unsaved"], 32 * 1024 * 1024)
        self.assertFalse(options["no-history"])

    def test_history_options(self) -> None:
        options = parse("--history", "0", "--db", ":memory:", "--retention-days", "0")
        self.assertEqual(
            (options["history"], options["db"], options["retention-days"]), (0, ":memory:", 0)
        )
        self.assertEqual(parse("--history", "500")["history"], 500)
        self.assertTrue(parse("--no-history")["no-history"])

    def test_history_option_errors(self) -> None:
        with self.assertRaises(usage.UsageError) as caught:
            parse("--history", "501")
        self.assertEqual(str(caught.exception), "--history must be at most 500")
        for argv in [("--history", "-1"), ("--history", "x"), ("--retention-days", "1.5")]:
            self.assertRaises(usage.UsageError, parse, *argv)
        for argv, reason in [
            (("--max-lookups", "0"), "'0' is less than 1"),
            (("--max-lookups", "2.5"), "'2.5' is not a number"),
            (("--query-timeout", "0.05"), "'0.05' is less than 0.1"),
            (("--query-timeout", "-1"), "'-1' is negative"),
            (("--max-unsaved", "65535"), "'65535' is less than 65536"),
        ]:
            with self.assertRaises(usage.UsageError) as caught:
                parse(*argv)
            self.assertIn(reason, str(caught.exception))

    def test_irc_name(self) -> None:
        self.assertEqual(parse()["irc-name"], "chatsvc")
        self.assertEqual(parse("--irc-name", "irc.example.org")["irc-name"], "irc.example.org")
        for bad in ["", "my server", "-x", ".x", "a:b", "x" * 64]:
            with self.assertRaises(usage.UsageError) as caught:
                parse("--irc-name", bad)
            self.assertIn("is not a server name", str(caught.exception))

    def test_irc_description(self) -> None:
        self.assertIsNone(parse()["irc-description"], "the network's name")
        given = parse("--irc-description", "  Chat of the 2nd floor  ")["irc-description"]
        self.assertEqual(given, "Chat of the 2nd floor")
        for bad in ["", "   ", "two\nlines", "bell\x07", "x" * 101]:
            with self.assertRaises(usage.UsageError) as caught:
                parse("--irc-description", bad)
            self.assertIn(
                "is not a server description (1-100 printable characters)", str(caught.exception)
            )

    def test_invalid_endpoint(self) -> None:
        with self.assertRaises(usage.UsageError) as caught:
            parse("--port", "bogus:1")
        self.assertIn("invalid endpoint 'bogus:1'", str(caught.exception))
        self.assertRaises(usage.UsageError, parse, "--listen", "tcp:notaport")

    def test_under_twistd_a_usage_error_is_one_line(self) -> None:
        """twistd would print the whole --help above it."""
        from twisted.scripts._twistd_unix import ServerOptions

        for argv, line in [
            (["--port", "tcp:x"], "twistd chat: invalid endpoint 'tcp:x': 'x' is not a number"),
            (["--burst", "0"], "twistd chat: --burst must be at least 1"),
            (["--bogus"], "twistd chat: option --bogus not recognized"),
        ]:
            with self.subTest(argv=argv):
                options = Options()
                options.parent = ServerOptions()
                with self.assertRaises(SystemExit) as caught:
                    options.parseOptions(argv)
                self.assertEqual(caught.exception.code, line)

    def test_help_documents_every_option(self) -> None:
        text = str(Options())
        for option in [
            "--port",
            "--listen",
            "--log-messages",
            "--version",
            "--help",
            "--auth",
            "--help-auth",
            "--help-auth-type",
            "--auth-required",
            "--op",
            *("--port", "--listen", "--log-messages", "--version", "--help"),
            *("--history", "--db", "--retention-days", "--no-history"),
            *("--max-lookups", "--query-timeout", "--max-unsaved"),
        ]:
            self.assertIn(option, text)
        self.assertIn("default: tcp:8080", " ".join(text.split()))


class MakeServiceTests(SynchronousTestCase):
    def test_listens_on_every_endpoint_with_one_chat(self) -> None:
        reactor = MemoryReactorClock()
        service = makeService(
            parse("--port", "tcp:7000:interface=127.0.0.1", "--listen", "tcp:7001", "--no-history"),
            reactor,
        )
        assert isinstance(service, ChatService)
        service.privilegedStartService()
        service.startService()
        ports = [(port, factory, interface) for port, factory, _, interface in reactor.tcpServers]
        self.assertEqual([(p, i) for p, _, i in ports], [(7000, "127.0.0.1"), (7001, "")])
        self.assertIs(ports[0][1], ports[1][1])
        self.assertIsInstance(ports[0][1], ChatFactory)
        self.assertIs(ports[0][1], service.factory)

    def test_says_so_when_its_sends_are_made_in_python(self) -> None:
        """Installed without the C extension, chatsvc runs, and the log says what it costs."""
        for compiled, warned in ((eagertcp.send_each_in_c, False), (None, True)):
            self.patch(eagertcp, "send_each_in_c", compiled)
            service = makeService(parse("--no-history"), MemoryReactorClock())
            with capturedLogs() as events:
                service.privilegedStartService()
                service.startService()
            said = [formatEvent(e) for e in events if "made in Python" in formatEvent(e)]
            self.assertEqual(len(said), int(warned), said)
            self.successResultOf(service.stopService())

    def test_the_rate_of_lines_is_sampled_while_running(self) -> None:
        clock = MemoryReactorClock()
        service = makeService(parse("--no-history"), clock)
        assert isinstance(service, ChatService)
        traffic = service.factory.traffic
        service.privilegedStartService()
        service.startService()
        traffic.relayed["message"] += 50
        clock.advance(SAMPLE_EVERY)  # a sample of the 50
        clock.advance(RATE_WINDOW + 1)
        traffic.relayed["message"] += 10
        # The 50 were said over a minute ago: only the 10 since count, over the
        # time since the oldest sample kept (at 5 s, once the 50 were said).
        self.assertEqual(clock.seconds(), 66)
        self.assertAlmostEqual(traffic.rate(clock.seconds()), 10 / 61)

    def test_announce_limit_reaches_the_chat(self) -> None:
        service = makeService(parse("--no-history"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.chat.announce_limit, 200)
        service = makeService(parse("--announce-limit", "0", "--no-history"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.chat.announce_limit, 0)
        self.assertRaises(usage.UsageError, parse, "--announce-limit", "-1")

    def test_max_rooms_per_user_reaches_the_chat(self) -> None:
        service = makeService(parse("--no-history"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.chat.max_rooms, 20)
        service = makeService(
            parse("--max-rooms-per-user", "3", "--no-history"), MemoryReactorClock()
        )
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.chat.max_rooms, 3)
        self.assertRaises(usage.UsageError, parse, "--max-rooms-per-user", "0")

    def test_log_messages_reaches_the_factory(self) -> None:
        service = makeService(parse("--log-messages", "--no-history"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertTrue(service.factory.log_messages)

    def test_history_in_sqlite(self) -> None:
        service = makeService(
            parse(
                *("--db", "chat.db", "--retention-days", "7", "--history", "5"),
                *("--max-lookups", "3", "--query-timeout", "0.5", "--max-unsaved", "65536"),
                *("--max-replays", "9"),
            ),
            MemoryReactorClock(),
        )
        assert isinstance(service, ChatService)
        cache = service.factory.history
        assert isinstance(cache, RecentCache)
        # Replays and short /history answers come from memory, as the database ages them.
        self.assertEqual((cache.depth, cache.max_age), (HISTORY_LINES, 7 * 86400))
        history = cache.store
        assert isinstance(history, SQLiteHistory)
        self.assertEqual((history.path, history.retention_days), ("chat.db", 7))
        self.assertEqual(
            (history.max_lookups, history.max_replays),
            (3, 9),
        )
        self.assertEqual(
            (history.query_timeout, history.max_unsaved_bytes),
            (0.5, 65536),
        )
        self.assertEqual(service.factory.replay, 5)

    def test_history_in_postgresql(self) -> None:
        url = "postgresql://chat:pw@db.example.org:5433/chat"
        service = makeService(
            parse("--db", url, "--retention-days", "7", "--max-lookups", "3", "--max-replays", "9"),
            MemoryReactorClock(),
        )
        assert isinstance(service, ChatService)
        cache = service.factory.history
        assert isinstance(cache, RecentCache)
        history = cache.store
        assert isinstance(history, PostgreSQLHistory)
        self.assertEqual((history.url, history.retention_days), (url, 7))
        self.assertEqual((history.max_lookups, history.max_replays), (3, 9))

    def test_cluster_needs_postgresql_and_a_redis_url(self) -> None:
        with self.assertRaises(usage.UsageError) as raised:
            parse("--cluster", "redis://127.0.0.1:6379/0")
        self.assertEqual(
            str(raised.exception),
            "--cluster needs --db postgresql://...: with SQLite each node would keep a "
            "history of its own",
        )
        for url in ("http://x", "redis://", "redis://h:port/0", "redis://h/db"):
            with self.assertRaises(usage.UsageError) as raised:
                parse("--cluster", url, "--db", "postgresql://db/chat")
            self.assertEqual(
                str(raised.exception), f"--cluster {url!r} is not redis://HOST[:PORT][/DB]"
            )
        with self.assertRaises(usage.UsageError):
            parse("--node-name", "a")
        with self.assertRaises(usage.UsageError):
            parse("--cluster", "redis://h", "--db", "postgresql://db/c", "--node-name", "a b")

    def test_cluster_makes_a_node(self) -> None:
        options = parse(
            *("--cluster", "redis://redis.example.org:6380/2", "--node-name", "n1"),
            *("--db", "postgresql://db/chat", "--cluster-lease", "5"),
        )
        service = makeService(options, MemoryReactorClock())
        assert isinstance(service, ChatService)
        chat = service.factory.chat
        assert isinstance(chat, ClusterChat)
        self.assertEqual(chat.node, "n1")
        link = service.cluster
        assert isinstance(link, RedisLink)
        self.assertEqual(link.address, RedisAddress("redis.example.org", 6380, 2))
        self.assertEqual(link.lease, 5.0)
        self.assertIs(chat.link, link)
        default = parse("--cluster", "redis://h", "--db", "postgresql://db/chat")
        self.assertTrue(is_valid_name(default["node-name"]))

    def test_without_cluster_nothing_changes(self) -> None:
        service = makeService(parse("--no-history"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertIsNone(service.cluster)
        self.assertNotIsInstance(service.factory.chat, ClusterChat)

    def test_the_cache_keeps_as_many_lines_as_a_replay_shows(self) -> None:
        service = makeService(parse("--history", "60"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        cache = service.factory.history
        assert isinstance(cache, RecentCache)
        self.assertEqual(cache.depth, 60)

    def test_no_history(self) -> None:
        service = makeService(parse("--no-history", "--history", "5"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertIsInstance(service.factory.history, NoHistory)
        self.assertEqual(service.factory.replay, 0)


class BacklogTests(SynchronousTestCase):
    """
    Twisted listens with a backlog of 50: thousands of clients connecting at
    once overflow it, and each connection dropped waits 1, 3, 7 s to retry.
    """

    def test_option(self) -> None:
        self.assertEqual(parse()["backlog"], 1024)
        self.assertEqual(parse("--backlog", "4096")["backlog"], 4096)
        with self.assertRaises(usage.UsageError) as caught:
            parse("--backlog", "0")
        self.assertEqual(str(caught.exception), "--backlog must be at least 1")

    def test_endpoint_strings_get_it_unless_they_say_their_own(self) -> None:
        cases = {
            "tcp:8080": "tcp:8080:backlog=1024",
            "tcp:8080:interface=127.0.0.1": "tcp:8080:interface=127.0.0.1:backlog=1024",
            r"tcp:8080:interface=\:\:": r"tcp:8080:interface=\:\::backlog=1024",
            "TCP6:port=8080": "TCP6:port=8080:backlog=1024",
            "ssl:8443:privateKey=k.pem": "ssl:8443:privateKey=k.pem:backlog=1024",
            "unix:/run/chat.sock": "unix:/run/chat.sock:backlog=1024",
            r"unix:/run/odd\:backlog=5": r"unix:/run/odd\:backlog=5:backlog=1024",
            "tcp:8080:backlog=5": "tcp:8080:backlog=5",
            "tcp:8080:backlog=5:interface=::1": "tcp:8080:backlog=5:interface=::1",
            "systemd:domain=INET:index=0": "systemd:domain=INET:index=0",
        }
        for given, expected in cases.items():
            self.assertEqual(with_backlog(given, 1024), expected, given)

    def test_every_listener_listens_with_it(self) -> None:
        reactor = MemoryReactorClock()
        service = makeService(
            parse(
                "--port", "7000",
                "--listen", "tcp:7001:interface=127.0.0.1",
                "--listen", "tcp:7002:backlog=5",
                "--listen", "unix:/nonexistent/chat.sock",
                "--no-history",
            ),
            reactor,
        )  # fmt: skip
        service.privilegedStartService()
        self.assertEqual(
            [(port, backlog) for port, _, backlog, _ in reactor.tcpServers],
            [(7000, 1024), (7001, 1024), (7002, 5)],
        )
        self.assertEqual([backlog for _, _, backlog, _, _ in reactor.unixServers], [1024])

    def test_the_default_endpoint_and_the_option(self) -> None:
        reactor = MemoryReactorClock()
        makeService(parse("--no-history"), reactor).privilegedStartService()
        makeService(
            parse("--no-history", "-p", "7000", "--backlog", "64"), reactor
        ).privilegedStartService()
        self.assertEqual(
            [(port, backlog) for port, _, backlog, _ in reactor.tcpServers],
            [(8080, 1024), (7000, 64)],
        )

    def test_tls_listens_with_it(self) -> None:
        certificates = make_certificates(scratch_directory(self))
        reactor = MemoryReactorClock()
        service = makeService(
            parse("--port", certificates.server_endpoint(7443), "--no-history"), reactor
        )
        service.privilegedStartService()
        self.assertEqual([(p, b) for p, _, _, b, _ in reactor.sslServers], [(7443, 1024)])


class ChatServiceTests(SynchronousTestCase):
    def test_history_opens_before_anyone_is_served(self) -> None:
        history = FakeHistory(MemoryReactorClock())
        service = ChatService(make_factory(history=history))
        service.startService()
        self.assertTrue(history.opened)

    def test_a_database_that_cannot_be_opened_stops_the_start(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "missing" / "x.sqlite"
            service = makeService(parse("--db", str(path)), MemoryReactorClock())
            with self.assertRaises(StartupError) as caught:
                service.startService()
        self.assertEqual(
            str(caught.exception),
            f"cannot open history database {path}: no such directory {path.parent.absolute()}",
        )
        self.assertFalse(service.running)

    def test_not_root_opens_the_history_before_listening(self) -> None:
        self.patch(os, "geteuid", lambda: 1000)
        reactor = MemoryReactorClock()
        bound_at_open: list[int] = []

        class Noting(FakeHistory):
            def open(self) -> None:
                bound_at_open.append(len(reactor.tcpServers))
                super().open()

        service = ChatService(make_factory(history=Noting(reactor)))
        service.listen("tcp:7000", reactor)
        service.privilegedStartService()
        self.assertEqual(bound_at_open, [0])
        self.assertEqual(len(reactor.tcpServers), 1)
        service.startService()
        self.assertEqual(bound_at_open, [0])

    def test_not_root_a_bad_database_stops_the_start_before_listening(self) -> None:
        self.patch(os, "geteuid", lambda: 1000)
        reactor = MemoryReactorClock()
        with tempfile.TemporaryDirectory() as directory:
            missing = str(Path(directory) / "missing" / "x.sqlite")
            service = makeService(parse("--port", "tcp:7000", "--db", missing), reactor)
            self.assertRaises(StartupError, service.privilegedStartService)
        self.assertEqual(reactor.tcpServers, [])

    def test_root_opens_the_history_once_privileges_are_shed(self) -> None:
        self.patch(os, "geteuid", lambda: 0)
        history = FakeHistory(MemoryReactorClock())
        service = ChatService(make_factory(history=history))
        service.privilegedStartService()
        self.assertFalse(history.opened)
        service.startService()
        self.assertTrue(history.opened)

    def test_history_closes_after_the_goodbyes(self) -> None:
        history = FakeHistory(MemoryReactorClock())
        service = ChatService(make_factory(history=history))
        service.startService()
        alice = Connection(service.factory)
        stopped = service.stopService()
        self.assertIn("*** The server is shutting down. Goodbye!", alice.lines())
        self.assertFalse(history.closed)
        alice.close()
        self.assertTrue(history.closed)
        self.successResultOf(stopped)

    def test_stopped_before_it_started_it_stops_nothing_it_never_started(self) -> None:
        """
        As twistd may, after a start that failed: its parts that never
        started (the /stats sampler's TimerService among them) are left alone.
        """
        from tests.support import service_for

        service = service_for("--port", "tcp:0:interface=127.0.0.1")
        with capturedLogs() as events:
            stopped = service.stopService()
            self.successResultOf(stopped)
            del stopped
            gc.collect()
        self.assertEqual([formatEvent(e) for e in events if e.get("log_failure")], [])

    def test_let_go_after_a_failed_start_stops_listening_and_nothing_else(self) -> None:
        """
        What C{chatsvc-gui --local} does when the history cannot open after
        the ports are bound: they close, and the parts that never started
        (the /stats sampler's TimerService, which fails to stop then) are
        not stopped.
        """
        from tests.support import service_for

        service = service_for(
            "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"
        )
        for listener in service:
            if hasattr(listener, "recorder"):
                listener.privilegedStartService()
        ports = service.ports
        self.assertEqual(len(ports), 2)
        service.let_go()
        self.assertEqual([port.disconnecting for port in ports], [True, True])  # type: ignore[attr-defined]


class AuthOptionsTests(SynchronousTestCase):
    def test_no_auth(self) -> None:
        """Without --auth, nothing changes: no accounts."""
        options = parse()
        self.assertIsNone(options["accounts"])
        self.assertEqual((options["op"], options["auth-required"]), ([], False))

    def test_auth(self) -> None:
        directory = scratch_directory(self)
        (directory / "passwd").write_text(f"alice:{hash_password(b'pw', n=16, r=1, p=1)}\n")
        options = parse(
            "--auth", f"chatsvc:{directory / 'passwd'}",
            "--auth", "memory:bob:pw",
            "--op", "alice", "--op", "bob", "--auth-required",
        )  # fmt: skip
        accounts = options["accounts"]
        self.assertIsInstance(accounts, Accounts)
        self.assertEqual(
            [accounts.account_for(n) for n in ["ALICE", "bob", "carol"]], ["alice", "bob", None]
        )
        self.assertEqual(options["op"], ["alice", "bob"])
        self.assertTrue(options["auth-required"])

    def test_refused(self) -> None:
        cases = [
            (["--auth-required"], "--auth-required needs --auth"),
            (
                ["--registration", "maybe"],
                "Parameter type enforcement failed: --registration is open or closed, not 'maybe'",
            ),
            (
                ["--min-password-length", "0"],
                "Parameter type enforcement failed: '0' is less than 1",
            ),
            (
                ["--auth", "memory:a:b", "--op", "a b"],
                "--op 'a b' is not a valid nickname: "
                "use 1-32 letters, digits and _ - . [ ] { } ^ |",
            ),
            (["--auth", "nonsense:x"], "--auth nonsense: Auth plugin not recognized: nonsense"),
            (
                ["--auth", "anonymous"],
                "--auth anonymous: Auth plugin not supported: twisted.cred.credentials.IAnonymous",
            ),
            (
                ["--auth", "unix"],
                "--auth unix cannot be used: it checks the system's own accounts, "
                "and cannot tell which nicknames are registered",
            ),
            (
                ["--auth", "chatsvc:/nonexistent/passwd"],
                "--auth chatsvc: cannot read the password file /nonexistent/passwd: "
                "No such file or directory",
            ),
            (
                ["--auth", "memory:alice:secret:bob"],
                "--auth memory: argstring must be in format U:P:...",
            ),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                with self.assertRaises(usage.UsageError) as caught:
                    parse(*argv)
                self.assertEqual(str(caught.exception), message)
                self.assertNotIn("secret", str(caught.exception))

    def help_auth(self, *argv: str) -> str:
        options = Options()
        options.authOutput = io.StringIO()
        with self.assertRaises(SystemExit) as caught:
            options.parseOptions(list(argv))
        self.assertEqual(caught.exception.code, 0)
        return options.authOutput.getvalue()

    def test_help_auth_and_auth_agree(self) -> None:
        """Every type --help-auth offers works; each one it sets apart is refused, saying why."""
        directory = scratch_directory(self)
        (directory / "passwd").write_text(f"alice:{hash_password(b'pw', n=16, r=1, p=1)}\n")
        (directory / "plain").write_text("alice:pw\n")
        arguments = {
            "chatsvc": str(directory / "passwd"),
            "file": str(directory / "plain"),
            "memory": "alice:pw",
        }
        listing, _, apart = self.help_auth("--help-auth").partition("\nCannot be used here:\n")
        offered = re.findall(r"^  (\S+) +\S", listing.split("ArgString format\n")[1], re.M)
        self.assertEqual(sorted(offered), sorted(arguments))
        for kind in offered:
            accounts = parse("--auth", f"{kind}:{arguments[kind]}")["accounts"]
            self.assertEqual(accounts.account_for("ALICE"), "alice", kind)
        refused = re.findall(r"^  (\S+) +(.+)$", apart, re.M)
        self.assertEqual([kind for kind, _ in refused], ["unix"])
        for kind, reason in refused:
            with self.assertRaises(usage.UsageError) as caught:
                parse("--auth", kind)
            self.assertEqual(str(caught.exception), f"--auth {kind} cannot be used: {reason}")
            self.assertTrue(
                self.help_auth("--help-auth-type", kind).startswith(
                    f"--auth {kind} cannot be used: {reason}\n"
                )
            )

    def test_help_auth_lists_our_checker(self) -> None:
        options = Options()
        options.authOutput = io.StringIO()
        with self.assertRaises(SystemExit):
            options.parseOptions(["--help-auth"])
        self.assertRegex(options.authOutput.getvalue(), r"chatsvc\s+The path of a password file")


class TLSOptionsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.certificates = make_certificates(scratch_directory(self))

    def test_ssl_endpoint(self) -> None:
        description = self.certificates.server_endpoint(8443)
        self.assertEqual(parse("--listen", description)["endpoints"], [description])

    def test_key_or_certificate_missing_or_bad(self) -> None:
        key, cert = self.certificates.key, self.certificates.cert
        missing = key.with_name("missing.pem")
        bad = key.with_name("bad.pem")
        bad.write_text("not a certificate\n")
        other = make_certificates(scratch_directory(self)).cert
        cases = [
            (f"ssl:8443:privateKey={missing}", f"{missing}: No such file or directory"),
            (
                f"ssl:8443:privateKey={key}:certKey={missing}",
                f"{missing}: No such file or directory",
            ),
            (f"ssl:8443:privateKey={key}:certKey={bad}", "bad key or certificate: no start line"),
            (
                f"ssl:8443:privateKey={key}:certKey={other}",
                "bad key or certificate: Certificate public and private keys do not match",
            ),
            (f"ssl:8443:privateKey={key.parent}:certKey={cert}", f"{key.parent}: Is a directory"),
        ]
        for description, reason in cases:
            with self.subTest(description=description):
                with self.assertRaises(StartupError) as caught:
                    parse("--port", "8080", "--listen", description)
                self.assertEqual(str(caught.exception), f"cannot listen on {description}: {reason}")


class MakeServiceAccountsTests(SynchronousTestCase):
    def test_accounts_portal_and_operators(self) -> None:
        options = parse("--auth", "memory:alice:pw:bob:pw", "--op", "Alice", "--auth-required")
        with capturedLogs() as events:
            service = makeService(options, MemoryReactorClock())
        assert isinstance(service, ChatService)
        factory = service.factory
        assert factory.chat.accounts is not None
        self.assertEqual(factory.chat.accounts.account_for("BOB"), "bob")
        self.assertFalse(factory.chat.guests)
        assert factory.portal is not None
        for name, operator in [(b"alice", True), (b"bob", False)]:
            login = factory.portal.login(UsernamePassword(name, b"pw"), None, IAccount)
            self.assertEqual(self.successResultOf(login)[1], Account(name.decode(), operator))
        self.assertEqual(events, [])

    def test_operator_without_an_account_is_logged(self) -> None:
        with capturedLogs() as events:
            makeService(
                parse("--auth", "memory:alice:pw", "--op", "dave", "--no-history"),
                MemoryReactorClock(),
            )
        self.assertEqual(
            [formatEvent(e) for e in events], ["--op dave: there is no such account (yet)"]
        )

    def test_without_auth(self) -> None:
        service = makeService(parse("--no-history"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        # Accounts made with /register are the chat's still.
        self.assertIsNotNone(service.factory.portal)
        assert service.factory.registrar is not None
        self.assertTrue(service.factory.registrar.open)
        self.assertTrue(service.factory.chat.guests)

    def test_plain_and_tls_side_by_side(self) -> None:
        certificates = make_certificates(scratch_directory(self))
        reactor = MemoryReactorClock()
        service = makeService(
            parse(
                "--port", "tcp:7000", "--listen", certificates.server_endpoint(7443), "--no-history"
            ),
            reactor,
        )
        assert isinstance(service, ChatService)
        service.privilegedStartService()
        service.startService()
        ((port, factory, _, _),) = reactor.tcpServers
        ((tls_port, tls_factory, _, _, _),) = reactor.sslServers
        self.assertEqual((port, tls_port), (7000, 7443))
        self.assertIs(factory, service.factory)
        self.assertIs(tls_factory, service.factory)


@pytest_twisted.ensureDeferred
async def test_history_0_shows_none_on_joining_yet_keeps_it() -> None:
    """--history 0, through makeService: no replay on joining; /history still answers."""
    service = start("--port", "tcp:0:interface=127.0.0.1", "--history", "0")
    try:
        endpoint = tcp_endpoint(service)
        bob = await connect(endpoint, "bob")
        await bob.expect("*** You joined lobby (1 member):", "*** bob")
        bob.say("anyone around?")
        alice = await connect(endpoint, "alice")
        alice.say("/history")
        await alice.expect(
            "*** You joined lobby (2 members):",
            "*** alice, bob",
            "*** Recent history of lobby (1 line, times in UTC):",
        )
        assert re.fullmatch(
            r"\[\d{4}-\d\d-\d\d \d\d:\d\d\] <bob> anyone around\?", await alice.next_line()
        )
        alice.say("/rooms")
        await alice.expect("*** End of history", "*** 1 room:", "*** lobby (2)")
    finally:
        await service.stopService()


class WebOptionsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        options = parse()
        self.assertEqual(options["web"], [])
        self.assertEqual(options["web-origin"], [])
        self.assertEqual(options["max-upload"], 10 << 20)
        self.assertEqual(options["upload-rate"], 10)
        self.assertEqual(options["files-dir"], "files")

    def test_web_endpoints_and_origins(self) -> None:
        options = parse(
            "--web",
            "8081",
            "--web",
            "tcp:8082:interface=::",
            "--web-origin",
            "HTTPS://Chat.Example",
        )
        self.assertEqual(options["web"], ["tcp:8081", "tcp:8082:interface=\\:\\:"])
        self.assertEqual(options["web-origin"], ["https://chat.example"])

    def test_errors(self) -> None:
        for argv, reason in [
            (("--web-origin", "chat.example"), "is not an origin"),
            (("--web-origin", "https://chat.example/path"), "is not an origin"),
            (("--web", "bogus:1"), "invalid endpoint 'bogus:1'"),
            (("--max-upload", "0"), "'0' is less than 1"),
            (("--upload-rate", "0"), "'0' is less than 1"),
        ]:
            with self.assertRaises(usage.UsageError) as caught:
                parse(*argv)
            self.assertIn(reason, str(caught.exception))

    def test_make_service_serves_the_web_and_says_where(self) -> None:
        from chatsvc.frontends.web.site import WebService, WebSite

        files = scratch_directory(self) / "shared"
        reactor = MemoryReactorClock()
        service = makeService(
            parse(
                "--no-history",
                "--web",
                "tcp:8081:interface=127.0.0.1",
                "--web",
                "tcp:8082",
                "--files-dir",
                str(files),
                "--max-upload",
                "1234",
                "--web-origin",
                "https://chat.example",
                "--retention-days",
                "0",
            ),
            reactor,
        )
        assert isinstance(service, ChatService)
        with capturedLogs() as events:
            service.privilegedStartService()
            service.startService()
        self.addCleanup(service.stopService)
        self.assertTrue(files.is_dir(), "the file store is made at start-up")
        sites = [factory for port, factory, _, _ in reactor.tcpServers if port in (8081, 8082)]
        self.assertEqual(len(sites), 2)
        self.assertIs(sites[0], sites[1])
        site = sites[0]
        assert isinstance(site, WebSite)
        self.assertIs(site.web.server, service.factory)
        self.assertEqual(site.web.max_upload, 1234)
        self.assertEqual(site.web.origins, {"https://chat.example"})
        self.assertEqual(len([s for s in service if isinstance(s, WebService)]), 1)
        said = [formatEvent(event) for event in events]
        self.assertIn("Web client at http://localhost:8081/ (WebSocket at /ws)", said)
        self.assertIn("Web client at http://localhost:8082/ (WebSocket at /ws)", said)

    def test_no_web_by_default(self) -> None:
        from chatsvc.frontends.web.site import WebService

        service = makeService(parse("--no-history"), MemoryReactorClock())
        self.assertEqual([s for s in service if isinstance(s, WebService)], [])  # type: ignore[attr-defined]
