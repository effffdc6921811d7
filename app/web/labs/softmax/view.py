"""The softmax lab's view: engine arrays for a state, laid out for the templates.

Every number shown comes from one registry call (``softmax_cross_entropy``: run + step
records) and from ``engine.explain.softmax`` (the naive route, the row maxima, the comparison of
the two gradient routes). This module only arranges them into grids, bar charts and LaTeX.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from markupsafe import Markup, escape

from app.web.labs.softmax.presets import NOTES_LOGITS, NOTES_PRINTED
from app.web.labs.softmax.state import OP, SoftmaxState, temperature_range
from app.web.render import figures
from engine.explain import softmax as softmax_lab
from engine.registry import prepare

INK = "rgb(20,24,31)"  # inf and nan cells: dark, outside the blue–white–orange scale
BAR = "rgb(33,102,172)"
BAR_LABEL = "rgb(191,91,23)"


def compute(state: SoftmaxState) -> tuple[dict, dict]:
    """(arrays, steps by name) of the registry op for this state."""
    op, arrays, params = prepare(OP, state.inputs(), state.params())
    result = op.run(arrays, params)
    steps = {s.name: s for s in op.steps(arrays, params)}
    return result, steps


# ------------------------------------------------------------------ numbers as text


def tex(v) -> str:
    """A number for KaTeX: 4 significant digits, 1.84\\times10^{-45}, \\infty, \\text{NaN}."""
    return _tex(float(v))


@lru_cache(maxsize=8192)
def _tex(v: float) -> str:
    if v != v:
        return r"\text{NaN}"
    if v - v != 0:
        return r"\infty" if v > 0 else r"-\infty"
    text = _fmt(v)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa}\times10^{{{int(exponent)}}}"
    return text


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def pretty(v: float) -> str:
    """A number for prose: 4 significant digits, 1.84 × 10⁻⁴⁵ rather than 1.84e-45."""
    text = figures.format_value(float(v))
    if "e" in text and "inf" not in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(SUPERSCRIPT)}"
    return text


def tex_vec(values) -> str:
    return r"\left[" + r",\ ".join(map(_tex, np.ravel(values).astype(float).tolist())) + r"\right]"


def _paren(v: float) -> str:
    text = tex(v)
    return f"({text})" if text.startswith("-") else text


# ------------------------------------------------------------------ grids

_fmt = lru_cache(maxsize=8192)(figures.format_value)  # the same numbers recur across the page's tables


class Tables:
    """The page's heatmaps, drawn in one pass: the cells of every table are coloured by one call of
    :func:`app.web.render.figures.colours` (each table on its own symmetric scale, centred on 0), then rendered
    as the same ``<table class="heatmap" data-arr>`` markup :func:`app.web.render.figures.grid` writes.

    Beyond what ``figures.grid`` draws, a cell's index may be any text (``n`` for a 1-D array,
    ``n,k`` for one row of a 2-D array drawn as a column, empty for the 0-d loss), and inf/NaN
    cells are drawn dark, outside the colour scale, with ``why[kind]`` as their title.
    """

    def __init__(self) -> None:
        self._specs: list[tuple] = []

    def add(self, values, array: str, index: list[list[str]], vmax: float | None = None,
            row_labels: list[str] | None = None, col_labels: list[str] | None = None,
            mark: np.ndarray | None = None, why: dict[str, str] | None = None) -> dict:
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        safe = values if finite.all() else np.where(finite, values, 0.0)
        vmax = figures.scale_max(safe) if vmax is None else vmax
        g = {"array": array, "vmax": vmax, "vmax_text": _fmt(vmax), "n_rows": values.shape[0],
             "n_cols": values.shape[1], "html": Markup("")}
        self._specs.append((g, values, safe / vmax, index, row_labels, col_labels, mark, why))
        return g

    def matrix(self, values, array: str, vmax: float | None = None, mark=None, why=None) -> dict:
        """An (N, K) array; cell (n, k) has index ``n,k``."""
        n, k = np.shape(values)
        return self.add(values, array, [[f"{i},{j}" for j in range(k)] for i in range(n)], vmax,
                        [f"n={i}" for i in range(n)], [f"k={j}" for j in range(k)], mark, why)

    def plane(self, values, array: str, n: int, vmax: float | None = None) -> dict:
        """Plane n of an (N, K, K) array; cell (i, j) has index ``n,i,j``."""
        rows, cols = np.shape(values)
        return self.add(values, array, [[f"{n},{i},{j}" for j in range(cols)] for i in range(rows)], vmax,
                        [f"i={i}" for i in range(rows)], [f"j={j}" for j in range(cols)])

    def column(self, values, array: str, vmax: float | None = None, why=None) -> dict:
        """An (N,) array drawn as a column; cell n has index ``n``."""
        values = np.asarray(values)
        return self.add(values[:, None], array, [[str(i)] for i in range(values.size)], vmax,
                        [f"n={i}" for i in range(values.size)], None, None, why)

    def row(self, values, array: str) -> dict:
        """An (N,) array drawn as a row; cell n has index ``n``."""
        values = np.asarray(values)
        return self.add(values[None, :], array, [[str(i) for i in range(values.size)]], None, None,
                        [f"n={i}" for i in range(values.size)])

    def row_of(self, values, array: str, n: int, vmax: float | None = None) -> dict:
        """Row n of an (N, K) array drawn as a column; cell k has index ``n,k``."""
        row = np.asarray(values)[n]
        return self.add(row[:, None], array, [[f"{n},{k}"] for k in range(row.size)], vmax,
                        [f"k={k}" for k in range(row.size)])

    def scalar(self, value, array: str) -> dict:
        return self.add(np.asarray(value, dtype=np.float64).reshape(1, 1), array, [[""]])

    def render(self) -> None:
        """Fill in every table's ``html``."""
        if not self._specs:
            return
        scaled = np.concatenate([spec[2].ravel() for spec in self._specs])
        distinct, where = np.unique(scaled, return_inverse=True)  # many cells repeat (0, 1, J's symmetry)
        bg, fg = figures.colours(distinct, 1.0)
        fg = np.where(fg == "#fff", ";color:#fff", "")  # dark text is the table's own colour
        bg, fg = bg[where].tolist(), fg[where].tolist()
        at = 0
        for g, values, _, index, row_labels, col_labels, mark, why in self._specs:
            g["html"] = self._html(g["array"], values.tolist(), bg, fg, at, index, row_labels, col_labels,
                                   None if mark is None else mark.tolist(), why)
            at += values.size

    @staticmethod
    def _html(array, rows, bg, fg, at, index, row_labels, col_labels, mark, why) -> Markup:
        parts = []
        if col_labels:
            head = "".join([f'<th scope="col">{label}</th>' for label in col_labels])
            parts.append(f"<thead><tr>{'<th></th>' if row_labels else ''}{head}</tr></thead>")
        parts.append("<tbody>")
        for i, row in enumerate(rows):
            end = at + len(row)
            texts = list(map(_fmt, row))
            if all(v - v == 0 for v in row) and not (mark and any(mark[i])):  # the common case: plain cells
                # the exact value on hover, where 4 digits hide some
                titles = ["" if float(x) == v else f' title="{v!r}"' for v, x in zip(row, texts, strict=True)]
                cells = "".join([f'<td data-idx="{ix}" style="background:{b}{f}"{t}>{x}</td>'
                                 for ix, b, f, t, x in zip(index[i], bg[at:end], fg[at:end], titles, texts,
                                                           strict=True)])
            else:
                cells = "".join([Tables._cell(index[i][j], v, texts[j], bg[at + j], fg[at + j],
                                              bool(mark and mark[i][j]), why) for j, v in enumerate(row)])
            at = end
            label = f'<th scope="row">{row_labels[i]}</th>' if row_labels else ""
            parts.append(f"<tr>{label}{cells}</tr>")
        parts.append("</tbody>")
        return Markup(f'<table class="heatmap" data-arr="{array}">{"".join(parts)}</table>')

    @staticmethod
    def _cell(idx: str, v: float, text: str, bg: str, fg: str, hatched: bool, why) -> str:
        if v - v == 0:
            extra = ' class="pad"' if hatched else ""
            if float(text) != v:  # the exact value on hover, where 4 digits hide some
                extra += f' title="{v!r}"'
            return f'<td data-idx="{idx}" style="background:{bg}{fg}"{extra}>{text}</td>'
        kind = "nan" if v != v else "inf"
        text = "NaN" if kind == "nan" else ("inf" if v > 0 else "−inf")
        title = escape((why or {}).get(kind, text))
        return f'<td data-idx="{idx}" style="background:{INK};color:#fff" class="bad" title="{title}">{text}</td>'


