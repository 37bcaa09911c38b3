"""
The web frontend's site (C{twistd chat --web ENDPOINT}): the client's static
files at C{/}, the WebSocket at C{/ws}, shared files at C{/files/}, on one
L{twisted.web.server.Site}, serving the same chat as the other wires.

Every response carries C{X-Content-Type-Options: nosniff}, C{Referrer-Policy:
no-referrer} and a Content-Security-Policy: for the client's pages, scripts
and styles from the site itself only (no inline script, no C{eval}), and
nothing framed; for shared files, nothing runs at all (C{sandbox}).

test-case-name: tests.frontends.web.test_site, tests.frontends.web.test_endtoend
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote

from autobahn.twisted.resource import WebSocketResource
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.web import pages, resource, server, static
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from chatsvc.chat import commands
from chatsvc.chat.events import Message
from chatsvc.chat.model import ChatError, fold
from chatsvc.frontends.line import wire as line_wire
from chatsvc.frontends.web import wire
from chatsvc.frontends.web.connection import WebChat
from chatsvc.frontends.web.files import OCTETS, FileStore, clean_name, size_text
from chatsvc.frontends.web.wire import Json
from chatsvc.streams.limits import TokenBucket

STATIC = Path(__file__).parent / "static"
"""The web client's files, shipped in the package."""

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of the client's pages: nothing inline, nothing from elsewhere."""

FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'"
"""The Content-Security-Policy of shared files: nothing in them runs."""

PRUNE_INTERVAL = 3600.0
"""Seconds between two sweeps of files past their retention."""

_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def _json(request: IRequest, status: int, body: Json) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    return wire.dumps(body)


def _failure(request: IRequest, status: int, code: str, message: str) -> bytes:
    return _json(request, status, {"error": code, "message": message})


