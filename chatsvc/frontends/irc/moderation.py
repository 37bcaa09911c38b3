"""
Accounts and moderation on IRC: channel modes (C{+i}, C{+m}, C{+b} with the
C{m:} extban for mutes, C{+o}, C{+q}), the IRCv3 C{REGISTER} command
(C{draft/account-registration}), the services' pseudo-users
(L{chatsvc.frontends.irc.services}), C{KLINE}/C{UNKLINE}; and how the
session's answers to them are rendered: a C{MODE} line, a ban list, a
C{FAIL REGISTER}, a C{NOTICE} from the service asked, or the numeric IRC
clients expect for each refusal.

Each request names what asked (L{Asked}), so that its answer, which may come
later (a password is hashed in a thread), is rendered as the asker expects.

test-case-name: tests.frontends.irc.test_moderation_modes, tests.frontends.irc.test_services
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

from chatsvc.chat import commands
from chatsvc.chat.events import ModeChange
from chatsvc.chat.model import (
    BadKey,
    BadModeValue,
    Barred,
    ChatError,
    InviteOnly,
    Moderated,
    NicknameRegistered,
    NotAMember,
    NotAnOperator,
    NotAnOwner,
    NotInRoom,
    Participant,
    Room,
    RoomFull,
    UnknownMode,
    checked_mode,
    fold,
)
from chatsvc.chat.sanctions import MaskKind, Sanction, SanctionKind, looks_like_duration
from chatsvc.frontends.irc import numerics as n
from chatsvc.frontends.irc.masks import irc_mask, is_address, parse_ban
from chatsvc.frontends.irc.message import line
from chatsvc.frontends.irc.services import (
    ALIASES,
    SERVICES,
    Identify,
    Service,
    ServiceError,
    make_sanction,
)
from chatsvc.frontends.irc.wire import IrcServer, channel, split_text
from chatsvc.frontends.line import wire as line_wire
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.sessions import results
from chatsvc.sessions.registration import Problem, RegistrationRefused
from chatsvc.sessions.session import Relayed, Session, Stage


class IrcConnection(Protocol):
    """
    What moderation asks of an IRC connection
    (L{chatsvc.frontends.irc.server.IrcConnection}, which imports this module).
    """

    @property
    def factory(self) -> ChatFactory: ...
    @property
    def irc(self) -> IrcServer: ...
    @property
    def nick(self) -> str: ...

    session: Session | None
    _asked: Asked | None
    _barred: str | None
    _nick: str | None

    def _ask(self, asked: Asked) -> None: ...
    def _me(self) -> Participant: ...
    def _mask(self) -> str: ...
    def _reply(self, code: str, *params: str) -> str: ...
    def _numeric(self, code: str, *params: str) -> None: ...
    def _notice(self, text: str) -> None: ...
    def _send_lines(self, lines: Iterable[str]) -> None: ...
    def _renamed(self, new: str) -> str: ...
    def _perform(self, command: commands.Command) -> Relayed | None: ...


REGISTRATION_CAP = "draft/account-registration"

MODE_CHANGES_MAX = 4
"""
The most changes with a parameter (C{b}, C{k}, C{l}, C{o}, C{q}, C{v}) one
C{MODE} makes: ISUPPORT C{MODES}.
"""

CHANNEL_MODES = "Ibeiklmnoqstv"
"""Every channel mode, for C{RPL_MYINFO}."""

PARAMETER_MODES = "Ibekloqv"
"""The channel modes that take a parameter (C{-l} does not), for C{RPL_MYINFO}."""

_MEMBER_MODES = "Ibeoqv"
"""The modes whose parameter is a mask or nickname, set and cleared alike."""


class _List(NamedTuple):
    """A channel's list mode: what kind it lists (L{None}: bans and mutes), its numerics, name."""

    kind: SanctionKind | None
    item: str
    end: str
    name: str

    @property
    def ended(self) -> str:
        return f"End of channel {self.name} list"


_LISTS = {
    "b": _List(None, n.RPL_BANLIST, n.RPL_ENDOFBANLIST, "ban"),
    "e": _List(SanctionKind.EXCEPTION, n.RPL_EXCEPTLIST, n.RPL_ENDOFEXCEPTLIST, "exception"),
    "I": _List(SanctionKind.INVITATION, n.RPL_INVITELIST, n.RPL_ENDOFINVITELIST, "invite"),
}
"""The list modes, by letter."""

