"""THE heatmap writer: every ``<table class="heatmap">`` a lab draws is written here.

A heatmap is an array drawn as a table of cells coloured on one diverging scale centred on 0
(blue negative, white 0, orange positive: ColorBrewer's PuOr/RdBu family, colour-blind safe).
Every cell carries its array (the table's ``data-arr``) and its full index into it
(``data-idx``), which lab.js posts to the lab's provenance route on hover; every table opens
with a visually hidden caption naming the array, its accessible name.

    heatmap(values, array, ...)        one table, as the dict the templates draw (kit/grid.html)
    planes(values, array, names, ...)  every (a, b) plane of an (A, B, H, W) array on one colour scale
    Heatmaps()                         many tables coloured in one vectorised pass: add() and
                                       planes() return their dicts, render() fills in every ``html``
    planes(..., image_over=N)          planes of more than N cells as images with a cell inspector
                                       (app.web.render.plane), not tables: a 28×28 digit, a 32×32 CIFAR plane
    colours(values, vmax, rule)        the scale's (background, text) colours, for cells a template
                                       or a drawing lays out itself (the optimizer's comparison, pool's routing)

Every table (and every result image), and every row of cells in a table, carries ``data-h``, a short hash of its
HTML (:func:`signed`): an edit's fragment need not send again a table or row the page already holds
(app.web.kit.changed, static/js/patch.js).

The dict: ``html`` (the table), ``array``, ``title`` (the figure's caption, "" for none), ``vmax`` and
``vmax_text`` (the colour scale's half-range, for a legend), ``shape``, ``n_rows``, ``n_cols``.

Options of a table (all keywords but ``values`` and ``array``):

- ``prefix``: the index of this piece in a larger array, e.g. (n, c) for a plane of an NCHW array;
  a cell's ``data-idx`` is ``prefix`` + its position (i, j), (j,) in a vector or () for a scalar.
  ``index`` gives every cell's ``data-idx`` text instead. ``array=""``: no ``data-arr``, no ``data-idx``.
- ``layout``: a vector (1-D values) as a "row" or a "column".
- ``vmax``: the scale's half-range (default: the largest finite |value|); ``colour``: "scale" (±inf
  at the scale's ends, NaN dark), "finite" (what is not finite drawn as 0) or "none" (labels, not values).
- ``why``: non-finite cells are flagged instead (class ``bad``, dark, ``NaN``/``inf``/``−inf``),
  titled ``why["nan"]``/``why["inf"]``.
- ``row_labels``/``col_labels`` (``row_class``, ``row_title`` on each row header); ``band`` =
  (symbol, description): a header spanning every row, as in the optimizer lab's step table.
- ``mark`` (hatched: padding, cells no window reaches), ``window`` (outlined), ``classes``
  ({(i, j): "winner"} or a class per cell), ``attrs`` ({(i, j): {"data-wins": "…"}}), ``subs``
  ({(i, j): "3"}: a small subscript), ``tip`` (a cell's tooltip: ``tip(i, j, value, text)``, "" for none).
- ``hidden_rows``/``hidden_cols``/``shape_text``: how much of a larger matrix was cut off, said in the table.
- ``title`` (the figure's caption), ``label`` (the table's caption; default the array and prefix),
  ``kind`` (more classes of the table: "band", "steprow", "heatmap--index").
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from markupsafe import Markup, escape

from app.web.render import hidden, plane
from app.web.render.memo import WRITTEN
from app.web.render.numbers import cell_text, exact_text

# A colour-blind-safe diverging scale (blue for negative, orange for positive, after
# ColorBrewer's PuOr/RdBu family), centred on zero: white means exactly 0.
NEGATIVE = (33, 102, 172)
ZERO = (247, 247, 247)
POSITIVE = (191, 91, 23)
NAN_COLOUR = (60, 60, 60)  # NaN: dark, outside the scale
FLAGGED = "rgb(20,24,31)"  # a flagged non-finite cell (``why``)
DIVERGING_PLOTLY = [[0.0, "rgb(33,102,172)"], [0.5, "rgb(247,247,247)"], [1.0, "rgb(191,91,23)"]]
_NAN_T = 2.0  # where a NaN sits on the scale of t ∈ [−1, 1]: drawn NAN_COLOUR
_ZERO, _NEGATIVE, _POSITIVE = (np.array(c, float) for c in (ZERO, NEGATIVE, POSITIVE))
# a channel's end minus its zero, as a column per channel: negative (t ≤ 0), and what t > 0 adds to reach positive
_TO_NEGATIVE = (_NEGATIVE - _ZERO)[:, None]
_NEGATIVE_TO_POSITIVE = ((_POSITIVE - _ZERO) - (_NEGATIVE - _ZERO))[:, None]
_LUMINANCE = np.array([0.2126, 0.7152, 0.0722])
_PACK = np.array([1 << 16, 1 << 8, 1])  # an (r, g, b) as one int, the key of its text

Tip = Callable[[int, int, float, str], str]
T = TypeVar("T")


def fraction_tip(i: int, j: int, value: float, text: str) -> str:
    """The exact value, on every cell that is not a whole number."""
    return "" if value.is_integer() else exact_text(value)


def rounded_tip(i: int, j: int, value: float, text: str) -> str:
    """The exact value, where the cell's 4 digits hide some."""
    return exact_text(value) if float(text) != value else ""


