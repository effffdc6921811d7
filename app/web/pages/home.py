"""The landing page, the conventions page and the favicon (the health checks are in app/health.py)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from app.paths import DOCS, STATIC
from app.web.render.markdown import to_html
from app.web.render.numbers import tex_number
from app.web.render.templating import render
from engine import registry

router = APIRouter()

# The landing page's worked example: one convolution, computed by the engine on every request.
HERO_INPUTS = {
    "x": [[[[3, 1, 0, 2], [1, 4, 2, 1], [0, 2, 5, 1], [2, 1, 0, 3]]]],
    "w": [[[[1, -1], [0, 2]]]],
    "b": [1],
}
HERO_TRACE = (0, 0, 1, 1)  # the output element whose provenance is highlighted


def _grid(arr, marked: set[tuple[int, ...]]) -> list[list[dict[str, Any]]]:
    """One 2-D plane (n = 0, c = 0) as rows of {value, marked} cells."""
    plane = arr[0, 0]
    return [[{"value": v, "marked": (0, 0, i, j) in marked} for j, v in enumerate(row)] for i, row in enumerate(plane)]


def _tex(value: float) -> str:
    return tex_number(value, 4, parens=True)


def hero_example() -> dict[str, Any] | None:
    """x ⊛ w + b = out with one output traced back to its window: numbers from the engine, not a picture."""
    if "conv2d" not in registry.OPS:
        return None
    arrays = registry.run_op("conv2d", HERO_INPUTS, {})
    sources = registry.op_provenance("conv2d", HERO_INPUTS, {}, "out", HERO_TRACE)
    x_cells, w_cells = sources.get("x", []), sources.get("w", [])
    pairs = zip(x_cells, w_cells, strict=True)
    terms = " + ".join(rf"{_tex(arrays['x'][xi])} \cdot {_tex(arrays['w'][wi])}" for xi, wi in pairs)
    i, j = HERO_TRACE[2:]
    latex = rf"\mathrm{{out}}_{{{i},{j}}} = {terms} + {_tex(arrays['b'][0])} = {_tex(arrays['out'][HERO_TRACE])}"
    return {
        "x": _grid(arrays["x"], set(x_cells)),
        "w": _grid(arrays["w"], set(w_cells)),
        "b": arrays["b"][0],
        "out": _grid(arrays["out"], {HERO_TRACE}),
        "latex": latex,
    }


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    return render(request, "home.html", {"active": "home", "hero": hero_example()}, partial="kit/lab_cards.html")


@lru_cache(maxsize=4)
def _conventions_html(mtime_ns: int) -> str:
    return to_html((DOCS / "CONVENTIONS.md").read_text(encoding="utf-8"))


@router.get("/conventions", include_in_schema=False)
def conventions(request: Request) -> Response:
    source = DOCS / "CONVENTIONS.md"
    body = _conventions_html(source.stat().st_mtime_ns)
    return render(request, "conventions.html", {"active": "conventions", "body": body})


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> Response:
    """Swagger UI from static/vendor: FastAPI's own /docs loads it from a CDN with an inline script."""
    return render(request, "api_docs.html", {"active": "api", "openapi_url": request.app.openapi_url})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")
