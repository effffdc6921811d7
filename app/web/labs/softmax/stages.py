"""The softmax computed stage by stage, stable and as written side by side: z → z − max → exp → sum → divide.

Stage 0 (the default, left out of the link) shows every stage at once; stage k of 5 shows stages 1..k, the
k-th marked, each with its numbers per sample for both routes and where the formula as written breaks (exp
overflows to inf, the sum is inf, inf/inf is NaN). Every number is the engine's: the op's run record
(``scaled``, ``shifted``, ``exp``, ``sum_exp``, ``probs``) and ``engine.explain.softmax``'s naive trace and
row maxima. This module only writes them as LaTeX.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from app.web.render.numbers import tex_number
from engine.explain import softmax as softmax_lab

STAGES = ("z", "shift", "exp", "sum", "divide")  # stage k (1-based) is STAGES[k - 1]
TITLES = {"z": "the logits z", "shift": "subtract each row's maximum", "exp": "exponentiate",
          "sum": "sum each row", "divide": "divide by the sum"}
NAIVE = {"z": "the same z", "shift": "no shift: z as it is", "exp": "exp(z)", "sum": "Σ exp(z)",
         "divide": "exp(z) / Σ exp(z)"}

tex = partial(tex_number, digits=4)  # a cell's 4 digits, as the page's other formulas (1.84 × 10⁻⁴⁵, ∞)


def stage_count() -> int:
    """Positions of the stepper: 0 (every stage at once) and one per stage."""
    return 1 + len(STAGES)


def tex_vec(values) -> str:
    return r"\left[" + r",\ ".join(map(tex, np.ravel(values).astype(float).tolist())) + r"\right]"


def stable_lines(r: dict, rmax: np.ndarray, n: int, t: float) -> dict[str, list[str]]:
    """Sample n's stable route, stage by stage: aligned LaTeX lines (``&=``) from the op's run record."""
    z = (rf"z_{n} &= \text{{logits}}_{n} / T = {tex_vec(r['logits'][n])} / {tex(t)} = {tex_vec(r['scaled'][n])}"
         if t != 1 else rf"z_{n} &= \text{{logits}}_{n} = {tex_vec(r['scaled'][n])}")
    terms = " + ".join(tex(v) for v in r["exp"][n])
    return {
        "z": [z],
        "shift": [rf"m_{n} &= \max_k z_{{{n},k}} = {tex(rmax[n])}",
                  rf"\tilde z_{n} &= z_{n} - m_{n} = {tex_vec(r['shifted'][n])}"],
        "exp": [rf"e_{n} &= \exp(\tilde z_{n}) = {tex_vec(r['exp'][n])}"],
        "sum": [rf"S_{n} &= \textstyle\sum_k e_{{{n},k}} = {terms} = {tex(r['sum_exp'][n])}"],
        "divide": [rf"p_{n} &= e_{n} / S_{n} = {tex_vec(r['probs'][n])}"],
    }


def naive_lines(naive: softmax_lab.NaiveSoftmax, n: int) -> dict[str, list[str]]:
    """Sample n's route as written, stage by stage, from the engine's naive trace."""
    powers = r",\ ".join(f"e^{{{tex(v)}}}" for v in naive.z[n])
    return {
        "z": [rf"z_{n} &= {tex_vec(naive.z[n])}"],
        "shift": [rf"z_{n} &= {tex_vec(naive.z[n])}\quad\text{{(unchanged)}}"],
        "exp": [rf"e^{{z_{n}}} &= \left[{powers}\right] = {tex_vec(naive.exp[n])}"],
        "sum": [rf"\textstyle\sum_k e^{{z_{{{n},k}}}} &= {tex(naive.sum_exp[n])}"],
        "divide": [rf"p_{n} &= e^{{z_{n}}} / \textstyle\sum_k e^{{z_{{{n},k}}}} = {tex_vec(naive.probs[n])}"],
    }


def aligned(lines: list[str]) -> str:
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def breaks_at(naive: softmax_lab.NaiveSoftmax, n: int) -> dict[str, str]:
    """Where sample n's route as written stops being a number, by stage (from the engine's flags)."""
    found: dict[str, str] = {}
    if naive.overflow[n].any():
        found["exp"] = "exp(z) overflows: larger than 1.8e308, the largest float64, it is inf"
        found["sum"] = "the sum of an inf is inf"
        found["divide"] = "inf / inf has no value: p is NaN"
    elif naive.underflow[n].all():
        found["exp"] = "every exp(z) underflows to 0"
        found["sum"] = "the sum is 0"
        found["divide"] = "0 / 0 has no value: p is NaN"
    elif naive.underflow[n].any():
        found["exp"] = "some exp(z) underflow to 0 (harmless unless it is the label's)"
    return found


def stage_view(r: dict, naive: softmax_lab.NaiveSoftmax, rmax: np.ndarray, stage: int, t: float) -> dict:
    """What the reveal shows at ``stage`` (0: everything): per sample, the current stage's lines of both routes."""
    count = len(STAGES)
    view: dict = {"stage": stage, "count": count, "names": STAGES, "titles": TITLES}
    if not stage:
        return view
    key = STAGES[stage - 1]
    samples = []
    for n in range(r["scaled"].shape[0]):
        broken = breaks_at(naive, n)
        samples.append({"n": n, "stable": aligned(stable_lines(r, rmax, n, t)[key]),
                        "naive": aligned(naive_lines(naive, n)[key]), "breaks": broken.get(key)})
    view.update(key=key, title=TITLES[key], naive_title=NAIVE[key], samples=samples)
    return view
