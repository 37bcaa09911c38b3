"""
One user's session: signing on, every request, history lookups and the
output held behind them, and the end; the same on every wire.

A session never sees its wire. Its frontend (L{ISessionFrontend}) parses
what the user sends into calls here (L{Session.sign_on_as},
L{Session.give_password}, L{Session.perform} with a command of
L{chatsvc.chat.commands}, L{Session.quit}), and renders what the session
shows (L{chatsvc.sessions.results}, and the chat's own events) into the
opaque output it then hands back to be sent, in order: the session holds
that output back while a history lookup asked for earlier is in flight, so
that an answer always comes out whole, where it was asked for.

Signing on: the nickname, then, for a registered one, its password, checked
through the L{Portal} (the connection reads nothing while it is checked);
after a wrong one, L{PASSWORD_DELAY} seconds in which nothing is read, then
the prompt again, and after L{PASSWORD_ATTEMPTS} of them, a goodbye. A
registered nickname is asked for its password first, even while someone
holds it: the right one takes it over. The whole sign-on has
C{login_timeout} seconds.

Moderation and accounts: what the chat's rules allow (L{Chat.sanction},
L{Chat.register_room}, ...) is done in the model at once, told to the
registry to keep (L{IRegistry}), and logged: every sanction with who set it,
on whom, where, why and until when. Registering an account hashes its
password in a thread (scrypt), and reads nothing meanwhile.

test-case-name: tests.sessions.test_session, tests.sessions.test_moderation
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import attrs
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.chat import commands
from chatsvc.chat.commands import SEARCH_RESULTS, Command
from chatsvc.chat.events import (
    Action,
    Event,
    Kicked,
    Message,
    PrivateMessage,
    PrivateTagMessage,
    Removed,
    TagMessage,
)
from chatsvc.chat.interfaces import IAccount, IChatClient
from chatsvc.chat.model import (
    NAME_MAX,
    Account,
    Chat,
    ChatError,
    NicknameRegistered,
    NoSuchRoom,
    NotAnOperator,
    Participant,
    Room,
    fold,
    is_valid_name,
)
from chatsvc.chat.sanctions import Sanction, SanctionKind, describe_duration, describe_time
from chatsvc.history import HistoryError, IHistory, Line
from chatsvc.history.replay import Lookup, Lookups
from chatsvc.registry import IRegistry, RoomRecord
from chatsvc.sessions import results
from chatsvc.sessions.registration import Problem, Registrar, RegistrationRefused
from chatsvc.sessions.results import Farewell, Result

_Relayed = TypeVar("_Relayed", Message, Action, PrivateMessage)

Relayed = Message | Action | PrivateMessage | TagMessage | PrivateTagMessage
"""What a user's request relays to others, which a wire may echo back (IRC's C{echo-message})."""

PASSWORD_DELAY = 3.0
"""Seconds between a wrong password and the next prompt (or the goodbye)."""

PASSWORD_ATTEMPTS = 3
"""Wrong passwords a connection may give before it is closed."""

LOOKUP_COST = 5
"""
What a history lookup (the replay on joining, C{/history}, C{/search}) costs
against the input rate, in lines: the line that asked for it and four more.
A lookup costs the server far more than a line does.
"""


class ISessionFrontend(Protocol):
    """
    What a session drives: one connection, on its wire. C{render} turns what
    the session shows into the wire's output (opaque to the session), which
    C{send} writes in order.
    """

    peer: str
    """Who is at the other end, for the log."""

    def render(self, result: Result | Event) -> bytes:
        """What C{result} looks like on this wire (empty: nothing at all)."""

    def send(self, output: bytes) -> None:
        """Write C{output} after everything sent before it."""

    def hang_up(self, last: bytes) -> None:
        """Send C{last}, and close; the session is over."""

    def wait(self, waiting: bool) -> None:
        """Stop reading from the user while C{waiting} (a verdict or a delay is awaited)."""

    def holding(self, holding: bool) -> None:
        """Output is (or is no longer) held behind lookups: none may go past the session."""

    def charge(self, lines: int) -> None:
        """Count C{lines} more against the user's input rate: a request costs more than a line."""


class Stage(enum.Enum):
    """Where a session is in signing on."""

    NICKNAME = "nickname"  # waiting for a nickname
    PASSWORD = "password"  # waiting for the password of a registered nickname
    CHECKING = "checking"  # the portal is checking it; reading is paused
    REFUSED = "refused"  # a wrong password: waiting out the delay, reading paused
    SIGNED_ON = "signed on"
    QUITTING = "quitting"  # signed off; the answers to lookups in flight come, then Bye
    OVER = "over"  # hung up


