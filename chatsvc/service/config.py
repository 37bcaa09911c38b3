"""
C{--config FILE}: the options of C{twistd chat} in a TOML file, by the names
they have on the command line, which overrides them::

    port = "tcp:8080:interface=::"
    irc = ["tcp:6667", "ssl:6697:privateKey=key.pem:certKey=cert.pem"]
    auth = "chatsvc:/etc/chatsvc/passwd"
    op = ["alice"]
    max-clients = 20000
    log-messages = true

The file becomes the arguments it stands for (L{arguments}), put before
those of the command line: an option given once there wins over the file's,
and a repeatable one given there replaces the file's list. Every key and
value is checked as the command line checks it, and an error names the file.

test-case-name: tests.service.test_config
"""

from __future__ import annotations

import getopt
import tomllib
from collections.abc import Iterable, Sequence
from typing import Any

from twisted.python import usage

NOT_IN_A_FILE = frozenset({"config", "help", "help-auth", "help-auth-type", "version"})
"""Options that do something at once, or name the file itself: not in a configuration file."""


def config_path(argv: Sequence[str]) -> str | None:
    """The file C{--config} names among C{argv}, the last if it is given more than once."""
    path = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.removeprefix("--config=")
    return path


def read(path: str) -> dict[str, Any]:
    """The table in the TOML file at C{path}, or a usage error that says why there is none."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise usage.UsageError(f"--config {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise usage.UsageError(f"--config {path}: not TOML: {e}") from None


def arguments(
    path: str,
    table: dict[str, Any],
    *,
    parameters: Iterable[str],
    flags: Iterable[str],
    repeatable: Iterable[str],
) -> list[tuple[str, list[str]]]:
    """
    The command-line arguments that C{table}, read from C{path}, stands for,
    key by key, given the names of the options that take a value
    (C{parameters}), that take none (C{flags}) and that may be given more
    than once (C{repeatable}).
    """
    parameters, flags, repeatable = set(parameters), set(flags), set(repeatable)
    argv: list[tuple[str, list[str]]] = []
    for key, value in table.items():
        where = f"--config {path}: {key}"
        if key in NOT_IN_A_FILE:
            raise usage.UsageError(f"{where} cannot be set in a configuration file")
        if key in flags:
            if not isinstance(value, bool):
                raise usage.UsageError(f"{where} must be true or false, not {_shown(value)}")
            argv.append((key, [f"--{key}"] if value else []))
        elif key in repeatable:
            values = value if isinstance(value, list) else [value]
            tokens: list[str] = []
            for one in values:
                if not isinstance(one, str):
                    raise usage.UsageError(
                        f"{where} must be a string or a list of strings, not {_shown(one)}"
                    )
                tokens += [f"--{key}", one]
            argv.append((key, tokens))
        elif key in parameters:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise usage.UsageError(f"{where} must be a string or a number, not {_shown(value)}")
            argv.append((key, [f"--{key}", str(value)]))
        else:
            raise usage.UsageError(f"{where}: there is no such option")
    return argv


def given(argv: Sequence[str], short: str, long: Sequence[str]) -> set[str]:
    """
    The names of the options that C{argv} gives, parsed as L{usage.Options}
    parses them (its C{shortOpt} and C{longOpt}): long ones by their name,
    short ones by their letter.
    """
    try:
        found, _ = getopt.getopt(list(argv), short, list(long))
    except getopt.GetoptError:
        return set()  # the command line is wrong: parsing it says how
    return {name.lstrip("-") for name, _ in found}


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else type(value).__name__