UNTOLD = object()  # a tooltip that does not say what it writes: its table is written anew each time


def tip_key(tip: Tip | None) -> Hashable:
    """What a cell's tooltip writes, as part of its table's key (app.web.render.memo): the writer's own tips are
    themselves; another tip says it in its ``key`` attribute (pool's, a closure over the array, the plane and its
    notes); one that does not say is UNTOLD."""
    if tip is None or tip is fraction_tip or tip is rounded_tip:
        return tip
    return getattr(tip, "key", UNTOLD)


def keyed(tip: Tip, *key: Hashable) -> Tip:
    """``tip`` saying what it writes (``key``: everything it reads besides the cell), so its table can be kept by the
    memo (app.web.render.memo): a closure over a label, an array's name, a plane's notes."""
    tip.key = key  # type: ignore[attr-defined]
    return tip


class KeyedCells(dict):
    """Per-cell attributes (``attrs``: {(i, j): {name: value}}) saying what they are written from (``key``), so a
    table's key for the memo (app.web.render.memo) need not spell out every cell: pool's winners, one per out cell
    of a CIFAR plane, are its argmax plane's bytes."""

    def __init__(self, cells: Mapping, *key: Hashable) -> None:
        super().__init__(cells)
        self.key = key


def _cells_key(cells: Mapping) -> tuple:
    if isinstance(cells, KeyedCells):
        return KeyedCells, cells.key
    # in their order: the same options in another order are a key of their own (written again)
    return tuple((at, tuple(a.items())) for at, a in cells.items())


def _grid_key(grid: Sequence[Sequence[str]] | None) -> tuple | None:
    return grid if grid is None or isinstance(grid, tuple) else tuple(map(tuple, grid))


@lru_cache(maxsize=512)
def _plane_index(prefix: str, shape: tuple[int, int]) -> tuple[tuple[str, ...], ...]:
    """Every cell's ``data-idx`` of a plane at ``prefix`` (e.g. "0,1"): "0,1,i,j"; shared, never changed."""
    head = prefix + "," if prefix else ""
    return tuple(tuple(f"{head}{i},{j}" for j in range(shape[1])) for i in range(shape[0]))


def _mask_key(mask: Any, shape: tuple[int, int]) -> bytes | None:
    return None if mask is None else np.broadcast_to(np.asarray(mask, bool), shape).tobytes()


def scale_max(*arrays: np.ndarray) -> float:
    """One symmetric half-range for arrays that should share a colour scale: the largest finite |value|."""
    m = 0.0
    for a in arrays:
        a = np.abs(np.asarray(a, np.float64))
        if not a.size:
            continue
        top = float(a.max())  # NaN or inf when some value is not finite: then the largest of the finite ones
        if not math.isfinite(top):
            finite = a[np.isfinite(a)]
            top = float(finite.max()) if finite.size else 0.0
        m = max(m, top)
    return m if m > 0 else 1.0


def colours(values: Any, vmax: Any = None, rule: str = "scale") -> tuple[list, list]:
    """(background, text colour) of every value, as nested lists of CSS colours shaped like ``values``: for
    cells a template or a drawing colours itself. ``vmax`` may be one half-range or one per cell
    (broadcast to ``values``); ``rule`` as a table's ``colour``: "scale" or "finite"."""
    values = np.asarray(values, dtype=np.float64)
    vmax = scale_max(values) if vmax is None else vmax
    vmax = np.broadcast_to(np.asarray(vmax, dtype=np.float64), values.shape).reshape(-1)
    bg, fg = _shades(_position(values.reshape(-1), vmax, np.full(values.size, rule == "scale")))
    return (np.array(bg, dtype=object).reshape(values.shape).tolist(),
            np.array(fg, dtype=object).reshape(values.shape).tolist())


