"""
The chat: rooms, members and nicknames, the rules between them, the events
they make, and the commands users give. No I/O and no Twisted networking:
everything here is tested on its own (L{chatsvc.chat.model}).
"""
