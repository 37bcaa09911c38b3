"""C{python -m chatsvc.client}: the same as C{chatsvc-client}."""

from chatsvc.client.cli import main

main()
