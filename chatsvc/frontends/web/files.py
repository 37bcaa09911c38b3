"""
Files shared in rooms: stored by their SHA-256 under C{--files-dir}, kept
C{--retention-days} after their last upload, uploaded by a signed-on web
user (C{POST /files/}) and served to anyone with the link
(C{GET /files/HASH/NAME}).

A file is served as what its content is, never as what its name or its
uploader says: PNG, JPEG, GIF and WebP (told by their first bytes) inline as
images, everything else as C{application/octet-stream}, to be saved
(C{Content-Disposition: attachment}). With C{X-Content-Type-Options: nosniff}
and a Content-Security-Policy that runs nothing, an uploaded page or script
is never run in the chat's origin.

test-case-name: tests.frontends.web.test_files
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO
from urllib.parse import quote, unquote

from twisted.logger import Logger

from chatsvc.frontends.web import wire
from chatsvc.frontends.web.wire import Json

MAX_UPLOAD = 10 << 20
"""The largest file, in bytes, by default (C{--max-upload})."""

UPLOAD_RATE = 10
"""Files a user may upload a minute, by default (C{--upload-rate})."""

NAME_MAX = 255
"""The longest file name kept, in bytes of UTF-8."""

DAY = 24 * 60 * 60

_HASH = re.compile(r"[0-9a-f]{64}")
_LINK = re.compile(r"/files/([0-9a-f]{64})/([^\s/?#]+)")

IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
"""The safe image types served inline, by the bytes their files start with (WebP apart)."""

OCTETS = "application/octet-stream"

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\"]')


def image_type(head: bytes) -> str | None:
    """The type of an image that starts with C{head} (its first 12 bytes or more), if safe."""
    for magic, kind in IMAGES:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_name(name: str) -> str:
    """A file name to show and to save as: one path component, no control characters."""
    name = _UNSAFE_NAME.sub("_", wire.clean(name)).strip().lstrip(".") or "file"
    encoded = name.encode()[:NAME_MAX]
    return encoded.decode("utf-8", "ignore") or "file"


def size_text(size: int) -> str:
    """C{48213} as C{47.1 KiB}."""
    if size < 1024:
        return f"{size} bytes" if size != 1 else "1 byte"
    for unit in ("KiB", "MiB", "GiB"):
        size_f = size / 1024
        if size_f < 1024 or unit == "GiB":
            return f"{size_f:.1f} {unit}"
        size = int(size_f)
    return f"{size} bytes"  # pragma: no cover


class FileStore:
    """
    Files by content hash in C{directory} (made if need be): C{ab/abcdef...},
    the first two hex digits naming a subdirectory. Kept C{retention_days}
    after the last time they were stored (0: forever).
    """

    _log = Logger()

    def __init__(self, directory: str | os.PathLike[str], retention_days: int = 0) -> None:
        self.directory = Path(directory)
        self.retention_days = retention_days

    def open(self) -> None:
        """Make the directory if need be, and check that it can be written: at start-up."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise OSError(f"{self.directory}: cannot write there")

    def path(self, digest: str) -> Path:
        return self.directory / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return _HASH.fullmatch(digest) is not None and self.path(digest).is_file()

    def store(self, content: IO[bytes]) -> tuple[str, int]:
        """
        Keep what C{content} holds (read from its start); its hash and size.
        Blocking: called in a thread.
        """
        content.seek(0)
        digest = hashlib.sha256()
        size = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.directory, delete=False, prefix=".up-") as out:
            try:
                while chunk := content.read(1 << 16):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            except BaseException:
                os.unlink(out.name)
                raise
        name = digest.hexdigest()
        final = self.path(name)
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            os.unlink(out.name)
            os.utime(final)  # kept from now on, as if new
        else:
            os.replace(out.name, final)
        return name, size

    def kind(self, digest: str) -> str:
        """What the stored file is served as: its image type, or L{OCTETS}."""
        with self.path(digest).open("rb") as f:
            return image_type(f.read(12)) or OCTETS

    def describe(self, digest: str, name: str) -> Json:
        """A file as data: its link, name, size and type."""
        path = self.path(digest)
        kind = self.kind(digest)
        return {
            "url": f"/files/{digest}/{quote(name)}",
            "name": name,
            "size": path.stat().st_size,
            "type": kind,
            "image": kind != OCTETS,
        }

    def links(self, text: str) -> list[Json]:
        """The files held here that C{text} links to, as data (for the web's events)."""
        if "/files/" not in text:
            return []
        found = []
        for match in _LINK.finditer(text):
            digest, name = match.group(1), clean_name(unquote(match.group(2)))
            try:
                if self.has(digest):
                    found.append(self.describe(digest, name))
            except OSError:
                continue
        return found

    def prune(self, now: float | None = None) -> int:
        """Remove files older than the retention: how many. Blocking: called in a thread."""
        if not self.retention_days:
            return 0
        cutoff = (time.time() if now is None else now) - self.retention_days * DAY
        removed = 0
        for path in self.directory.glob("??/*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        for path in self.directory.glob(".up-*"):  # left by a crash mid-upload
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue
        return removed
