"""Is a host on the internet reachable from here? For cells that talk to public registries.

Such cells are optional: without internet they print one visible "Skipped" line
instead of failing, like the Docker and cluster cells do. CKALAB_OFFLINE=1 makes
every check answer "offline" without trying (for CI runs that must not depend on
Docker Hub being up).
"""

from __future__ import annotations

import os
import socket
import threading

from .checks import Notice, show


def offline_forced() -> bool:
    return os.environ.get("CKALAB_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def online(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True if a TCP connection to host:port opens within `timeout` seconds (DNS lookup included)."""
    if offline_forced():
        return False
    outcome: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(True)
        except OSError:  # DNS failure, refused, unreachable, timed out
            outcome.append(False)

    # A thread bounds the DNS lookup too, which create_connection's timeout does not cover.
    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return bool(outcome and outcome[0])


def requires_internet(host: str, what: str = "this cell", port: int = 443, timeout: float = 3.0) -> bool:
    """True if `host` is reachable; otherwise print one "Skipped" line and return False."""
    if online(host, port, timeout):
        return True
    reason = "CKALAB_OFFLINE is set" if offline_forced() else f"{host}:{port} is not reachable from this machine"
    show(Notice(f"{what} needs internet ({reason}). It runs as it is on a machine that can reach {host}."))
    return False
