"""A real tane server for tests: uvicorn on a free port of 127.0.0.1, in a thread.

    with LiveServer(store=my_store) as server:
        client = RestStore(server.url)

The app is built by :func:`tane.server.create_app`; ``serve`` swaps the store
behind a running server (one server per test module, a fresh store per test).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

from tane.tracking.stores.base import Store


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A uvicorn server in a background thread.

    Args:
        store: The store to serve (None: serve nothing until ``serve`` is called).
        app: An app to serve instead of a new ``create_app`` (e.g. one with auth).
        port: The port (default: a free one).
        **app_options: Passed to ``create_app`` when ``app`` is None.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        app: Any = None,
        port: int | None = None,
        **app_options: Any,
    ) -> None:
        import uvicorn

        from tane.server import create_app

        if app is None:
            app = create_app(store_uri="unused://", store=store, **app_options)
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        """Start serving; return once uvicorn accepts connections (10 s at most)."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"uvicorn stopped while starting on port {self.port}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port} within 10 s")
            time.sleep(0.01)
        return self

    def serve(self, store: Store) -> None:
        """Serve ``store`` from now on."""
        from tane.server.app import StoreHolder

        self.app.state.store_holder = StoreHolder(store=store)

    def stop(self) -> None:
        """Stop serving and wait for the thread (10 s at most)."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
