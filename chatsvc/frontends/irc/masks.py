"""
IRC's ban masks and the chat's (L{chatsvc.chat.sanctions.Mask}), both ways.

IRC bans C{nick!user@host}; the chat bans a nickname pattern, an account, or
an address (an IPv4/IPv6 network). So C{nick!*@*} (or a bare C{nick}) is a
nickname pattern, C{*!*@192.0.2.0/24} an address, and the extban
C{a:ACCOUNT} an account (C{$a:} and InspIRCd's C{R:} are read as C{a:}).
The extban C{m:MASK} is a mute of C{MASK}, InspIRCd's and ergo's way: it is
listed with the bans (C{MODE #room +b}), as they list it. What the chat
cannot express (an ident, a host name, a nickname and an address at once)
is refused, with why.

test-case-name: tests.frontends.irc.test_masks
"""

from __future__ import annotations

import ipaddress

from chatsvc.chat.sanctions import Mask, MaskKind, SanctionKind

EXTBAN = ",am"
"""ISUPPORT C{EXTBAN}: no prefix; C{a:} (account), C{m:} (mute)."""

_ACCOUNT_PREFIXES = ("a:", "$a:", "r:")
_MUTE_PREFIX = "m:"


def parse_ban(text: str) -> tuple[SanctionKind, Mask]:
    """
    The sanction an IRC ban mask asks for: a ban, or (C{m:}) a mute, of
    whom; L{ValueError} with a message for the user if it names nobody the
    chat can tell apart.
    """
    kind = SanctionKind.BAN
    if text[:2].lower() == _MUTE_PREFIX:
        kind, text = SanctionKind.MUTE, text[2:]
    return kind, parse_mask(text)


def parse_mask(text: str) -> Mask:
    """The chat's mask of an IRC mask (no C{m:}), or L{ValueError} saying why there is none."""
    lowered = text.lower()
    for prefix in _ACCOUNT_PREFIXES:
        if lowered.startswith(prefix):
            return Mask.parse(f"account:{text[len(prefix) :]}")
    if "!" not in text and "@" not in text:
        if is_address(text):
            return Mask.parse(text)
        return Mask.parse(f"nick:{text}")
    nick, _, rest = text.partition("!")
    user, at, host = rest.partition("@")
    if not at and "@" in nick:  # nick@host
        nick, _, host = nick.partition("@")
        user = "*"
    if user.lstrip("~") not in ("*", ""):
        raise ValueError(f"{text[:60]}: idents are not checked here; use *!*@ADDRESS or a:ACCOUNT")
    host = host or "*"
    if host == "*":
        return Mask.parse(f"nick:{nick or '*'}")
    if nick not in ("*", ""):
        raise ValueError(f"{text[:60]}: ban a nickname (nick!*@*) or an address (*!*@ADDRESS)")
    if not is_address(host):
        raise ValueError(
            f"{text[:60]}: hosts are hidden here; ban an address or network (*!*@192.0.2.0/24)"
        )
    return Mask.parse(host)


def is_address(text: str) -> bool:
    """Whether C{text} is an IP address or network."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


LIST_MODES = {
    SanctionKind.BAN: "b",
    SanctionKind.MUTE: "b",
    SanctionKind.EXCEPTION: "e",
    SanctionKind.INVITATION: "I",
}
"""The channel mode of each kind of sanction's list: mutes are C{m:} bans."""


def irc_mask(kind: SanctionKind, mask: Mask) -> str:
    """How IRC writes C{mask}: C{nick!*@*}, C{*!*@10.0.0.0/8}, C{a:alice}; C{m:...} for mutes."""
    match mask.kind:
        case MaskKind.NICK:
            written = f"{mask.pattern}!*@*"
        case MaskKind.ADDRESS:
            written = f"*!*@{mask.pattern}"
        case _:
            written = f"a:{mask.pattern}"
    return f"{_MUTE_PREFIX}{written}" if kind is SanctionKind.MUTE else written
