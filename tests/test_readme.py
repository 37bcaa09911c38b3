"""The README's promises that a test can hold it to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from chatsvc.chat.commands import COMMANDS
from chatsvc.client import cli as client
from chatsvc.gui import app as gui
from chatsvc.service.tap import DEFAULT_ENDPOINT, Options

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


def server_options_table() -> dict[str, tuple[str, str]]:
    """The rows of the table in "Running the server": each option's default and meaning."""
    section = README.split("\n## Running the server\n")[1].split("\n## ")[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `-") or len(cells) != 3:
            continue
        for name in re.findall(r"`(--[a-z0-9-]+)", cells[0]):
            rows[name] = (cells[1].strip("`"), cells[2].replace("`", ""))
    return rows


def bounds(text: str) -> set[str]:
    """What a description says of an option's bounds: "at least 256", "0: unlimited"."""
    text = " ".join(text.split())
    return set(re.findall(r"at (?:least|most) \d+|\b0: [a-z]+", text))


def test_the_options_table_is_twistd_chat_help() -> None:
    """Every option of twistd chat is in the table, with its default and bounds; nothing else is."""
    options = Options()
    table = server_options_table()
    documented: dict[str, tuple[str, str]] = {}
    parameters: list[Any] = Options.optParameters
    flags: list[Any] = Options.optFlags
    for long, _, default, doc, *_ in parameters:
        documented[f"--{long}"] = ("" if default is None else str(default), doc)
    for long, _, doc in flags:
        documented[f"--{long}"] = ("off", doc)
    for name in dir(Options):
        if name.startswith("opt_") and name != "opt_help":
            method = getattr(Options, name)
            documented.setdefault(f"--{name[4:].replace('_', '-')}", ("", method.__doc__ or ""))
    documented["--port"] = (DEFAULT_ENDPOINT, documented["--port"][1])
    assert sorted(table) == sorted(documented)
    for name, (default, doc) in documented.items():
        readme_default, meaning = table[name]
        if default and default != "off" and re.fullmatch(r"[\d.]+", default):
            assert float(readme_default) == float(default), name
        elif name in ("--auth", "--op", "--listen"):
            assert readme_default == "", name
        else:
            assert readme_default == default, name
        assert bounds(meaning) == bounds(doc), name
    assert "--help" in str(options)


def test_every_desktop_client_option_is_documented() -> None:
    options: list[Any] = [*gui.Options.optParameters, *gui.Options.optFlags]
    section = README.split("\n## The desktop client\n")[1].split("\n## ")[0]
    for long, short, *_ in options:
        assert f"`--{long}" in section, long
        if short:
            assert f"`-{short}`" in section, short
