"""
C{chatsvc-client}, the terminal client: reading server lines, the connection
and the session that outlives it (L{chatsvc.client.session}), the interactive
terminal (L{chatsvc.client.terminal}), TLS (L{chatsvc.client.tls}), and the
command line (L{chatsvc.client.cli}).
"""
