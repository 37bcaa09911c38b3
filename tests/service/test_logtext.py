"""
The log's lines, formatted faster (L{chatsvc.service.logtext}): the same text as
Twisted's classic log text, event for event.
"""

from __future__ import annotations

import io

from twisted.logger import (
    FileLogObserver,
    LogEvent,
    LogLevel,
    formatEventAsClassicLogText,
    formatTime,
    jsonFileLogObserver,
    textFileLogObserver,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.service.logtext import ClassicLogText, faster

WHEN = 1_795_000_000.25


class Unprintable:
    def __str__(self) -> str:
        raise ValueError("no")


def failure() -> Failure:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        return Failure()
    raise AssertionError("unreachable")


EVENTS: list[LogEvent] = [
    {"log_format": "{peer} is {nick}", "peer": "127.0.0.1:1", "nick": "alice"},
    {"log_format": "{n:,} lines, {x!r}", "n": 1234567, "x": "é"},
    {"log_format": "{a.real} {b[0]}", "a": 3, "b": ["first"]},
    {"log_format": "two\nlines\n"},
    {"log_format": ""},
    {"log_format": None},
    {"log_format": b"bytes {x}", "x": 1},
    {"log_format": "{missing}"},
    {"log_format": "{0}"},
    {"log_format": "{f()}", "f": lambda: "called"},
    {"log_format": "{x}", "x": Unprintable()},
    {"log_format": "{{braces}} {x}", "x": "y"},
    {"log_format": "lost", "log_failure": failure()},
    {"log_format": "sys", "log_system": "custom"},
    {"log_format": "sys", "log_system": 42},
    {"log_format": "no level"},
    {"log_format": "no time", "log_time": None},
    {"log_format": "int time", "log_time": 1_795_000_000},
    {"log_format": "{x}", "x": "tab\there", "log_namespace": None},
]


def variants() -> list[LogEvent]:
    found: list[LogEvent] = []
    for event in EVENTS:
        base: LogEvent = {
            "log_time": WHEN,
            "log_namespace": "chatsvc.test",
            "log_level": LogLevel.info,
        }
        base.update(event)
        found.append(base)
        for later in (0.5, 1.0, 3599.9, 86400 * 200):  # the next second, a DST change away
            found.append({**base, "log_time": WHEN + later} if base["log_time"] else base)
    return found


class ClassicLogTextTests(SynchronousTestCase):
    def test_the_same_text_as_twisted(self) -> None:
        ours = ClassicLogText()
        for event in variants():
            self.assertEqual(ours(dict(event)), formatEventAsClassicLogText(dict(event)), event)

    def test_a_stamp_is_made_once_a_second(self) -> None:
        made: list[float] = []

        def counting(when: float, time_format: str) -> str:
            made.append(when)
            return formatTime(when, time_format)

        ours = ClassicLogText(format_time=counting)
        for offset in (0.0, 0.1, 0.7, 1.0, 1.5):
            ours({"log_format": "x", "log_time": WHEN + offset, "log_namespace": "n"})
        self.assertEqual(made, [WHEN // 1, WHEN // 1 + 1])


class FasterTests(SynchronousTestCase):
    def test_twistds_text_observer_writes_the_same_faster(self) -> None:
        out, plain = io.StringIO(), io.StringIO()
        observer = faster(textFileLogObserver(out))
        assert isinstance(observer, FileLogObserver)
        self.assertIsInstance(observer.formatEvent, ClassicLogText)
        reference = textFileLogObserver(plain)
        for event in variants():
            observer(dict(event))
            reference(dict(event))
        self.assertEqual(out.getvalue(), plain.getvalue())

    def test_another_time_format_is_left_alone(self) -> None:
        observer = textFileLogObserver(io.StringIO(), timeFormat="%H:%M")
        formatter = observer.formatEvent
        self.assertIs(faster(observer), observer)
        self.assertIs(observer.formatEvent, formatter)

    def test_other_observers_are_left_alone(self) -> None:
        observer = jsonFileLogObserver(io.StringIO())
        formatter = observer.formatEvent
        self.assertIs(faster(observer), observer)
        self.assertIs(observer.formatEvent, formatter)
        events: list[LogEvent] = []
        append = events.append
        self.assertIs(faster(append), append)  # type: ignore[arg-type]
