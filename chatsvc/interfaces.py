"""
The seam between the chat model and its frontends.

The model only ever talks to an :class:`IChatClient`; the line protocol is one
implementation, and any other frontend (a WebSocket, another wire format) is
another, without the model changing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from chatsvc.model import Event


class IChatClient(Interface):
    """Someone connected to the chat, as the model sees them."""

    def deliver(event: Event) -> None:
        """
        Show C{event} to this client.

        Called from the reactor thread, once per recipient of the same event
        object; a frontend that renders events should cache the rendering of
        the last event it saw (see L{chatsvc.wire.render}). It must not call
        back into the model: the model may be part-way through a room.
        """