def _finite_max(*arrays: np.ndarray) -> float:
    return figures.scale_max(*(np.where(np.isfinite(a), a, 0.0) for a in arrays))


# ------------------------------------------------------------------ figures


def bars(probs: np.ndarray, label: int, n: int, nll: float) -> dict:
    """One sample's probabilities as a Plotly bar chart (plain dict); the label's bar marked."""
    k_count = probs.size
    colours = [BAR_LABEL if k == label else BAR for k in range(k_count)]
    patterns = ["/" if k == label else "" for k in range(k_count)]
    ticks = [f"<b>{k}</b><br>label" if k == label else str(k) for k in range(k_count)]
    data = [{
        "type": "bar", "x": list(range(k_count)), "y": [float(p) for p in probs],
        "text": [figures.format_value(float(p)) for p in probs], "textposition": "outside", "cliponaxis": False,
        "textfont": {"size": 12}, "marker": {"color": colours, "pattern": {"shape": patterns, "fgcolor": "#fff"}},
        "hovertemplate": "class %{x}<br>p = %{y:.6g}<extra></extra>",
    }]
    layout = {
        "height": 230, "margin": {"l": 40, "r": 10, "t": 34, "b": 48}, "bargap": 0.25,
        "title": {"text": f"sample {n}: label {label}, −log p<sub>{label}</sub> = {figures.format_value(nll)}",
                  "font": {"size": 13}, "x": 0.02, "xanchor": "left"},
        "xaxis": {"tickmode": "array", "tickvals": list(range(k_count)), "ticktext": ticks, "title": {"text": ""},
                  "fixedrange": True},
        "yaxis": {"range": [0, 1.18], "tickvals": [0, 0.25, 0.5, 0.75, 1], "title": {"text": "p"},
                  "fixedrange": True, "gridcolor": "rgba(0,0,0,0.08)"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 12},
        "showlegend": False,
    }
    return {"data": data, "layout": layout, "config": {"displayModeBar": False, "responsive": True}}


