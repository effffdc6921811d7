"""Jinja2 templates, the full-page-or-partial rule, and cache-busting static URLs.

Every template opens with a one-line comment naming the context it needs. Globals
available to all templates: ``static_url``, ``data_url``, ``vendor``, ``labs``, ``product``.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.paths import STATIC, TEMPLATES
from app.web.nav import LABS
from app.web.render.numbers import link_text, power_text, prose_text

PRODUCT = "Backprop Lens"

_DICT_ATTRIBUTES = frozenset(dir(dict))


class LensEnvironment(jinja2.Environment):
    """Jinja's environment, with ``{{ d.key }}`` on a dict read as the key without raising first.

    The views hand templates dicts (a node, a row, a cell), and Jinja reads ``d.key`` as ``getattr(d, "key")``,
    then, on the AttributeError, ``d["key"]``: one exception raised and caught per dotted name, thousands an edit.
    Here a plain dict's key is read straight away, unless the name is one of dict's own attributes (``d.items``),
    which Jinja prefers: the same value, or the same undefined, as Jinja's own rule (0.6–2 ms of 12–28 ms of
    server time an edit, measured on five labs' presets)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


templates = Jinja2Templates(env=LensEnvironment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                                autoescape=jinja2.select_autoescape()))


PLOTLY_VERSION = "4.1.1"  # plotly.js, its cartesian bundle: package.json, scripts/vendor.sh
PLOTLY_FILE = STATIC / "vendor" / f"plotly-cartesian-{PLOTLY_VERSION}" / "plotly-cartesian.min.js"
PLOTLY_URL = f"/static/vendor/plotly-cartesian-{PLOTLY_VERSION}/plotly-cartesian.min.js"


def plotly_js_path() -> Path:
    """plotly.js's cartesian bundle (every 2-D trace type: all the figures here use; a third of the full
    plotly.min.js), vendored like htmx and KaTeX; served gzipped once by app/web/pages/assets.py."""
    return PLOTLY_FILE


VENDOR = {
    "htmx": "/static/vendor/htmx-2.0.11/htmx.min.js",
    "katex_js": "/static/vendor/katex-0.19.1/katex.min.js",
    "katex_css": "/static/vendor/katex-0.19.1/katex.min.css",
    "plotly": PLOTLY_URL,
    "swagger_js": "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js",
    "swagger_css": "/static/vendor/swagger-ui-5.35.0/swagger-ui.css",
}


@lru_cache(maxsize=256)
def _content_hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: the URL changes with the file, so it may be cached for a year.

    The hash is keyed by the file's mtime and size, so an edited file gets a new URL
    without restarting the server.
    """
    path = path.lstrip("/")
    file = STATIC / path
    try:
        stat = file.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"static_url: no file static/{path}") from None
    return f"/static/{path}?v={_content_hash(str(file), stat.st_mtime_ns, stat.st_size)}"


@lru_cache(maxsize=16)
def _data_url(path: str, mtime_ns: int, size: int, media: str) -> str:
    return f"data:{media};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def data_url(path: str) -> str:
    """A small static file inline as a ``data:`` URL, its media type read from its name. The favicon is written
    so: Chromium fetches a linked icon again on every ``history.replaceState`` (each edit's link), an inline one
    never (and it is a PNG: Chromium builds an SVG icon into a new document each time, see templates/base.html)."""
    file = STATIC / path.lstrip("/")
    media = mimetypes.guess_type(file.name)[0]
    if media is None:
        raise ValueError(f"data_url: no media type for static/{path}")
    stat = file.stat()
    return _data_url(str(file), stat.st_mtime_ns, stat.st_size, media)


templates.env.globals.update(static_url=static_url, data_url=data_url, vendor=VENDOR, labs=LABS, product=PRODUCT,
                             fmt=link_text)
templates.env.filters["num"] = prose_text
templates.env.filters["power"] = power_text


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (a boosted link wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    partial: str | None = None,
    status_code: int = 200,
) -> Response:
    """The full page ``template``, or only ``partial`` when htmx asks for a fragment."""
    name = partial if partial is not None and is_htmx(request) else template
    response = templates.TemplateResponse(request, name, dict(context or {}), status_code=status_code)
    response.headers.append("Vary", "HX-Request")
    return response
