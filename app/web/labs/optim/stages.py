"""One optimizer update revealed stage by stage: g first, then each sub-step of the rule in the order the
engine computes it (Adam: g → m → v → m̂ → v̂ → update; AdamW starts with the decay; SGD: g → update).

Stage 0 (the default, left out of the link) shows the whole update; stage k shows stages 1..k with the k-th
marked. The stages are the engine's own sub-steps (:func:`engine.optim.rules.optimizer_steps`), so every
optimizer gets the reveal; their numbers are the step record's (``engine.optim.runs.plugged_step``) and g is
the gradient the optimizer was given (``LabStep.grads``). This module only arranges them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from engine.optim import rules as optim
from engine.tex import tex_number

FIRST = "g"  # stage 1: the gradient this update reads
MAX_STAGE = 9  # a bound for reading a stage before the optimizer is known (AdamW has the most: 6)


@lru_cache(maxsize=64)
def _sub_steps(name: str, hp: tuple) -> tuple[str, ...]:
    """The names of ``name``'s sub-steps with these hyperparameters (asked of the engine on one zero number)."""
    params, grads = {"p": np.zeros(1)}, {"p": np.zeros(1)}
    return tuple(st.name for st in optim.optimizer_steps(name, params, grads, optim.init_state(name, params),
                                                         dict(hp)))


def stage_names(name: str, hyperparams: dict[str, Any]) -> tuple[str, ...]:
    """Stage k (from 1) is ``stage_names(...)[k - 1]``: "g", then the rule's sub-steps."""
    return (FIRST, *_sub_steps(name, tuple(sorted(hyperparams.items()))))


def stage_count(name: str, hyperparams: dict[str, Any]) -> int:
    """Positions of the stepper: 0 (the whole update) and one per stage."""
    return 1 + len(stage_names(name, hyperparams))


def stage_line(name: str, hyperparams: dict[str, Any]) -> str:
    """The stages as the stepper writes them: "g → m → v → m̂ → v̂ → update"."""
    return " → ".join(SYMBOLS.get(n, n) for n in stage_names(name, hyperparams))


def stage_view(formulas: list, grads: dict, key: str, vector: str, j: int, t: int, stage: int) -> dict:
    """The reveal at ``stage``: the gradient's line and each sub-step ``(Step, plugged line)`` of
    ``engine.optim.runs.plugged_step``, each with its stage number and whether it shows, is current or waits."""
    g = float(np.asarray(grads[vector])[j])
    rows = [{"n": 1, "name": FIRST, "title": f"The gradient of {key} this update reads",
             "latex": rf"g_{{{t}}} = \frac{{\partial L}}{{\partial \theta}}\Big|_{{\theta_{{{t - 1}}}}}",
             "line": rf"g_{{{t}}} = {tex_number(g)}"}]
    rows += [{"n": i, "name": st.name, "title": st.title, "latex": st.latex, "line": line}
             for i, (st, line) in enumerate(formulas, 2)]
    count = len(rows)
    for row in rows:
        row["when"] = ("now" if row["n"] == stage else "later" if row["n"] > stage else "") if stage else ""
    names = " → ".join(SYMBOLS.get(row["name"], row["name"]) for row in rows)  # stage_line, from the rows shown
    current = rows[stage - 1] if stage else None
    return {"stage": stage, "count": count, "rows": rows, "names": names,
            "title": current["title"] if current else "", "symbol": SYMBOLS.get(current["name"], "") if current
            else ""}


SYMBOLS = {"g": "g", "m": "m", "v": "v", "s": "s", "m_hat": "m̂", "v_hat": "v̂", "update": "update",
           "decay": "decay", "weight_decay": "g + λθ"}  # how the stepper writes a stage