# ------------------------------------------------------------------ formulas with the numbers


def _stable_latex(r: dict, rmax: np.ndarray, n: int, t: float) -> str:
    lines = []
    if t != 1:
        lines.append(rf"z_{n} &= \text{{logits}}_{n} / T = {tex_vec(r['logits'][n])} / {tex(t)}"
                     rf" = {tex_vec(r['scaled'][n])}")
    lines += [
        rf"m_{n} &= \max_k z_{{{n},k}} = {tex(rmax[n])}",
        rf"\tilde z_{n} &= z_{n} - m_{n} = {tex_vec(r['shifted'][n])}",
        rf"e_{n} &= \exp(\tilde z_{n}) = {tex_vec(r['exp'][n])}",
        rf"S_{n} &= \textstyle\sum_k e_{{{n},k}} = {' + '.join(tex(v) for v in r['exp'][n])} = {tex(r['sum_exp'][n])}",
        rf"p_{n} &= e_{n} / S_{n} = {tex_vec(r['probs'][n])}",
    ]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _naive_latex(naive: softmax_lab.NaiveSoftmax, n: int, label: int) -> str:
    z = naive.z[n]
    powers = r",\ ".join(f"e^{{{tex(v)}}}" for v in z)
    lines = [
        rf"e^{{z_{n}}} &= \left[{powers}\right] = {tex_vec(naive.exp[n])}",
        rf"\textstyle\sum_k e^{{z_{{{n},k}}}} &= {tex(naive.sum_exp[n])}",
        rf"p_{n} &= e^{{z_{n}}} / \textstyle\sum_k e^{{z_{{{n},k}}}} = {tex_vec(naive.probs[n])}",
        rf"-\log p_{{{n},{label}}} &= {tex(naive.nll[n])}",
    ]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _nll_latex(r: dict, n: int, label: int) -> str:
    p, logp, nll = r["probs"][n, label], r["log_probs"][n, label], r["nll"][n]
    head = rf"\ell_{n} = -\log p_{{{n},{label}}}"
    if p > 0:
        return rf"{head} = -\log {tex(p)} = -{_paren(logp)} = {tex(nll)}"
    return rf"{head} = -(\tilde z_{{{n},{label}}} - \log S_{n}) = -{_paren(logp)} = {tex(nll)}"


