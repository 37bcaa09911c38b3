from twisted.application.service import ServiceMaker

from chatsvc.accounts import PasswordFileCheckerFactory

chat = ServiceMaker(
    "chatsvc",
    "chatsvc.service.tap",
    "A multi-room chat server with a line protocol that works from nc or telnet",
    "chat",
)

passwords = PasswordFileCheckerFactory()
