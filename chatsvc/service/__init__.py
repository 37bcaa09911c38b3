"""
C{twistd chat}: the options and the service that wires the chat, its
frontends, its history and its accounts together (L{chatsvc.service.tap}).
"""
