"""C{--log-format json}: twistd's log as JSON lines, in the foreground and daemonized, read back."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from twisted.logger import (
    FileLogObserver,
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    eventsFromJSONLogFile,
    formatEvent,
    textFileLogObserver,
)
from zope.interface import implementer

from chatsvc.service.logjson import as_json
from tests.service.test_twistd import TIMEOUT, TWISTD, User, daemon_session, reap, run


def test_a_file_observer_writes_json_lines_that_read_back() -> None:
    out = io.StringIO()
    observer = as_json(textFileLogObserver(out))
    log = Logger(namespace="chatsvc.test", observer=observer)
    log.info("{peer} is {nick}", peer="127.0.0.1:4000", nick="alice")
    log.warn("two\nlines")
    first, second = out.getvalue().splitlines()
    event = json.loads(first)
    assert (event["peer"], event["nick"], event["log_namespace"]) == (
        "127.0.0.1:4000",
        "alice",
        "chatsvc.test",
    )
    assert event["log_level"]["name"] == "info"
    assert json.loads(second)["log_format"] == "two\nlines"
    back = list(eventsFromJSONLogFile(io.StringIO(out.getvalue())))
    assert [formatEvent(e) for e in back] == ["127.0.0.1:4000 is alice", "two\nlines"]
    assert back[1]["log_level"] is LogLevel.warn


def test_other_observers_are_left_alone() -> None:
    @implementer(ILogObserver)
    class Elsewhere:
        def __call__(self, event: LogEvent) -> None:
            pass

    observer = Elsewhere()
    assert as_json(observer) is observer
    assert isinstance(as_json(textFileLogObserver(io.StringIO())), FileLogObserver)


def events(text: str) -> list[dict[str, Any]]:
    """Every line of C{text}, each of which must be a JSON object."""
    return [json.loads(line) for line in text.splitlines() if line]


def signed_on(found: list[dict[str, Any]], nick: str) -> bool:
    return any(e.get("log_format") == "{peer} is {nick}" and e.get("nick") == nick for e in found)


def test_foreground_logs_json_to_stdout(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*TWISTD, "-n", "--pidfile=", "chat", "--port", "tcp:0:interface=127.0.0.1",
         "--log-format", "json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = None
        deadline = time.monotonic() + TIMEOUT
        for line in process.stdout:
            event = json.loads(line)
            found = re.fullmatch(r"ChatFactory starting on (\d+)", formatEvent(event))
            if found:
                port = int(found.group(1))
                break
            assert time.monotonic() < deadline, "server did not start"
        assert port is not None
        alice = User.tcp(port)
        alice.sign_on("alice")
        alice.expect("*** You joined lobby (1 member):", "*** alice")
        process.send_signal(signal.SIGTERM)
        alice.expect("*** The server is shutting down. Goodbye!")
        assert process.wait(TIMEOUT) == -signal.SIGTERM
        found_events = events(process.stdout.read())
    finally:
        reap(process)
    assert signed_on(found_events, "alice")
    assert any(formatEvent(e) == "Main loop terminated." for e in found_events)


def test_daemon_logs_json_to_its_logfile(tmp_path: Path) -> None:
    logfile = daemon_session(tmp_path, "--log-format", "json")
    with logfile.open() as f:
        read_back = list(eventsFromJSONLogFile(f))
    as_written = events(logfile.read_text())
    assert len(read_back) == len(as_written)
    assert signed_on(as_written, "alice")
    assert any(formatEvent(e) == "unix#1 is alice" for e in read_back)
    assert any(e.get("log_level") is LogLevel.info for e in read_back)


def test_a_bad_log_format_is_a_one_line_error(tmp_path: Path) -> None:
    done = run("-n", "--pidfile=", "chat", "--log-format", "xml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "twistd chat: Parameter type enforcement failed: 'xml' is not a log format: "
        "use text or json"
    )
