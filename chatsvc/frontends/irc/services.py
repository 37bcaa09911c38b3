"""
IRC's services as pseudo-users, the way networks with Atheme or Anope (and
ergo) have them: C{NickServ} for accounts, C{ChanServ} for registered
channels and their bans and mutes, C{OperServ} for server operators. A
C{PRIVMSG} to one (or the C{NS}, C{CS}, C{OS} commands) is one of the chat's
commands (L{chatsvc.chat.commands}); the session does it, and its answer
comes back as a C{NOTICE} from the service.

Only the parsing is here: L{Service.command} turns what was said into a
command, or raises L{ServiceError} with what to tell the user.

test-case-name: tests.frontends.irc.test_services
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from chatsvc.chat import commands
from chatsvc.chat.commands import BAN, MUTE, Command, CommandError
from chatsvc.chat.sanctions import REASON_MAX, SanctionKind, looks_like_duration, parse_duration
from chatsvc.frontends.irc.masks import parse_mask


class ServiceError(Exception):
    """What a service tells a user whose request it cannot make a command of."""


@attrs.frozen
class Identify:
    """C{NickServ IDENTIFY [ACCOUNT] PASSWORD}: log in to an account once signed on."""

    account: str | None
    password: str = attrs.field(repr=False)


@attrs.frozen
class Verb:
    """One command of a service: how it is written, what it does, and its parser."""

    usage: str
    summary: str
    parse: Callable[[list[str], str], Command | Identify]
    """From the words after the verb, and the text after the first of them (a reason)."""


@attrs.frozen
class Service:
    """A pseudo-user: its nickname, and its commands by upper-case verb."""

    nick: str
    about: str
    verbs: dict[str, Verb]

    def command(self, text: str) -> Command | Identify | None:
        """
        The command C{text} asks for, L{None} for C{HELP} (which L{help}
        answers), or L{ServiceError} with what is wrong.
        """
        words = text.split()
        if not words:
            raise ServiceError(f"Say HELP for the commands of {self.nick}")
        verb = self.verbs.get(words[0].upper())
        if verb is None:
            if words[0].upper() == "HELP":
                return None
            raise ServiceError(f"Unknown command {words[0][:20]}; say HELP for a list")
        try:
            return verb.parse(words[1:], text.split(maxsplit=1)[1] if len(words) > 1 else "")
        except CommandError as e:
            raise ServiceError(str(e)) from None
        except ValueError:
            raise ServiceError(f"Syntax: {verb.usage}") from None

    def help(self, text: str) -> list[str]:
        """What C{HELP [VERB]} says."""
        words = text.split()[1:2]
        if words:
            verb = self.verbs.get(words[0].upper())
            if verb is None:
                return [f"No help for {words[0][:20]}: say HELP for a list"]
            return [f"Syntax: {verb.usage}", verb.summary]
        width = max(len(name) for name in self.verbs)
        return [
            f"{self.nick}: {self.about}",
            *(f"{name.ljust(width)}  {verb.summary}" for name, verb in self.verbs.items()),
            f"Say HELP COMMAND for more; every command is /msg {self.nick} COMMAND ...",
        ]


def _exactly(count: int, words: list[str]) -> list[str]:
    if len(words) != count:
        raise ValueError
    return words


def _channel(word: str) -> str:
    if not word.startswith("#") or len(word) < 2:
        raise CommandError(f"{word[:40]} is not a channel: give #NAME")
    return word[1:]


def _sanction(kind: SanctionKind, *, chat_wide: bool) -> Callable[[list[str], str], Command]:
    """C{[#ROOM] MASK [DURATION] [REASON]} as a ban or mute (the room unless C{chat_wide})."""

    def parse(words: list[str], rest: str) -> Command:
        room = None
        if not chat_wide:
            if not words:
                raise ValueError
            room, words = _channel(words[0]), words[1:]
        if not words:
            raise ValueError
        return irc_sanction(kind, words, chat_wide=chat_wide, room=room)

    return parse


def irc_sanction(
    kind: SanctionKind, words: list[str], *, chat_wide: bool, room: str | None = None
) -> commands.Sanction:
    """C{MASK [DURATION] [REASON...]}, with an IRC mask, as a ban or mute."""
    rest, duration = words[1:], None
    if rest and looks_like_duration(rest[0]):
        duration, rest = rest[0], rest[1:]
    return make_sanction(kind, words[0], duration, " ".join(rest), chat_wide=chat_wide, room=room)


def make_sanction(
    kind: SanctionKind,
    mask_text: str,
    duration_text: str | None,
    reason: str,
    *,
    chat_wide: bool,
    room: str | None = None,
) -> commands.Sanction:
    """A ban or mute of an IRC mask, or L{CommandError} saying what is wrong with it."""
    try:
        mask = parse_mask(mask_text)
        duration = None if duration_text is None else parse_duration(duration_text)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if len(reason) > REASON_MAX:
        raise CommandError(f"a reason is at most {REASON_MAX} characters ({len(reason)})")
    return commands.Sanction(kind, mask, chat_wide, duration, reason or None, room)


def _lift(kind: SanctionKind, *, chat_wide: bool) -> Callable[[list[str], str], Command]:
    def parse(words: list[str], rest: str) -> Command:
        room = None
        if not chat_wide:
            room, *words = _exactly(2, words)
            room = _channel(room)
        (mask,) = _exactly(1, words)
        try:
            return commands.Lift(kind, parse_mask(mask), chat_wide, room)
        except ValueError as e:
            raise CommandError(str(e)) from None

    return parse


def _rank(rank: str | None) -> Callable[[list[str], str], Command]:
    def parse(words: list[str], rest: str) -> Command:
        room, account = _exactly(2, words)
        return commands.RankInRoom(account, rank, _channel(room))

    return parse


def _identify(words: list[str], rest: str) -> Identify:
    if len(words) == 1:
        return Identify(None, words[0])
    account, password = _exactly(2, words)
    return Identify(account, password)


def _register(words: list[str], rest: str) -> Command:
    if len(words) not in (1, 2):  # PASSWORD [EMAIL]: an e-mail address is not kept
        raise ValueError
    return commands.Register(words[0])


def _password(words: list[str], rest: str) -> Command:
    old, new = _exactly(2, words)
    return commands.ChangePassword(old, new)


def _set(words: list[str], rest: str) -> Command:
    if not words or words[0].upper() != "PASSWORD":
        raise ValueError
    return _password(words[1:], rest)


def _drop(words: list[str], rest: str) -> Command:
    _exactly(0, words)
    return commands.Unregister()


def _room_verb(make: Callable[[str], Command]) -> Callable[[list[str], str], Command]:
    def parse(words: list[str], rest: str) -> Command:
        (room,) = _exactly(1, words)
        return make(_channel(room))

    return parse


def _list_room(words: list[str], rest: str) -> Command:
    (room,) = _exactly(1, words)
    return commands.ListSanctions(room=_channel(room))


def _oper(words: list[str], rest: str) -> Command:
    verb, name = _exactly(2, words)
    if verb.upper() not in ("ADD", "DEL"):
        raise ValueError
    return commands.GrantOperator(name, verb.upper() == "ADD")


def _chat_bans(words: list[str], rest: str) -> Command:
    _exactly(0, words)
    return commands.ListSanctions(chat_wide=True)


NICKSERV = Service(
    "NickServ",
    "your account, named after your nickname",
    {
        "REGISTER": Verb(
            "REGISTER PASSWORD",
            "Register your nickname as an account, with PASSWORD; you are logged in to it",
            _register,
        ),
        "IDENTIFY": Verb(
            "IDENTIFY [ACCOUNT] PASSWORD",
            "Log in to ACCOUNT (by default, your nickname's); better: PASS or SASL as you connect",
            _identify,
        ),
        "PASSWORD": Verb("PASSWORD OLD NEW", "Change your account's password", _password),
        "SET": Verb("SET PASSWORD OLD NEW", "Change your account's password", _set),
        "DROP": Verb("DROP", "Delete your account: its nickname is anyone's again", _drop),
        "UNREGISTER": Verb("UNREGISTER", "The same as DROP", _drop),
    },
)

CHANSERV = Service(
    "ChanServ",
    "registered channels, their owners and operators, bans and mutes",
    {
        "REGISTER": Verb(
            "REGISTER #CHANNEL",
            "Register a channel you operate: you own it, and it stays when everyone leaves",
            _room_verb(commands.RegisterRoom),
        ),
        "DROP": Verb(
            "DROP #CHANNEL",
            "Unregister a channel you own: its bans and mutes go with it",
            _room_verb(commands.UnregisterRoom),
        ),
        "OWNER": Verb("OWNER #CHANNEL ACCOUNT", "Make ACCOUNT an owner (+q)", _rank("owner")),
        "OP": Verb("OP #CHANNEL ACCOUNT", "Make ACCOUNT an operator (+o)", _rank("operator")),
        "DEOP": Verb(
            "DEOP #CHANNEL ACCOUNT", "Make ACCOUNT neither owner nor operator", _rank(None)
        ),
        "BAN": Verb(
            "BAN #CHANNEL MASK [DURATION] [REASON]",
            "Ban MASK (nick!*@*, *!*@192.0.2.0/24, a:ACCOUNT) for DURATION (30m, 1h30m, 7d)",
            _sanction(BAN, chat_wide=False),
        ),
        "UNBAN": Verb("UNBAN #CHANNEL MASK", "Lift a ban", _lift(BAN, chat_wide=False)),
        "MUTE": Verb(
            "MUTE #CHANNEL MASK [DURATION] [REASON]",
            "Mute MASK: it may read, not speak",
            _sanction(MUTE, chat_wide=False),
        ),
        "UNMUTE": Verb("UNMUTE #CHANNEL MASK", "Lift a mute", _lift(MUTE, chat_wide=False)),
        "BANS": Verb(
            "BANS #CHANNEL", "List the bans and mutes, with why and until when", _list_room
        ),
    },
)

OPERSERV = Service(
    "OperServ",
    "the server operators' chat-wide powers",
    {
        "OPER": Verb("OPER ADD|DEL ACCOUNT", "Make ACCOUNT a server operator, or no longer", _oper),
        "BAN": Verb(
            "BAN MASK [DURATION] [REASON]",
            "Ban MASK from the whole chat (also KLINE [DURATION] MASK [REASON])",
            _sanction(BAN, chat_wide=True),
        ),
        "UNBAN": Verb(
            "UNBAN MASK", "Lift a chat-wide ban (also UNKLINE)", _lift(BAN, chat_wide=True)
        ),
        "MUTE": Verb(
            "MUTE MASK [DURATION] [REASON]", "Mute MASK everywhere", _sanction(MUTE, chat_wide=True)
        ),
        "UNMUTE": Verb("UNMUTE MASK", "Lift a chat-wide mute", _lift(MUTE, chat_wide=True)),
        "BANS": Verb("BANS", "List the chat-wide bans and mutes", _chat_bans),
    },
)

SERVICES = {service.nick.lower(): service for service in (NICKSERV, CHANSERV, OPERSERV)}
"""The services by folded nickname: nobody else may have one of these."""

ALIASES = {"NS": NICKSERV, "NICKSERV": NICKSERV, "CS": CHANSERV, "CHANSERV": CHANSERV}
ALIASES |= {"OS": OPERSERV, "OPERSERV": OPERSERV}
"""The commands clients send to services directly (C{/ns}, C{/cs}, C{/os})."""
