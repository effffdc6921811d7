"""The softmax lab's view: engine arrays for a state, laid out for the templates.

Every number shown comes from one registry call (``softmax_cross_entropy``: run + step
records) and from ``engine.explain.softmax`` (the naive route, the row maxima, the comparison of
the two gradient routes). This module only arranges them into grids, bar charts and LaTeX.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from markupsafe import Markup

from app.web.labs.softmax import stages
from app.web.labs.softmax.presets import NOTES_LOGITS, NOTES_PRINTED
from app.web.labs.softmax.stages import tex, tex_vec
from app.web.labs.softmax.state import OP, SoftmaxState, temperature_range
from app.web.render.bars import probability_bars
from app.web.render.heatmap import Heatmaps, batched, rounded_tip, scale_max
from app.web.render.numbers import cell_text, exact_text, power_text, prose_text, tex_number
from engine.explain import softmax as softmax_lab
from engine.registry import prepare, trace_op


def compute(state: SoftmaxState) -> tuple[dict, dict]:
    """(arrays, steps by name) of the registry op for this state."""
    op, arrays, params = prepare(OP, state.inputs(), state.params())
    result = op.run(arrays, params)
    steps = {s.name: s for s in op.steps(result, params)}  # made from run's arrays: one computation
    return result, steps


# ------------------------------------------------------------------ numbers as text


_paren = partial(tex_number, digits=4, parens=True)  # a factor: a negative one in parentheses


# ------------------------------------------------------------------ grids

# Every table of the page: coloured in one pass of the writer (each on its own scale, centred on 0); an
# inf or NaN flagged dark, outside the scale, titled with why it is not a number; a cell's exact value
# on hover where its 4 digits hide some.
TABLE = {"colour": "finite", "tip": rounded_tip}


def _matrix(grids: Heatmaps, values, array: str, vmax: float | None = None, mark=None, why=None) -> dict:
    """An (N, K) array; cell (n, k) has index ``n,k``."""
    n, k = np.shape(values)
    return grids.add(values, array, vmax=vmax, mark=mark, why=why or {}, row_labels=[f"n={i}" for i in range(n)],
                     col_labels=[f"k={j}" for j in range(k)], **TABLE)


def _plane(grids: Heatmaps, values, array: str, n: int, vmax: float | None = None) -> dict:
    """Plane n of an (N, K, K) array; cell (i, j) has index ``n,i,j``."""
    rows, cols = np.shape(values)
    return grids.add(values, array, prefix=(n,), vmax=vmax, why={}, row_labels=[f"i={i}" for i in range(rows)],
                     col_labels=[f"j={j}" for j in range(cols)], **TABLE)


def _column(grids: Heatmaps, values, array: str, vmax: float | None = None, why=None) -> dict:
    """An (N,) array drawn as a column; cell n has index ``n``."""
    return grids.add(values, array, layout="column", vmax=vmax, why=why or {},
                     row_labels=[f"n={i}" for i in range(np.size(values))], **TABLE)


def _row(grids: Heatmaps, values, array: str) -> dict:
    """An (N,) array drawn as a row; cell n has index ``n``."""
    return grids.add(values, array, why={}, col_labels=[f"n={i}" for i in range(np.size(values))], **TABLE)


def _row_of(grids: Heatmaps, values, array: str, n: int, vmax: float | None = None) -> dict:
    """Row n of an (N, K) array drawn as a column; cell k has index ``n,k``."""
    row = np.asarray(values)[n]
    return grids.add(row, array, prefix=(n,), layout="column", vmax=vmax, why={},
                     row_labels=[f"k={k}" for k in range(row.size)], **TABLE)


# ------------------------------------------------------------------ figures


def bars(probs: np.ndarray, label: int, n: int, nll: float) -> dict:
    """One sample's probabilities as THE probability bar chart (app.web.render.bars), its label's bar marked."""
    caption = Markup("sample {}: label {}, −log p<sub>{}</sub> = {}").format(n, label, label, cell_text(nll))
    return probability_bars(probs, label, f"probabilities_sample_{n}", mark_word="label", caption=caption,
                            array="probs", prefix=(n,),
                            label=f"Bar chart of the probabilities of sample {n}; its label is class {label}")


# ------------------------------------------------------------------ formulas with the numbers


def _stable_latex(r: dict, rmax: np.ndarray, n: int, t: float) -> str:
    lines = stages.stable_lines(r, rmax, n, t)
    return stages.aligned([line for key in stages.STAGES for line in lines[key] if t != 1 or key != "z"])


def _naive_latex(naive: softmax_lab.NaiveSoftmax, n: int, label: int) -> str:
    lines = stages.naive_lines(naive, n)
    return stages.aligned(lines["exp"] + lines["sum"] + lines["divide"]
                          + [rf"-\log p_{{{n},{label}}} &= {tex(naive.nll[n])}"])


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


@batched
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
        "loss": cell_text(float(r["loss"])), "loss_exact": exact_text(r["loss"]),
        "bars": [bars(r["probs"][n], labels[n], n, float(r["nll"][n])) for n in range(n_rows)],
        "steps": steps,
    }
    grids = Heatmaps()
    view["samples"] = [_sample(grids, r, naive, rmax, n, labels[n], t) for n in range(n_rows)]
    view.update(_grids(grids, {**r, "temperature_shown": t != 1}, naive, rmax))
    view["svm"] = _svm(grids, state)
    grids.render()
    view["mean_latex"] = _mean_latex(r)
    view["naive"] = {
        "broken_rows": [int(i) for i in np.flatnonzero(naive.broken_rows)],
        "reasons": [(int(i), _naive_reason(naive, int(i))) for i in np.flatnonzero(naive.broken_rows)],
        "stable_underflow": bool(np.any(r["exp"] == 0)),
        "overflow": bool(naive.overflow.any()), "underflow": bool(naive.underflow.any()),
        "nan": bool(naive.nan.any()), "max_diff": None if math.isnan(naive_diff) else cell_text(naive_diff),
        "exp_overflow": prose_text(softmax_lab.EXP_OVERFLOW, 2),
        "exp_underflow": prose_text(softmax_lab.EXP_UNDERFLOW, 2),
    }
    view["p_label_zero"] = [n for n in range(n_rows) if r["probs"][n, labels[n]] == 0]
    view["agree"] = {"ok": agree.agree, "max_diff": cell_text(agree.max_diff),
                     "undefined": list(agree.undefined_rows)}
    view["notes"] = _notes(r, naive, t)
    view["stage"] = stages.stage_view(r, naive, rmax, state.stage, t)
    return view


def _svm(grids: Heatmaps, state: SoftmaxState) -> dict:
    """The multiclass SVM (hinge) loss on the same logits and labels (no temperature), beside cross-entropy."""
    a, steps = trace_op("svm_loss", state.inputs())
    steps = {s.name: s for s in steps}
    table = {**TABLE, "why": {}}
    n, k = a["logits"].shape
    rows, cols = [f"n={i}" for i in range(n)], [f"k={j}" for j in range(k)]
    return {
        "loss": cell_text(float(a["loss"])), "steps": steps,
        "margins": grids.add(a["margins"], "svm_margins", label="svm margins", row_labels=rows, col_labels=cols,
                             **table),
        "positive": grids.add(a["positive"], "svm_positive", label="violated margins", vmax=1.0, row_labels=rows,
                              col_labels=cols, **table),
        "dlogits": grids.add(a["dlogits"], "svm_dlogits", label="svm dlogits", row_labels=rows, col_labels=cols,
                             **table),
        "violations": int(a["positive"].sum()),
    }


def _naive_reason(naive: softmax_lab.NaiveSoftmax, n: int) -> str:
    """Why row n of the formula as written has no finite answer, from the engine's flags."""
    if naive.overflow[n].any():
        return "exp(z) overflowed to inf, and inf/inf is NaN"
    if naive.underflow[n].all():
        return "every exp(z) underflowed to 0, and 0/0 is NaN"
    if naive.nan[n].any():
        return "p is NaN"
    return "p of the label underflowed to 0, and −log 0 is inf"


