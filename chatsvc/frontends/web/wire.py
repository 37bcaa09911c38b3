"""
The web frontend's wire: JSON objects, one to a WebSocket text message, as
C{docs/websocket.md} describes them. What a session shows and what the chat
tells are rendered here; what the client sends is read here into requests.

What is rendered is the WebSocket frames themselves, ready to write, made by
autobahn (L{PreparedMessage}): output the session core holds behind history
lookups and hands back joined is frames one after the other, as bytes of a
stream are; and a room's event, rendered once, is framed once for all of its
WebSocket members, whose sockets the fan-out may write it to straight.
Messages are never compressed (the server accepts no C{permessage-deflate}),
so a frame made once is right for every connection.

User text is data: it goes out as JSON strings, never as markup, and the
server produces no HTML.

test-case-name: tests.frontends.web.test_wire
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

import attrs
from autobahn.websocket.protocol import PreparedMessage

from chatsvc.chat.commands import COMMANDS
from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChange,
    ModeChanged,
    NickChange,
    NoticeToAll,
    OperatorChanged,
    PrivateMessage,
    RankChanged,
    Removed,
    Sanctioned,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.model import (
    ROOM_MODES,
    AlreadyInRoom,
    BadKey,
    BadModeValue,
    Barred,
    Chat,
    ChatError,
    GuestsNotAllowed,
    InviteOnly,
    Moderated,
    NicknameInvalid,
    NicknameRegistered,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotAMember,
    NotAnOperator,
    NotAnOwner,
    NotInRoom,
    RoomFull,
    RoomNameInvalid,
    TooManyRooms,
    Topic,
    UnknownMode,
    checked_mode,
)
from chatsvc.chat.sanctions import (
    MAX_DURATION,
    REASON_MAX,
    Mask,
    Sanction,
    SanctionKind,
    parse_duration,
)
from chatsvc.frontends.line.wire import sanitise, unformatted
from chatsvc.history import Line
from chatsvc.sessions import results

VERSION = 1
"""The protocol version this server speaks."""

VERSIONS = (VERSION,)

Json = dict[str, Any]

_ERROR_CODES: tuple[tuple[type[ChatError], str], ...] = (
    (NicknameInvalid, "nickname-invalid"),
    (NicknameTaken, "nickname-taken"),
    (NicknameRegistered, "nickname-registered"),
    (GuestsNotAllowed, "guests-not-allowed"),
    (RoomNameInvalid, "room-name-invalid"),
    (NoSuchRoom, "no-such-room"),
    (NoSuchUser, "no-such-user"),
    (NotAnOperator, "not-operator"),
    (NotAnOwner, "not-allowed"),
    (NotInRoom, "not-in-room"),
    (NotAMember, "not-a-member"),
    (AlreadyInRoom, "already-a-member"),
    (TooManyRooms, "too-many-rooms"),
    (InviteOnly, "invite-only"),
    (Moderated, "moderated"),
    (BadKey, "bad-key"),
    (RoomFull, "room-full"),
    (UnknownMode, "unknown-mode"),
    (BadModeValue, "bad-mode-value"),
)

_KINDS = "|".join(re.escape(kind.value) for kind in SanctionKind)
"""Every kind of sanction as the model's refusals name it: C{ban|mute|exception|invitation}."""

