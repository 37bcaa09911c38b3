"""
The line protocol: plain UTF-8 lines, nickname first, that C{nc} or C{telnet}
speaks as well as C{chatsvc-client}: the protocol and its factory
(L{chatsvc.frontends.line.server}) and the format of its lines
(L{chatsvc.frontends.line.wire}).
"""
