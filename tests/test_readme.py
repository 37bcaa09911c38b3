"""The README's promises that a test can hold it to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from chatsvc import client
from chatsvc.commands import COMMANDS
from chatsvc.tap import Options

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def commands() -> list[str]:
    """The indented commands among the README's first lines."""
    head = README.split("\n## ")[0]
    return [line.strip() for line in head.splitlines() if line.startswith("    ")]


def test_first_lines_give_the_run_and_test_commands() -> None:
    run, test = commands()
    assert "pip install ." in run and "twistd -n chat --port 8080" in run
    assert "pip install '.[test]'" in test and "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands()[1] in ci.splitlines()


def test_every_option_is_documented() -> None:
    options: list[Any] = [*Options.optParameters, *Options.optFlags]
    for long, short, *_ in options:
        assert f"`--{long}" in README, long
        if short:
            assert f"`-{short}`" in README, short
    for name in dir(Options):
        if name.startswith("opt_") and name not in ("opt_help",):
            assert f"`--{name[4:].replace('_', '-')}" in README, name


def test_every_client_option_is_documented() -> None:
    options: list[Any] = [*client.Options.optParameters, *client.Options.optFlags]
    for long, short, *_ in options:
        assert f"`--{long}" in README, long
        if short:
            assert f"`-{short}`" in README, short


def test_every_command_is_documented() -> None:
    for name in COMMANDS:
        assert re.search(rf"^\| `/{name}\b", README, re.M), name
