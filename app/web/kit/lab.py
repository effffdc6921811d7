"""What every lab page shares: reading its form, answering bad input, keeping the URL current.

A lab's form posts on every edit; the route turns the fields into the lab's state (strictly,
collecting every problem as a LinkError), and answers either the fragment that changed with
``HX-Replace-Url`` set to the canonical link, or a 422 that swaps nothing but an out-of-band
message naming each bad field (so the last valid results stay on screen, dimmed, and what
the user typed stays in the cells).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from app.web.kit.link import LinkError, parse_int, parse_number
from app.web.render.templating import templates


async def form_fields(request: Request) -> dict[str, list[str]]:
    """The posted form as {name: [values in order]} (grid cells repeat their name)."""
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        fields.setdefault(key, []).append(value if isinstance(value, str) else "")
    return fields


def first(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0] if values else default


def int_field(fields, name: str, lo: int, hi: int, errors: list[LinkError], default: str = "0") -> int:
    """An integer form field; a problem is appended to ``errors`` and ``lo`` returned."""
    try:
        return parse_int(name, first(fields, name, default), lo, hi)
    except LinkError as exc:
        errors.append(exc)
        return lo


def form_errors(request: Request, errors: list[LinkError]) -> Response:
    """422 carrying only the out-of-band #form-message: nothing else is swapped."""
    response = templates.TemplateResponse(request, "kit/form_errors.html", {"form_errors": errors},
                                          status_code=422)
    response.headers["HX-Reswap"] = "none"
    return response


def fragment(request: Request, template: str, context: dict, url: str, status_code: int = 200) -> Response:
    """A fragment for htmx with the canonical link of the new state in ``HX-Replace-Url``."""
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["HX-Replace-Url"] = url
    return response


def preset_redirect(presets: Mapping, key: str, seed: str, canonical: Callable[[Any], str]) -> Response:
    """``GET /<lab>/preset/{key}?seed=``: 303 to the preset's canonical link (404 / 422 naming what is wrong)."""
    if key not in presets:
        return JSONResponse({"detail": [{"loc": ["path", "key"], "msg": f"no preset {key!r}; presets: "
                                         f"{', '.join(presets)}", "type": "value_error"}]}, status_code=404)
    try:
        value = parse_int("seed", seed, 0, 2**31 - 1)
    except LinkError as exc:
        return JSONResponse({"detail": [{"loc": ["query", "seed"], "msg": exc.message, "type": "value_error"}]},
                            status_code=422)
    return RedirectResponse(canonical(presets[key].make(value)), status_code=303)


def broken_link(request: Request, slug: str, noun: str, error: LinkError, default_link: str, query: str) -> Response:
    """A link that does not open: 422, what is wrong with which parameter, and the way back to a default."""
    ctx = {"active": slug, "noun": noun, "link_error": error, "default_link": default_link, "query": query}
    return templates.TemplateResponse(request, "kit/broken.html", ctx, status_code=422)


def cell_label(name: str, index) -> str:
    """How a page names one cell, e.g. ``x[0, 1, 2, 3]`` (the cell's ``data-label``)."""
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def grid_cells(form: Mapping[str, list[str]], name: str, shape: tuple[int, ...],
               errors: list[LinkError]) -> np.ndarray:
    """The grid cells ``name`` posted in row-major order, as an array of ``shape``; each bad cell named."""
    texts = form.get(name, [])
    size = int(np.prod(shape))
    if len(texts) != size:
        errors.append(LinkError(name, f"expected {size} cells for shape {list(shape)}, got {len(texts)}"))
        return np.zeros(shape)
    values = np.zeros(size)
    for flat, text in enumerate(texts):
        try:
            values[flat] = parse_number(cell_label(name, np.unravel_index(flat, shape)), text)
        except LinkError as exc:
            errors.append(exc)
    return values.reshape(shape)


def shape_field(form: Mapping[str, list[str]], name: str, errors: list[LinkError],
                ndim: int | None = None) -> tuple[int, ...] | None:
    """A posted shape like ``1x2x5x5`` (``ndim`` sizes when given, else 1 to 4), or None with the error noted."""
    text = first(form, name)
    try:
        shape = tuple(int(s) for s in text.split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1 or (len(shape) != ndim if ndim else len(shape) > 4):
        errors.append(LinkError(name, f"is not a shape{f' of {ndim} sizes' if ndim else ''}: {text!r}"))
        return None
    return shape


def resize(values: np.ndarray, shape: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """An array of ``shape`` holding the values of ``values`` that still fit; new cells ``fill``."""
    out = np.full(shape, fill, dtype=np.float64)
    common = tuple(slice(0, min(a, b)) for a, b in zip(values.shape, shape, strict=True))
    out[common] = values[common]
    return out