class Session:
    """
    One user's session on C{chat}, driven by C{frontend}, whose participant
    in the chat is C{client} (the frontend's connection). Registered
    nicknames log in through C{portal}; C{history} keeps and answers room
    history, of which C{replay} lines are shown on entering a room; timers
    run on C{clock}. Signing on enters the lobby, unless not C{lobby}
    (IRC: users join the rooms they ask for).
    """

    _log = Logger()

    __slots__ = (
        "_account",
        "_address",
        "_client",
        "_delay",
        "_failures",
        "_frontend",
        "_lobby",
        "_login",
        "_logout",
        "_lookups",
        "_server",
        "_timeout",
        "leave_reason",
        "participant",
        "stage",
    )

    def __init__(
        self,
        server: SessionServer,
        frontend: ISessionFrontend,
        client: IChatClient,
        *,
        lobby: bool = True,
        address: str | None = None,
    ) -> None:
        self._server = server
        self._address = address
        self._lobby = lobby
        self._frontend = frontend
        self._client = client
        self.participant: Participant | None = None
        self.stage = Stage.NICKNAME
        self.leave_reason: str | None = None
        """The server's reason for the user's leaving, should the connection be lost."""
        self._login: tuple[str, str] | None = None  # nickname and account asked for
        self._account: Account | None = None  # logged in to before signing on (SASL)
        self._failures = 0  # wrong passwords given
        self._delay: IDelayedCall | None = None
        self._timeout: IDelayedCall | None = None
        self._logout: Callable[[], object] | None = None
        # Made for the first lookup that must wait for the store: most
        # connections never have one (a replay is usually in memory), and an
        # idle connection does not pay for it.
        self._lookups: Lookups | None = None

    # The connection

    def _released(self) -> None:
        """The last lookup in flight is done with: nothing is held any more."""
        self._frontend.holding(False)

    def _stop_timers(self) -> None:
        """The session is over: neither the login timeout nor a password's delay may fire."""
        for timer in (self._timeout, self._delay):
            if timer is not None and timer.active():
                timer.cancel()
        self._timeout = self._delay = None

    def start(self) -> None:
        """
        The connection is made (and its frontend has greeted the user as its
        wire does): time the sign-on.
        """
        timeout = self._server.login_timeout
        if timeout:
            self._timeout = self._server.clock.callLater(timeout, self._timed_out)

    def lost(self) -> None:
        """The connection is gone: sign off (with the server's reason, if any) and let go."""
        self.stage = Stage.OVER
        self._stop_timers()
        if self._lookups is not None:
            self._lookups.stop()
        self._sign_off(self.leave_reason)
        if self._logout is not None:
            logout, self._logout = self._logout, None
            logout()
        self._account = None

    @property
    def over(self) -> bool:
        """Whether the session has ended: hung up, dropped, or its connection lost."""
        return self.stage is Stage.OVER

    @property
    def holding(self) -> bool:
        """Whether output is held behind lookups in flight."""
        return self._lookups is not None and self._lookups.busy

    def output(self, data: bytes) -> None:
        """
        Send C{data}, already rendered, after whatever is held behind lookups;
        nothing once the session is over.
        """
        if self.stage is Stage.OVER:
            return
        lookups = self._lookups
        if lookups is not None and lookups.busy:
            lookups.hold(data)
        else:
            self._frontend.send(data)

    def dropped(self) -> None:
        """
        The connection is being dropped for not taking its output: nothing
        more is sent, and its room will be told why once it is gone.
        """
        self.stage = Stage.OVER
        self.leave_reason = "not reading"
        if self._lookups is not None:
            self._lookups.stop()

    # What the chat tells the user

    def deliver(self, event: Event) -> None:
        self.output(self._frontend.render(event))

    def kicked(self, event: Kicked) -> None:
        self.participant = None
        self._hang_up(results.KickedOut(event))

    def goodbye(self) -> None:
        """
        The server is stopping, and its chat is dissolved at once
        (L{Chat.dissolve}), so nobody is told about anyone else leaving.
        """
        self.participant = None
        self._hang_up(results.Goodbye(Farewell.SHUTDOWN))

    def tell(self, text: str) -> None:
        """Tell the user C{text}, from the server (see L{results.ServerNotice})."""
        if self.stage is Stage.SIGNED_ON:
            self._show(results.ServerNotice(text))

    def lose_nickname(self) -> None:
        """
        Another node of the cluster holds this user's nickname (both signed
        on with it while they could not see each other): the user is told,
        and leaves.
        """
        participant = self.participant
        if participant is None:
            return
        self._log.info("{nick} is held by another node; signing it off", nick=participant.nick)
        self._sign_off("its nickname is taken on another server")
        self._hang_up(results.Goodbye(Farewell.NICKNAME_CLAIMED, participant.nick))

    def release_nickname(self) -> None:
        """
        This user, a guest, holds a nickname just registered elsewhere (at
        another node of a cluster, which could not see it): it is renamed, and told.
        """
        participant = self.participant
        if (
            participant is not None
            and participant.account is None
            and self._server.chat.registered(participant.nick) is not None
        ):
            self._release(participant)

    # Signing on

    def sign_on_as(self, nick: str) -> None:
        """The user's answer at the nickname prompt."""
        if self.stage is not Stage.NICKNAME:
            return
        if not nick:
            self._show(results.NicknamePrompt())
            return
        chat = self._server.chat
        # A registered nickname is asked for its password first, taken or
        # not: whoever knows it may have it (L{_take_over}), and nothing
        # typed after it is ever read as another nickname.
        account = chat.registered(nick) if is_valid_name(nick) else None
        if self._account is not None:
            self._sign_on_logged_in(nick, account, self._account)
        elif account is None:
            try:
                chat.check_nick(nick)
            except ChatError as e:
                self._refuse_nickname(e)
                return
            self._sign_on(nick, None)
        else:
            self._login = (nick, account)
            self.stage = Stage.PASSWORD
            self._show(results.PasswordPrompt(account))

    def _sign_on_logged_in(self, nick: str, owner: str | None, account: Account) -> None:
        """Sign on as C{nick} (registered to C{owner}), logged in to C{account} already."""
        chat = self._server.chat
        if owner is not None and fold(owner) == fold(account.name):
            self._take_over(nick)
        else:
            try:
                chat.check_nick(nick)
                if owner is not None:
                    raise NicknameRegistered(nick)
            except ChatError as e:
                self._refuse_nickname(e)
                return
        self._sign_on(nick, account)

    @property
    def account(self) -> Account | None:
        """The account logged in to, before signing on or since."""
        if self.participant is not None and self.participant.account is not None:
            return self.participant.account
        return self._account

    def log_in(self, name: str, password: bytes) -> Deferred[Account | None]:
        """
        Log in to the account C{name} before signing on, whatever nickname
        follows (IRC's SASL): the result is the account, or L{None} for a
        wrong password, given after L{PASSWORD_DELAY} seconds in which
        nothing is read; after L{PASSWORD_ATTEMPTS} of them, a goodbye.
        """
        done: Deferred[Account | None] = Deferred()
        portal = self._server.portal
        if portal is None or self.stage is not Stage.NICKNAME or self._account is not None:
            done.callback(None)
            return done
        self.stage = Stage.CHECKING
        self._frontend.wait(True)
        checked = portal.login(UsernamePassword(name.encode(), password), None, IAccount)

        def succeeded(login: tuple[Any, Account, Callable[[], object]]) -> None:
            _, account, logout = login
            if self.stage is Stage.OVER:
                logout()
                return
            self._account, self._logout = account, logout
            self.stage = Stage.NICKNAME
            self._frontend.wait(False)
            done.callback(account)

        def failed(failure: Failure) -> None:
            if not self._wrong_password(failure, name, "password"):
                return
            self.stage = Stage.REFUSED

            def retry() -> None:
                self._delay = None
                if self._failures >= PASSWORD_ATTEMPTS:
                    self._hang_up(results.Goodbye(Farewell.TOO_MANY_PASSWORDS))
                    return
                self.stage = Stage.NICKNAME
                self._frontend.wait(False)
                done.callback(None)

            self._delay = self._server.clock.callLater(self._server.password_delay, retry)

        checked.addCallbacks(succeeded, failed)
        return done

    def become_operator(
        self, name: str, password: bytes, *, operators_only: bool = True
    ) -> Deferred[Account | None]:
        """
        Log in, once signed on, to the operator account C{name} (IRC's
        C{OPER}): the participant keeps its nickname and gains the account's
        operator rights. The result is the account (not logged in to unless it
        is an operator's, or not C{operators_only}: IRC's C{NickServ
        IDENTIFY}), or L{None} for a wrong password or another account
        already logged in to. A wrong password costs what one costs at signing
        on: L{PASSWORD_DELAY} seconds in which nothing is read, and one of the
        L{PASSWORD_ATTEMPTS}.
        """
        done: Deferred[Account | None] = Deferred()
        portal, participant = self._server.portal, self.participant
        if (
            portal is None
            or participant is None
            or self.stage is not Stage.SIGNED_ON
            or (participant.account is not None and fold(participant.account.name) != fold(name))
        ):
            done.callback(None)
            return done
        self._frontend.wait(True)
        checked = portal.login(UsernamePassword(name.encode(), password), None, IAccount)

        def succeeded(login: tuple[Any, Account, Callable[[], object]]) -> None:
            _, account, logout = login
            if (
                self.stage is Stage.OVER
                or (operators_only and not account.operator)
                or participant.account
            ):
                logout()
            else:
                participant.account, self._logout = account, logout
                self._log.info(
                    "{peer} ({nick}) is now logged in to {account}{operator}",
                    peer=self._frontend.peer,
                    nick=participant.nick,
                    account=account.name,
                    operator=" (operator)" if account.operator else "",
                )
            if self.stage is not Stage.OVER:
                # The answer first, then what was sent after the OPER.
                done.callback(participant.account or account)
                self._frontend.wait(False)

        def failed(failure: Failure) -> None:
            if not self._wrong_password(failure, name, "operator password"):
                return

            def retry() -> None:
                self._delay = None
                if self._failures >= PASSWORD_ATTEMPTS:
                    self._hang_up(results.Goodbye(Farewell.TOO_MANY_PASSWORDS))
                    return
                done.callback(None)
                self._frontend.wait(False)

            self._delay = self._server.clock.callLater(self._server.password_delay, retry)

        checked.addCallbacks(succeeded, failed)
        return done

    def give_password(self, password: bytes) -> None:
        """The user's answer at the password prompt, exactly as typed; empty: no password."""
        if self.stage is not Stage.PASSWORD:
            return
        assert self._login is not None
        account = self._login[1]
        if not password:
            self.stage = Stage.NICKNAME
            self._show(results.NicknamePrompt())
            return
        portal = self._server.portal
        assert portal is not None, "a chat with accounts needs a portal"
        self.stage = Stage.CHECKING
        credentials = UsernamePassword(account.encode(), password)
        checked = portal.login(credentials, None, IAccount)
        checked.addCallbacks(self._logged_in, self._login_failed, errbackArgs=(account,))
        if self.stage is Stage.CHECKING:
            self._frontend.wait(True)

    def _logged_in(self, login: tuple[Any, Account, Callable[[], object]]) -> None:
        _, account, logout = login
        if self.stage is Stage.OVER:
            logout()
            return
        assert self._login is not None
        self._take_over(self._login[0])
        self._sign_on(self._login[0], account)
        if self.participant is None:
            logout()  # refused after all: back at the nickname prompt, logged in to nothing
        else:
            self._logout = logout
        self._frontend.wait(False)

    def _take_over(self, nick: str) -> None:
        """
        Whoever has C{nick} now leaves it to this session, which has just
        logged in to its account: the same user signed on elsewhere (a bot's
        previous connection that lingers), or a guest who took it before it
        was registered.
        """
        holder = self._server.chat.find(nick)
        if holder is None or getattr(holder.client, "session", None) is None:
            return  # nobody, or a user of another node of a cluster: the nickname stays taken
        other = self._server.session_of(holder)
        self._log.info(
            "{peer} takes {nick} over from {other}",
            peer=self._frontend.peer,
            nick=holder.nick,
            other=other._frontend.peer,
        )
        if holder.account is None:
            other._release(holder)
            return
        other._sign_off("signed on from elsewhere")
        other._hang_up(results.Goodbye(Farewell.REPLACED, holder.nick))

    def _release(self, guest: Participant) -> None:
        """This session's guest has a nickname its owner wants: it is renamed, and told."""
        chat = self._server.chat
        stem = guest.nick[: NAME_MAX - 6]
        for n in range(1, 100_000):
            new = f"{stem}_{n}"
            if chat.find(new) is None and chat.registered(new) is None:
                break
        try:
            old = chat.rename(guest, new)
        except ChatError:  # no name to give it (banned by pattern): it goes
            self._sign_off("signed on from elsewhere")
            self._hang_up(results.Goodbye(Farewell.OWNER_ARRIVED, guest.nick))
            return
        self._log.info("{old}, a guest, is now {new}: its owner signed on", old=old, new=new)
        self._show(results.NickReleased(old, new))

    def _wrong_password(self, failure: Failure, account: str, what: str) -> bool:
        """
        Whether C{failure}, the portal's answer for C{account}, is a wrong
        password (C{what}: which kind), counted and logged; if the password
        could not be checked, the user is told so and hung up on.
        """
        if self.stage is Stage.OVER:
            return False
        if not failure.check(UnauthorizedLogin):
            self._log.failure("Cannot check the password of {account}", failure, account=account)
            self._hang_up(results.Goodbye(Farewell.CANNOT_CHECK))
            return False
        self._failures += 1
        self._server.traffic.login_failures += 1
        self._log.info(
            "{peer} gave a wrong {what} for {account} ({n} of {most})",
            peer=self._frontend.peer,
            what=what,
            account=account,
            n=self._failures,
            most=PASSWORD_ATTEMPTS,
        )
        return True

    def _login_failed(self, failure: Failure, account: str) -> None:
        if not self._wrong_password(failure, account, "password"):
            return
        self.stage = Stage.REFUSED
        self._show(results.Refused(f"wrong password for {account}"))
        self._frontend.wait(True)
        self._delay = self._server.clock.callLater(self._server.password_delay, self._retry)

    def _retry(self) -> None:
        """The delay after a wrong password is over: ask again, or give up."""
        self._delay = None
        if self._failures >= PASSWORD_ATTEMPTS:
            self._log.info("{peer} gave too many wrong passwords", peer=self._frontend.peer)
            self._hang_up(results.Goodbye(Farewell.TOO_MANY_PASSWORDS))
            return
        assert self._login is not None
        self.stage = Stage.PASSWORD
        self._show(results.PasswordPrompt(self._login[1]))
        self._frontend.wait(False)

    def _refuse_nickname(self, error: ChatError) -> None:
        self.stage = Stage.NICKNAME
        self._show(results.Refused(str(error), error))
        self._show(results.NicknamePrompt())

    def _sign_on(self, nick: str, account: Account | None) -> None:
        try:
            self.participant = self._server.chat.sign_on(
                nick, self._client, account, lobby=self._lobby, address=self._address
            )
        except ChatError as e:
            self._refuse_nickname(e)
            return
        self.stage = Stage.SIGNED_ON
        self._login = None
        self._server.traffic.sign_ons[type(self._client)] += 1
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None
        peer = self._frontend.peer
        if account is None:
            self._log.info("{peer} is {nick}", peer=peer, nick=nick)
        else:
            self._log.info(
                "{peer} is {nick}, logged in to {account}{operator}",
                peer=peer,
                nick=nick,
                account=account.name,
                operator=" (operator)" if account.operator else "",
            )
        self._show(results.Welcome(nick))
        if self.participant.rooms:
            self._entered(self.participant.room)

    def _timed_out(self) -> None:
        self._timeout = None
        if self.stage is Stage.NICKNAME:
            self._log.info("{peer} gave no nickname in time", peer=self._frontend.peer)
            self._hang_up(results.Goodbye(Farewell.LOGIN_TIMEOUT))
        else:
            self._log.info("{peer} gave no password in time", peer=self._frontend.peer)
            self._hang_up(results.Goodbye(Farewell.PASSWORD_TIMEOUT))

    # Signing off

    def quit(self, reason: str | None = None) -> None:
        """The user leaves, with C{reason}, its own words, if it gave one."""
        if self.stage in (Stage.OVER, Stage.QUITTING):
            return
        self._sign_off(reason, from_user=True)
        if self._lookups is not None and self._lookups.busy:
            # What was asked before /quit is answered first (a script piping
            # "/history" then "/quit" wants the history); the lookups' own
            # timeout bounds the wait. Nothing more is read meanwhile.
            self.stage = Stage.QUITTING
            self._frontend.wait(True)
            self._lookups.when_done().addCallback(
                lambda _: self._hang_up(results.Goodbye(Farewell.QUIT))
            )
        else:
            self._hang_up(results.Goodbye(Farewell.QUIT))

    def _sign_off(self, reason: str | None, *, from_user: bool = False) -> None:
        participant, self.participant = self.participant, None
        if participant is not None:
            self._log.info(
                "{nick} left {room}{why}",
                nick=participant.nick,
                room=", ".join(room.name for room in participant.rooms),
                why=(f" (quit: {reason})" if from_user else f" ({reason})") if reason else "",
            )
            self._server.chat.sign_off(participant, reason, from_user=from_user)

    def _hang_up(self, last: Result) -> None:
        if self.stage is Stage.OVER:
            return
        self.stage = Stage.OVER
        self._stop_timers()
        held = b"" if self._lookups is None else self._lookups.drain()
        if held:
            self._frontend.send(held)
        self._frontend.hang_up(self._frontend.render(last))

    # Requests

    def perform(self, command: Command) -> Relayed | None:
        """
        Carry out what a signed-on user asked for; a refusal is shown, and
        changes nothing. Returns what was relayed, if anything was: a wire
        may echo it back (IRC's C{echo-message}).
        """
        me = self.participant
        if me is None or self.stage is not Stage.SIGNED_ON:
            return None
        try:
            return self._perform(me, command)
        except ChatError as e:
            self._show(results.Refused(str(e), e))
            return None

    def _perform(self, me: Participant, command: Command) -> Relayed | None:
        chat = self._server.chat
        match command:
            case commands.Say(
                text=said, room=name, notice=notice, tags=tags
            ):  # one pattern: the most said
                if name is not None:
                    room = chat.addressed(me, name)
                    return self._relayed(chat.say(me, said, room, notice=notice, tags=tags))
                if said.strip():
                    return self._relayed(chat.say(me, said, notice=notice, tags=tags))
            case commands.Me(text=action, room=None, tags=tags):
                return self._relayed(chat.act(me, action, tags=tags))
            case commands.Me(text=action, room=str(name), tags=tags):
                return self._relayed(chat.act(me, action, chat.addressed(me, name), tags=tags))
            case commands.Msg(nick=nick, text=said, notice=notice, tags=tags):
                private = chat.whisper(me, nick, said, notice=notice, tags=tags)
                recipient = chat.find(private.recipient)
                away = None if notice or recipient is None else recipient.away
                self._show(results.PrivateSent(private, away))
                return self._relayed(private)
            case commands.Tag(tags=tags, room=name):
                return chat.send_tags(me, tags, chat.addressed(me, name))
            case commands.TagMsg(nick=nick, tags=tags):
                return chat.whisper_tags(me, nick, tags)
            case commands.Away(reason=reason):
                chat.set_away(me, reason)
                self._show(results.Away(me.away))
            case commands.Enter(room=name, key=key):
                room = chat.join(me, name, self._server.clock.seconds(), key)
                self._log.info("{nick} joined {room}", nick=me.nick, room=room.name)
                self._entered(room)
            case commands.Leave(room=name, reason=reason):
                room = chat.part(me, name, reason)
                self._log.info("{nick} left {room}", nick=me.nick, room=room.name)
                self._show(results.Parted(room.name, reason or None))
            case commands.Nick(nick=nick):
                old = chat.rename(me, nick)
                self._log.info("{old} is now known as {new}", old=old, new=nick)
                self._show(results.Renamed(nick))
            case commands.Join(room=name, key=key):
                self._move(me, name, key)
            case commands.Part():
                if me.room is chat.lobby:
                    raise ChatError(f"you are in {chat.lobby.name}; /quit leaves the chat")
                self._move(me, chat.lobby.name)
            case commands.Who(room=name):
                room = me.room if name is None else self._visible_room(me, name)
                self._show(results.Members(room.name, tuple(room.nicks()), _away(room)))
            case commands.Rooms():
                self._show(results.room_list(r for r in chat.rooms() if r.visible_to(me)))
            case commands.History(lines=lines, capped=capped, room=None):
                if capped:
                    self._show(results.HistoryCapped(commands.HISTORY_MAX))
                self._look_up(me.room.name, lines)
            case commands.History(lines=lines, room=str(name), before=before, after=after):
                self._look_up(self._visible_room(me, name).name, lines, before=before, after=after)
            case commands.Search(words=words, room=None):
                self._look_up(me.room.name, SEARCH_RESULTS, words)
            case commands.Search(words=words, room=str(name)):
                self._look_up(self._visible_room(me, name).name, SEARCH_RESULTS, words)
            case commands.Help():
                self._show(results.Help())
            case commands.Quit(reason=reason):
                self.quit(reason)
            case commands.Topic(text=None, room=None):
                self._show(results.TopicShown(me.room.name, me.room.topic))
            case commands.Topic(text=None, room=str(name)):
                room = self._visible_room(me, name)
                self._show(results.TopicShown(room.name, room.topic))
            case commands.Topic(text=str(new_topic), room=name):
                room = me.room if name is None else chat.member_of(me, name)
                topic = chat.set_topic(me, new_topic, self._server.clock.seconds(), room)
                self._log.info(
                    "{nick} {did} the topic of {room}",
                    nick=me.nick,
                    did="set" if topic.text else "cleared",
                    room=room.name,
                )
                self._keep_room(room)
            case commands.Operator(nick=nick, room=name, given=given):
                changed = chat.set_operator(me, chat.member_of(me, name), nick, given)
                if changed is not None:
                    self._log.info(
                        "{by} {did} {nick} an operator of {room}",
                        by=me.nick,
                        did="made" if given else "no longer made",
                        nick=changed.nick,
                        room=changed.room,
                    )
            case commands.Voice(nick=nick, room=name, given=given):
                voiced = chat.set_voice(me, self._room_of(me, name), nick, given)
                if voiced is not None:
                    self._log.info(
                        "{by} {did} {nick} a voice in {room}",
                        by=me.nick,
                        did="gave" if given else "took away",
                        nick=voiced.nick,
                        room=voiced.room,
                    )
            case commands.Invite(nick=nick, room=name):
                room = me.room if name is None else chat.member_of(me, name)
                invited = chat.invite(me, room, nick)
                guest = chat.find(invited.nick)
                self._show(results.InviteSent(invited, None if guest is None else guest.away))
            case commands.Stats():
                if not me.operator:
                    raise NotAnOperator("see the server's statistics")
                self._show(self._server.statistics())
            case commands.Wall(text=text):
                chat.wall(me, text)
                self._log.info("{nick} sent a notice to everyone", nick=me.nick)
            case commands.Kick(nick=nick, reason=reason, room=name):
                # Server operators put users out of the chat, unless a room is
                # named (a wire where the room is explicit); a room's, out of the room.
                put_out: Kicked | Removed
                if me.operator and name is None:
                    put_out, did = chat.kick(me, nick, reason), "kicked {nick} from"
                else:
                    put_out = chat.remove(me, self._room_of(me, name), nick, reason)
                    did = "put {nick} out of"
                self._log.info(
                    "{by} " + did + " {room}{why}",
                    by=me.nick,
                    nick=put_out.nick,
                    room=put_out.room,
                    why=f" ({put_out.reason})" if put_out.reason else "",
                )
            case _:
                self._moderate(me, command)
        return None

    def _moderate(self, me: Participant, command: Command) -> None:
        """Accounts, registered rooms, modes, bans and mutes, and operators."""
        chat, registry = self._server.chat, self._server.registry
        match command:
            case commands.Register(password=password):
                self._register(me, password)
            case commands.ChangePassword(old=old, new=new):
                self._change_password(me, old, new)
            case commands.Unregister():
                self._unregister(me)
            case commands.GrantOperator(name=name, given=True):
                granted = chat.grant_operator(me, name)
                registry.save_operator(granted)
                self._log.info("{by} made {name} a server operator", by=me.nick, name=granted)
                self._show(results.OperatorGranted(granted))
            case commands.GrantOperator(name=name):
                revoked = chat.revoke_operator(me, name)
                registry.delete_operator(revoked)
                self._log.info("{by} made {name} no server operator", by=me.nick, name=revoked)
                self._show(results.OperatorGranted(revoked, given=False))
            case commands.RegisterRoom(room=name):
                room = self._room_of(me, name)
                chat.register_room(me, room)
                self._keep_room(room)
                self._log.info("{by} registered {room}", by=me.nick, room=room.name)
                self._show(results.RoomRegistered(room.name))
            case commands.UnregisterRoom(room=name):
                room = self._room_of(me, name)
                chat.unregister_room(me, room)
                registry.delete_room(room.name)
                self._log.info("{by} unregistered {room}", by=me.nick, room=room.name)
                self._show(results.RoomRegistered(room.name, registered=False))
            case commands.RankInRoom(account=account, rank=rank, room=name):
                room = self._room_of(me, name)
                named = chat.rank_in_room(me, room, account, rank)
                if named is not None:
                    self._keep_room(room)
                    self._log.info(
                        "{by} made {name} {rank} of {room}",
                        by=me.nick,
                        name=named,
                        rank=f"an {rank}" if rank else "neither owner nor operator",
                        room=room.name,
                    )
                registration = room.registration
                assert registration is not None
                rank_now = registration.rank(account)
                self._show(results.RoomRanked(room.name, account, rank_now, named is not None))
            case commands.RoomMode(changes=changes, room=name):
                room = self._room_of(me, name)
                changed = chat.set_modes(me, room, changes)
                if changed is not None:
                    self._log.info(
                        "{by} set {room} {modes}",
                        by=me.nick,
                        room=room.name,
                        # a key is the room's secret: not for the log
                        modes=" ".join(
                            ("+k" if c.mode == "k" and c.on else c.written())
                            for c in changed.changes
                        ),
                    )
                    self._keep_room(room)
            case commands.Sanction():
                self._sanction(me, command)
            case commands.Lift(kind=kind, mask=mask, chat_wide=chat_wide, room=name):
                scope = None if chat_wide else self._room_of(me, name)
                lifted = chat.lift(me, kind, mask, scope)
                if scope is None or scope.registration is not None:
                    registry.delete_sanction(kind, lifted.mask, lifted.room)
                log_lift(me.nick, lifted)
                self._show(results.SanctionLifted(lifted))
            case commands.ListSanctions(chat_wide=chat_wide, room=name):
                scope = None if chat_wide else self._room_of(me, name)
                found = chat.sanctions_in(me, scope)
                where = None if scope is None else scope.name
                self._show(results.SanctionList(where, tuple(found), chat.clock()))

    def _room_of(self, me: Participant, name: str | None) -> Room:
        """The room a request names, one C{me} is in; by default the one it joined last."""
        if name is not None:
            return self._server.chat.member_of(me, name)
        if not me.rooms:
            raise ChatError("you are in no room: name one")
        return me.room

    def _visible_room(self, me: Participant, name: str) -> Room:
        """The room called C{name}, unless it is secret and C{me} is outside it: then none."""
        room = self._server.chat.room(name)
        if not room.visible_to(me):
            raise NoSuchRoom(room.name)
        return room

    def _keep_room(self, room: Room) -> None:
        """Tell the registry how C{room} is now, if it is registered."""
        if room.registration is not None:
            self._server.registry.save_room(RoomRecord.of(room))

    def _sanction(self, me: Participant, command: commands.Sanction) -> None:
        chat = self._server.chat
        room = None if command.chat_wide else self._room_of(me, command.room)
        sanction, held = chat.sanction(
            me,
            command.kind,
            command.mask,
            room,
            duration=command.duration,
            reason=command.reason,
        )
        if room is None or room.registration is not None:
            self._server.registry.save_sanction(sanction)
        log_sanction(sanction, held)
        self._show(results.SanctionSet(sanction, tuple(held), sanction.set_at))

    # Accounts

    def _registrar(self) -> Registrar:
        registrar = self._server.registrar
        if registrar is None:
            raise RegistrationRefused(
                Problem.UNAVAILABLE, "accounts cannot be registered on this server"
            )
        return registrar

    def _register(self, me: Participant, password: str) -> None:
        registrar = self._registrar()
        if me.account is not None:
            raise RegistrationRefused(
                Problem.LOGGED_IN, f"you are logged in to the account {me.account.name} already"
            )
        if not registrar.open:
            raise RegistrationRefused(
                Problem.CLOSED, "registration is closed on this server: ask its operators"
            )
        problem = registrar.password_problem(password)
        if problem is not None:
            raise RegistrationRefused(Problem.WEAK_PASSWORD, problem)
        if self._server.chat.registered(me.nick) is not None:
            raise NicknameRegistered(me.nick)
        wait = registrar.wait_for(self._address)
        if wait:
            raise RegistrationRefused(
                Problem.TOO_MANY,
                "too many accounts registered from your address; "
                f"try again in {describe_duration(wait)}",
            )
        registrar.count(self._address)
        nick = me.nick
        self._frontend.wait(True)

        def hashed(hashed: str) -> None:
            if self.stage is Stage.OVER:
                return
            self._frontend.wait(False)
            if self.participant is not me or me.account is not None:
                return
            if fold(me.nick) != fold(nick) or self._server.chat.registered(nick) is not None:
                text = f"the nickname {nick} is not yours to register now"
                self._show(results.Refused(text, NicknameRegistered(nick)))
                return
            registrar.accounts.add(me.nick, hashed)
            registrar.registry.save_account(me.nick, hashed)
            me.account = Account(me.nick)
            self._log.info(
                "{peer} registered the account {account}",
                peer=self._frontend.peer,
                account=me.nick,
            )
            self._show(results.AccountRegistered(me.nick))

        registrar.hash(password.encode()).addCallbacks(hashed, self._cannot_hash)

    def _cannot_hash(self, failure: Failure) -> None:
        self._log.failure("Cannot hash a password", failure)
        if self.stage is not Stage.OVER:
            self._frontend.wait(False)
            text = "the password cannot be kept right now; try again later"
            self._show(results.Refused(text, RegistrationRefused(Problem.UNAVAILABLE, text)))

    def _own_account(self, me: Participant, registrar: Registrar) -> str:
        """The name of C{me}'s account, one made with /register (not of the configuration)."""
        if me.account is None:
            raise ChatError("you are not logged in to an account")
        name = registrar.accounts.account_for(me.account.name)
        if name is None:
            raise ChatError(
                f"the account {me.account.name} is kept by the server's configuration: "
                "ask its administrator"
            )
        return name

    def _change_password(self, me: Participant, old: str, new: str) -> None:
        registrar = self._registrar()
        name = self._own_account(me, registrar)
        problem = registrar.password_problem(new)
        if problem is not None:
            raise RegistrationRefused(Problem.WEAK_PASSWORD, problem)
        self._frontend.wait(True)

        def checked(matched: bool) -> Deferred[None] | None:
            if self.stage is Stage.OVER:
                return None
            if not matched:
                self._log.info(
                    "{peer} gave a wrong password to change that of {account}",
                    peer=self._frontend.peer,
                    account=name,
                )
                self._frontend.wait(False)
                self._show(results.Refused("that is not your password; nothing changed"))
                return None
            return registrar.hash(new.encode()).addCallback(hashed)

        def hashed(hashed: str) -> None:
            if self.stage is Stage.OVER:
                return
            self._frontend.wait(False)
            if registrar.accounts.account_for(name) is None:
                return
            registrar.accounts.add(name, hashed)
            registrar.registry.save_account(name, hashed)
            self._log.info("{account} changed its password", account=name)
            self._show(results.PasswordChanged(name))

        registrar.accounts.check(name, old.encode()).addCallback(checked).addErrback(
            self._cannot_hash
        )

    def _unregister(self, me: Participant) -> None:
        registrar = self._registrar()
        name = self._own_account(me, registrar)
        chat, registry = self._server.chat, self._server.registry
        registrar.accounts.remove(name)
        registry.delete_account(name)
        if chat.operators.pop(fold(name), None) is not None:
            registry.delete_operator(name)
        # Nobody who registers the name later inherits what it ran.
        for room in chat.rooms():
            registration = room.registration
            if registration is not None and registration.rank(name) is not None:
                registration.owners.pop(fold(name), None)
                registration.operators.pop(fold(name), None)
                self._keep_room(room)
        me.account = None
        self._log.info("{nick} deleted the account {account}", nick=me.nick, account=name)
        self._show(results.AccountDeleted(name))

    def _move(self, me: Participant, name: str, key: str | None = None) -> None:
        """
        To the room C{name} (with C{key}, if it has one), from the one it is
        in: one room at a time, as the line protocol.
        """
        old = me.room.name
        room = self._server.chat.move(me, name, now=self._server.clock.seconds(), key=key)
        self._log.info("{nick} left {old} for {new}", nick=me.nick, old=old, new=room.name)
        self._entered(room)

    def _relayed(self, event: _Relayed) -> _Relayed:
        """Keep room lines in the history; log every line, with C{--log-messages}."""
        if not isinstance(event, PrivateMessage):
            # A client's tags are for those it is said to, not kept (nor held in memory with it).
            self._server.history.record(attrs.evolve(event, tags=()) if event.tags else event)
        self._server.traffic.relayed[_kind(event)] += 1
        if self._server.log_messages:
            self._log.info("{line}", line=self._server.log_line(event))
        return event

    def _entered(self, room: Room) -> None:
        """
        What one is told on entering C{room}: who is there (unless there are
        too many to list), its topic, then what was said there lately.
        """
        limit = self._server.chat.announce_limit
        if limit and len(room) > limit:
            self._show(results.Entered(room.name, len(room), None, room.topic))
        else:
            members = tuple(room.nicks())
            self._show(results.Entered(room.name, len(room), members, room.topic, _away(room)))
        if self._server.replay:
            self._look_up(room.name, self._server.replay, joining=True)

    def _look_up(
        self,
        room: str,
        lines: int,
        words: Sequence[str] | None = None,
        *,
        joining: bool = False,
        before: float | None = None,
        after: float | None = None,
    ) -> None:
        """Show the answer to a lookup when it comes; what is shown meanwhile waits for it."""
        lookups = self._lookups
        if lookups is not None and lookups.full:
            self._show(results.Refused("too many history lookups at once; wait for their answers"))
            return
        self._frontend.charge(LOOKUP_COST - 1)
        history = self._server.history
        if before is not None or after is not None:
            # The store answers a room's latest lines; those before or after a
            # time are among the latest HISTORY_MAX, or are not shown (IRC's
            # CHATHISTORY BEFORE, and LATEST after a time).
            low = float("-inf") if after is None else after
            high = float("inf") if before is None else before
            found = history.recent(room, commands.HISTORY_MAX).addCallback(
                lambda got: [line for line in got if low < line.when < high][-lines:]
            )
        elif words is None:
            if lookups is None or not lookups.busy:
                kept = history.cached(room, lines)
                if kept is not None:  # in memory: shown now, with nothing to hold
                    self._show(results.HistoryFound(room, kept, None, joining))
                    return
            found = history.recent(room, lines)
        else:
            found = history.search(room, words, lines)
        late = self._frontend.render(results.HistoryUnavailable(room))
        render = self._frontend.render
        search = None if words is None else tuple(words)

        def show(lines: list[Line]) -> bytes:
            return render(results.HistoryFound(room, tuple(lines), search, joining))

        def failed(failure: Failure) -> bytes:
            if failure.check(HistoryError):
                return render(results.Refused(failure.getErrorMessage()))
            self._log.failure("History lookup failed", failure)
            return late

        answer: Deferred[bytes] = found.addCallback(show).addErrback(failed)
        if lookups is None:
            # Bound methods, not a closure: a closure costs each connection twice as much.
            lookups = self._lookups = Lookups(
                self._frontend.send, self._server.clock, idle=self._released
            )
        self._frontend.holding(True)
        lookups.start(Lookup(answer, late))

    def _show(self, result: Result) -> None:
        self.output(self._frontend.render(result))