_PLAIN_REFUSALS = (
    (re.compile(r"you are already in "), "already-in-room"),
    (re.compile(r"there is nothing to send$"), "empty"),
    (re.compile(r"too many history lookups"), "busy"),
    (re.compile(r"wrong password for "), "wrong-password"),
    (re.compile(r"that is not your password"), "wrong-password"),
    (re.compile(r"registration is closed|accounts cannot be registered"), "registration-closed"),
    (re.compile(r"too many accounts registered from your address"), "too-many-registrations"),
    (re.compile(r"a password is at (least|most) "), "weak-password"),
    (re.compile(r"you are logged in to the account .* already$"), "already-registered"),
    (re.compile(r"the nickname .* is not yours to register"), "nickname-registered"),
    (re.compile(r"you are not logged in to an account"), "not-logged-in"),
    (re.compile(r"the account .* is kept by the server's configuration"), "not-allowed"),
    (re.compile(r"only registered users may register a room"), "not-logged-in"),
    (re.compile(r".* belongs to the server$"), "not-allowed"),
    (re.compile(r"there is no account named "), "no-such-account"),
    (re.compile(r".* is registered already$"), "room-registered"),
    (re.compile(r".* is not registered(: /room register it first)?$"), "room-not-registered"),
    (re.compile(rf"there is no ({_KINDS}) on "), "no-such-sanction"),
    (re.compile(rf".* has [0-9]+ ({_KINDS})s already, the most"), "too-many-sanctions"),
    (re.compile(rf"an? ({_KINDS}) is a room's, not the chat's"), "room-only"),
    (re.compile(r"unknown room mode "), "unknown-mode"),
)
"""Refusals the model makes as plain L{ChatError}s, or the session as text, told by their words."""


_COMMAND_ERRORS = (
    (re.compile(r".* is not a duration|a duration is at "), "bad-duration"),
    (
        re.compile(
            r".* is not a (mask|nickname pattern)|.* would match every|an account mask names"
            r"|no nickname pattern given|account: needs an account name"
        ),
        "bad-mask",
    ),
    (re.compile(r"unknown room mode |give the modes"), "unknown-mode"),
    (re.compile(r"\+[kl] takes "), "bad-mode-value"),  # _MISSING_VALUE
    (re.compile(r"a reason is at most "), "too-long"),
)
"""A typed line's mistakes (L{chatsvc.chat.commands.CommandError}) that have codes of their own."""


def command_error_code(reason: str) -> str:
    """The code of a line that could not be read as a command: C{bad-request} but for these."""
    for pattern, code in _COMMAND_ERRORS:
        if pattern.match(reason):
            return code
    return "bad-request"


_MISSING_VALUE = re.compile(r"\+([kl]) takes ")
"""A typed C{/room mode} without the key or the number it needs: which mode."""


def command_error(reason: str) -> BadRequest:
    """
    The error of a line that could not be read as a command: its code
    (L{command_error_code}), and the C{mode} a missing key or limit is of.
    """
    missing = _MISSING_VALUE.match(reason)
    fields = {} if missing is None else {"mode": missing.group(1)}
    return BadRequest(reason, command_error_code(reason), **fields)


def error_code(reason: str, error: ChatError | None, *, lookup: bool = False) -> str:
    """
    The stable code of a refusal: from the rule it broke, or, for the model's
    plain refusals, from their words; a history lookup's (C{lookup}) is
    C{busy} or C{history-unavailable}.
    """
    if isinstance(error, Barred):
        # Only a ban or a mute bars: an exception or an invitation lets in.
        return "banned" if error.sanction.kind is SanctionKind.BAN else "muted"
    if error is not None:
        for kind, code in _ERROR_CODES:
            if isinstance(error, kind):
                return code
    for pattern, code in _PLAIN_REFUSALS:
        if pattern.match(reason):
            return code
    if lookup:
        return "busy" if "busy" in reason else "history-unavailable"
    return "refused"


def error_fields(error: ChatError | None, now: float) -> Json:
    """
    What an error says besides its code and message: for a ban or mute that
    holds, the sanction (where, why, until when) and the seconds it has left
    (C{null}: for good), so that a client can say so in its own words; for a
    key or a member limit that cannot be (L{BadModeValue}), which C{mode}.
    """
    if isinstance(error, BadModeValue):
        return {"mode": error.name}
    if not isinstance(error, Barred):
        return {}
    sanction = error.sanction
    left = None if sanction.until is None else max(0.0, round(sanction.until - now, 3))
    return {"sanction": sanction_data(sanction), "left": left}


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
"""
The one encoder of the wire: C{json.dumps} with options makes a new one a
call. What it is given is built here, a tree, so it need not look for cycles.
"""