def _mean_latex(r: dict) -> str:
    nll = r["nll"]
    terms = " + ".join(tex(v) for v in nll)
    return (rf"\begin{{aligned}} L &= \frac{{1}}{{N}}\sum_n \ell_n \\ &= \frac{{1}}{{{nll.size}}}\left({terms}\right)"
            rf" \\ &= {tex(r['loss'])} \end{{aligned}}")


def _fused_latex(r: dict, n: int, t: float) -> str:
    count = r["probs"].shape[0]
    lines = [
        rf"p_{n} - y_{n} &= {tex_vec(r['probs'][n])} - {tex_vec(r['onehot'][n])}",
        rf"&= {tex_vec(r['p_minus_y'][n])}",
        rf"\frac{{\partial L}}{{\partial \text{{logits}}_{n}}} &= \frac{{p_{n} - y_{n}}}{{{count} \cdot {tex(t)}}}"
        rf" = {tex_vec(r['dlogits'][n])}",
    ]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _long_latex(r: dict, n: int, label: int, t: float) -> str:
    """The long way for sample n: dL/dp (one nonzero entry), two entries of J, then Jᵀ·dL/dp / T."""
    count = r["probs"].shape[0]
    p, jac = r["probs"][n], r["jacobian"][n]
    y, other = label, (1 if label == 0 else 0)
    if r["dprobs_defined"][n]:
        dp = rf"= {tex(r['dprobs'][n, y])}\quad\text{{(every other entry is 0)}}"
    else:
        dp = r"= -\infty\quad\text{(not a float64 number: this route stops here)}"
    lines = [
        rf"\frac{{\partial L}}{{\partial p_{{{n},{y}}}}} &= -\frac{{1}}{{N\,p_{{{n},{y}}}}}"
        rf" = -\frac{{1}}{{{count} \cdot {tex(p[y])}}} {dp}",
        rf"J_{{{n}}}[{y},{y}] &= p_{{{n},{y}}}(1 - p_{{{n},{y}}}) = {tex(p[y])}\,(1 - {tex(p[y])}) = {tex(jac[y, y])}",
        rf"J_{{{n}}}[{y},{other}] &= -p_{{{n},{y}}}\,p_{{{n},{other}}} = -{tex(p[y])} \cdot {_paren(p[other])}"
        rf" = {tex(jac[y, other])}",
        rf"\frac{{1}}{{T}} J_{n}^{{\top}} \frac{{\partial L}}{{\partial p_{n}}} &= \frac{{1}}{{{tex(t)}}}"
        rf" J_{n}^{{\top}} {tex_vec(r['dprobs'][n])} = {tex_vec(r['dlogits_via_jacobian'][n])}",
    ]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


# ------------------------------------------------------------------ the whole view