def _kind(event: Message | Action | PrivateMessage) -> str:
    """What L{chatsvc.streams.traffic.Traffic.relayed} counts C{event} as."""
    if isinstance(event, Action):
        return "action"
    if event.notice:
        return "notice"
    return "private" if isinstance(event, PrivateMessage) else "message"


_log = Logger()


_LOGGED = {
    SanctionKind.BAN: "banned",
    SanctionKind.MUTE: "muted",
    SanctionKind.EXCEPTION: "excepted from bans and mutes",
    SanctionKind.INVITATION: "let in uninvited",
}


def log_sanction(sanction: Sanction, held: Sequence[str]) -> None:
    """One line in the log for a ban or mute set: who, whom, where, why, until when."""
    _log.info(
        "{by} {did} {mask} in {where} {until}{why}{held}",
        by=sanction.by,
        did=_LOGGED[sanction.kind],
        mask=str(sanction.mask),
        where=sanction.where,
        until="for good" if sanction.until is None else f"until {describe_time(sanction.until)}",
        why=f" ({sanction.reason})" if sanction.reason else "",
        held=f"; it holds for {', '.join(held)}" if held else "",
        sanction=sanction,
    )


def log_lift(by: str, lifted: Sanction) -> None:
    """One line in the log for a ban or mute lifted: by whom, of what, where."""
    _log.info(
        "{by} lifted the {kind} of {mask} in {where}",
        by=by,
        kind=lifted.kind.value,
        mask=str(lifted.mask),
        where=lifted.where,
    )