def _sample(grids: Heatmaps, r: dict, naive, rmax, n: int, label: int, t: float) -> dict:
    jac_vmax = scale_max(r["jacobian"][n])
    d_vmax = scale_max(r["dlogits"][n], r["dlogits_via_jacobian"][n])
    return {
        "n": n, "label": label,
        "stable_latex": _stable_latex(r, rmax, n, t), "naive_latex": _naive_latex(naive, n, label),
        "nll_latex": _nll_latex(r, n, label), "fused_latex": _fused_latex(r, n, t),
        "long_latex": _long_latex(r, n, label, t), "defined": bool(r["dprobs_defined"][n]),
        "jacobian": _plane(grids, r["jacobian"][n], "jacobian", n, jac_vmax),
        "jacobian_vmax": cell_text(jac_vmax),
        "dprobs": _row_of(grids, r["dprobs"], "dprobs", n),
        "via_jacobian": _row_of(grids, r["dlogits_via_jacobian"], "dlogits_via_jacobian", n, d_vmax),
        "dlogits": _row_of(grids, r["dlogits"], "dlogits", n, d_vmax),
    }


def _grids(g: Heatmaps, r: dict, naive, rmax) -> dict:
    why_exp = {"inf": "exp(z) overflowed: larger than 1.8e308, the largest float64", "nan": "NaN"}
    why_p = {"inf": "inf", "nan": "NaN: inf/inf or 0/0 has no value"}
    why_nll = {"inf": "−log 0 = inf: p of the label underflowed to 0", "nan": "NaN: p of the label is NaN"}
    z_vmax = scale_max(r["scaled"], rmax)
    return {
        "scaled": _matrix(g, r["scaled"], "scaled", z_vmax) if r["temperature_shown"] else None,
        "row_max": _column(g, rmax, "row_max", z_vmax),
        "shifted": _matrix(g, r["shifted"], "shifted"),
        "exp": _matrix(g, r["exp"], "exp", mark=r["exp"] == 0),
        "sum_exp": _column(g, r["sum_exp"], "sum_exp"),
        "probs": _matrix(g, r["probs"], "probs", 1.0),
        "log_probs": _matrix(g, r["log_probs"], "log_probs"),
        "onehot": _matrix(g, r["onehot"], "onehot", 1.0),
        "nll": _column(g, r["nll"], "nll"),
        "nll_row": _row(g, r["nll"], "nll"),
        "loss_cell": g.add(r["loss"], "loss", why={}, **TABLE),
        "p_minus_y": _matrix(g, r["p_minus_y"], "p_minus_y", 1.0),
        "dlogits_grid": _matrix(g, r["dlogits"], "dlogits"),
        "naive_exp": _matrix(g, naive.exp, "naive_exp", None, naive.underflow, why_exp),
        "naive_sum": _column(g, naive.sum_exp, "naive_sum", None, why_exp),
        "naive_probs": _matrix(g, naive.probs, "naive_probs", 1.0, None, why_p),
        "naive_nll": _column(g, naive.nll, "naive_nll", None, why_nll),
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
         "engine": power_text(total), "arr": "naive_sum", "idx": str(n), "ok": True,
         "remark": "agrees (the unshifted sum; the stable route's S is this divided by e³)"},
        {"what": r"p_0 = e^{3} / \textstyle\sum", "notes": printed["p"][0], "engine": power_text(p[0]),
         "arr": "probs", "idx": f"{n},0", "ok": True, "remark": f"agrees, rounded to two digits ({p[0]:.2f})"},
        {"what": r"p_1 = e^{-2} / \textstyle\sum", "notes": printed["p"][1], "engine": power_text(p[1]),
         "arr": "probs", "idx": f"{n},1", "ok": False,
         "remark": f"cut short: {power_text(p[1])} rounds to {p[1]:.2g}, not 0.0066"},
        {"what": r"p_2 = e^{-100} / \textstyle\sum", "notes": printed["p"][2], "engine": power_text(p[2]),
         "arr": "probs", "idx": f"{n},2", "ok": False,
         "remark": f"slip in the notes: e⁻¹⁰⁰ = {power_text(e[2])}, divided by {power_text(total)} is "
                   f"{power_text(p[2])}"},
    ]}
