"""
C{chatsvc-gui}'s command line, and the real command: its options and their
errors, no display in words, and C{--local} in its own process on Xvfb,
stopped by SIGTERM as cleanly as by closing its window.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.python import usage

from chatsvc.gui.app import Options
from chatsvc.gui.client import ServerAddress
from tests.gui.desktop import NcUser, environment, until
from tests.support import run_to_the_end


def command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "chatsvc-gui")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "chatsvc.gui"]


def parsed(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_it_is_installed_as_a_gui_script() -> None:
    (found,) = [e for e in entry_points(group="gui_scripts") if e.name == "chatsvc-gui"]
    assert found.value == "chatsvc.gui.app:main"


def test_the_server_is_read_as_an_address() -> None:
    options = parsed("--nick", "alice", "https://chat.example.org/")
    assert options["address"] == ServerAddress("chat.example.org", 443, secure=True)
    assert options["nick"] == "alice" and not options["local"]
    assert parsed()["address"] is None


def test_the_password_comes_from_its_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2\nignored\n")
    assert parsed("--password-file", str(tmp_path / "pw"))["password"] == "hunter2"


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--local", "localhost"], "give either SERVER or --local, not both"),
        (["ftp://x/"], "ftp: is not a chat address (use http, https, ws or wss)"),
        (["--nick", "a b"], "'a b' is not a valid nickname: use 1-32 letters"),
        (["--ca", "/nonexistent/ca.pem"], "--ca /nonexistent/ca.pem: No such file or directory"),
    ],
)
def test_a_bad_command_line_says_why(argv: list[str], why: str) -> None:
    with pytest.raises(usage.UsageError) as raised:
        parsed(*argv)
    assert str(raised.value).startswith(why)


def test_a_bad_command_line_exits_2() -> None:
    done = run_to_the_end([*command(), "--frob"], timeout=60)
    assert done.returncode == 2
    assert done.stderr == (
        "chatsvc-gui: option --frob not recognized\nchatsvc-gui: see chatsvc-gui --help\n"
    )


def test_without_a_display_it_says_so() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    done = subprocess.run(
        [*command(), "--local"],
        check=False,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("chatsvc-gui: cannot open a window: ")
    assert "Traceback" not in done.stderr


@pytest_twisted.ensureDeferred
async def test_local_in_its_own_process_stops_cleanly_on_sigterm(
    display: str, tmp_path: Path
) -> None:
    gui = NcUser()
    environ = {**os.environ, **environment(tmp_path), "DISPLAY": display}
    argv = [*command(), "--local", "--nick", "alice"]
    process = reactor.spawnProcess(gui, argv[0], argv, env=environ)
    told = await gui.expect("chatsvc-gui: Others join with: nc 127.0.0.1 ")
    assert gui.lines[1].startswith("chatsvc-gui: in a browser: http://127.0.0.1:")
    assert gui.lines[2].startswith("chatsvc-gui: over IRC: server 127.0.0.1, port ")
    bob = await NcUser.sign_on(int(told.rsplit(" ", 1)[1]), "bob")
    # alice signs on before bob (the lobby's members) or after (a join): either way, she is there.
    await bob.expect("alice")
    process.signalProcess(signal.SIGTERM)
    await bob.expect("*** alice left lobby")
    await bob.expect("*** The server is shutting down. Goodbye!")
    await gui.ended.addTimeout(30, reactor)
    assert gui.status == 0
    await bob.quit()
    assert (tmp_path / "data" / "chatsvc" / "history.sqlite").exists()


def test_until_fails_in_the_end() -> None:
    """The waiting helper is no test that cannot fail."""
    coroutine = until(lambda: False, "nothing", wait=-1)
    with pytest.raises(AssertionError, match="never saw nothing"):
        coroutine.send(None)