def _away(room: Room) -> tuple[str, ...]:
    """The nicknames of those in C{room} who are away, sorted as L{Room.nicks}."""
    return tuple(sorted((p.nick for p in room if p.away is not None), key=fold))


class TrafficCounts(Protocol):
    """What sessions count of the server's traffic (L{chatsvc.streams.traffic.Traffic} has it)."""

    sign_ons: Counter[type]
    relayed: Counter[str]
    login_failures: int


class SessionServer(Protocol):
    """What sessions share: the chat and what serves it."""

    chat: Chat
    portal: Portal | None
    history: IHistory
    clock: IReactorTime
    login_timeout: float
    password_delay: float
    replay: int
    log_messages: bool
    registry: IRegistry
    """Where accounts, registered rooms, sanctions and operators are kept."""
    registrar: Registrar | None
    """Who may register accounts (C{/register}), or L{None}: nobody."""

    @property
    def traffic(self) -> TrafficCounts:
        """What the server counts of its traffic."""

    def session_of(self, participant: Participant) -> Session:
        """The session of C{participant}, one of this server's."""

    def log_line(self, event: Message | Action | PrivateMessage) -> str:
        """How the log shows a relayed message (C{--log-messages})."""

    def statistics(self) -> results.Statistics:
        """The server's statistics now (C{/stats})."""
