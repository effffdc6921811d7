"""THE bar chart of class probabilities, as SVG geometry for kit/bars.html: the softmax lab's bars of each
sample and the network's answer for a drawn digit.

Written on the server, like the heatmaps (render/heatmap.py), not handed to Plotly: an edit redraws it with the
patch's attribute updates (static/js/patch.js). As a Plotly figure, its Plotly.react cost the softmax lab
12-24 ms of main thread at every keystroke, the lab's largest share of it (issue 12, bench.profile_edit).

The chart is fluid: x in percent of its width, y in px, its type at a fixed size (the stylesheet's). Its
minimum width gives every bar room for its value written above it (wider than a phone: it scrolls sideways).
Every bar carries its value as a tooltip; the marked one (the sample's label, the network's answer) is orange,
hatched, and its tick bold, with a word under it. A probability a quiz hides (app.web.render.hidden: the bars of
``array`` at ``prefix``) is drawn as a dashed empty slot with "?": its height would give its value away.
"""

from __future__ import annotations

import math

import numpy as np

from app.web.render import hidden
from app.web.render.numbers import cell_text, exact_text

TOP, PLOT_H, BOTTOM = 22, 140, 38  # px: room for the values above a bar of p = 1, the plot (p from 0 to 1), ticks
MARGIN_L, MARGIN_R = 40, 10  # px beside the plot: the p axis's tick labels (drawn left of x = 0), the last value
VALUE_CHAR = 7.3  # px: one character of a bar's 12 px mono value (bars.css, .barchart__value)
TIGHT_OVER, TIGHT_CHAR = 560, 6.1  # px: bars whose values at 12 px need more room than this are given their values
# at 10 px (bars.css, .barchart--tight): ten classes of 9-character values (0.0004008) fit a laptop's softmax card
# without scrolling; not in presenter mode, where the chart is zoomed 4/3 and its type at least 16 px
SLOT_MIN = 26  # px: the narrowest room a bar gets, short values or not
SLOT_BARE = 18  # px: … with no value written above it (room for its tick, a bold class number)
Y_TICKS = (0, 0.25, 0.5, 0.75, 1)
BAR_SHARE = 0.75  # of a bar's slot: the rest is the gap

BAR = "rgb(33,102,172)"
BAR_MARKED = "rgb(191,91,23)"


def _y(p: float) -> float:
    return round(TOP + PLOT_H * (1 - p), 2)


def probability_bars(probs: np.ndarray, marked: int, key: str, *, mark_word: str = "", caption: str = "",
                     label: str = "", values: bool = True, array: str = "", prefix: tuple[int, ...] = ()) -> dict:
    """The chart of a probability vector with bar ``marked`` marked.

    ``key``: its name, unique on the page (its hatch pattern's id, its download's file name); ``mark_word``:
    written under the marked bar's tick ("label"); ``caption``: HTML above the chart; ``label``: its accessible
    name (a screen reader reads the values from the bars' tooltips); ``values``: each value written above its bar
    (else in its tooltip only: ten classes in a narrow column); ``array``, ``prefix``: bar k is
    ``array[*prefix, k]``, for a quiz's hidden cells."""
    ps = [float(p) for p in np.asarray(probs, dtype=np.float64).ravel()]
    count = len(ps)
    texts = [cell_text(p) for p in ps]
    share = 100 / count  # % of the plot's width: a bar's slot
    quizzed = hidden.in_array(array)
    head = "".join(f"{i}," for i in prefix)
    bars = []
    for k, (p, text) in enumerate(zip(ps, texts, strict=True)):
        quiz = f"{head}{k}" in quizzed
        shown = 0.0 if quiz or not math.isfinite(p) else min(max(p, 0.0), 1.0)  # a probability; else drawn as 0
        top = _y(shown)
        bars.append({
            "k": k, "marked": k == marked, "text": "?" if quiz else text, "exact": "?" if quiz else exact_text(p),
            "hidden": quiz,
            "x": round(share * (k + (1 - BAR_SHARE) / 2), 3), "w": round(share * BAR_SHARE, 3),
            "mid": round(share * (k + 0.5), 3), "y": top, "h": round(TOP + PLOT_H - top, 2),
            "fill": BAR_MARKED if k == marked else BAR,
        })
    widest = max(len(t) for t in texts)
    room, room_tight = (max(SLOT_MIN, math.ceil(widest * char) + 4) for char in (VALUE_CHAR, TIGHT_CHAR))  # px a slot
    tight = values and count * room > TIGHT_OVER
    return {
        "key": key, "bars": bars, "tight": tight, "caption": caption, "label": label, "mark_word": mark_word,
        "height": TOP + PLOT_H + BOTTOM, "top": TOP, "plot_h": PLOT_H, "base": TOP + PLOT_H,
        "tick_y": TOP + PLOT_H + 14, "word_y": TOP + PLOT_H + 29, "margin_l": MARGIN_L, "margin_r": MARGIN_R,
        "show_values": values,  # the plot's least width (margins aside), and in presenter mode (values at 12 px):
        "min_width": count * ((room_tight if tight else room) if values else SLOT_BARE),
        "min_width_present": count * (room if values else SLOT_BARE),
        "y_ticks": [{"y": _y(t), "text": f"{t:g}"} for t in Y_TICKS], "axis_y": 6,  # the p axis's name, above its 1
        "fill_marked": BAR_MARKED,
    }
