"""C{python -m chatsvc.gui}: the same as C{chatsvc-gui}."""

from chatsvc.gui.app import main

main()
