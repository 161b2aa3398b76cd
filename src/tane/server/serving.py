"""Running the app under uvicorn: one process, or several workers on one socket.

With ``--workers N`` uvicorn binds the listening socket itself with ``proto``
0; the sockets it accepts inherit that, and asyncio then never sets
TCP_NODELAY on them (uvicorn issue #3149), so every keep-alive request after
the first waits ~40 ms on Nagle's algorithm and the client's delayed ACK.
:class:`NoDelayConfig` declares the protocol on the socket, which restores it.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

#: The app factory every worker imports.
FACTORY = "tane.server.app:app_from_env"


def tcp_socket(sock: socket.socket) -> socket.socket:
    """Return ``sock`` re-wrapped with ``proto=IPPROTO_TCP`` if it is an IP stream socket."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto != 0:
        return sock
    fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    fixed.set_inheritable(True)
    return fixed


class NoDelayConfig(uvicorn.Config):
    """uvicorn's Config whose listening socket says it is TCP (see the module doc)."""

    def bind_socket(self) -> socket.socket:
        return tcp_socket(super().bind_socket())


def serve(workers: int, **options: Any) -> None:
    """Serve the app ``app_from_env`` builds with ``workers`` processes.

    Args:
        workers: 1 runs the app in this process; more start a supervisor.
        **options: uvicorn settings (host, port, ssl_keyfile, ssl_certfile).
    """
    if workers == 1:
        from tane.server.app import app_from_env

        uvicorn.run(app_from_env(), **options)
        return
    config = NoDelayConfig(FACTORY, factory=True, workers=workers, **options)
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
