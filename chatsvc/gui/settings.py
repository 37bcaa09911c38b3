"""
Where the desktop client keeps things, as the XDG base directories have it:
what the connect dialog remembers (the server, the nickname, and the
password only if asked to) in the user's config directory, and the history
of C{--local} in the user's data directory.

test-case-name: tests.gui.test_settings
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import attrs

DEFAULT_SERVER = "http://localhost:8081/"


def _base(environ: Mapping[str, str], variable: str, fallback: str) -> Path:
    given = environ.get(variable, "")
    # The specification: a relative path in the variable is invalid, and ignored.
    if given and os.path.isabs(given):
        return Path(given) / "chatsvc"
    return Path(environ.get("HOME") or Path.home()) / fallback / "chatsvc"


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """C{$XDG_CONFIG_HOME/chatsvc}, or C{~/.config/chatsvc}."""
    return _base(environ, "XDG_CONFIG_HOME", ".config")


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """C{$XDG_DATA_HOME/chatsvc}, or C{~/.local/share/chatsvc}."""
    return _base(environ, "XDG_DATA_HOME", ".local/share")


@attrs.define
class Remembered:
    """What the connect dialog fills in: as it was last used."""

    server: str = DEFAULT_SERVER
    nick: str = ""
    password: str | None = None  # kept only when the user asked for it

    FILE = "gui.json"

    @classmethod
    def load(cls, directory: Path) -> Remembered:
        """What was saved in C{directory}; the defaults if nothing (readable) was."""
        try:
            saved = json.loads((directory / cls.FILE).read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(saved, dict):
            return cls()
        password = saved.get("password")
        return cls(
            str(saved.get("server") or DEFAULT_SERVER),
            str(saved.get("nick") or ""),
            password if isinstance(password, str) else None,
        )

    def save(self, directory: Path) -> None:
        """Write it to C{directory}, readable by the user alone (it may hold a password)."""
        directory.mkdir(parents=True, exist_ok=True)
        saved: dict[str, str] = {"server": self.server, "nick": self.nick}
        if self.password is not None:
            saved["password"] = self.password
        path = directory / self.FILE
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(saved, file)
        temporary.replace(path)
