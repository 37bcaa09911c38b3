"""
C{chatsvc-passwd FILE USER}: add an account to a password file, or change its
password.

From a terminal the password is asked twice, without echo; otherwise the
first line of stdin is the password (for scripts). The file is made if need
be, and replaced at once, other lines and comments kept
(L{chatsvc.accounts.write_password}); a running server reads it again by
itself.

test-case-name: tests.accounts.test_passwd
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Sequence
from typing import BinaryIO, NoReturn, TextIO

from twisted.python import usage

from chatsvc import __version__
from chatsvc.accounts import hash_password, write_password
from chatsvc.chat.model import NAME_CHARS, NAME_MAX, is_valid_name

PROGRAM = "chatsvc-passwd"


class Options(usage.Options):
    synopsis = f"Usage: {PROGRAM} [options] FILE USER"
    longdesc = (
        "Add USER to the chatsvc password FILE (made if it does not exist), or "
        "change USER's password there. From a terminal the password is asked "
        "twice without echo; otherwise it is the first line of stdin. Use the "
        "file with twistd chat --auth chatsvc:FILE."
    )

    def opt_version(self) -> None:
        """Show the chatsvc version and exit."""
        print(f"{PROGRAM} (chatsvc) {__version__}")
        raise SystemExit(0)

    def parseArgs(self, path: str | None = None, user: str | None = None) -> None:
        if path is None or user is None:
            raise usage.UsageError("give the password FILE and the USER")
        if not is_valid_name(user):
            raise usage.UsageError(
                f"{user!r} is not a valid nickname: use 1-{NAME_MAX} {NAME_CHARS}"
            )
        self["path"] = path
        self["user"] = user


class PasswordError(Exception):
    """No password to be had; the message says why."""


def read_password(
    user: str,
    stdin: BinaryIO,
    *,
    interactive: bool,
    ask: Callable[[str], str] = getpass.getpass,
) -> bytes:
    """
    The new password for C{user}: asked twice (without echo) if
    C{interactive}, else the first line of C{stdin}, less its line ending.
    """
    if interactive:
        password = ask(f"New password for {user}: ")
        if ask("Again, to be sure: ") != password:
            raise PasswordError("the passwords do not match")
        data = password.encode("utf-8")
    else:
        data = stdin.readline().removesuffix(b"\n").removesuffix(b"\r")
    if not data:
        raise PasswordError("the password is empty")
    return data


def run(
    argv: Sequence[str],
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    *,
    interactive: bool,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """The command, on the streams given; returns the exit status."""
    options = Options()
    try:
        options.parseOptions(list(argv))
    except usage.UsageError as e:
        stderr.write(f"{PROGRAM}: {e}\n{PROGRAM}: see {PROGRAM} --help\n")
        return 2
    path, user = options["path"], options["user"]
    try:
        password = read_password(user, stdin, interactive=interactive, ask=ask)
    except PasswordError as e:
        stderr.write(f"{PROGRAM}: {e}; nothing changed\n")
        return 1
    except (EOFError, KeyboardInterrupt):
        stderr.write(f"\n{PROGRAM}: nothing changed\n")
        return 1
    try:
        added = write_password(path, user, hash_password(password))
    except OSError as e:
        stderr.write(f"{PROGRAM}: cannot write {path}: {e.strerror or e}\n")
        return 1
    except UnicodeDecodeError:
        stderr.write(f"{PROGRAM}: cannot read {path}: it is not UTF-8 text\n")
        return 1
    if added:
        stdout.write(f"Added {user} to {path}\n")
    else:
        stdout.write(f"Changed the password of {user} in {path}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The C{chatsvc-passwd} command."""
    raise SystemExit(
        run(
            sys.argv[1:] if argv is None else argv,
            sys.stdin.buffer,
            sys.stdout,
            sys.stderr,
            interactive=sys.stdin.isatty(),
        )
    )


if __name__ == "__main__":
    main()