_REGISTER_FAILS = {
    Problem.UNAVAILABLE: "TEMPORARILY_UNAVAILABLE",
    Problem.CLOSED: "DISALLOWED",
    Problem.WEAK_PASSWORD: "WEAK_PASSWORD",
    Problem.TOO_MANY: "TEMPORARILY_UNAVAILABLE",
    Problem.LOGGED_IN: "ALREADY_AUTHENTICATED",
}


class Asked(NamedTuple):
    """
    What asked for what the session answers next: C{by} C{"MODE"},
    C{"REGISTER"}, C{"KLINE"} or a service's nickname, about C{channel} (as
    the user wrote it) or, for C{REGISTER}, the account. A tuple, not an
    attrs class: every PRIVMSG makes one, and a tuple is made fastest.
    """

    by: str
    about: str | None = None


def ranks(participant: Participant, room: Room) -> str:
    """
    C{participant}'s prefixes in C{room}, highest first: C{~} (owner), C{@}
    (operator), C{+} (voiced).
    """
    registration, account = room.registration, participant.account
    owner = (
        registration is not None
        and account is not None
        and registration.rank(account.name) == "owner"
    )
    operator = room.is_operator(participant)
    voiced = room.is_voiced(participant)
    return ("~" if owner else "") + ("@" if operator else "") + ("+" if voiced else "")


# Channel modes


def channel_mode(connection: IrcConnection, params: list[str]) -> None:
    """
    C{MODE #chan}: its modes (324, 329; a key shown to members alone).
    C{MODE #chan b}: its bans and, as C{m:} masks, mutes (367, 368). Else
    changes: C{i k l m n s t} (the room's modes, made at once: one C{MODE}
    line tells them), C{b} (bans; C{m:MASK} mutes), C{o} (operators: of the
    registered room if the owner names an account, else for as long as they
    stay), C{q} (owners, by account), C{v} (a voice, for as long as they stay).
    A bad key or limit is a 696, and the other changes are made.
    """
    chat, target, me = connection.factory.chat, params[0], connection._me()
    try:
        room = chat.room(target[1:])
    except ChatError:
        connection._numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        return
    name = channel(room.name)
    if len(params) == 1:
        modes = room.modes(arguments=me.in_room(room) or me.operator)
        lines = [connection._reply(n.RPL_CHANNELMODEIS, name, *modes.split(" "))]
        if room.created is not None:
            lines.append(connection._reply(n.RPL_CREATIONTIME, name, str(int(room.created))))
        connection._send_lines(lines)
        return
    modes, arguments = params[1], params[2:]
    if modes.lstrip("+") in _LISTS and not arguments:
        listing = _LISTS[modes.lstrip("+")]
        if not me.in_room(room):
            # Clients ask for them on joining; one not in it sees an empty list.
            connection._numeric(listing.end, name, listing.ended)
            return
        if listing.kind is None:
            connection._ask(Asked("MODE", name))
            connection._perform(commands.ListSanctions(room=room.name))
            return
        kept = chat.sanctions.listed(room.name, chat.clock())
        lines = [_listed(connection, listing.item, name, s) for s in kept if s.kind is listing.kind]
        connection._send_lines([*lines, connection._reply(listing.end, name, listing.ended)])
        return
    changes = _changes(connection, name, modes, arguments)
    if not changes:
        return
    if not me.in_room(room):
        connection._numeric(n.ERR_NOTONCHANNEL, name, "You're not on that channel")
        return
    if not room.is_operator(me):
        connection._numeric(n.ERR_CHANOPRIVSNEEDED, name, "You're not channel operator")
        return
    flags: list[ModeChange] = []
    for on, char, argument in changes:
        if char in _MEMBER_MODES:
            continue
        try:
            flags.append(checked_mode(ModeChange(char, on, argument if on else None)))
        except BadModeValue as e:
            shown = argument[:60] if argument.strip() and char == "l" else "*"
            connection._numeric(n.ERR_INVALIDMODEPARAM, name, char, shown, str(e))
    if flags:
        connection._ask(Asked("MODE", name))
        connection._perform(commands.RoomMode(tuple(flags), room.name))
    for on, char, argument in changes:
        connection._ask(Asked("MODE", name))
        if char in _LISTS:
            _ban(connection, room, on, char, argument)
        elif char in "oq":
            _rank(connection, room, on, char, argument)
        elif char == "v":
            _voice(connection, room, on, argument)


