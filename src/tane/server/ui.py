"""The web UI: the built bundle in ``static/``, served beside the API.

``/assets/...`` are the bundle's hashed files; every other GET that is not the
API, health or login answers ``index.html``, and the UI's router shows the view
the path names (so a copied link opens the same view). The bundle is built from
``web/`` and committed, so ``pip install`` gives a working UI without Node.js.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

#: Where ``npm run build`` in ``web/`` writes the bundle.
STATIC = Path(__file__).parent / "static"
#: Paths the UI never answers: the API and the server's own pages.
_NOT_UI = ("api/", "health", "ready", "login", "logout")

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tane</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto">
<h1>tane</h1>
<p>The server is running (the API is at <a href="/api/v1/docs">/api/v1/docs</a>), but
this installation has no built web UI: <code>src/tane/server/static/index.html</code> is
missing. Build it with <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>,
or install tane from a release, which ships it.</p>
</body></html>
"""


def mount_ui(app: FastAPI, static: Path = STATIC) -> None:
    """Serve the UI bundle in ``static`` from ``app`` (call after the API routes)."""
    assets = static / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")
    index = static / "index.html"
    top_files = {p.name for p in static.iterdir() if p.is_file()} if static.is_dir() else set()

    @app.get("/{path:path}", include_in_schema=False)
    def page(path: str) -> Response:
        if path.startswith(_NOT_UI):
            raise StarletteHTTPException(404, f"no route {path!r}")
        if path in top_files and path != "index.html":
            return FileResponse(static / path)  # favicon.svg and the like
        if not index.is_file():
            return HTMLResponse(_MISSING, status_code=503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
