"""The batch-norm graph walked stage by stage, ①→⑥ (train) or ①→④ (eval): the box whose gradient the
backward pass computes at that stage, the arrows it reads, its formula with the numbers and the terms
(coefficient · upstream) that sum to it. Stage 0 shows the whole graph. The stage is part of the link.
"""

from __future__ import annotations

from typing import Any

from app.web.labs.norm.state import BACKWARD_STAGES
from engine.explain.terms import terms_of

ORDER = {"train": ("beta", "gamma", "x_hat", "var", "mu", "x"), "eval": ("beta", "gamma", "x_hat", "x")}
GRADIENT = {"beta": "dbeta", "gamma": "dgamma", "x_hat": "dx_hat", "var": "dvar", "mu": "dmean", "x": "dx"}
WHAT = {"beta": "∂L/∂β: every y used β once", "gamma": "∂L/∂γ: every y used γ, times its x̂",
        "x_hat": "∂L/∂x̂ᵢ: yᵢ = γ·x̂ᵢ + β", "var": "∂L/∂σ²: every x̂ᵢ divided by √(σ² + ε)",
        "mu": "∂L/∂μ: every x̂ᵢ subtracted μ, and so did σ²",
        "x": "∂L/∂xᵢ: three paths reach xᵢ — through x̂ᵢ, σ² and μ"}
EVAL_X = "∂L/∂xᵢ: in eval μ and σ² are constants, one path through x̂ᵢ"


def stage_count(mode: str) -> int:
    """Positions of the stepper: 0 (the whole graph) and one per stage."""
    return 1 + len(ORDER[mode])


def stage_view(r: dict, params: dict[str, Any], c: int, stage: int, graph: dict, formulas: dict) -> dict:
    """Mark stage ``stage``'s box and the arrows it reads in ``graph`` (in place), and its numbers."""
    mode = params.get("mode", "train")
    order = ORDER[mode]
    count = stage_count(mode)
    circled = BACKWARD_STAGES[mode]
    view = {"stage": stage % count, "count": count, "last": len(order), "circled": circled}
    if not view["stage"]:
        return view
    key = order[view["stage"] - 1]
    for node in graph["nodes"]:
        node["current"] = node["key"] == key
    for edge in graph["edges"]:
        edge["current"] = edge["tail"] == key
    array = GRADIENT[key]
    per_value = array in ("dx_hat", "dx")
    index = ((0, c) if r["x"].ndim == 2 else (0, c, 0, 0)) if per_value else (c,)
    terms = terms_of("batchnorm", r, params, array, index)
    formula = formulas.get(array)
    view.update(key=key, array=array, circle=circled[view["stage"] - 1], terms=terms,
                what=EVAL_X if key == "x" and mode == "eval" else WHAT[key],
                latex=formula.latex if formula is not None else "", sample=per_value)
    return view
