"""
The programs from Debian packages that some tests run for real, and their
installation: the test command installs what it needs itself, so a clean
machine runs every test and none is skipped.

When the suite starts (L{install_missing}, from C{tests/conftest.py}), every
program in L{PROGRAMS} that is not on the machine is installed with
C{apt-get}, if the suite runs as root on a machine that has it; services a
package would start on installing are not started (C{policy-rc.d}). Where
that cannot be done, the tests that need the program fail and say which
package to install: they are never skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

PROGRAMS: dict[str, str] = {
    # program: the Debian package it is in
    "inspircd": "inspircd",  # a peer in the benchmark harness's IRC tests
    "ngircd": "ngircd",
    "chromium": "chromium",  # the web client's tests run in a real browser
    "chromedriver": "chromium-driver",  # which Selenium drives
    "nc": "netcat-openbsd",  # a line-protocol user beside the browsers
    "tmux": "tmux",  # the terminal client in a real terminal emulator
    "Xvfb": "xvfb",  # the X server the desktop client's window runs on in its tests
    "redis-server": "redis-server",  # the cluster's presence and pub/sub (tests.servers)
    "systemd-socket-activate": "systemd",  # the socket units' test
}

FILES: dict[str, str] = {
    # a file some test builds with: the Debian package it is in
    "/usr/include/openssl/sha.h": "libssl-dev",  # the load generator's WebSocket handshake
    # the emoji of the desktop client's window, in its tests and screenshots
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf": "fonts-symbola",
}

VERSIONED: dict[str, str] = {
    # a program in a directory named by its version (the newest is used): its Debian package
    "/usr/lib/postgresql/*/bin/postgres": "postgresql",  # the shared history (tests.servers)
}

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
"""Where programs are looked for: daemons live in the C{sbin} directories, off a user's PATH."""

POLICY = Path("/usr/sbin/policy-rc.d")
"""What tells a package's scripts not to start its service (exit status 101)."""


def find(program: str) -> str | None:
    """The path of C{program}, or L{None} if it is not installed."""
    return shutil.which(program, path=SEARCH_PATH)


def find_versioned(pattern: str) -> str | None:
    """The newest program matching the L{VERSIONED} C{pattern}, or L{None} if none is installed."""
    found = [Path(p) for p in glob.glob(pattern) if os.access(p, os.X_OK)]
    if not found:
        return None
    return str(max(found, key=lambda p: [int(n) if n.isdigit() else 0 for n in p.parts]))


def missing(programs: Iterable[str] = PROGRAMS) -> list[str]:
    """The packages of C{programs}, L{FILES} and L{VERSIONED} that are not installed."""
    wanted = {PROGRAMS[p] for p in programs if find(p) is None}
    wanted |= {package for path, package in FILES.items() if not Path(path).exists()}
    wanted |= {package for path, package in VERSIONED.items() if find_versioned(path) is None}
    return sorted(wanted)


def install_missing() -> str | None:
    """
    Install the packages of the programs missing; L{None} if all are there
    now, else why not, for the tests that need them to say.
    """
    packages = missing()
    if not packages:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"not installed: {', '.join(packages)} (apt-get install them, as root)"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    made_policy = not POLICY.exists()
    if made_policy:
        POLICY.write_text("#!/bin/sh\nexit 101\n")
        POLICY.chmod(0o755)
    try:
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
        if (
            subprocess.run(install, check=False, env=environment, capture_output=True).returncode
            != 0
        ):
            subprocess.run(
                ["apt-get", "update", "-q"], check=False, env=environment, capture_output=True
            )
            done = subprocess.run(
                install, check=False, env=environment, capture_output=True, text=True
            )
            if done.returncode != 0:
                return f"apt-get install {' '.join(packages)} failed: {done.stderr.strip()[-500:]}"
    finally:
        if made_policy:
            POLICY.unlink()
    left = missing()
    return f"still not installed: {', '.join(left)}" if left else None


def require(program: str, why_not: str | None) -> str:
    """The path of C{program}, for a test that needs it; fails the test (never skips) if absent."""
    import pytest

    path = find(program)
    if path is None:
        pytest.fail(
            f"{program} is needed here: {why_not or 'apt-get install ' + PROGRAMS[program]}"
        )
    return path
