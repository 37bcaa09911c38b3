"""
The IRC frontend: IRC clients (irssi, WeeChat, HexChat, bots) on the same
chat as the line protocol, through the same sessions and stream connections.

test-case-name: tests.frontends.irc
"""
