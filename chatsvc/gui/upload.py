"""
Sharing a file from the desktop client: the HTTP C{POST} of docs/websocket.md
("Files"), authenticated by the WebSocket session's upload token, with
Twisted's own HTTP client. The room's message comes over the WebSocket, as
for any upload.

test-case-name: tests.gui.test_app
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, FileBodyProducer, ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

if TYPE_CHECKING:
    from twisted.internet._sslverify import IOpenSSLTrustRoot


class UploadError(Exception):
    """The server refused the file; the message is its own words."""


def upload(
    reactor: Any, url: str, token: str, path: Path, trust: IOpenSSLTrustRoot | None = None
) -> Deferred[dict[str, Any]]:
    """POST the file at C{path} to C{url}; the result is the server's answer (its JSON)."""
    return ensureDeferred(_upload(reactor, url, token, path, trust))


async def _upload(
    reactor: Any, url: str, token: str, path: Path, trust: IOpenSSLTrustRoot | None
) -> dict[str, Any]:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    agent = Agent(reactor, BrowserLikePolicyForHTTPS(trustRoot=trust))
    with path.open("rb") as file:
        response = await agent.request(
            b"POST",
            url.encode(),
            Headers({"Authorization": [f"Bearer {token}"], "Content-Type": [kind]}),
            FileBodyProducer(file),
        )
        body = await _body(response)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise UploadError(f"the server answered {response.code} {response.phrase.decode()}")
    if response.code != 201:
        raise UploadError(str(answer.get("message") or answer.get("error")))
    return answer


class _Body(Protocol):
    """
    A response's body, whole. (L{twisted.web.client.readBody} warns when the
    body came with the headers, as the server's short answers do.)
    """

    def __init__(self) -> None:
        self.done: Deferred[bytes] = Deferred()
        self._data: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._data.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if reason.check(ResponseDone):
            self.done.callback(b"".join(self._data))
        else:
            self.done.errback(reason)


def _body(response: IResponse) -> Deferred[bytes]:
    body = _Body()
    response.deliverBody(body)
    return body.done
