"""
C{--log-format json}: twistd's log as one JSON object a line, for log shippers.

Each line is what C{twisted.logger}'s C{jsonFileLogObserver} writes of an
event (L{eventAsJSON}: every field of the event, its format, level,
namespace and time), without the record separator it puts before each, so
that the file is plain JSON lines. It goes into the file twistd chose (its
C{--logfile}, or standard output under C{-n}) by taking over the text
observer's formatting, so that twistd's log rotation and the start-up log
(L{chatsvc.service.startup.StartLog}) work as they do for text.
L{eventsFromJSONLogFile} reads such a file back.

test-case-name: tests.service.test_logjson
"""

from __future__ import annotations

from twisted.logger import FileLogObserver, ILogObserver, LogEvent, eventAsJSON

LOG_FORMATS = ("text", "json")


def json_line(event: LogEvent) -> str:
    """C{event} as one line of JSON."""
    return eventAsJSON(event) + "\n"


def as_json(observer: ILogObserver) -> ILogObserver:
    """C{observer}, writing JSON lines, if it is twistd's file observer; any other as it is."""
    if type(observer) is FileLogObserver:
        observer.formatEvent = json_line
    return observer
