"""plotly.js (its cartesian bundle, vendored: app/web/render/templating.py PLOTLY_URL) served gzipped.

The 1.5 MB file is gzipped once per process (about 0.5 MB) and kept in memory, rather than
compressed again for every client by the gzip middleware; its URL carries the version, so
browsers cache it for a year.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from app.settings import Settings, get_settings
from app.web.render.templating import PLOTLY_URL, plotly_js_path

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _gzipped(path: str, mtime_ns: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


@router.api_route(PLOTLY_URL, methods=["GET", "HEAD"])
def plotly_js(request: Request, settings: Settings = Depends(get_settings)) -> Response:  # noqa: B008
    path = plotly_js_path()
    headers = {"Cache-Control": f"public, max-age={settings.static_max_age}, immutable", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = _gzipped(str(path), path.stat().st_mtime_ns)
        return Response(body, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(path, media_type="text/javascript", headers=headers)