def dumps(obj: Json) -> bytes:
    """C{obj} as compact JSON in UTF-8."""
    return _ENCODER.encode(obj).encode()


def frame(payload: bytes) -> bytes:
    """The server's WebSocket text frame of C{payload} (UTF-8): unmasked, uncompressed."""
    framed: bytes = PreparedMessage(
        payload, isBinary=False, applyMask=False, doNotCompress=True
    ).payloadHybi
    return framed


def encode(obj: Json) -> bytes:
    """One message: C{obj} as JSON, framed."""
    return frame(dumps(obj))


def reply(request_id: object, **fields: object) -> bytes:
    return encode({"type": "reply", "id": request_id, **fields})


def reply_with(request_id: object, name: str, value: bytes) -> bytes:
    """A reply of one field, C{name}, whose C{value} is JSON already: the same bytes as L{reply}."""
    if type(request_id) is int:  # written without the encoder
        head = b'{"type":"reply","id":%d,' % request_id
    else:
        head = b'{"type":"reply","id":' + _ENCODER.encode(request_id).encode() + b","
    return frame(head + _ENCODER.encode(name).encode() + b":" + value + b"}")


def error(request_id: object, code: str, message: str, **fields: object) -> bytes:
    return encode({"type": "error", "id": request_id, "code": code, "message": message, **fields})


def topic_data(topic: Topic | None) -> Json | None:
    if topic is None:
        return None
    return {"text": topic.text, "set_by": topic.set_by, "set_at": topic.set_at}


def member_data(chat: Chat, nick: str, room: str | None = None) -> Json:
    """
    A member (of C{room}) as data: operators marked (chatsvc's, and the
    room's own), the owners of a registered room too (C{rank}), whether it
    has a voice there (C{voiced}, C{+v}), and why it is away.
    """
    participant = chat.find(nick)
    if participant is None:
        return {"nick": nick, "operator": False, "rank": None, "voiced": False, "away": None}
    operator = participant.operator
    rank = None
    voiced = False
    if room is not None:
        with contextlib.suppress(ChatError):
            found = chat.room(room)
            operator = operator or found.is_operator(participant)
            voiced = found.is_voiced(participant)
            account = participant.account
            if found.registration is not None and account is not None:
                rank = found.registration.rank(account.name)
    if rank is None and operator:
        rank = "operator"
    return {
        "nick": participant.nick,
        "operator": operator,
        "rank": rank,
        "voiced": voiced,
        "away": participant.away,
    }


_NO_ROOM: Json = {
    "invite_only": False,
    "moderated": False,
    "registered": False,
    "key": None,
    "limit": None,
    "secret": False,
    "members_only": True,
    "topic_locked": True,
}
"""The modes of a room that is not there (a new room's)."""


def room_modes(chat: Chat, name: str) -> Json:
    """
    A room's modes, as its members see them, and whether it is registered
    (it stays when its members leave): C{+i} C{invite_only}, C{+m}
    C{moderated}, C{+k} C{key} (the key itself: members see it, as on IRC;
    L{None} when it has none), C{+l} C{limit} (L{None}: none), C{+s}
    C{secret}, C{+n} C{members_only}, C{+t} C{topic_locked}.
    """
    try:
        room = chat.room(name)
    except ChatError:
        return dict(_NO_ROOM)
    return {
        "invite_only": room.invite_only,
        "moderated": room.moderated,
        "registered": room.registration is not None,
        "key": room.key,
        "limit": room.limit,
        "secret": room.secret,
        "members_only": room.members_only,
        "topic_locked": room.topic_locked,
    }


def members_data(
    chat: Chat, nicks: tuple[str, ...] | None, room: str | None = None
) -> list[Json] | None:
    return None if nicks is None else [member_data(chat, nick, room) for nick in nicks]


FileLinks = Callable[[str], list[Json]]
"""What files a message's text shares, as data (L{chatsvc.frontends.web.files.FileStore.links})."""


def _no_files(text: str) -> list[Json]:
    return []


