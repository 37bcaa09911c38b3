"""
The package's layout as a rule: no import cycles between chatsvc's modules,
and the chat itself free of Twisted's networking.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "chatsvc"


def modules() -> dict[str, Path]:
    """Every module of chatsvc, by its dotted name (a package by its own)."""
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path) -> set[str]:
    """The dotted names a module imports (TYPE_CHECKING imports and late imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    found = modules()
    return {
        name: {other for other in imports(path) if other in found and other != name}
        for name, path in found.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every path of imports that comes back to where it began."""
    found: list[list[str]] = []

    def walk(path: list[str]) -> None:
        for nxt in sorted(edges[path[-1]]):
            if nxt == path[0]:
                found.append([*path, nxt])
            elif nxt not in path:
                walk([*path, nxt])

    for name in sorted(edges):
        walk([name])
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(graph()) == []


def test_a_cycle_is_seen(tmp_path: Path) -> None:
    """The check can fail: a late import back (inside a function) is a cycle too."""
    (tmp_path / "a.py").write_text("from chatsvc.b import g\n")
    (tmp_path / "b.py").write_text("def g():\n    from chatsvc.a import f\n")
    edges = {
        "chatsvc.a": imports(tmp_path / "a.py") & {"chatsvc.b"},
        "chatsvc.b": imports(tmp_path / "b.py") & {"chatsvc.a"},
    }
    assert cycles(edges) == [
        ["chatsvc.a", "chatsvc.b", "chatsvc.a"],
        ["chatsvc.b", "chatsvc.a", "chatsvc.b"],
    ]


def test_the_chat_needs_no_networking() -> None:
    for name, path in modules().items():
        if name.startswith("chatsvc.chat"):
            used = imports(path)
            assert not {n for n in used if n.startswith("twisted.internet")}, name
            assert not {n for n in used if n.startswith("chatsvc.") and ".chat" not in n}, name


def test_sessions_know_no_wire() -> None:
    """A session never sees its wire: it imports no frontend and no stream connection."""
    for name, path in modules().items():
        if name.startswith("chatsvc.sessions"):
            used = imports(path)
            wires = {n for n in used if n.startswith(("chatsvc.frontends", "chatsvc.streams"))}
            assert not wires, name
