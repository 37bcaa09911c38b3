"""
Headless Chromium, driven by Selenium, for the tests of the web client: each
browser in a fresh profile, its console collected, its page checked for
script errors; and the helpers those tests share. Selenium blocks, so a test
on the reactor runs its browser in a thread (L{in_thread}) and reaches the
reactor from there with L{on_reactor}.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import blockingCallFromThread, deferToThread

from tests import system

_T = TypeVar("_T")

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "chatsvc" / "frontends" / "web" / "static"
DOCS = ROOT / "docs"

WAIT = 15.0
"""Seconds a browser is given to show what a test waits for."""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
)

XSS_PAYLOADS = (
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=alert('xss-img')>",
    "<svg onload=alert('xss-svg')>",
    '"><iframe src="javascript:alert(\'xss-iframe\')"></iframe>',
    "<a href=\"javascript:alert('xss-href')\">click</a>",
    "javascript:alert('xss-bare')",
    "<b onmouseover=alert('xss-b')>bold</b>&amp;&lt;",
    "{{constructor.constructor('alert(1)')()}}",
)
"""Text that would run a script if any part of the page took it for HTML."""


@contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[WebDriver]:
    """A headless Chromium of its own profile, quit (and its profile removed) after."""
    chromedriver = system.require("chromedriver", None)
    binary = system.require("chromium", None)
    profile = tempfile.mkdtemp(prefix="chatsvc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        driver.set_window_size(width, height)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def in_thread(work: Callable[[], _T]) -> Deferred[_T]:
    """Run C{work} (which drives browsers) in a thread, the reactor running meanwhile."""
    return deferToThread(work)


def on_reactor(call: Callable[..., Any], *args: Any) -> Any:
    """
    From a browser's thread: C{call(*args)} on the reactor, waited for (a
    Deferred too, for at most L{WAIT} seconds).
    """

    def timed() -> Any:
        result = call(*args)
        if isinstance(result, Deferred):
            result.addTimeout(WAIT, reactor)
        return result

    return blockingCallFromThread(cast(IReactorFromThreads, reactor), timed)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], _T], what: str) -> _T:
    """What C{condition} returns once it is true; fails saying C{what} was not seen."""

    def check(d: WebDriver) -> _T | bool:
        try:
            return condition(d)
        except StaleElementReferenceException:
            return False

    try:
        result = cast(_T, WebDriverWait(driver, WAIT, poll_frequency=0.1).until(check))
    except TimeoutException:
        raise AssertionError(f"not seen in {WAIT:g} s: {what}\n{page_report(driver)}") from None
    return result


def element(
    driver: WebDriver, selector: str, what: str, *, enabled: bool = False, shown: bool = False
) -> WebElement:
    """The element C{selector} finds, once there (and C{enabled}, and C{shown}, if asked)."""

    def found(d: WebDriver) -> WebElement | None:
        for candidate in d.find_elements(By.CSS_SELECTOR, selector):
            if (not enabled or candidate.is_enabled()) and (not shown or candidate.is_displayed()):
                return candidate
        return None

    return cast(WebElement, wait_for(driver, found, what))


def signon_form(driver: WebDriver) -> WebElement:
    """The nickname field, once the page is connected."""
    element(driver, "#signon-submit", "the sign-on form, connected", enabled=True)
    return driver.find_element(By.ID, "signon-nick")


def page_report(driver: WebDriver) -> str:
    """The log's text and the console, for a failure's message."""
    try:
        log = driver.find_element(By.ID, "log").text
    except Exception:
        log = "(no log)"
    return f"log:\n{log}\nconsole:\n{console(driver)}"


def browser_log(driver: WebDriver) -> list[dict[str, Any]]:
    """What the page wrote to its console since last asked (Chromium's own log, not WebDriver's)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[attr-defined]
    return entries


def console(driver: WebDriver) -> str:
    return "\n".join(entry["message"] for entry in browser_log(driver))


def no_alert(driver: WebDriver) -> None:
    """Fails if the page opened an alert (a script of a payload ran)."""
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"an alert opened: {text!r}")


def no_script_errors(driver: WebDriver) -> None:
    """Fails if the page's console has an error (an exception, a CSP violation)."""
    errors = [
        entry["message"]
        for entry in browser_log(driver)
        if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
    ]
    assert errors == [], errors


def sign_on(driver: WebDriver, url: str, nick: str, password: str | None = None) -> None:
    """Open the client at C{url} and sign on as C{nick}; returns once in the lobby."""
    driver.get(url)
    signon_form(driver).send_keys(nick)
    driver.find_element(By.ID, "signon-submit").click()
    if password is not None:
        element(driver, "#signon-password", "the password prompt", shown=True).send_keys(password)
        driver.find_element(By.ID, "signon-submit").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "chat").is_displayed(), f"{nick} signed on")


def say(driver: WebDriver, text: str) -> None:
    """Type C{text} in the input and send it."""
    field = driver.find_element(By.ID, "input")
    field.send_keys(text)
    driver.find_element(By.ID, "send").click()


def log_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "log").text


def wait_for_line(driver: WebDriver, text: str) -> None:
    """Wait until the log on view shows C{text}."""
    wait_for(driver, lambda d: text in log_text(d), f"{text!r} in the log")


def select(driver: WebDriver, key: str) -> None:
    """Show the conversation C{key} (C{room:dev}, C{private:bob}) from the room list."""
    wait_for(
        driver,
        lambda d: d.find_element(By.CSS_SELECTOR, f'li[data-key="{key}"] button.select'),
        f"{key} in the list",
    )
    driver.find_element(By.CSS_SELECTOR, f'li[data-key="{key}"] button.select').click()


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save what the browser shows as docs/web-NAME.png."""
    DOCS.mkdir(exist_ok=True)
    path = DOCS / f"web-{name}.png"
    time.sleep(0.3)  # let the last paint settle: a screenshot, not an assertion
    driver.save_screenshot(str(path))
    return path
