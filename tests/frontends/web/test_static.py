"""
The web client's files, read as source: the page has no inline script or
style (a strict Content-Security-Policy would refuse them), no module ever
hands text to the HTML parser, every import and every element looked up by
id is there.

test-case-name: tests.frontends.web.test_static
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.frontends.web.browser import STATIC

MODULES = sorted((STATIC / "js").rglob("*.js"))

HTML_SINKS = re.compile(
    r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
    r"|createContextualFragment|DOMParser|srcdoc"
)
"""What would parse a string as HTML or run it as script."""


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if name := attributes.get("id"):
            self.ids.add(name)
        if tag == "script":
            self.scripts.append(attributes)
        if tag == "style":
            self.styles += 1
        self.inline += [
            f"{tag} {name}" for name, _ in attrs if name.startswith("on") or name == "style"
        ]

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script" and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def page() -> _Page:
    parsed = _Page()
    parsed.feed((STATIC / "index.html").read_text())
    return parsed


def test_the_page_has_no_inline_script_or_style() -> None:
    parsed = page()
    assert parsed.inline == []
    assert parsed.styles == 0
    assert parsed.scripts == [{"type": "module", "src": "js/app.js"}]


def test_a_check_for_inline_script_can_fail() -> None:
    parsed = _Page()
    parsed.feed('<button onclick="x()" style="color:red">a</button><script>alert(1)</script>')
    assert parsed.inline == ["button onclick", "button style", "script text 'alert(1)'"]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(STATIC)))
def test_no_module_parses_text_as_html(module: Path) -> None:
    assert HTML_SINKS.findall(module.read_text()) == []


def test_the_check_for_html_sinks_can_fail() -> None:
    assert HTML_SINKS.findall("li.innerHTML = text; eval('1'); x.insertAdjacentHTML('a', b)") == [
        ".innerHTML",
        "eval(",
        "insertAdjacentHTML",
    ]


IMPORT = re.compile(r"""^\s*(?:import|export)\b[^"']*?from\s+["']([^"']+)["']""", re.MULTILINE)


def test_every_import_is_there_and_every_module_is_used() -> None:
    used = {STATIC / "js" / "app.js"}
    for module in MODULES:
        for target in IMPORT.findall(module.read_text()):
            assert target.startswith("./") or target.startswith("../"), (module, target)
            path = (module.parent / target).resolve()
            assert path.is_file(), f"{module.name} imports {target}, which is not there"
            used.add(path)
    assert sorted(used) == MODULES


def test_every_element_looked_up_by_id_is_on_the_page() -> None:
    ids = page().ids
    wanted = set()
    for module in MODULES:
        wanted |= set(
            re.findall(r"""(?:byId|getElementById)\(\s*["']([\w-]+)["']""", module.read_text())
        )
    assert wanted
    assert sorted(wanted - ids) == []


def test_styles_follow_the_system_and_fit_a_phone() -> None:
    css = (STATIC / "style.css").read_text()
    assert "@media (prefers-color-scheme: dark)" in css
    assert re.search(r"@media \(max-width: \d+px\)", css)
    assert 'name="viewport"' in (STATIC / "index.html").read_text()
