"""C{chatsvc-passwd}: in process with fake streams, and as the installed command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.accounts import PasswordFile, check_password
from chatsvc.accounts.passwd import run
from tests.support import scratch_directory

TIMEOUT = 20.0


def passwd_command() -> list[str]:
    """The installed console script, or the module if it is not installed."""
    script = os.path.join(os.path.dirname(sys.executable), "chatsvc-passwd")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "chatsvc.accounts.passwd"]


class Answers:
    """What a user types at getpass's prompts, and the prompts they saw."""

    def __init__(self, *answers: str) -> None:
        self._answers: Iterator[str] = iter(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return next(self._answers)


class RunTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = scratch_directory(self) / "passwd"
        self.out = io.StringIO()
        self.err = io.StringIO()

    def run_command(self, *argv: str, stdin: bytes = b"", ask: Answers | None = None) -> int:
        return run(
            argv,
            io.BytesIO(stdin),
            self.out,
            self.err,
            interactive=ask is not None,
            ask=ask or Answers(),
        )

    def hash_of(self, user: str) -> str:
        entry = PasswordFile(self.path).lookup(user)
        assert entry is not None
        return str(entry[1])

    def test_from_stdin(self) -> None:
        """Not a terminal: the first line is the password, less its line ending."""
        self.assertEqual(self.run_command(str(self.path), "alice", stdin=b"s3cret pw\r\nmore\n"), 0)
        self.assertEqual(self.out.getvalue(), f"Added alice to {self.path}\n")
        self.assertEqual(self.err.getvalue(), "")
        self.assertTrue(check_password(b"s3cret pw", self.hash_of("alice")))
        self.assertNotIn("s3cret", self.path.read_text())

    def test_change(self) -> None:
        self.run_command(str(self.path), "alice", stdin=b"one")
        self.run_command(str(self.path), "bob", stdin=b"two")
        self.out.truncate(0)
        self.out.seek(0)
        self.assertEqual(self.run_command(str(self.path), "ALICE", stdin=b"three"), 0)
        self.assertEqual(self.out.getvalue(), f"Changed the password of ALICE in {self.path}\n")
        self.assertEqual(
            [line.split(":")[0] for line in self.path.read_text().splitlines()], ["ALICE", "bob"]
        )
        self.assertTrue(check_password(b"three", self.hash_of("alice")))
        self.assertTrue(check_password(b"two", self.hash_of("bob")))

    def test_interactive_asks_twice(self) -> None:
        ask = Answers("pässwörd", "pässwörd")
        self.assertEqual(self.run_command(str(self.path), "alice", ask=ask), 0)
        self.assertEqual(ask.prompts, ["New password for alice: ", "Again, to be sure: "])
        self.assertTrue(check_password("pässwörd".encode(), self.hash_of("alice")))

    def test_interactive_mismatch(self) -> None:
        self.assertEqual(self.run_command(str(self.path), "alice", ask=Answers("one", "two")), 1)
        self.assertEqual(
            self.err.getvalue(), "chatsvc-passwd: the passwords do not match; nothing changed\n"
        )
        self.assertFalse(self.path.exists())

    def test_interrupted(self) -> None:
        def interrupt(prompt: str) -> str:
            raise KeyboardInterrupt

        status = run(
            [str(self.path), "alice"],
            io.BytesIO(),
            self.out,
            self.err,
            interactive=True,
            ask=interrupt,
        )
        self.assertEqual(status, 1)
        self.assertEqual(self.err.getvalue(), "\nchatsvc-passwd: nothing changed\n")

    def test_empty_password(self) -> None:
        for stdin in [b"", b"\n", b"\r\n"]:
            with self.subTest(stdin=stdin):
                self.assertEqual(self.run_command(str(self.path), "alice", stdin=stdin), 1)
        self.assertEqual(self.run_command(str(self.path), "alice", ask=Answers("", "")), 1)
        self.assertEqual(
            self.err.getvalue(), "chatsvc-passwd: the password is empty; nothing changed\n" * 4
        )
        self.assertFalse(self.path.exists())

    def test_usage_errors(self) -> None:
        cases = [
            ([], "give the password FILE and the USER"),
            ([str(self.path)], "give the password FILE and the USER"),
            (
                [str(self.path), "al ice"],
                "'al ice' is not a valid nickname: use 1-32 letters, digits and _ - . [ ] { } ^ |",
            ),
            ([str(self.path), "a", "b"], "Wrong number of arguments."),
            (["--bogus"], "option --bogus not recognized"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                self.err.truncate(0)
                self.err.seek(0)
                self.assertEqual(self.run_command(*argv, stdin=b"pw\n"), 2)
                self.assertEqual(
                    self.err.getvalue(),
                    f"chatsvc-passwd: {message}\nchatsvc-passwd: see chatsvc-passwd --help\n",
                )
        self.assertFalse(self.path.exists())

    def test_cannot_write(self) -> None:
        path = self.path.parent / "nowhere" / "passwd"
        self.assertEqual(self.run_command(str(path), "alice", stdin=b"pw"), 1)
        self.assertEqual(
            self.err.getvalue(), f"chatsvc-passwd: cannot write {path}: No such file or directory\n"
        )

    def test_not_text(self) -> None:
        self.path.write_bytes(b"\xff\xfe\n")
        self.assertEqual(self.run_command(str(self.path), "alice", stdin=b"pw"), 1)
        self.assertEqual(
            self.err.getvalue(), f"chatsvc-passwd: cannot read {self.path}: it is not UTF-8 text\n"
        )
        self.assertEqual(self.path.read_bytes(), b"\xff\xfe\n")


def test_round_trip_as_a_command(tmp_path: Path) -> None:
    """The installed command, stdin a pipe: the file it writes checks the password."""
    path = tmp_path / "passwd"
    path.write_text("# the team\nbob:scrypt$16$1$1$MDEyMzQ1Njc4OWFiY2RlZg==$eA==\n")
    result = subprocess.run(
        [*passwd_command(), str(path), "alice"],
        input=b"correct horse\n",
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"Added alice to {path}\n".encode(),
        b"",
    )
    lines = path.read_text().splitlines()
    assert lines[:2] == ["# the team", "bob:scrypt$16$1$1$MDEyMzQ1Njc4OWFiY2RlZg==$eA=="]
    entry = PasswordFile(path).lookup("alice")
    assert entry is not None and entry[1].matches(b"correct horse")
    assert not entry[1].matches(b"correct horse\n")


def test_errors_as_a_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [*passwd_command(), str(tmp_path / "passwd"), "bad/name"],
        input=b"pw\n",
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.decode()
        .splitlines()[0]
        .startswith("chatsvc-passwd: 'bad/name' is not a valid")
    )
    result = subprocess.run(
        [*passwd_command(), str(tmp_path / "passwd"), "alice"],
        input=b"",
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        1,
        b"chatsvc-passwd: the password is empty; nothing changed\n",
    )
    assert not (tmp_path / "passwd").exists()
