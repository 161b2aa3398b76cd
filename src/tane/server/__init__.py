"""The tane team server: the store's methods over HTTP under ``/api/v1``.

Importing this package loads FastAPI; ``tane`` and ``tane.cli`` import it only
inside the ``tane server`` command. Start one with ``tane server --store URI``
or build the ASGI app with :func:`create_app`.
"""

from __future__ import annotations

from tane.server.app import STORE_ENV, app_from_env, create_app

__all__ = ["STORE_ENV", "app_from_env", "create_app"]