def event_data(
    event: Event, when: float, files: FileLinks = _no_files, chat: Chat | None = None
) -> Json:
    """
    C{event} as the object of its frame, at the time C{when}; members as
    C{chat} has them. IRC users' formatting codes are taken out, as the line
    protocol does: the rest of every wire's input is sanitised already.
    """
    if (
        isinstance(event, Message | Action | PrivateMessage | TopicChanged)
        and not event.text.isprintable()
    ):
        event = attrs.evolve(event, text=unformatted(event.text))
    match event:
        case Message(text=text):
            return _message_data(event, when, files(text))
        case Action(room=room, nick=nick, text=text):
            return {"type": "action", "room": room, "nick": nick, "text": text, "time": when}
        case PrivateMessage(sender=sender, recipient=recipient, text=text, notice=notice):
            private: Json = {
                "type": "private",
                "from": sender,
                "to": recipient,
                "text": text,
                "time": when,
            }
            if notice:
                private["notice"] = True
            return private
        case Joined(room=room, nick=nick):
            member = {"nick": nick} if chat is None else member_data(chat, nick, room)
            return {"type": "joined", "room": room, "member": member}
        case Left(room=room, nick=nick, reason=reason, from_user=from_user, signed_off=off):
            return {
                "type": "left",
                "room": room,
                "nick": nick,
                "reason": reason,
                "from_user": from_user,
                "signed_off": off,
            }
        case NickChange(room=room, old=old, new=new):
            return {"type": "nick", "room": room, "old": old, "new": new}
        case TopicChanged(room=room, nick=nick, text=text):
            return {"type": "topic", "room": room, "nick": nick, "text": text, "time": when}
        case Kicked(room=room, nick=nick, by=by, reason=reason):
            return {"type": "kicked", "room": room, "nick": nick, "by": by, "reason": reason}
        case OperatorChanged(room=room, nick=nick, by=by, given=given):
            return {"type": "operator", "room": room, "nick": nick, "by": by, "given": given}
        case RankChanged():
            # room, account, rank, was, by, and nicks as a list
            return {"type": "rank", **attrs.asdict(event)}
        case Invited(room=room, nick=nick, by=by):
            return {"type": "invited", "room": room, "nick": nick, "by": by}
        case NoticeToAll(by=by, text=text):
            return {"type": "wall", "from": by, "text": text, "time": when}
        case Removed():
            # room, nick, by, reason, to: its fields as they are
            return {"type": "removed", **attrs.asdict(event)}
        case ModeChanged(room=room, by=by, changes=changes):
            return {
                "type": "mode",
                "room": room,
                "by": by,
                "changes": [mode_change_data(change) for change in changes],
            }
        case VoiceChanged(room=room, nick=nick, by=by, given=given):
            return {"type": "voice", "room": room, "nick": nick, "by": by, "given": given}
        case BanListChanged(room=room, by=by, kind=kind, mask=mask, until=until, reason=reason):
            return {
                "type": "ban-list",
                "room": room,
                "by": by,
                "on": event.on,
                "expired": event.expired,
                "kind": kind,
                "mask": str(mask),
                "until": until,
                "left": None if until is None else max(0.0, round(until - when, 3)),
                "reason": None if reason is None else unformatted(reason),
            }
        case Sanctioned(nick=nick, kind=kind, room=room, by=by, reason=reason, until=until):
            return {
                "type": "sanctioned",
                "nick": nick,
                "kind": kind,
                "room": room,
                "by": by,
                "reason": reason,
                "until": until,
                "left": None if until is None else max(0.0, round(until - when, 3)),
                "given": event.given,
                "text": event.text,
            }
    raise TypeError(f"not an event: {event!r}")  # pragma: no cover


def mode_change_data(change: ModeChange) -> Json:
    """
    A change of a room's modes as data: C{{"mode": "i", "on": true}}; one
    that sets a key or a member limit has its C{value} too, the key (a
    string) or the most members (a number): C{{"mode": "l", "on": true,
    "value": 20}}. No other has one (a client takes a missing C{value} as
    C{null}).
    """
    mode, on, value = change
    if value is None or not on:
        return {"mode": mode, "on": on}
    if mode == "l" and value.isascii() and value.isdigit():
        return {"mode": mode, "on": on, "value": int(value)}
    return {"mode": mode, "on": on, "value": value}