def _changes(
    connection: IrcConnection, name: str, modes: str, arguments: list[str]
) -> list[tuple[bool, str, str]] | None:
    """
    The changes C{modes} asks for, each C{(on, char, argument)}; L{None},
    after a 472, if it names a mode there is not. C{+k} and C{+l} take an
    argument, which may be empty (and is then refused as a bad one), and
    C{-k} one if it is given (IRC clients send the key); C{-l} none.
    """
    changes: list[tuple[bool, str, str]] = []
    on, left, with_argument = True, iter(arguments), 0
    for char in modes:
        if char in "+-":
            on = char == "+"
        elif char in _MEMBER_MODES or (char in "kl" and on):
            argument = next(left, None)
            if argument is None or (not argument and char in _MEMBER_MODES):
                connection._numeric(n.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
            elif with_argument < MODE_CHANGES_MAX:
                with_argument += 1
                changes.append((on, char, argument))
        elif char == "k":
            next(left, None)  # -k KEY: the key is not needed to clear it
            changes.append((on, char, ""))
        elif char in "ilmnst":
            changes.append((on, char, ""))
        else:
            connection._numeric(n.ERR_UNKNOWNMODE, char, "is unknown mode char to me")
            return None
    return changes


def _listed(connection: IrcConnection, code: str, name: str, sanction: Sanction) -> str:
    """One entry of a channel's list (C{367}, C{348}, C{346}): mask, setter, when set."""
    return connection._reply(
        code,
        name,
        irc_mask(sanction.kind, sanction.mask),
        connection.irc.mask(sanction.by),
        str(int(sanction.set_at)),
    )


def _ban(connection: IrcConnection, room: Room, on: bool, char: str, argument: str) -> None:
    """C{+b}/C{-b} (C{m:} a mute), C{+e}/C{-e} (an exception), C{+I}/C{-I} (an invitation)."""
    name = channel(room.name)
    try:
        kind, mask = parse_ban(argument)
        if char != "b" and kind is not SanctionKind.BAN:
            raise ValueError(f"+{char} takes a mask, not m: (an exception passes mutes too)")
    except ValueError as e:
        connection._numeric(n.ERR_INVALIDMODEPARAM, name, char, argument[:60], str(e))
        return
    kind = _LISTS[char].kind or kind
    if not on:
        connection._perform(commands.Lift(kind, mask, room=room.name))
        return
    chat = connection.factory.chat
    listed = [s for s in chat.sanctions.listed(room.name, chat.clock()) if s.kind is kind]
    if len(listed) >= chat.sanctions.max_per_scope and all(s.mask != mask for s in listed):
        what = _LISTS[char].name
        connection._numeric(n.ERR_BANLISTFULL, name, char, f"Channel {what} list is full")
        return
    connection._perform(commands.Sanction(kind, mask, room=room.name))


def _voice(connection: IrcConnection, room: Room, on: bool, nick: str) -> None:
    found = connection.factory.chat.find(nick)
    if found is None:
        connection._numeric(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    if not found.in_room(room):
        name = channel(room.name)
        connection._numeric(n.ERR_USERNOTINCHANNEL, found.nick, name, "They aren't on that channel")
        return
    connection._perform(commands.Voice(found.nick, room.name, on))


def _rank(connection: IrcConnection, room: Room, on: bool, char: str, nick: str) -> None:
    chat, name = connection.factory.chat, channel(room.name)
    found = chat.find(nick)
    if found is None:
        connection._numeric(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    if not found.in_room(room):
        connection._numeric(n.ERR_USERNOTINCHANNEL, found.nick, name, "They aren't on that channel")
        return
    account = None if found.account is None else found.account.name
    registration = room.registration
    rank = None if registration is None or account is None else registration.rank(account)
    if char == "q":
        if account is None or registration is None:
            why = "is not logged in" if account is None else "is not a registered channel"
            subject = found.nick if account is None else name
            connection._numeric(
                n.ERR_INVALIDMODEPARAM, name, "q", found.nick, f"{subject} {why}: no owners"
            )
            return
        if on or rank == "owner":
            connection._perform(
                commands.RankInRoom(account, "owner" if on else "operator", room.name)
            )
        return
    if not on and rank == "owner":
        connection._numeric(
            n.ERR_INVALIDMODEPARAM, name, "o", found.nick, f"{found.nick} is an owner: -q first"
        )
        return
    me = connection._me()
    owner_names = account is not None and registration is not None and room.is_owner(me)
    # A registered channel's owner ranks the account (the channel sees the
    # rank's MODE); otherwise, or for what is left, an operator while there.
    if on:
        if owner_names and rank is None:
            connection._perform(commands.RankInRoom(account or "", "operator", room.name))
        else:
            connection._perform(commands.Operator(found.nick, room.name, True))
    else:
        if owner_names and rank == "operator":
            connection._perform(commands.RankInRoom(account or "", None, room.name))
        connection._perform(commands.Operator(found.nick, room.name, False))


# Accounts: REGISTER and NickServ


def register(connection: IrcConnection, params: list[str]) -> None:
    """C{REGISTER <account|*> <email|*> <password>} (IRCv3 C{draft/account-registration})."""
    session = connection.session
    assert session is not None
    account, password = params[0], params[-1]

    def fail(code: str, text: str) -> None:
        connection._send_lines([line(connection.irc.name, "FAIL", "REGISTER", code, account, text)])

    if session.stage is not Stage.SIGNED_ON:
        fail("COMPLETE_CONNECTION_REQUIRED", "Register once you are connected")
        return
    me = connection._me()
    if account != "*" and fold(account) != fold(me.nick):
        fail("ACCOUNT_NAME_MUST_BE_NICK", "Accounts are named after nicknames: give * or yours")
        return
    connection._ask(Asked("REGISTER", me.nick if account == "*" else account))
    connection._perform(commands.Register(password))


def to_service(connection: IrcConnection, service: Service, text: str) -> None:
    """What a user said to C{service}: a command for the session, or help, or why not."""
    connection._ask(Asked(service.nick))
    try:
        command = service.command(text)
    except ServiceError as e:
        connection._send_lines(service_notice(connection, service.nick, [str(e)]))
        return
    if command is None:
        connection._send_lines(service_notice(connection, service.nick, service.help(text)))
    elif isinstance(command, Identify):
        _identify(connection, service, command)
    else:
        if isinstance(command, commands.Sanction | commands.Lift | commands.ListSanctions):
            about = None if command.room is None else channel(command.room)
            connection._ask(Asked(service.nick, about))
        connection._perform(command)


def service_command(service: Service) -> Callable[[IrcConnection, list[str]], None]:
    """The handler of C{NS}, C{CS}, C{OS} and their long names: C{/ns identify ...}."""

    def handle(connection: IrcConnection, params: list[str]) -> None:
        to_service(connection, service, " ".join(params))

    return handle


def _identify(connection: IrcConnection, service: Service, asked: Identify) -> None:
    session, me = connection.session, connection._me()
    assert session is not None
    name = asked.account or me.nick

    def tell(*said: str) -> None:
        connection._send_lines(service_notice(connection, service.nick, list(said)))

    if me.account is not None:
        tell(f"You are logged in to {me.account.name} already")
        return
    if connection.factory.portal is None:
        tell("There are no accounts on this server")
        return

    def checked(account: object) -> None:
        if session.participant is not me:
            return
        if me.account is None:
            tell(f"Invalid password for {name}")
            return
        connection._send_lines(
            [
                logged_in(connection, me.account.name),
                *service_notice(
                    connection, service.nick, [f"You are now identified for {me.account.name}"]
                ),
            ]
        )

    session.become_operator(name, asked.password.encode(), operators_only=False).addCallback(
        checked
    )


def logged_in(connection: IrcConnection, account: str) -> str:
    return connection._reply(
        n.RPL_LOGGEDIN, connection._mask(), account, f"You are now logged in as {account}"
    )


def service_notice(connection: IrcConnection, service: str, said: list[str]) -> list[str]:
    head = f":{service}!{service}@{connection.irc.name} NOTICE {connection.nick}"
    return [piece for text in said for piece in split_text(head, text)]


def is_service(nick: str) -> Service | None:
    return SERVICES.get(fold(nick))


ALIAS_HANDLERS = {alias: service_command(service) for alias, service in ALIASES.items()}


# Operators: KLINE and UNKLINE


def kline(connection: IrcConnection, params: list[str]) -> None:
    """C{KLINE [DURATION] MASK [REASON]} (ergo's order; C{m:MASK} mutes): a chat-wide ban."""
    if not connection._me().operator:
        connection._numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    duration, words = None, params
    if looks_like_duration(words[0]) and not is_address(words[0]):
        duration, words = words[0], words[1:]
    if not words:
        connection._notice("Syntax: KLINE [DURATION] MASK [REASON] (MASK: *!*@ADDRESS, a:ACCOUNT)")
        return
    mask, reason = words[0], " ".join(words[1:]).strip()
    kind = SanctionKind.BAN
    if mask[:2].lower() == "m:":
        kind, mask = SanctionKind.MUTE, mask[2:]
    try:
        command = make_sanction(kind, mask, duration, reason, chat_wide=True)
    except commands.CommandError as e:
        connection._notice(str(e))
        return
    connection._ask(Asked("KLINE"))
    connection._perform(command)


def unkline(connection: IrcConnection, params: list[str]) -> None:
    if not connection._me().operator:
        connection._numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    try:
        kind, mask = parse_ban(params[0])
    except ValueError as e:
        connection._notice(str(e))
        return
    connection._ask(Asked("KLINE"))
    connection._perform(commands.Lift(kind, mask, chat_wide=True))


# Rendering the session's answers


def render(connection: IrcConnection, result: results.Result) -> list[str] | None:
    """The lines of a result of accounts or moderation, as what asked for it expects."""
    asked = connection._asked
    by = None if asked is None else asked.by
    match result:
        case results.AccountRegistered(account=account):
            lines = [logged_in(connection, account)]
            if by == "REGISTER":
                return [
                    line(connection.irc.name, "REGISTER", "SUCCESS", account, "Account created"),
                    *lines,
                ]
            return [*lines, *(_said(connection, result) or [])]
        case results.AccountDeleted():
            logged_out = connection._reply(
                n.RPL_LOGGEDOUT, connection._mask(), "You are now logged out"
            )
            return [logged_out, *(_said(connection, result) or [])]
        case results.NickReleased(new=new):  # unasked: from the server, whatever was asked last
            return [connection._renamed(new), *(_said(connection, result, unasked=True) or [])]
        case results.SanctionSet(sanction=sanction) | results.SanctionLifted(sanction=sanction):
            if sanction.room is not None and by == "MODE":
                return []  # the channel's MODE line (BanListChanged), the asker's too, answers
            return _said(connection, result)
        case results.SanctionList(room=str(room), sanctions=sanctions) if by == "MODE":
            name = channel(room)
            return [
                *(
                    _listed(connection, n.RPL_BANLIST, name, s)
                    for s in sanctions
                    if not s.kind.exempts  # bans and mutes: the others have lists of their own
                ),
                connection._reply(n.RPL_ENDOFBANLIST, name, _LISTS["b"].ended),
            ]
    return _said(connection, result)


def _said(
    connection: IrcConnection, result: results.Result, *, unasked: bool = False
) -> list[str] | None:
    """A result in words, as a notice from the service asked (or, C{unasked}, the server)."""
    said = line_wire.moderation_text(result)
    if said is None:
        return None
    asked = None if unasked else connection._asked
    if asked is not None and is_service(asked.by) is not None:
        return service_notice(connection, asked.by, said)
    if isinstance(result, results.RoomRanked) and result.changed:
        return []  # MODE asked for it: the channel's MODE line (RankChanged) is the answer
    head = f":{connection.irc.name} NOTICE {connection.nick}"
    return [piece for text in said for piece in split_text(head, text)]


def refusal(connection: IrcConnection, reason: str, error: ChatError | None) -> list[str] | None:
    """A refusal of accounts or moderation as IRC says it; L{None} for others."""
    asked = connection._asked
    if asked is not None and asked.by == "REGISTER":
        code = "TEMPORARILY_UNAVAILABLE"
        if isinstance(error, RegistrationRefused):
            code = _REGISTER_FAILS[error.problem]
        elif isinstance(error, NicknameRegistered):
            code = "ACCOUNT_EXISTS"
        return [line(connection.irc.name, "FAIL", "REGISTER", code, asked.about or "*", reason)]
    if asked is not None and is_service(asked.by) is not None:
        return service_notice(connection, asked.by, [reason])
    about = None if asked is None else asked.about
    match error:
        case Barred(sanction=sanction) if sanction.kind is SanctionKind.BAN:
            if sanction.room is None and sanction.mask.kind is MaskKind.NICK:
                # A banned nickname (IRC's Q-line): another may do.
                nick = about or connection._nick or "*"
                text = f"Erroneous nickname: {nick} is {_said_of(reason)}"
                return [connection._reply(n.ERR_ERRONEUSNICKNAME, nick, text)]
            if sanction.room is None:  # at signing on: the connection is closed next
                connection._barred = _said_of(reason)
                return [connection._reply(n.ERR_YOUREBANNEDCREEP, f"You are {_said_of(reason)}")]
            return [
                connection._reply(
                    n.ERR_BANNEDFROMCHAN,
                    channel(sanction.room),
                    f"Cannot join channel (+b): you are {_said_of(reason)}",
                )
            ]
        case Barred(sanction=sanction):  # a mute: of the channel, or chat-wide (a nick too)
            where = about or (None if sanction.room is None else channel(sanction.room))
            text = f"Cannot send to channel: you are {_said_of(reason)}"
            return [connection._reply(n.ERR_CANNOTSENDTOCHAN, where or "*", text)]
        case InviteOnly(name=str(name)):
            return [
                connection._reply(
                    n.ERR_INVITEONLYCHAN, channel(name), "Cannot join channel (+i): ask for /invite"
                )
            ]
        case BadKey(name=str(name)):
            return [
                connection._reply(
                    n.ERR_BADCHANNELKEY, channel(name), "Cannot join channel (+k): wrong key"
                )
            ]
        case RoomFull(name=str(name)):
            return [
                connection._reply(n.ERR_CHANNELISFULL, channel(name), "Cannot join channel (+l)")
            ]
        case BadModeValue(name=str(mode)) if about is not None and about.startswith("#"):
            return [connection._reply(n.ERR_INVALIDMODEPARAM, about, mode, "*", reason)]
        case UnknownMode(name=str(mode)):
            return [connection._reply(n.ERR_UNKNOWNMODE, mode, "is unknown mode char to me")]
        case Moderated(name=str(name)):
            return [
                connection._reply(
                    n.ERR_CANNOTSENDTOCHAN, channel(name), "Cannot send to channel (+m)"
                )
            ]
        case NotAnOwner(name=str(name)):
            return [
                connection._reply(
                    n.ERR_CHANOPRIVSNEEDED, channel(name), "You're not a channel owner"
                )
            ]
        case NotAnOperator() if about is not None and about.startswith("#"):
            return [connection._reply(n.ERR_CHANOPRIVSNEEDED, about, "You're not channel operator")]
        case NotAnOperator() if asked is not None and asked.by == "KLINE":
            return [
                connection._reply(
                    n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator"
                )
            ]
        case NotAMember(name=str(nick), room=str(room)):
            return [
                connection._reply(
                    n.ERR_USERNOTINCHANNEL, nick, channel(room), "They aren't on that channel"
                )
            ]
        case NotInRoom(name=str(name)) if about is not None:
            return [
                connection._reply(n.ERR_NOTONCHANNEL, channel(name), "You're not on that channel")
            ]
    return None


def _said_of(reason: str) -> str:
    """C{banned from dev for 2h ...} of the model's C{you are banned from dev ...}."""
    return reason.removeprefix("you are ")
