"""C{--config FILE}: every option in TOML by its command-line name, which overrides it."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python import usage

from chatsvc.service.tap import DEFAULT_ENDPOINT, REPEATABLE, Options
from tests.service.test_twistd import run


def parsed(tmp_path: Path, toml: str, *argv: str) -> Options:
    path = tmp_path / "chat.toml"
    path.write_text(toml)
    options = Options()
    options.parseOptions(["--config", str(path), *argv])
    return options


def refused(tmp_path: Path, toml: str, *argv: str) -> str:
    with pytest.raises(usage.UsageError) as caught:
        parsed(tmp_path, toml, *argv)
    return str(caught.value).replace(str(tmp_path / "chat.toml"), "chat.toml")


CONFIG = """
port = "tcp:0:interface=127.0.0.1"
irc = ["tcp:6667", "tcp:6668"]
web = "tcp:8081"
max-clients = 500
login-timeout = 2.5
log-messages = true
auth = ["memory:alice:secret"]
op = ["alice"]
db = ":memory:"
"""


def test_every_kind_of_option_from_the_file(tmp_path: Path) -> None:
    options = parsed(tmp_path, CONFIG)
    assert options["endpoints"] == ["tcp:0:interface=127.0.0.1"]
    assert options["irc"] == ["tcp:6667", "tcp:6668"]
    assert options["web"] == ["tcp:8081"]
    assert options["limits"].max_clients == 500
    assert options["limits"].login_timeout == 2.5
    assert options["log-messages"] == 1
    assert options["op"] == ["alice"]
    assert options["accounts"] is not None
    assert options["db"] == ":memory:"


def test_the_command_line_overrides_the_file(tmp_path: Path) -> None:
    options = parsed(
        tmp_path, CONFIG, "--max-clients", "7", "--irc", "tcp:7000", "-p", "tcp:9", "--op", "bob"
    )
    assert options["limits"].max_clients == 7
    assert options["irc"] == ["tcp:7000"]  # the list replaced, not added to
    assert options["endpoints"] == ["tcp:9"]
    assert options["op"] == ["bob"]
    assert options["web"] == ["tcp:8081"]  # what the command line does not say
    assert options["limits"].login_timeout == 2.5


def test_a_file_that_says_nothing_changes_nothing(tmp_path: Path) -> None:
    options = parsed(tmp_path, "")
    assert options["endpoints"] == [DEFAULT_ENDPOINT]
    assert options["log-messages"] == 0


def test_false_flags_are_not_set(tmp_path: Path) -> None:
    assert parsed(tmp_path, "no-history = false")["no-history"] == 0
    assert parsed(tmp_path, "no-history = true")["no-history"] == 1


def test_unknown_keys(tmp_path: Path) -> None:
    assert refused(tmp_path, 'prot = "8080"') == "--config chat.toml: prot: there is no such option"
    assert refused(tmp_path, "version = true") == (
        "--config chat.toml: version cannot be set in a configuration file"
    )
    assert refused(tmp_path, 'config = "other.toml"') == (
        "--config chat.toml: config cannot be set in a configuration file"
    )


def test_bad_values(tmp_path: Path) -> None:
    assert refused(tmp_path, 'log-messages = "yes"') == (
        "--config chat.toml: log-messages must be true or false, not 'yes'"
    )
    assert refused(tmp_path, "max-clients = true") == (
        "--config chat.toml: max-clients must be a string or a number, not bool"
    )
    assert refused(tmp_path, "irc = [6667]") == (
        "--config chat.toml: irc must be a string or a list of strings, not int"
    )
    assert refused(tmp_path, "max-clients = -1") == (
        "--config chat.toml: Parameter type enforcement failed: '-1' is negative"
    )
    assert refused(tmp_path, "max-line = 10") == "--max-line must be at least 256"
    assert refused(tmp_path, 'op = ["not a name"]').startswith(
        "--config chat.toml: --op 'not a name' is not a valid nickname"
    )
    assert refused(tmp_path, "[rate]\nlines = 1") == (
        "--config chat.toml: rate must be a string or a number, not dict"
    )


def test_not_toml_or_missing(tmp_path: Path) -> None:
    assert refused(tmp_path, "port = ").startswith("--config chat.toml: not TOML: ")
    options = Options()
    with pytest.raises(usage.UsageError) as caught:
        options.parseOptions(["--config", str(tmp_path / "missing.toml")])
    assert str(caught.value) == f"--config {tmp_path / 'missing.toml'}: No such file or directory"


def test_repeatable_options_are_the_ones_that_append() -> None:
    for name in REPEATABLE:
        options = Options()
        assert hasattr(options, f"opt_{name.replace('-', '_')}"), name


def test_under_twistd_a_bad_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "chat.toml").write_text("prot = 1\n")
    done = run("-n", "--pidfile=", "chat", "--config", "chat.toml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "twistd chat: --config chat.toml: prot: there is no such option"
    ]