_string = json.encoder.encode_basestring
"""A string as the encoder writes it with C{ensure_ascii} off (in C, where it is built)."""
_float = float.__repr__
"""A float as the encoder writes it, if it is finite."""
_NOTICE = ',"notice":true}'
"""The end of a notice's object (a plain message has no C{notice})."""


def _message_data(event: Message, when: float, files: list[Json]) -> Json:
    """
    A message as data. What most messages would carry empty is left out (a
    burst's bytes are mostly these events): C{notice} is there only for a
    notice, C{files} only when the text links uploaded files.
    """
    data: Json = {
        "type": "message",
        "room": event.room,
        "nick": event.nick,
        "text": event.text,
        "time": when,
    }
    if event.notice:
        data["notice"] = True
    if files:
        data["files"] = files
    return data


def message_payload(event: Message, when: float, files: FileLinks) -> bytes | None:
    """
    The JSON of a plain message said in a room, the same bytes as
    C{dumps(event_data(event, when, files))}, written without the encoder
    walking a dictionary made for it (a message is a room's commonest event,
    and made once for every room it is said in); by the encoder if it links
    files, with the links looked up once (each is a look at the disk); L{None}
    where it would not be the same: formatting codes to take out, a time not
    a float.
    """
    text = event.text
    if type(when) is not float or not math.isfinite(when) or not text.isprintable():
        return None
    linked = files(text)
    if linked:
        return dumps(_message_data(event, when, linked))
    return (
        f'{{"type":"message","room":{_string(event.room)},"nick":{_string(event.nick)},'
        f'"text":{_string(text)},"time":{_float(when)}{_NOTICE if event.notice else "}"}'
    ).encode()


def sanction_data(sanction: Sanction, now: float | None = None) -> Json:
    """
    A sanction as data (a ban, a mute, or a room's exception or invitation:
    its C{kind} is the L{SanctionKind}'s value, whichever it is), its mask,
    room (C{null}: chat-wide), setter, times, reason; and, as of C{now}, the
    seconds it has left (C{null}: for good).
    """
    data = {
        "kind": sanction.kind.value,
        "mask": str(sanction.mask),
        "room": sanction.room,
        "by": sanction.by,
        "set_at": sanction.set_at,
        "until": sanction.until,
        "reason": sanction.reason,
    }
    if now is not None:
        left = sanction.until
        data["left"] = None if left is None else max(0.0, round(left - now, 3))
    return data


def moderation_data(result: object) -> Json | None:
    """The fields of the reply for a result of accounts or moderation; L{None} for others."""
    match result:
        case results.AccountRegistered(account=account):
            return {"account": account}
        case results.PasswordChanged(account=account) | results.AccountDeleted(account=account):
            return {"account": account}
        case results.OperatorGranted(account=account, given=given):
            return {"account": account, "operator": given}
        case results.RoomRegistered(room=room, registered=registered):
            return {"room": room, "registered": registered}
        case results.RoomRanked(room=room, account=account, rank=rank, changed=changed):
            return {"room": room, "account": account, "rank": rank, "changed": changed}
        case results.SanctionSet(sanction=sanction, held=held, now=now):
            return {"sanction": sanction_data(sanction, now), "held": list(held)}
        case results.SanctionLifted(sanction=sanction):
            return {"sanction": sanction_data(sanction)}
        case results.SanctionList(room=room, sanctions=sanctions, now=now):
            return {
                "room": room,
                "sanctions": [sanction_data(s, now) for s in sanctions],
                "now": now,
            }
    return None


def line_data(line: Line, files: FileLinks = _no_files) -> Json:
    return event_data(line.event, line.when, files)


HELP = [{"usage": spec.usage, "summary": spec.summary} for spec in COMMANDS.values()]
"""The commands of the line protocol, for C{help} and the C{command} request."""


