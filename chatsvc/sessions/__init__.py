"""
Sessions: one user's life on the chat, from connecting to hanging up, the
same on every wire. A frontend parses its wire into requests for its
L{chatsvc.sessions.session.Session}, and renders what the session shows
(L{chatsvc.sessions.results}) back onto it.
"""
