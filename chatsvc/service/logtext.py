"""
The log's lines as twistd writes them, formatted in a fraction of the time.

twistd writes each event with L{twisted.logger.formatEventAsClassicLogText}:
a time stamp worked out from scratch (its time zone included) and the text
through a L{string.Formatter} in Python, some 20 microseconds a line. A
crowd of 10,000 users signing on logs two lines each, and that formatting was
a third of what the server spent on a sign-on. L{ClassicLogText} makes the
same text for the events a chat server logs by the thousand: the stamp is
made once a second, and a plain format (C{"{peer} is {nick}"}) goes through
C{str.format_map}, in C. Any other event (a failure, a flattened event, a
format with calls, anything that does not format plainly) is Twisted's to
format, so what is written never differs (L{faster}, which checks it).

test-case-name: tests.service.test_logtext
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import (
    FileLogObserver,
    ILogObserver,
    LogEvent,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)

__all__ = ["ClassicLogText", "faster"]


class ClassicLogText:
    """
    L{formatEventAsClassicLogText} with time stamps in C{time_format}, for
    the events it formats plainly; C{fallback} (Twisted's own) for the rest.
    """

    __slots__ = ("_fallback", "_format_time", "_second", "_stamp", "_time_format")

    def __init__(
        self,
        time_format: str = timeFormatRFC3339,
        fallback: Callable[[LogEvent], str | None] | None = None,
        format_time: Callable[[float, str], str] = formatTime,
    ) -> None:
        self._time_format = time_format
        self._format_time = format_time
        self._fallback = fallback or (
            lambda event: formatEventAsClassicLogText(
                event, formatTime=lambda when: formatTime(when, time_format)
            )
        )
        self._second: int | None = None
        self._stamp = ""

    def __call__(self, event: LogEvent) -> str | None:
        form = event.get("log_format")
        when = event.get("log_time")
        if (
            type(form) is not str
            or type(when) is not float
            or "log_failure" in event
            or "log_flattened" in event
        ):
            return self._fallback(event)
        try:
            text = form.format_map(event)
        except Exception:  # a call ("{f()}"), a positional field, a missing key...
            return self._fallback(event)
        if not text:
            return None
        second = int(when)
        if second != self._second:
            # A whole second's events share a stamp: to the second, and a
            # time zone changes its offset on one.
            self._stamp = self._format_time(float(second), self._time_format)
            self._second = second
        system = event.get("log_system")
        if system is None:
            level = event.get("log_level")
            system = f"{event.get('log_namespace', '-')}#{'-' if level is None else level.name}"
        elif type(system) is not str:
            return self._fallback(event)
        line = f"{self._stamp} [{system}] {text}"
        return (line.replace("\n", "\n\t") if "\n" in line else line) + "\n"


PROBES: tuple[LogEvent, ...] = (
    {
        "log_format": "{peer} is {nick}",
        "peer": "127.0.0.1:40000",
        "nick": "alice",
        "log_namespace": "chatsvc.probe",
        "log_time": 1_795_000_000.25,
    },
    {
        "log_format": "two\nlines {n:,}",
        "n": 12345,
        "log_system": "chatsvc",
        "log_time": 1_795_003_600.75,
    },
)
"""Events L{faster} formats both ways before it takes over."""


def faster(observer: ILogObserver) -> ILogObserver:
    """
    C{observer}, writing the same text faster if it is twistd's text file
    observer (a L{FileLogObserver} whose lines are Twisted's classic text in
    RFC 3339 stamps, as the probes show); any other observer as it is.
    """
    if type(observer) is not FileLogObserver:
        return observer
    theirs = observer.formatEvent
    ours = ClassicLogText(timeFormatRFC3339, theirs)
    try:
        same = all(ours(dict(probe)) == theirs(dict(probe)) for probe in PROBES)
    except Exception:
        same = False
    if same:
        observer.formatEvent = ours
    return observer
