"""twistd chat: the plugin, its options, and the service they make."""

from __future__ import annotations

from twisted.application.service import IServiceMaker
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.server import ChatFactory
from chatsvc.tap import ChatService, Options, makeService


def parse(*argv: str) -> Options:
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

    def test_invalid_endpoint(self) -> None:
        with self.assertRaises(usage.UsageError) as caught:
            parse("--port", "bogus:1")
        self.assertIn("invalid endpoint 'bogus:1'", str(caught.exception))
        self.assertRaises(usage.UsageError, parse, "--listen", "tcp:notaport")

    def test_help_documents_every_option(self) -> None:
        text = str(Options())
        for option in ["--port", "--listen", "--log-messages", "--version", "--help"]:
            self.assertIn(option, text)
        self.assertIn("default: tcp:8080", " ".join(text.split()))


class MakeServiceTests(SynchronousTestCase):
    def test_listens_on_every_endpoint_with_one_chat(self) -> None:
        reactor = MemoryReactorClock()
        service = makeService(
            parse("--port", "tcp:7000:interface=127.0.0.1", "--listen", "tcp:7001"), reactor
        )
        assert isinstance(service, ChatService)
        service.privilegedStartService()
        service.startService()
        ports = [(port, factory, interface) for port, factory, _, interface in reactor.tcpServers]
        self.assertEqual([(p, i) for p, _, i in ports], [(7000, "127.0.0.1"), (7001, "")])
        self.assertIs(ports[0][1], ports[1][1])
        self.assertIsInstance(ports[0][1], ChatFactory)
        self.assertIs(ports[0][1], service.factory)

    def test_announce_limit_reaches_the_chat(self) -> None:
        service = makeService(parse(), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.chat.announce_limit, 200)
        service = makeService(parse("--announce-limit", "0"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.chat.announce_limit, 0)
        self.assertRaises(usage.UsageError, parse, "--announce-limit", "-1")

    def test_log_messages_reaches_the_factory(self) -> None:
        service = makeService(parse("--log-messages"), MemoryReactorClock())
        assert isinstance(service, ChatService)
        self.assertTrue(service.factory.log_messages)
