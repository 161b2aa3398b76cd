"""JSON from an HTTP API (Kedro's ``api.APIDataset``), load only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets._storage import secrets_of
from tane.pipeline.datasets.base import Dataset

_REQUEST_ARGS = frozenset(
    {"params", "headers", "json", "data", "content", "cookies", "auth", "timeout", "files"}
)
_CLIENT_ARGS = frozenset({"verify", "cert", "proxy", "follow_redirects", "trust_env"})
_USERINFO = re.compile(r"(://)[^/@\s]*@")


class APIDataset(Dataset):
    """The parsed JSON body of an HTTP request (made with httpx at each load).

    Args:
        url: The endpoint.
        method: The HTTP method (default ``GET``).
        load_args: ``params``, ``headers``, ``json``, ``data``, ``cookies``,
            ``timeout`` (seconds, default 60) go to the request; ``verify``,
            ``cert``, ``proxy``, ``follow_redirects`` (default true) to the client.
        credentials: ``[user, password]`` or ``{username, password}`` for basic
            auth, ``{token: ...}`` for a bearer token, or ``{headers: {...}}``;
            never shown.
        layer: The catalog's layer.
        metadata: Free-form, ignored.
        name: The catalog name, for messages.

    A status other than 2xx, a network failure or a body that is not JSON is a
    DatasetError. ``exists()`` makes the request for ``GET`` and is True for other
    methods without calling them (they may change something).
    """

    type_name: ClassVar[str] = "api.APIDataset"

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        load_args: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | list[str] | tuple[str, str] | None = None,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(layer=layer, metadata=metadata, name=name)
        self._secrets = secrets_of(credentials, {"headers": (load_args or {}).get("headers")})
        self._url = str(url)
        self._method = str(method).upper()
        if not isinstance(url, str) or "://" not in url:
            raise DatasetError(f"{self._label()}: url must be an http(s) URL, not {url!r}")
        args = dict(load_args or {})
        unknown = sorted(set(args) - _REQUEST_ARGS - _CLIENT_ARGS)
        if unknown:
            raise DatasetError(
                f"{self._label()}: unknown load_args {', '.join(unknown)}; use "
                f"{', '.join(sorted(_REQUEST_ARGS | _CLIENT_ARGS))}"
            )
        self._request = {k: v for k, v in args.items() if k in _REQUEST_ARGS}
        self._request.setdefault("timeout", 60)
        self._client = {k: v for k, v in args.items() if k in _CLIENT_ARGS}
        self._client.setdefault("follow_redirects", True)
        self._apply_credentials(credentials)

    def _apply_credentials(self, credentials: Any) -> None:
        if credentials is None:
            return
        if isinstance(credentials, list | tuple) and len(credentials) == 2:
            self._request["auth"] = (str(credentials[0]), str(credentials[1]))
            return
        if isinstance(credentials, Mapping):
            headers = dict(self._request.get("headers") or {})
            if "username" in credentials:
                self._request["auth"] = (
                    str(credentials["username"]),
                    str(credentials.get("password", "")),
                )
            if "token" in credentials:
                headers["Authorization"] = f"Bearer {credentials['token']}"
            headers.update(credentials.get("headers") or {})
            if headers:
                self._request["headers"] = headers
            if {"username", "token", "headers"} & set(credentials):
                return
        raise DatasetError(
            f"{self._label()}: credentials must be [user, password], "
            "{username, password}, {token} or {headers}"
        )

    def _shown_url(self) -> str:
        return _USERINFO.sub(r"\1", self._url)

    def _where(self) -> str:
        return f"{self._method} {self._shown_url()}"

    def _send(self) -> Any:
        import httpx

        with httpx.Client(**self._client) as client:
            return client.request(self._method, self._url, **self._request)

    def load(self) -> Any:
        import httpx

        try:
            response = self._send()
        except httpx.HTTPError as exc:
            self._fail("request failed", exc)
        if not response.is_success:
            raise DatasetError(
                f"{self._label()}: the server answered {response.status_code} "
                f"{response.reason_phrase}"
            )
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content-type")
            raise DatasetError(f"{self._label()}: the response is not JSON ({kind})") from None

    def save(self, data: Any) -> None:
        raise DatasetError(f"{self._label()}: an API dataset is load-only")

    def exists(self) -> bool:
        if self._method != "GET":
            return True
        import httpx

        try:
            return bool(self._send().is_success)
        except httpx.HTTPError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"url": self._shown_url(), "method": self._method}