def build(state: SoftmaxState) -> dict:
    """Everything the results partial draws."""
    r, steps = compute(state)
    n_rows, k_count = r["logits"].shape
    t = float(state.temperature)
    labels = [int(v) for v in r["labels"]]
    rmax = softmax_lab.row_max(r["scaled"])
    naive = softmax_lab.naive_trace(r["scaled"], r["labels"])
    agree = softmax_lab.routes_agree(r["dlogits"], r["dlogits_via_jacobian"], r["dprobs_defined"])
    naive_diff = softmax_lab.max_abs_diff(naive.probs, r["probs"])
    lo, hi = temperature_range()
    view: dict = {
        "state": state, "n": n_rows, "k": k_count, "labels": labels, "temperature": t,
        "t_range": (lo, hi), "t_slider": round(math.log10(t), 3),
        "t_slider_range": (round(math.log10(lo), 3), round(math.log10(hi), 3)),
        "loss": figures.format_value(float(r["loss"])), "loss_exact": repr(float(r["loss"])),
        "bars": [bars(r["probs"][n], labels[n], n, float(r["nll"][n])) for n in range(n_rows)],
        "steps": steps,
    }
    tables = Tables()
    view["samples"] = [_sample(tables, r, naive, rmax, n, labels[n], t) for n in range(n_rows)]
    view.update(_grids(tables, {**r, "temperature_shown": t != 1}, naive, rmax))
    tables.render()
    view["mean_latex"] = _mean_latex(r)
    view["naive"] = {
        "broken_rows": [int(i) for i in np.flatnonzero(naive.broken_rows)],
        "reasons": [(int(i), _naive_reason(naive, int(i))) for i in np.flatnonzero(naive.broken_rows)],
        "stable_underflow": bool(np.any(r["exp"] == 0)),
        "overflow": bool(naive.overflow.any()), "underflow": bool(naive.underflow.any()),
        "nan": bool(naive.nan.any()), "max_diff": None if math.isnan(naive_diff) else figures.format_value(naive_diff),
        "exp_overflow": f"{softmax_lab.EXP_OVERFLOW:.2f}",
        "exp_underflow": f"{softmax_lab.EXP_UNDERFLOW:.2f}".replace("-", "−"),
    }
    view["p_label_zero"] = [n for n in range(n_rows) if r["probs"][n, labels[n]] == 0]
    view["agree"] = {"ok": agree.agree, "max_diff": figures.format_value(agree.max_diff),
                     "undefined": list(agree.undefined_rows)}
    view["notes"] = _notes(r, naive, t)
    return view


def _naive_reason(naive: softmax_lab.NaiveSoftmax, n: int) -> str:
    """Why row n of the formula as written has no finite answer, from the engine's flags."""
    if naive.overflow[n].any():
        return "exp(z) overflowed to inf, and inf/inf is NaN"
    if naive.underflow[n].all():
        return "every exp(z) underflowed to 0, and 0/0 is NaN"
    if naive.nan[n].any():
        return "p is NaN"
    return "p of the label underflowed to 0, and −log 0 is inf"


def _sample(tables: Tables, r: dict, naive, rmax, n: int, label: int, t: float) -> dict:
    jac_vmax = figures.scale_max(r["jacobian"][n])
    d_vmax = figures.scale_max(r["dlogits"][n], r["dlogits_via_jacobian"][n])
    return {
        "n": n, "label": label,
        "stable_latex": _stable_latex(r, rmax, n, t), "naive_latex": _naive_latex(naive, n, label),
        "nll_latex": _nll_latex(r, n, label), "fused_latex": _fused_latex(r, n, t),
        "long_latex": _long_latex(r, n, label, t), "defined": bool(r["dprobs_defined"][n]),
        "jacobian": tables.plane(r["jacobian"][n], "jacobian", n, jac_vmax),
        "jacobian_vmax": figures.format_value(jac_vmax),
        "dprobs": tables.row_of(r["dprobs"], "dprobs", n),
        "via_jacobian": tables.row_of(r["dlogits_via_jacobian"], "dlogits_via_jacobian", n, d_vmax),
        "dlogits": tables.row_of(r["dlogits"], "dlogits", n, d_vmax),
    }