# Reading requests


class BadRequest(Exception):
    """
    A request that cannot be read; the message is for the client's user,
    C{fields} what the error says besides (as L{error_fields} has them).
    """

    def __init__(self, message: str, code: str = "bad-request", **fields: object) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields


ID_MAX = 64
"""The longest string a request's C{id} may be."""

_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text from a client made as safe as any wire's: lone surrogates replaced, then sanitised."""
    return sanitise(_SURROGATES.sub("\ufffd", text))


def parse(payload: str) -> Json:
    """The request in a text message's C{payload}: an object with a C{type} and an C{id}."""
    try:
        request = json.loads(payload)
    except (ValueError, RecursionError):
        raise BadRequest("not JSON") from None
    if not isinstance(request, dict):
        raise BadRequest("a request is a JSON object")
    request_id = request.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        raise BadRequest("a request needs an id: an integer or a string")
    if isinstance(request_id, str) and len(request_id) > ID_MAX:
        raise BadRequest(f"an id is at most {ID_MAX} characters")
    if not isinstance(request.get("type"), str):
        raise BadRequest("a request needs a type")
    return request


def request_id(payload: str) -> object:
    """The C{id} of a request that could not be read, if it has a usable one; else L{None}."""
    try:
        request = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    found = request.get("id") if isinstance(request, dict) else None
    if isinstance(found, bool) or not isinstance(found, int | str):
        return None
    return found if not isinstance(found, str) or len(found) <= ID_MAX else None


def text_field(request: Json, name: str, *, optional: bool = False) -> str | None:
    """The string field C{name}, cleaned; L{None} if absent (or null) and C{optional}."""
    value = request.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name!r} must be a string")
    return clean(value)


def required(request: Json, name: str) -> str:
    value = text_field(request, name)
    assert value is not None
    return value


def flag(request: Json, name: str) -> bool:
    """The optional true-or-false field C{name}, false when absent."""
    return switch(request, name, False)


def number(request: Json, name: str) -> float | None:
    value = request.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{name!r} must be a number")
    return float(value)


def count(request: Json, name: str, default: int, most: int) -> int:
    value = request.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise BadRequest(f"{name!r} must be a whole number from 1 to {most}")
    return value


def words(request: Json) -> tuple[str, ...]:
    value = request.get("words")
    if isinstance(value, str):
        found = tuple(clean(value).split())
    elif isinstance(value, list) and all(isinstance(word, str) for word in value):
        found = tuple(word for item in value for word in clean(item).split())
    else:
        raise BadRequest("'words' must be a string or a list of strings")
    if not found:
        raise BadRequest("'words' must have a word in it")
    return found


MASK_MAX = 100
"""The longest mask a request may give, in characters (a nickname pattern is at most 64)."""


def mask(request: Json) -> Mask:
    """
    The C{mask} of a sanction (a ban, mute, exception or invitation):
    C{nick:PATTERN}, C{account:NAME}, an address or a network.
    """
    value = request.get("mask")
    if not isinstance(value, str):
        raise BadRequest("'mask' must be a string: nick:PATTERN, account:NAME or an address")
    if len(value) > MASK_MAX:
        raise BadRequest(f"a mask is at most {MASK_MAX} characters ({len(value)})", "bad-mask")
    try:
        return Mask.parse(clean(value))
    except ValueError as e:
        raise BadRequest(str(e), "bad-mask") from None


def duration(request: Json) -> float | None:
    """
    How long a sanction lasts: seconds (a number), or words as C{/ban}
    takes them (C{"30m"}, C{"1h30m"}); absent or C{null}: for good.
    """
    value = request.get("duration")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_duration(value.strip())
        except ValueError as e:
            raise BadRequest(str(e), "bad-duration") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(
            "'duration' must be seconds, or a duration such as \"30m\", or null", "bad-duration"
        )
    if not math.isfinite(value) or not 1 <= value <= MAX_DURATION:
        raise BadRequest(
            f"a duration is from 1 second to {int(MAX_DURATION)} seconds (3650d)", "bad-duration"
        )
    return float(value)


