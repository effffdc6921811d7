"""A large plane as an image: what THE heatmap writer (:mod:`app.web.render.heatmap`) draws instead of a
table when a plane has more cells than ``Settings.plane_image_cells`` (a 28×28 digit, a 32×32 CIFAR plane).

The image is a PNG of one pixel per cell, coloured on the heatmap's own scale (the writer hands over the
colours), scaled up with crisp pixels by plane.css. Its cells stay readable and editable through the
selected-cell inspector (static/js/plane.js): click or arrow to a pixel and the inspector shows its array,
index, row and column and value. The markup carries what the inspector needs:

- ``data-arr``, ``data-prefix`` (the plane's index in its array, e.g. ``0,1`` for n=0, c=1), ``data-rows``,
  ``data-cols``: a pixel (i, j) is the cell ``prefix + (i, j)``, as a table's ``data-idx`` would say;
- ``data-f64``: every cell's value, row-major, as little-endian float64 in base64 (the inspector shows it
  rounded like a table's cell and exactly; 8 bytes a cell, and no number formatted on the server);
- an editable plane (an input of the lab's form) instead holds its values in a hidden input named
  ``<array>_plane`` (every digit: they are posted back as the array, :func:`app.web.kit.plane.plane_cells`);
- ``data-hidden``: a quiz's hidden cells of the plane, ``i,j;i,j`` (app.web.render.hidden): painted MASKED,
  and NaN in ``data-f64``, so neither the image nor the inspector holds their values;
- ``window``: the sliding window's cells, outlined by an overlay; ``mark`` (padding, cells no window reaches):
  the box of the cells NOT marked is outlined, dashed, so what lies outside it is the marked ring.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from app.web.render.memo import Memo
from app.web.render.numbers import link_texts

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MASKED = (112, 48, 160)  # a quiz's hidden pixel: violet, off the blue-white-orange scale (quiz.css's colour)


def png(rgb: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 image as a PNG (8-bit RGB, no interlace)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (_PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


# An image's data: URI by its pixels: a plane is often drawn more than once in an answer (pool draws x up to four
# times, as tables that differ in their labels and outlines), and a pixel edit leaves most planes as they were.
_SOURCES = Memo(limit=4 << 20)


def image_src(rgb: np.ndarray) -> str:
    """The ``data:`` URI of :func:`png` of ``rgb``, written once per distinct image (kept by its pixels)."""
    key = (rgb.shape, rgb.tobytes())
    return _SOURCES.made(key, lambda: "data:image/png;base64," + base64.b64encode(png(rgb)).decode("ascii"),
                         lambda src: len(src) + len(key[1]))


def values_text(values: np.ndarray) -> str:
    """Every value row-major, space-separated, each with every digit: an input's values, posted back."""
    return " ".join(link_texts(values))


def values_f64(values: np.ndarray) -> str:
    """Every value row-major as little-endian float64, base64: a result's values for the inspector."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _window_box(window: Any, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the outlined cells, inclusive; None when none are."""
    if window is None:
        return None
    cells = np.argwhere(np.broadcast_to(np.asarray(window, bool), shape))
    if not cells.size:
        return None
    (top, left), (bottom, right) = cells.min(axis=0), cells.max(axis=0)
    return int(top), int(left), int(bottom), int(right)


def image_html(table: Any, rgb: np.ndarray) -> Markup:
    """The figure body of one plane drawn as an image (``table``: the writer's table of it, with its options)."""
    values = table.values
    rows, cols = values.shape
    prefix = table.prefix
    label = f"{table.label}: {rows} × {cols} image, one pixel per cell (blue negative, white 0, orange positive)"
    src = image_src(rgb)
    parts = [f'<div class="plane" tabindex="0" role="group" aria-label="{escape(label)}"'
             f' data-arr="{escape(table.array)}" data-prefix="{prefix}" data-rows="{rows}" data-cols="{cols}"'
             f' style="--rows:{rows};--cols:{cols}"']
    if table.editable:
        parts.append(f' data-edit="{escape(table.array)}">')
        parts.append(f'<input type="hidden" name="{escape(table.array)}_plane" value="{values_text(values)}">')
    else:
        masked = sorted(table.hidden or ())
        if masked:  # a quiz's hidden cells: NaN here, named in data-hidden
            values = values.copy()
            values[tuple(np.array(masked).T)] = np.nan
            parts.append(f' data-hidden="{";".join(f"{i},{j}" for i, j in masked)}"')
        parts.append(f' data-f64="{values_f64(values)}">')
    parts.append(f'<img class="plane__img" src="{src}" alt="{escape(label)}" width="{cols}" height="{rows}"'
                 ' draggable="false">')
    marked = None if table.mark is None else np.broadcast_to(np.asarray(table.mark, bool), (rows, cols))
    for cls, cells in (("plane__inner", None if marked is None or not marked.any() else ~marked),
                       ("plane__win", table.window)):
        box = _window_box(cells, (rows, cols))
        if box is not None:
            top, left, bottom, right = box
            parts.append(f'<span class="{cls}" style="top:{100 * top / rows:.4g}%;left:{100 * left / cols:.4g}%;'
                         f'height:{100 * (bottom - top + 1) / rows:.4g}%;width:{100 * (right - left + 1) / cols:.4g}%">'
                         "</span>")
    parts.append("</div>")
    return Markup("".join(parts))