def _host(request: Any) -> str:
    """Where the upload was made to, for the link told to other wires' users."""
    host = request.getHeader(b"host")
    if isinstance(host, bytes):
        text = host.decode("ascii", "replace")
        if re.fullmatch(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?", text):
            return text
    address = request.getHost()
    return f"{address.host}:{address.port}"


class Files(resource.Resource):
    """C{/files/}: uploads (C{POST}), and each stored file (C{GET /files/HASH/NAME})."""

    _log = Logger()

    def __init__(
        self,
        web: WebChat,
        in_thread: Callable[..., Deferred[Any]],
        clock: IReactorTime,
    ) -> None:
        super().__init__()
        self.web = web
        self._in_thread = in_thread
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        digest = path.decode("ascii", "replace")
        if path == b"":
            return self
        if not self.web.store.has(digest):
            return pages.notFound("No such file", "No file has that hash.")
        return _Stored(self.web.store, digest)

    def render_GET(self, request: IRequest) -> bytes:
        return _failure(request, 404, "not-found", "name a file: /files/HASH/NAME")

    def render_POST(self, request: Any) -> bytes | int:
        web = self.web
        if getattr(request, "too_large", False):
            request.setHeader(b"connection", b"close")
            return _failure(
                request, 413, "too-large", f"a file may be at most {web.max_upload} bytes"
            )
        token = (request.getHeader(b"authorization") or b"").decode("ascii", "replace")
        scheme, _, value = token.partition(" ")
        connection = web.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        me = None if connection is None else connection.participant
        if connection is None or me is None:
            return _failure(request, 401, "unauthorized", "sign on over the WebSocket first")
        args = request.args
        room_arg = args.get(b"room", [b""])[0].decode("utf-8", "replace")
        name = clean_name(args.get(b"name", [b"file"])[0].decode("utf-8", "replace"))
        try:
            room = web.server.chat.member_of(me, room_arg)
        except ChatError as e:
            return _failure(request, 403, "not-in-room", str(e))
        key = fold(me.account.name if me.account is not None else me.nick)
        now = self._clock.seconds()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(web.upload_rate / 60, web.upload_rate, now)
        if not bucket.take(now):
            request.setHeader(b"retry-after", str(max(1, round(bucket.wait(now)))).encode())
            return _failure(
                request, 429, "rate-limited", f"at most {web.upload_rate} files a minute"
            )
        base = f"{'https' if request.isSecure() else 'http'}://{_host(request)}"

        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def stored(kept: tuple[str, int]) -> None:
            digest, size = kept
            self._log.info(
                "{nick} shared {name} ({size}) in {room}",
                nick=me.nick,
                name=name,
                size=size,
                room=room.name,
            )
            shown, text = self._announcement(me.nick, name, digest, size, base)
            described = web.store.describe(digest, shown)
            session = connection.session
            said = None
            if session is not None and me.in_room(room):
                said = session.perform(commands.Say(text, room.name))
                if isinstance(said, Message):
                    # Said over HTTP, not in a request of the WebSocket: its
                    # session is told too, as the room was.
                    connection.deliver(said)
            message = None
            if said is not None:
                message = wire.event_data(said, self._clock.seconds(), web.store.links)
            if not gone:
                request.write(_json(request, 201, {**described, "message": message}))
                request.finish()

        def failed(reason: Any) -> None:
            self._log.failure("Cannot store an upload", reason)
            if not gone:
                request.write(
                    _failure(request, 500, "server-error", "the file could not be stored")
                )
                request.finish()

        self._in_thread(web.store.store, request.content).addCallbacks(stored, failed)
        return server.NOT_DONE_YET

    def _announcement(
        self, nick: str, name: str, digest: str, size: int, base: str
    ) -> tuple[str, str]:
        """
        The name shown and the room's message, C{shared NAME (SIZE): LINK},
        the name shortened if need be so that the line fits every wire's limit.
        """
        room = self.web.server.limits.max_line - line_wire.room_overhead(nick)
        shown = name
        while True:
            text = f"shared {shown} ({size_text(size)}): {base}/files/{digest}/{quote(shown)}"
            if len(text.encode()) <= room or len(shown) <= 1:
                return shown, text
            shown = line_wire.clip(shown, max(1, len(shown.encode()) // 2)).rstrip(".") or "f"


class _Stored(resource.Resource):
    """C{/files/HASH/}: the file, under whatever name the link gives it."""

    def __init__(self, store: FileStore, digest: str) -> None:
        super().__init__()
        self.store = store
        self.digest = digest

    def getChild(self, path: bytes, request: IRequest) -> resource.Resource:
        name = clean_name(unquote(path.decode("utf-8", "replace")) or "file")
        return _Download(self.store, self.digest, name)

    def render_GET(self, request: IRequest) -> bytes | int:
        return _Download(self.store, self.digest, "file").render(request)


class _Download(resource.Resource):
    isLeaf = True

    def __init__(self, store: FileStore, digest: str, name: str) -> None:
        super().__init__()
        self.store, self.digest, self.name = store, digest, name

    def render(self, request: Any) -> bytes | int:
        if request.method not in (b"GET", b"HEAD"):
            return _failure(request, 405, "bad-request", "files are fetched with GET")
        kind = self.store.kind(self.digest)
        served = static.File(str(self.store.path(self.digest)), defaultType=kind)
        served.type, served.encoding = kind, None
        if kind == OCTETS:
            fallback = self.name.encode("ascii", "replace").decode().replace("?", "_")
            disposition = (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(self.name)}"
            )
            request.setHeader(b"content-disposition", disposition.encode())
        request.setHeader(b"cache-control", b"private, max-age=31536000, immutable")
        return served.render(request)  # type: ignore[no-any-return]


class WebRequest(server.Request):
    """
    A request to the web frontend: the security headers on every response,
    and an upload's body counted as it comes, kept no further than
    C{--max-upload} bytes.
    """

    too_large = False

    def gotLength(self, length: int | None) -> None:
        super().gotLength(length)
        if length is not None and length > self._max_upload():
            self._too_large()

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large:
            return
        assert self.content is not None
        if self.content.tell() + len(data) > self._max_upload():
            self._too_large()
            return
        super().handleContentChunk(data)

    def _max_upload(self) -> int:
        site = cast(WebSite, cast(Any, self.channel).site)
        return site.web.max_upload

    def _too_large(self) -> None:
        self.too_large = True
        assert self.content is not None
        self.content.seek(0)
        self.content.truncate()

    def process(self) -> None:
        files = self.path.startswith(b"/files/")
        self.setHeader(b"x-content-type-options", b"nosniff")
        self.setHeader(b"referrer-policy", b"no-referrer")
        self.setHeader(b"content-security-policy", (FILE_POLICY if files else PAGE_POLICY).encode())
        if not files:
            self.setHeader(b"x-frame-options", b"DENY")
        super().process()


class StaticFiles(static.File):
    """The client's files: no directory listings, and each type said exactly (nosniff)."""

    contentTypes = {**static.File.contentTypes, **_TYPES}

    def directoryListing(self) -> IResource:
        return pages.notFound("No such page", "There is no page here.")

    def render_GET(self, request: Any) -> bytes | int:
        request.setHeader(b"cache-control", b"no-cache")
        return cast("bytes | int", super().render_GET(request))


class WebSite(server.Site):
    """The web frontend's site, over a L{WebChat}."""

    requestFactory = WebRequest

    def __init__(self, web: WebChat, root: resource.Resource) -> None:
        super().__init__(root)
        self.web = web
        self.noisy = False


def web_site(
    web: WebChat,
    reactor: IReactorTime,
    *,
    static_dir: Path = STATIC,
    in_thread: Callable[..., Deferred[Any]] | None = None,
) -> WebSite:
    """The site of C{web}: the client in C{static_dir}, the WebSocket, the files."""
    if in_thread is None:
        threads = cast(Any, reactor)

        def in_thread(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
            return deferToThreadPool(
                cast(IReactorFromThreads, reactor), threads.getThreadPool(), f, *args
            )

    root = StaticFiles(str(static_dir))
    root.putChild(b"ws", WebSocketResource(web.factory))
    root.putChild(b"files", Files(web, in_thread, reactor))
    return WebSite(web, root)


class WebService(Service):
    """
    The web frontend's part in the service: its file store opened at start-up
    and swept of files past their retention, and its WebSocket users told
    goodbye when the server stops (before the chat is dissolved).
    """

    _log = Logger()

    def __init__(
        self,
        web: WebChat,
        reactor: IReactorTime,
        in_thread: Callable[..., Deferred[Any]] | None = None,
    ) -> None:
        self.web = web
        self.reactor = reactor
        self._in_thread = in_thread
        self._sweep: LoopingCall | None = None

    def privilegedStartService(self) -> None:
        self.web.store.open()
        super().privilegedStartService()

    def startService(self) -> None:
        super().startService()
        if self.web.store.retention_days:
            self._sweep = LoopingCall(self._prune)
            self._sweep.clock = self.reactor
            self._sweep.start(PRUNE_INTERVAL, now=True)

    def _prune(self) -> Deferred[None]:
        store = self.web.store
        if self._in_thread is None:
            pool = cast(Any, self.reactor).getThreadPool()
            d = deferToThreadPool(cast(IReactorFromThreads, self.reactor), pool, store.prune)
        else:
            d = self._in_thread(store.prune)

        def pruned(removed: int) -> None:
            if removed:
                self._log.info("Removed {n} shared files past their retention", n=removed)

        def failed(failure: Any) -> None:
            self._log.failure("Cannot remove old shared files", failure)

        return d.addCallbacks(pruned, failed)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._sweep is not None and self._sweep.running:
            self._sweep.stop()
        return self.web.shut_down()