def _position(values: np.ndarray, vmax: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Where each value sits on its scale of half-range ``vmax``, t ∈ [−1, 1]; where ``ends`` (the "scale"
    rule) ±inf at the ends and a NaN at _NAN_T, elsewhere (the "finite" rule) what is not finite at 0."""
    finite = np.isfinite(values)
    if finite.all() and (vmax > 0).all():
        return np.clip(values / vmax, -1.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t = np.where(vmax > 0, np.clip(np.where(finite, values, 0.0) / vmax, -1.0, 1.0), 0.0)
    t = np.where(ends & np.isinf(values), np.sign(values), t)
    return np.where(ends & np.isnan(values), _NAN_T, t)


def _rgb(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the (n, 3) colours of positions t as ints 0–255, where t is a NaN's).

    Each channel is zero + (end − zero)·|t|, rounded, with end the scale's positive end for t > 0, else its
    negative end. Worked a channel at a time (a (3, n) array, returned transposed): over (n, 3) with (n, 1) and
    (3,) operands every loop is three long, 10× slower for a CIFAR page's 25,600 pixels (2.2 ms). end − zero is a
    whole number either way, so the colours are bit for bit the same."""
    nan = t > 1.0
    size = np.abs(t)
    size[nan] = 0.0
    channels = _NEGATIVE_TO_POSITIVE * (t > 0)
    channels += _TO_NEGATIVE  # end − zero, exactly
    channels *= size
    channels += _ZERO[:, None]
    rgb = np.rint(channels, out=channels).astype(np.int64).T
    rgb[nan] = NAN_COLOUR
    return rgb, nan


def _shades(t: np.ndarray) -> tuple[list[str], list[str]]:
    """(background, text colour) of every position t, as flat lists of CSS colours (a NaN's t: dark)."""
    rgb, nan = _rgb(t)
    dark_ink = (rgb @ _LUMINANCE > 140) & ~nan
    # a table has few distinct colours: each one's text is written once (np.char would cost ~30× more)
    return [_rgb_text(k) for k in (rgb @ _PACK).tolist()], ["#111" if d else "#fff" for d in dark_ink.tolist()]


@lru_cache(maxsize=2048)
def _rgb_text(key: int) -> str:
    return f"rgb({key >> 16},{key >> 8 & 255},{key & 255})"


class _Table:
    """One table waiting for its colours: the options of :meth:`Heatmaps.add`, checked and shaped."""

    def __init__(self, values: Any, array: str, *, prefix: Sequence[int] = (), index=None, layout: str = "row",
                 vmax: float | None = None, colour: str = "scale", why: Mapping[str, str] | None = None,
                 row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                 row_class: str = "", row_title: str = "", band: tuple[str, str] | None = None,
                 mark=None, window=None, classes=None, attrs=None, subs=None, tip: Tip | None = fraction_tip,
                 hidden_rows: int = 0, hidden_cols: int = 0, shape_text: str = "", title: str = "",
                 label: str | None = None, kind: str = "", image: bool = False, editable: bool = False):
        values = np.asarray(values, dtype=np.float64)
        self.image, self.editable, self.window, self.mark = image, editable, window, mark  # an image's (render.plane)
        pre = ",".join(str(int(k)) for k in prefix)
        self.prefix = pre
        if values.ndim == 0:
            values, positions = values.reshape(1, 1), [[""]]
        elif values.ndim == 1:
            positions = [[str(j) for j in range(values.size)]]
            values = values[None, :]
            if layout == "column":
                values, positions = values.T, [[p] for p in positions[0]]
        else:
            positions = None  # (i, j)
        if values.ndim != 2 or colour not in ("scale", "finite", "none"):
            raise ValueError(f"a heatmap draws 0-, 1- or 2-D values with colour scale|finite|none, "
                             f"got {values.ndim}-D and {colour!r}")
        if index is not None:
            self.index = index
        elif not array or image:  # an image's cells are addressed by its prefix and (i, j) (app.web.render.plane)
            self.index = None
        elif positions is None:
            self.index = _plane_index(pre, values.shape)
        else:
            self.index = [[",".join(p for p in (pre, q) if p) for q in row] for row in positions]
        self.values, self.array = values, array
        self.hidden = _hidden_positions(array, self.index, pre, values) if image or self.index is not None else None
        self.vmax = scale_max(values) if vmax is None else float(vmax)
        self.why = why
        self.colour = colour
        self.row_labels, self.col_labels, self.band = row_labels, col_labels, band
        self.row_head = (f' class="{escape(row_class)}"' if row_class else "") + \
            (f' title="{escape(row_title)}"' if row_title else "")
        self.classes = None if image else _class_grid(values.shape, mark, window, classes)
        self.attrs, self.subs, self.tip = attrs or {}, subs or {}, tip
        self.hidden_rows, self.hidden_cols, self.shape_text = hidden_rows, hidden_cols, shape_text
        named = f"{array}[{pre.replace(',', ', ')}]" if pre else array
        self.label = label if label is not None else (named or title or "")  # no array name: the figure's caption
        self.kind = kind
        self.seen: frozenset[str] | None = None  # set by a deferred render: the hidden magnitudes drawn until then
        self.out = {"array": array, "html": Markup(""), "title": title, "vmax": self.vmax,
                    "vmax_text": cell_text(self.vmax), "shape": shape_text, "n_rows": values.shape[0],
                    "n_cols": values.shape[1], "image": bool(image),
                    "cells": (self.index, values)}  # (data-idx texts, the exact values): what a quiz grades
        if image and array and not editable:
            self.out["image_prefix"] = pre  # a result image's cells are prefix + (i, j): a quiz may ask them too

    def key(self, person: bytes) -> tuple | None:
        """Everything this table's (or image's) HTML is written from, for the memo (app.web.render.memo); None when
        its tooltip does not say what it writes."""
        tip = tip_key(self.tip)
        if tip is UNTOLD:
            return None
        v = self.values
        common = (person, self.array, self.label, self.colour, self.vmax, v.shape, v.tobytes(),
                  None if self.hidden is None else frozenset(self.hidden))
        if self.image:
            return ("image", *common, self.prefix, self.editable, _mask_key(self.mark, v.shape),
                    _mask_key(self.window, v.shape))
        return ("table", *common, self.kind, tip, _grid_key(self.index), _grid_key(self.classes),
                _cells_key(self.attrs), tuple(self.subs.items()),
                None if self.why is None else tuple(self.why.items()),
                self.band, _grid_key([self.row_labels or (), self.col_labels or ()]), self.row_head,
                self.hidden_rows, self.hidden_cols, self.shape_text)

    def html(self, bg: list[str] | None, fg: list[str] | None, person: bytes = b"") -> Markup:
        """The table; each row of cells signed too (``data-h``: an edit need not send again a row the page holds)."""
        parts = [f'<table class="heatmap{" " + self.kind if self.kind else ""}"',
                 f' data-arr="{escape(self.array)}">' if self.array else ">",
                 f'<caption class="visually-hidden">{escape(self.label)}</caption>']
        rows, cols = self.values.shape
        if self.col_labels:
            head = "".join(f'<th scope="col">{escape(label)}</th>' for label in self.col_labels)
            more = f'<th class="more">+{self.hidden_cols}</th>' if self.hidden_cols else ""
            parts.append(f"<thead><tr>{'<th></th>' if self.row_labels else ''}{head}{more}</tr></thead>")
        parts.append("<tbody>")
        values, index, classes, tip = self.values.tolist(), self.index, self.classes, self.tip
        attrs, subs, why, masked = self.attrs, self.subs, self.why, self.hidden
        own = bool(attrs or subs)  # some cell has data attributes or a subscript of its own
        styles = None if bg is None else [f' style="background:{b};color:{f}"' for b, f in zip(bg, fg, strict=True)]
        for i, row in enumerate(values):
            cells = []
            if self.band and i == 0:
                symbol, doc = self.band
                cells.append(f'<th class="band-label" rowspan="{rows}" scope="rowgroup" title="{escape(doc)}">'
                             f"{escape(symbol)}</th>")
            if self.row_labels:
                cells.append(f'<th scope="row"{self.row_head}>{escape(self.row_labels[i])}</th>')
            at = i * cols
            row_index = index[i] if index is not None else None
            row_classes = classes[i] if classes else None
            for j, v in enumerate(row):
                if masked and (i, j) in masked:  # a quiz's hidden cell: its index only (app.web.render.hidden)
                    cls = f"{row_classes[j]} quiz-masked".strip() if row_classes is not None else "quiz-masked"
                    cells.append(f'<td data-idx="{row_index[j]}" class="{cls}" data-quiz-masked>?</td>')
                    continue
                text, cls = cell_text(v), row_classes[j] if row_classes is not None else ""
                if why is not None and v - v != 0:  # a flagged inf or NaN
                    kind = "nan" if v != v else "inf"
                    text = "NaN" if kind == "nan" else ("inf" if v > 0 else "−inf")
                    style, cls = f' style="background:{FLAGGED};color:#fff"', f"{cls} bad".strip()
                    title = f' title="{_attr(why.get(kind, text))}"'
                else:
                    style = styles[at + j] if styles is not None else ""
                    if tip is fraction_tip:  # the common case, inlined: a float's repr needs no escaping
                        title = "" if v.is_integer() else f' title="{v!r}"'
                    else:
                        note = tip(i, j, v, text) if tip else ""
                        title = f' title="{_attr(note)}"' if note else ""
                td = f'<td data-idx="{row_index[j]}"' if row_index is not None else "<td"
                cls = f' class="{cls}"' if cls else ""
                if own and ((i, j) in attrs or (i, j) in subs):
                    extra = "".join([f' {name}="{_attr(value) if type(value) is str else escape(value)}"'
                                     for name, value in attrs.get((i, j), {}).items()])
                    sub = f'<sub class="cell-sub">{escape(subs[i, j])}</sub>' if (i, j) in subs else ""
                    cells.append(f"{td}{style}{cls}{title}{extra}>{text}{sub}</td>")
                else:
                    cells.append(f"{td}{style}{cls}{title}>{text}</td>")
            if self.hidden_cols:
                cells.append('<td class="more">…</td>')
            row = "".join(cells)
            parts.append(f'<tr data-h="{_digest(row, person)}">{row}</tr>')
        if self.hidden_rows or self.hidden_cols:
            what = f"{self.hidden_rows} more rows" if self.hidden_rows else ""
            what += (" and " if what and self.hidden_cols else "") + \
                (f"{self.hidden_cols} more columns" if self.hidden_cols else "")
            parts.append(f'<tr><td class="more" colspan="99">… {what} ({escape(self.shape_text)} in all)</td></tr>')
        parts.append("</tbody></table>")
        return Markup("".join(parts))


_SPECIAL = re.compile(r"[&<>\"']")


def _attr(text: str) -> str:
    """Text for an attribute value: escaped only where it holds a special character (a number never does)."""
    return str(escape(text)) if _SPECIAL.search(text) else text


def _hidden_positions(array: str, index, prefix: str, values: np.ndarray) -> set[tuple[int, int]] | None:
    """The (i, j) of a quiz's hidden cells in this table (None: none), each hidden magnitude noted for legends."""
    wanted = hidden.in_array(array)
    if not wanted:
        return None
    if index is None:  # an image: prefix + (i, j)
        found = hidden.positions(array, prefix, values.shape)
    else:
        found = {(i, j) for i, row in enumerate(index) for j, idx in enumerate(row) if idx in wanted}
    now = hidden.current()
    for i, j in found:
        now.magnitudes.add(cell_text(abs(float(values[i, j]))))
    return found or None


def _class_grid(shape: tuple[int, int], mark, window, classes) -> list[list[str]] | None:
    """Every cell's class attribute: "pad" where ``mark``, "win" where ``window``, then ``classes``."""
    if mark is None and window is None and (classes is None or isinstance(classes, Mapping) and not classes):
        return None
    grid = [["" for _ in range(shape[1])] for _ in range(shape[0])]
    for flags, name in ((mark, "pad"), (window, "win")):
        if flags is not None:
            for i, j in np.argwhere(np.broadcast_to(np.asarray(flags, bool), shape)).tolist():
                grid[i][j] += " " + name
    if isinstance(classes, Mapping):
        for (i, j), name in classes.items():
            grid[i][j] += " " + name
    elif classes is not None:
        for i, row in enumerate(np.asarray(classes, dtype=object).reshape(shape).tolist()):
            for j, name in enumerate(row):
                if name:
                    grid[i][j] += " " + name
    return [[c.strip() for c in row] for row in grid]


class Heatmaps:
    """Many heatmaps coloured in one vectorised pass (the colour of each distinct scale position is
    computed once): :meth:`add` and :meth:`planes` return dicts whose ``html`` :meth:`render` fills in."""

    def __init__(self, image_over: int | None = None) -> None:
        self._tables: list[_Table] = []
        self.image_over = image_over  # a plane of more cells than this is drawn as an image (app.web.render.plane)

    def add(self, values: Any, array: str, image_over: int | None = None, **options: Any) -> dict:
        """One table (the options are the module's); its dict, ``html`` filled in by :meth:`render`. A plane (2-D,
        at least 2 × 2) of more than ``image_over`` cells (default: the batch's) is an image instead: of the
        options only ``window``, ``mark`` (the unmarked cells' box is outlined, dashed), ``editable``, ``colour``,
        ``prefix``, ``vmax``, ``title``, ``label`` apply."""
        limit = self.image_over if image_over is None else image_over
        shape = np.shape(values)
        if limit is not None and len(shape) == 2 and min(shape) > 1 and shape[0] * shape[1] > limit:
            options = {k: v for k, v in options.items()
                       if k in ("window", "mark", "editable", "colour", "prefix", "vmax", "title", "label")}
            options["image"] = True
            if options.get("colour") == "none":  # an image is its colours: labels (a mask) on the value scale
                options["colour"] = "scale"
        table = _Table(values, array, **options)
        self._tables.append(table)
        return table.out

    def planes(self, values: Any, array: str, names: tuple[str, str] = ("n", "c"), vmax: float | None = None,
               label: str | None = None, only: tuple[int, int] | None = None, per_plane=None,
               image_over: int | None = None, **options: Any) -> list[dict]:
        """Every (a, b) plane of an (A, B, H, W) array on one colour scale (or only plane ``only``), titled
        ``"<label>, n=a, c=b"`` (``"n=a, c=b"`` without a label). ``per_plane(a, b)`` gives a plane's own
        options ({"classes": …, "attrs": …}); ``mark``/``window`` may be one (H, W) mask for every plane or
        a mask per cell of ``values``. Planes of more than ``image_over`` cells are drawn as images
        (:mod:`app.web.render.plane`: ``window`` outlined, ``editable`` posts the plane's values) instead."""
        values = np.asarray(values, dtype=np.float64)
        vmax = scale_max(values) if vmax is None else vmax
        if image_over is not None:
            options["image_over"] = image_over
        keys = [tuple(only)] if only is not None else np.ndindex(values.shape[:2])
        out = []
        for a, b in keys:
            name = f"{names[0]}={a}, {names[1]}={b}"
            mine = {k: _plane(v, a, b) if k in ("mark", "window", "classes") else v for k, v in options.items()}
            mine.update(per_plane(a, b) if per_plane else {})
            out.append(self.add(values[a, b], array, prefix=(a, b), vmax=vmax,
                                title=f"{label}, {name}" if label else name, **mine))
        return out

    def render(self) -> None:
        """Colour every table added so far and write its ``html`` — or, inside :func:`batched`, hand them to its
        batch, which writes them all in one pass when the view is built (byte for byte what writing them now
        would: a quiz's legend is judged by the hidden cells drawn until now, as it would be now)."""
        quiz = hidden.current()
        outer = _batch.get()
        if outer is not None and outer is not self:
            seen = frozenset(quiz.magnitudes) if quiz is not None else frozenset()
            for table in self._tables:
                table.seen = seen
            outer._tables.extend(self._tables)
            self._tables = []
            return
        for table in self._tables:  # a legend's half-range that is a hidden cell's |value|: not printed
            magnitudes = quiz.magnitudes if table.seen is None and quiz is not None else table.seen
            if magnitudes and table.out["vmax_text"] in magnitudes:
                table.out["vmax_text"] = "?"
        person = person_of(quiz)
        todo = []  # (table, its key): the tables the memo does not hold, coloured and written below
        for table in self._tables:
            try:
                key = table.key(person)
                kept = WRITTEN.get(key)
            except TypeError:  # an option that cannot be a key (an unhashable label or attribute value)
                key = kept = None
            if kept is not None:
                table.out["html"] = kept
            else:
                todo.append((table, key))
        coloured = [t for t, _ in todo if t.colour != "none" and not t.image]
        if coloured:
            sizes = [t.values.size for t in coloured]
            t = _position(np.concatenate([t.values.reshape(-1) for t in coloured]),
                          np.repeat([t.vmax for t in coloured], sizes),
                          np.repeat([t.colour == "scale" for t in coloured], sizes))
            bg_all, fg_all = _shades(t)
        images = [t for t, _ in todo if t.image]
        if images:  # large planes: images, coloured on the same scale (app.web.render.plane), all in one pass too
            sizes = [t.values.size for t in images]
            rgb_all, _ = _rgb(_position(np.concatenate([t.values.reshape(-1) for t in images]),
                                        np.repeat([t.vmax for t in images], sizes),
                                        np.repeat([t.colour == "scale" for t in images], sizes)))
            rgb_all = rgb_all.astype(np.uint8)
        at = at_image = 0
        for table, key in todo:
            if table.image:
                n = table.values.size
                rgb = rgb_all[at_image:at_image + n]
                at_image += n
                for i, j in table.hidden or ():  # a quiz's hidden pixel: masked (app.web.render.plane)
                    rgb[i * table.values.shape[1] + j] = plane.MASKED
                html = plane.image_html(table, rgb.reshape(*table.values.shape, 3))
                html = html if table.editable else signed(html, person)  # an input: never kept by the page
            elif table.colour == "none":
                html = signed(table.html(None, None, person), person)
            else:
                n = table.values.size
                html = signed(table.html(bg_all[at:at + n], fg_all[at:at + n], person), person)
                at += n
            table.out["html"] = html
            WRITTEN.put(key, html, 2 * len(html) + table.values.nbytes)
        self._tables = []


HASH_BYTES = 6  # data-h: 12 hex digits; a fragment's tables are told apart from the few hundred a page holds


def _digest(html: str, person: bytes) -> str:
    return hashlib.blake2b(html.encode(), digest_size=HASH_BYTES, person=person).hexdigest()


def person_of(quiz: hidden.Hidden | None) -> bytes:
    """What keys the hashes: drawn for a quiz, they are others (a quiz's page is rewritten after it is drawn,
    app.web.kit.quiz_mask): what a quiz showed is never taken for what a page without it shows."""
    return b"quiz" if quiz is not None else b""


def signed(html: str, person: bytes = b"") -> Markup:
    """``html`` (one element: a table, an image's figure body) with ``data-h``, a hash of it, last in its opening
    tag."""
    end = html.index(">")
    return Markup(f'{html[:end]} data-h="{_digest(html, person)}"{html[end:]}')


# The batch of the view being built (:func:`batched`): every table written meanwhile is coloured in its one pass.
_batch: ContextVar[Heatmaps | None] = ContextVar("backprop_lens_heatmap_batch", default=None)
DEFER = True  # False: every heatmap()/planes()/Heatmaps.render() writes at once (the byte-identity test compares)


def batched(build: Callable[..., T]) -> Callable[..., T]:
    """``build`` (a lab's view) with every table it writes — through :func:`heatmap`, :func:`planes` or a
    :class:`Heatmaps` of its own — coloured and written in one pass when it returns: a view of twenty small tables
    pays the pass's fixed cost (~0.2 ms) once, not twenty times. Nested: the outermost writes."""

    @functools.wraps(build)
    def built(*args: Any, **kwargs: Any) -> T:
        if not DEFER or _batch.get() is not None:
            return build(*args, **kwargs)
        batch = Heatmaps()
        token = _batch.set(batch)
        try:
            out = build(*args, **kwargs)
        finally:
            _batch.reset(token)
        batch.render()
        return out

    return built


def _plane(mask, a: int, b: int):
    """A plane's share of a mask or class grid given for every plane at once ((H, W)) or per cell ((A, B, H, W))."""
    if mask is None or isinstance(mask, Mapping):
        return mask
    mask = np.asarray(mask)
    return mask[a, b] if mask.ndim == 4 else mask


def heatmap(values: Any, array: str, **options: Any) -> dict:
    """One heatmap (the options are the module's), written now."""
    batch = Heatmaps()
    out = batch.add(values, array, **options)
    batch.render()
    return out


def planes(values: Any, array: str, names: tuple[str, str] = ("n", "c"), vmax: float | None = None,
           **options: Any) -> list[dict]:
    """Every (a, b) plane of an (A, B, H, W) array on one colour scale (see :meth:`Heatmaps.planes`), written now."""
    batch = Heatmaps()
    out = batch.planes(values, array, names, vmax, **options)
    batch.render()
    return out
