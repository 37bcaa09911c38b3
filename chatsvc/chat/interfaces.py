"""
The seams between the chat model and what surrounds it.

The model only ever talks to an :class:`IChatClient`; the line protocol is one
implementation, and any other frontend (a WebSocket, another wire format) is
another, without the model changing. It learns which nicknames are registered
from an :class:`IAccountNames` (a password file, any C{--auth} checker), and
who a registered user is from the :class:`IAccount` avatar that
L{twisted.cred}'s portal hands out after a login.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from chatsvc.chat.events import Event, Kicked


class IChatClient(Interface):
    """Someone connected to the chat, as the model sees them."""

    takes_tags = Attribute(
        """
        Whether this client is shown what carries client tags alone
        (L{chatsvc.chat.events.TagMessage}, IRC's C{TAGMSG}): C{True} on
        wires that carry tags (IRC with C{message-tags}), C{False} on others.
        """
    )

    def deliver(event: Event) -> None:
        """
        Show C{event} to this client.

        Called from the reactor thread. Events said to a whole room go
        through the chat's L{chatsvc.chat.model.Chat.fan_out}, which calls this
        once per member unless the frontend gave the chat a fan-out of its
        own, one that formats each event once for all of them (as
        L{chatsvc.frontends.line.server.ChatFactory.fan_out} does). It must not call back
        into the model: the model may be part-way through a room.
        """

    def kicked(event: Kicked) -> None:
        """
        This client was kicked out (C{event.nick} is its nickname): tell the
        user C{event}, and disconnect.

        The model has already signed the participant off and told its room;
        like L{deliver}, this must not call back into the model.
        """


class IAccount(Interface):
    """
    A registered user who has logged in: the avatar a
    L{twisted.cred.portal.Portal} returns for chat.
    """

    name = Attribute("The account's name, as registered (C{str}).")
    operator = Attribute("Whether this account may moderate (C{bool}).")


class IAccountNames(Interface):
    """Which nicknames belong to registered accounts."""

    def account_for(nick: str) -> str | None:
        """
        The name of the account C{nick} is registered to, spelled as it was
        registered, or L{None} if nobody registered it. Names compare without
        regard to case, as nicknames do.
        """