def reason(request: Json) -> str | None:
    """The optional C{reason} of a sanction, at most L{REASON_MAX} characters."""
    given = text_field(request, "reason", optional=True)
    if given is not None and len(given) > REASON_MAX:
        raise BadRequest(f"a reason is at most {REASON_MAX} characters ({len(given)})", "too-long")
    return given.strip() or None if given is not None else None


def scope(request: Json) -> str | None:
    """
    The C{room} of a sanction or list, which must be given: a room's name,
    or C{null} for the whole chat (server operators only; a room's own
    kinds, exceptions and invitations, are refused there by the model).
    """
    if "room" not in request:
        raise BadRequest("'room' is needed: a room, or null for the whole chat")
    return text_field(request, "room", optional=True)


RANKS = {"owner": "owner", "operator": "operator", None: None}


def rank(request: Json) -> str | None:
    """The C{rank} a room's owner gives an account: C{"owner"}, C{"operator"}, or C{null}."""
    if "rank" not in request or request["rank"] not in RANKS:
        raise BadRequest('\'rank\' must be "owner", "operator" or null')
    return RANKS[request["rank"]]


MODES = tuple(ROOM_MODES)
"""The modes a C{room-mode} request sets or clears, one letter each."""

MODE_CHANGES_MAX = 20
"""The most changes one C{room-mode} request makes."""


def mode_changes(request: Json) -> tuple[ModeChange, ...]:
    """
    The changes of a room's modes a C{room-mode} request asks for, made at
    once: its C{changes}, a list of objects of the fields L{mode_change}
    reads, or the one change of the request's own fields.
    """
    if "changes" not in request:
        return (mode_change(request),)
    listed = request["changes"]
    if not isinstance(listed, list) or not listed or not all(isinstance(c, dict) for c in listed):
        raise BadRequest('\'changes\' must be a list of changes, such as {"mode": "i", "on": true}')
    if len(listed) > MODE_CHANGES_MAX:
        raise BadRequest(f"at most {MODE_CHANGES_MAX} changes of modes at once")
    return tuple(mode_change(change) for change in listed)


def mode_change(fields: Json) -> ModeChange:
    """
    One change of a room's modes: its C{mode} (a letter of L{ROOM_MODES}:
    C{unknown-mode} for any other), whether it is set (C{on}), and the
    C{value} it is set to: for C{k} the key (a string), for C{l} the most
    members (a whole number, or its digits as a string); checked as the
    model checks it (L{checked_mode}: C{bad-mode-value}, saying why). A
    C{value} of any other change is ignored.
    """
    mode = fields.get("mode")
    if not isinstance(mode, str) or mode not in MODES:
        raise BadRequest(
            str(UnknownMode(mode if isinstance(mode, str) else repr(mode))), "unknown-mode"
        )
    on = switch(fields, "on")
    value = fields.get("value")
    if isinstance(value, int) and not isinstance(value, bool) and mode == "l":
        value = str(value)
    elif value is not None and not isinstance(value, str):
        if on and mode in "kl":
            raise BadRequest(
                "'value' must be a key (a string) for k, a whole number for l",
                "bad-mode-value",
                mode=mode,
            )
        value = None
    try:
        return checked_mode(ModeChange(mode, on, value))
    except BadModeValue as e:
        raise BadRequest(str(e), "bad-mode-value", mode=e.name) from None


def key(request: Json) -> str | None:
    """
    The optional C{key} of a room to join (C{+k}), exactly as given: it is
    compared with the room's, never shown (L{None} if absent or C{null}).
    """
    value = request.get("key")
    if value is not None and not isinstance(value, str):
        raise BadRequest("'key' must be a string")
    return value


def switch(request: Json, name: str, default: bool | None = None) -> bool:
    """The true-or-false field C{name}; needed unless it has a C{default}."""
    value = request.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name!r} must be true or false")
    return value
