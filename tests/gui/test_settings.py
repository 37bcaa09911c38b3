"""Where the desktop client keeps things: the XDG directories, and what the dialog remembers."""

from __future__ import annotations

from pathlib import Path

from chatsvc.gui.settings import DEFAULT_SERVER, Remembered, config_dir, data_dir


def test_the_directories_follow_xdg() -> None:
    environ = {"HOME": "/home/a", "XDG_CONFIG_HOME": "/cfg", "XDG_DATA_HOME": "/data"}
    assert config_dir(environ) == Path("/cfg/chatsvc")
    assert data_dir(environ) == Path("/data/chatsvc")


def test_without_xdg_they_are_under_home() -> None:
    # A relative XDG path is invalid, and ignored (the specification).
    environ = {"HOME": "/home/a", "XDG_CONFIG_HOME": "relative"}
    assert config_dir(environ) == Path("/home/a/.config/chatsvc")
    assert data_dir(environ) == Path("/home/a/.local/share/chatsvc")


def test_nothing_saved_gives_the_defaults(tmp_path: Path) -> None:
    assert Remembered.load(tmp_path) == Remembered(DEFAULT_SERVER, "", None)
    (tmp_path / "gui.json").write_text("[not, json")
    assert Remembered.load(tmp_path) == Remembered()
    (tmp_path / "gui.json").write_text('["a list"]')
    assert Remembered.load(tmp_path) == Remembered()


def test_what_is_saved_comes_back_and_only_the_user_reads_it(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "chatsvc"
    Remembered("https://chat.example.org/", "alice", "hunter2").save(directory)
    assert Remembered.load(directory) == Remembered("https://chat.example.org/", "alice", "hunter2")
    assert (directory / "gui.json").stat().st_mode & 0o777 == 0o600
    Remembered("https://chat.example.org/", "alice").save(directory)
    assert "hunter2" not in (directory / "gui.json").read_text()
    assert list(directory.iterdir()) == [directory / "gui.json"]
