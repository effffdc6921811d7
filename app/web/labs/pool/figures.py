"""Heatmap grids for the pooling lab: app.figures.grid's one-pass table, plus what this lab marks on cells.

Cells may carry a class (``winner``, ``tie-loser``, ``kink``, ``on``/``off``), a data attribute
for pool.js (``data-wins``, ``data-winner``) and a small subscript (a window index). The dict
has the shape of :func:`app.web.render.figures.grid`'s (``array``, ``html``, ``title``, ``vmax_text``), so
the shared ``heatmap``/``planes`` macros draw it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

from app.web.render import figures

_ZERO = np.array(figures.ZERO, float)
_NEGATIVE = np.array(figures.NEGATIVE, float)
_POSITIVE = np.array(figures.POSITIVE, float)
_LUMINANCE = np.array([0.2126, 0.7152, 0.0722])


def colour_lists(values: np.ndarray, vmax: float) -> tuple[list, list]:
    """figures.colours as nested lists: the same colours, without numpy.char (which costs ~15 µs a cell:
    60 ms for a 4×4×16×16 input; joining the strings in Python costs ~0.3 µs a cell)."""
    t = np.clip(values / vmax, -1.0, 1.0) if vmax > 0 else np.zeros_like(values)
    end = np.where((t > 0)[..., None], _POSITIVE, _NEGATIVE)
    rgb = np.rint(_ZERO + (end - _ZERO) * np.abs(t)[..., None]).astype(int)
    dark = (rgb @ _LUMINANCE) > 140
    flat = [f"rgb({r},{g},{b})" for r, g, b in rgb.reshape(-1, 3).tolist()]
    ink = ["#111" if d else "#fff" for d in dark.reshape(-1).tolist()]
    return np.array(flat, dtype=object).reshape(values.shape).tolist(), \
        np.array(ink, dtype=object).reshape(values.shape).tolist()


def lab_grid(values: np.ndarray, array: str, prefix: Sequence[int] = (), vmax: float | None = None, *,
             mark: np.ndarray | None = None, window: np.ndarray | None = None,
             classes: dict[tuple[int, int], str] | None = None, attrs: dict[tuple[int, int], str] | None = None,
             titles: dict[tuple[int, int], str] | None = None, subs: dict[tuple[int, int], str] | None = None,
             cell_classes: list | None = None, colours: tuple[list, list] | None = None,
             index: bool = False, title: str = "") -> dict:
    """A 2-D grid as one HTML table; ``index=True`` draws labels (argmax, the mask) without the colour scale.

    ``classes`` (a few cells) and ``cell_classes`` (a nested list for every cell, "" for none) add CSS
    classes; ``colours`` are this plane's (bg, fg) lists when the caller computed them for a whole array.
    """
    values = np.asarray(values, dtype=np.float64)
    vmax = figures.scale_max(values) if vmax is None else vmax
    if not index:
        bg, fg = colours if colours is not None else colour_lists(values, vmax)
    vals = values.tolist()
    marks = mark.tolist() if mark is not None else None
    wins = window.tolist() if window is not None else None
    classes, attrs, titles, subs = classes or {}, attrs or {}, titles or {}, subs or {}
    pre = "".join(f"{int(k)}," for k in prefix)
    rows = []
    for i, row in enumerate(vals):
        cells = []
        for j, v in enumerate(row):
            cls = cell_classes[i][j] if cell_classes is not None else ""
            if marks and marks[i][j]:
                cls += " pad"
            if wins and wins[i][j]:
                cls += " win"
            key = (i, j)
            if key in classes:
                cls += " " + classes[key]
            text = figures.format_value(v)
            # a tooltip only where it adds something: the exact value behind a rounded one, or a note
            note = titles.get(key, "")
            exact = v.is_integer() or text == repr(v)  # the cell already shows every digit
            tip = f" title=\"{array}[{pre}{i},{j}] = {v!r}{escape(note)}\"" if note or not exact else ""
            style = "" if index else f" style=\"background:{bg[i][j]};color:{fg[i][j]}\""
            cell_cls = f" class=\"{cls.strip()}\"" if cls else ""
            extra = f" {attrs[key]}" if key in attrs else ""
            sub = f"<sub class=\"cell-sub\">{escape(subs[key])}</sub>" if key in subs else ""
            cells.append(f"<td data-idx=\"{pre}{i},{j}\"{style}{cell_cls}{tip}{extra}>{text}{sub}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    kind = "heatmap heatmap--index" if index else "heatmap"
    html = Markup(f"<table class=\"{kind}\" data-arr=\"{escape(array)}\"><tbody>{''.join(rows)}</tbody></table>")
    return {"array": array, "html": html, "title": title, "vmax": vmax, "vmax_text": figures.format_value(vmax)}


def lab_planes(values: np.ndarray, array: str, vmax: float | None, label: str, index: bool = False,
               mark: np.ndarray | None = None, classes=None, attrs=None, titles=None,
               cell_classes: np.ndarray | None = None, colours: tuple[list, list] | None = None,
               only: tuple[int, int] | None = None) -> list[dict]:
    """Every (n, c) plane of an (N, C, H, W) array (or only plane ``only``), sharing one colour scale.

    ``classes``/``attrs``/``titles`` map (n, c) to that plane's per-cell dicts; ``cell_classes`` is an
    (N, C, H, W) array of class names; ``colours`` the whole array's (bg, fg) from :func:`colour_lists`.
    """
    vmax = figures.scale_max(values) if vmax is None else vmax
    planes = [tuple(only)] if only is not None else [(n, c) for n in range(values.shape[0])
                                                     for c in range(values.shape[1])]
    out = []
    for n, c in planes:
        if index:
            plane_colours = None
        elif colours is not None:
            plane_colours = (colours[0][n][c], colours[1][n][c])
        else:
            plane_colours = colour_lists(values[n, c], vmax)
        out.append(lab_grid(values[n, c], array, (n, c), vmax, mark=mark, index=index,
                            classes=(classes or {}).get((n, c)), attrs=(attrs or {}).get((n, c)),
                            titles=(titles or {}).get((n, c)),
                            cell_classes=cell_classes[n, c].tolist() if cell_classes is not None else None,
                            colours=plane_colours, title=f"{label}, n={n}, c={c}"))
    return out
