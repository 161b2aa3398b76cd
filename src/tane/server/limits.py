"""Request body limits: a request larger than allowed gets 413, never a full read.

A JSON body (run searches, log batches) is bounded by ``max_body``; an artifact
upload (``PUT .../artifacts/...``) by ``max_upload``. A declared Content-Length
over the limit is refused before anything is read; a chunked body is counted as
it streams and refused the moment it passes the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Default limit of a JSON request body (TANE_SERVER_MAX_BODY, bytes).
MAX_BODY = 32 * 1024 * 1024
#: Default limit of one artifact upload (TANE_SERVER_MAX_UPLOAD, bytes).
MAX_UPLOAD = 8 * 1024 * 1024 * 1024


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


class PayloadTooLarge(HTTPException):
    """The request body is larger than the server accepts (413)."""

    def __init__(self, limit: int, what: str, setting: str) -> None:
        super().__init__(
            413,
            f"the {what} is larger than this server accepts ({_size(limit)}); "
            f"send less per request, or start the server with a larger {setting}",
        )


class BodyLimit:
    """ASGI middleware enforcing the body limits."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD):
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and "/artifacts/" in scope["path"]
        if upload:
            limit, what, setting = self.max_upload, "artifact upload", "TANE_SERVER_MAX_UPLOAD"
        else:
            limit, what, setting = self.max_body, "request body", "TANE_SERVER_MAX_BODY"
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, PayloadTooLarge(limit, what, setting))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(limit, what, setting)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, exc: PayloadTooLarge) -> None:
    import json

    body = json.dumps({"error": {"type": "PayloadTooLarge", "message": exc.detail}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