def _grids(t: Tables, r: dict, naive, rmax) -> dict:
    why_exp = {"inf": "exp(z) overflowed: larger than 1.8e308, the largest float64", "nan": "NaN"}
    why_p = {"inf": "inf", "nan": "NaN: inf/inf or 0/0 has no value"}
    why_nll = {"inf": "−log 0 = inf: p of the label underflowed to 0", "nan": "NaN: p of the label is NaN"}
    z_vmax = _finite_max(r["scaled"], rmax)
    return {
        "scaled": t.matrix(r["scaled"], "scaled", z_vmax) if r["temperature_shown"] else None,
        "row_max": t.column(rmax, "row_max", z_vmax),
        "shifted": t.matrix(r["shifted"], "shifted"),
        "exp": t.matrix(r["exp"], "exp", mark=r["exp"] == 0),
        "sum_exp": t.column(r["sum_exp"], "sum_exp"),
        "probs": t.matrix(r["probs"], "probs", 1.0),
        "log_probs": t.matrix(r["log_probs"], "log_probs"),
        "onehot": t.matrix(r["onehot"], "onehot", 1.0),
        "nll": t.column(r["nll"], "nll"),
        "nll_row": t.row(r["nll"], "nll"),
        "loss_cell": t.scalar(r["loss"], "loss"),
        "p_minus_y": t.matrix(r["p_minus_y"], "p_minus_y", 1.0),
        "dlogits_grid": t.matrix(r["dlogits"], "dlogits"),
        "naive_exp": t.matrix(naive.exp, "naive_exp", _finite_max(naive.exp), naive.underflow, why_exp),
        "naive_sum": t.column(naive.sum_exp, "naive_sum", _finite_max(naive.sum_exp), why_exp),
        "naive_probs": t.matrix(naive.probs, "naive_probs", 1.0, None, why_p),
        "naive_nll": t.column(naive.nll, "naive_nll", _finite_max(naive.nll), why_nll),
    }


def _notes(r: dict, naive, t: float) -> dict | None:
    """The notes' printed numbers beside the engine's, when a row is the notes' [3, −2, −100] at T = 1."""
    if t != 1:
        return None
    rows = [n for n in range(r["logits"].shape[0]) if tuple(float(v) for v in r["logits"][n]) == NOTES_LOGITS]
    if not rows:
        return None
    n = rows[0]
    p, e, total = r["probs"][n], naive.exp[n], float(naive.sum_exp[n])
    printed = NOTES_PRINTED
    return {"n": n, "rows": [
        {"what": r"\textstyle\sum_k e^{x_k} = e^{3} + e^{-2} + e^{-100}", "notes": printed["denominator"],
         "engine": pretty(total), "arr": "naive_sum", "idx": str(n), "ok": True,
         "remark": "agrees (the unshifted sum; the stable route's S is this divided by e³)"},
        {"what": r"p_0 = e^{3} / \textstyle\sum", "notes": printed["p"][0], "engine": pretty(p[0]),
         "arr": "probs", "idx": f"{n},0", "ok": True, "remark": f"agrees, rounded to two digits ({p[0]:.2f})"},
        {"what": r"p_1 = e^{-2} / \textstyle\sum", "notes": printed["p"][1], "engine": pretty(p[1]),
         "arr": "probs", "idx": f"{n},1", "ok": False,
         "remark": f"cut short: {pretty(p[1])} rounds to {p[1]:.2g}, not 0.0066"},
        {"what": r"p_2 = e^{-100} / \textstyle\sum", "notes": printed["p"][2], "engine": pretty(p[2]),
         "arr": "probs", "idx": f"{n},2", "ok": False,
         "remark": f"slip in the notes: e⁻¹⁰⁰ = {pretty(e[2])}, divided by {pretty(total)} is {pretty(p[2])}"},
    ]}
