"""
The web frontend's site over a real socket on 127.0.0.1: the client's
static files with their types and security headers, no directory listing,
and the WebSocket beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent

from chatsvc.frontends.web.connection import WebChat
from chatsvc.frontends.web.files import FileStore
from chatsvc.frontends.web.site import FILE_POLICY, PAGE_POLICY, web_site
from tests.frontends.line.test_endtoend import TIMEOUT
from tests.frontends.web.test_endtoend import header, http, open_web
from tests.support import make_factory

pytestmark = pytest.mark.filterwarnings("ignore:Using readBody with a transport:DeprecationWarning")


@pytest.fixture
def site_port(tmp_path: Path) -> object:
    static = tmp_path / "static"
    (static / "lib").mkdir(parents=True)
    (static / "index.html").write_text(
        '<!doctype html><script type="module" src="app.js"></script>'
    )
    (static / "app.js").write_text("export const x = 1;\n")
    (static / "style.css").write_text("body { color: black }\n")
    (static / "lib" / "mod.mjs").write_text("export {};\n")
    server = make_factory(clock=reactor)
    web = WebChat(server, FileStore(tmp_path / "files"))
    site: Any = web_site(web, reactor, static_dir=static)
    port: IListeningPort = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield port
    port.stopListening()


def port_of(port: object) -> int:
    return port.getHost().port  # type: ignore[attr-defined, no-any-return]


@pytest_twisted.ensureDeferred
async def test_the_client_pages_and_their_headers(site_port: object) -> None:
    port = port_of(site_port)
    response, body = await http(port, b"GET", "/")
    assert response.code == 200
    assert body.startswith(b"<!doctype html>")
    assert header(response, b"content-type") == "text/html; charset=utf-8"
    assert header(response, b"content-security-policy") == PAGE_POLICY
    assert "script-src 'self'" in PAGE_POLICY and "unsafe-inline" not in PAGE_POLICY
    assert header(response, b"x-content-type-options") == "nosniff"
    assert header(response, b"x-frame-options") == "DENY"
    assert header(response, b"referrer-policy") == "no-referrer"
    for path, kind in [
        ("/app.js", "text/javascript"),
        ("/lib/mod.mjs", "text/javascript"),
        ("/style.css", "text/css"),
    ]:
        response, _ = await http(port, b"GET", path)
        assert (response.code, header(response, b"content-type")) == (200, kind), path


@pytest_twisted.ensureDeferred
async def test_no_directory_listing_and_no_such_page(site_port: object) -> None:
    port = port_of(site_port)
    response, body = await http(port, b"GET", "/lib/")
    assert response.code == 404
    assert b"mod.mjs" not in body
    response, _ = await http(port, b"GET", "/nothing.html")
    assert response.code == 404
    response, _ = await http(port, b"GET", "/files/")
    assert response.code == 404
    assert header(response, b"content-security-policy") == FILE_POLICY


@pytest_twisted.ensureDeferred
async def test_the_websocket_beside_the_pages(site_port: object) -> None:
    client = await open_web(port_of(site_port))
    assert (await client.answer("hello", versions=[1]))["version"] == 1
    client.sendClose()
    await client.closed


@pytest_twisted.ensureDeferred
async def test_a_plain_get_of_the_websocket(site_port: object) -> None:
    """Told to upgrade, with no page of autobahn's (the server makes no HTML)."""
    url = f"http://127.0.0.1:{port_of(site_port)}/ws".encode()
    response = await Agent(reactor).request(b"GET", url).addTimeout(TIMEOUT, reactor)
    assert response.code == 426
    assert header(response, b"content-type") != "text/html"
    response.deliverBody(Protocol())  # and let the connection go
