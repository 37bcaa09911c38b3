"""
The web frontend: a L{twisted.web} site serving the web client, the
WebSocket protocol of C{docs/websocket.md} at C{/ws}, and shared files at
C{/files/}, over the session core.

test-case-name: tests.frontends.web
"""
