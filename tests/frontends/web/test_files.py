"""The file store: content hashes, types by content, names made safe, retention."""

from __future__ import annotations

import hashlib
import io
import os
import time

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.frontends.web.files import (
    DAY,
    OCTETS,
    FileStore,
    clean_name,
    image_type,
    size_text,
)
from tests.support import scratch_directory

PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\r"


class FileStoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.store = FileStore(scratch_directory(self) / "files", retention_days=2)
        self.store.open()

    def test_stored_by_content_hash_once(self) -> None:
        digest, size = self.store.store(io.BytesIO(b"hello"))
        self.assertEqual((digest, size), (hashlib.sha256(b"hello").hexdigest(), 5))
        self.assertEqual(self.store.path(digest).read_bytes(), b"hello")
        self.assertEqual(self.store.store(io.BytesIO(b"hello")), (digest, 5))
        self.assertEqual(len(list(self.store.directory.rglob("*"))), 2, "one directory, one file")
        self.assertTrue(self.store.has(digest))
        self.assertFalse(self.store.has("../" + digest[3:]))
        self.assertFalse(self.store.has("0" * 64))

    def test_types_by_content_not_name(self) -> None:
        self.assertEqual(image_type(PNG_HEAD), "image/png")
        self.assertEqual(image_type(b"\xff\xd8\xff\xe0\x00\x10JFIF"), "image/jpeg")
        self.assertEqual(image_type(b"GIF89a\x01\x00"), "image/gif")
        self.assertEqual(image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp")
        self.assertIsNone(image_type(b"<svg xmlns="))
        self.assertIsNone(image_type(b"<html><script>"))
        digest, _ = self.store.store(io.BytesIO(b"<svg onload=alert(1)>"))
        self.assertEqual(self.store.kind(digest), OCTETS)
        described = self.store.describe(digest, "a b.svg")
        self.assertEqual(described["url"], f"/files/{digest}/a%20b.svg")
        self.assertFalse(described["image"])

    def test_links_in_text_to_files_held(self) -> None:
        digest, _ = self.store.store(io.BytesIO(PNG_HEAD))
        text = f"shared x.png: https://h/files/{digest}/x%20y.png and /files/{'1' * 64}/gone"
        (found,) = self.store.links(text)
        self.assertEqual(
            (found["name"], found["type"], found["image"]), ("x y.png", "image/png", True)
        )
        self.assertEqual(self.store.links("no link here"), [])

    def test_names_made_safe(self) -> None:
        self.assertEqual(clean_name("../../etc/passwd"), "_.._etc_passwd")
        self.assertEqual(clean_name('a"b\\c\x00d\u202ee'), "a_b_cde")
        self.assertEqual(clean_name(""), "file")
        self.assertEqual(clean_name(".hidden"), "hidden")
        self.assertEqual(len(clean_name("é" * 300).encode()), 254)

    def test_size_text(self) -> None:
        self.assertEqual(size_text(1), "1 byte")
        self.assertEqual(size_text(1000), "1000 bytes")
        self.assertEqual(size_text(48213), "47.1 KiB")
        self.assertEqual(size_text(10 << 20), "10.0 MiB")

    def test_retention(self) -> None:
        old, _ = self.store.store(io.BytesIO(b"old"))
        new, _ = self.store.store(io.BytesIO(b"new"))
        now = time.time()
        os.utime(self.store.path(old), (now - 3 * DAY, now - 3 * DAY))
        self.assertEqual(self.store.prune(now), 1)
        self.assertFalse(self.store.has(old))
        self.assertTrue(self.store.has(new))
        os.utime(self.store.path(new), (now - 3 * DAY, now - 3 * DAY))
        self.store.store(io.BytesIO(b"new"))  # shared again: kept from now on
        self.assertEqual(self.store.prune(now), 0)
        forever = FileStore(self.store.directory, retention_days=0)
        os.utime(self.store.path(new), (0, 0))
        self.assertEqual(forever.prune(now), 0)


class AnnouncementTests(SynchronousTestCase):
    def test_a_long_name_is_shortened_to_fit_the_line(self) -> None:
        from chatsvc.frontends.web.connection import WebChat
        from chatsvc.frontends.web.site import Files
        from chatsvc.streams.limits import Limits
        from tests.support import make_factory

        server = make_factory(limits=Limits(max_line=256))
        web = WebChat(server, FileStore(scratch_directory(self)))
        files = Files(web, lambda f, *args: f(*args), server.clock)
        digest = "a" * 64
        name = clean_name("é" * 200 + ".pdf")
        shown, text = files._announcement("alice", name, digest, 5, "https://chat.example.org")
        self.assertLessEqual(len(text.encode()), 256 - len("alice") - 3)
        self.assertTrue(name.startswith(shown))
        self.assertTrue(text.startswith(f"shared {shown} (5 bytes): https://chat.example.org/"))
        short, text = files._announcement("alice", "a.txt", digest, 5, "https://h")
        self.assertEqual(
            (short, text), ("a.txt", f"shared a.txt (5 bytes): https://h/files/{digest}/a.txt")
        )
