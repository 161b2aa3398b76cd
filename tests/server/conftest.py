"""An in-process client of the server app (httpx over ASGI, no sockets)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from tane.server import create_app
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store


class ApiClient:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))``.

    Starlette's TestClient warns when used with httpx (warnings are errors here),
    so each request runs the ASGI app in its own event loop instead.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://tane.test") as c:
                return await c.request(method, url, **kwargs)

        return anyio.run(send)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A fresh SQLite store in tmp_path."""
    return open_store(str(tmp_path / "store"))


@pytest.fixture
def make_client() -> Callable[[FastAPI], ApiClient]:
    """Return a function that makes an in-process client of an app."""
    return ApiClient


@pytest.fixture
def client(store: Store) -> ApiClient:
    """A client of an app serving ``store``."""
    return ApiClient(create_app(store=store))
