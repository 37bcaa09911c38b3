"""
The wires the chat is served on. Each frontend parses its wire into what users
ask for, and renders what the chat says back onto it; the line protocol
(L{chatsvc.frontends.line}) is the first.
"""
