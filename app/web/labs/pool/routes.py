"""The pooling lab at /pool: its spec for the shared lab routes (:mod:`app.web.kit.routes`).

Max and average pooling, the argmax routing of the gradient, ReLU. GET /pool?<state> renders the
whole page from a link; the page's form posts to the fragment routes, the window stepper to /pool/window.
"""

from __future__ import annotations

import numpy as np

from app.settings import Settings
from app.web.kit.bug_sites import SITES
from app.web.kit.fields import parse_index
from app.web.kit.form import Form
from app.web.kit.routes import LabSpec, lab_router
from app.web.labs.pool import activations as pool_activations
from app.web.labs.pool import view as pool_view
from app.web.labs.pool.export import EXPORT
from app.web.labs.pool.presets import DEFAULT, PRESETS
from app.web.labs.pool.state import PoolState, fit_typed, form_limits, from_form, from_link, output_count
from app.web.render import figures
from app.web.render.numbers import cell_text
from engine.explain import pool as pool_lab
from engine.explain.terms import op_terms
from engine.gradcheck import check_op
from engine.records import OpInputError
from engine.registry import op_provenance, prepare

GRADCHECK_SAMPLE = 40  # entries of x checked per op; all of them when x is smaller
GRADCHECK_STEP = 1e-3  # both ops are piecewise linear: away from their kinks the differences are exact
POOL_ARRAYS = {"out", "window_argmax", "argmax", "dx", "windows"}  # the op's own provenance
POOL_INPUTS = {"x", "dout"}  # provenance the other way round: what was computed from them
RELU_ARRAYS = {"relu_x": "x", "relu_out": "out", "relu_mask": "mask", "relu_dx": "dx", "relu_dout": "dout"}


def _check(op: str, inputs: dict, params: dict, size: int, stride: int) -> dict:
    """One badge: check_op on x, or, where x sits on a kink (a tie, ReLU at 0), the entries away from it."""
    spec, arrays, clean = prepare(op, inputs, params)
    result = spec.run(arrays, clean)
    skip = pool_lab.kinks(op, result, size, stride, GRADCHECK_STEP)
    if not skip.any():
        report = check_op(op, inputs, params, h=GRADCHECK_STEP, max_per_input=GRADCHECK_SAMPLE)
    else:
        report = pool_lab.check_away_from_kinks(op, arrays, clean, skip, GRADCHECK_STEP,
                                                max_per_input=GRADCHECK_SAMPLE)
    found = {"op": op, "report": report, "skipped": int(skip.sum()), "total": int(skip.size),
             "worst": cell_text(report.worst) if report else None,
             "ok": report is not None and report.worst < 1e-7}
    if op == "maxpool2d" and skip.any():
        ties = pool_lab.tie_counts(result)
        found["ties"] = int(np.sum(ties >= 2))
        found["near"] = found["ties"] == 0  # only near-ties (closer than h), no exact ones
        found["first_tie"] = ", ".join(str(int(i)) for i in np.argwhere(ties >= 2)[0]) if found["ties"] else None
    return found


def gradcheck(state: PoolState, form: Form, settings: Settings) -> dict:
    """Numeric gradient checks of the current inputs: the pooling op, then ReLU."""
    state = fit_typed(state)
    try:
        pool = _check(state.op, state.pool_inputs(), state.params, state.size, state.stride)
    except OpInputError:
        pool = None
    relu = _check("relu", state.relu_inputs(), {}, state.size, state.stride)
    figure = None
    if pool and pool["report"]:
        figure = figures.gradcheck_scatter(pool["report"].analytic, pool["report"].numeric)
    return {"pool": pool, "relu": relu, "figure": figure, "state": state}


def provenance(state: PoolState, array: str, index_text: str) -> dict[str, list[tuple[int, ...]]]:
    """Which cells a cell came from (or, for x and dout, went to)."""
    state = fit_typed(state)
    index = parse_index(index_text)
    if array in RELU_ARRAYS:
        return _relu_provenance(state, RELU_ARRAYS[array], index)
    if array in pool_activations.PROVENANCE_ARRAYS:
        return pool_activations.provenance(state.relu_inputs(), array, index)
    if array in POOL_ARRAYS:
        return op_provenance(state.op, state.pool_inputs(), state.params, array, index)
    spec, arrays, params = prepare(state.op, state.pool_inputs(), state.params)
    result = spec.run(arrays, params)
    return pool_lab.consumers(state.op, result, state.size, state.stride, array, index)


def _relu_provenance(state: PoolState, name: str, index: tuple[int, ...]) -> dict:
    """ReLU is elementwise: every array's cell comes from (and feeds) the same cell of the others."""
    if name in ("x", "dout"):  # the other way round: what was computed from this input cell
        op_provenance("relu", state.relu_inputs(), {}, "out", index)  # checks the index
        made = {"x": ("relu_mask", "relu_out", "relu_dx"), "dout": ("relu_dx",)}[name]
        return {table: [index] for table in made}
    sources = op_provenance("relu", state.relu_inputs(), {}, name, index)
    found = {("relu_" + src if src != "x" else "relu_x"): idxs for src, idxs in sources.items()}
    if "relu_x" in found or "relu_mask" in found:
        found["x"] = [index]  # the editable x is the same tensor
        found.setdefault("relu_x", [index])
    return found


def terms(state: PoolState, array: str, index_text: str):
    """The terms of a dx cell: the routed (max) or shared (average) douts; ReLU's mask·dout. None elsewhere."""
    state = fit_typed(state)
    if array == "dx":
        return op_terms(state.op, state.pool_inputs(), state.params, "dx", parse_index(index_text))
    if array == "relu_dx":
        found = op_terms("relu", state.relu_inputs(), {}, "dx", parse_index(index_text))
        return found.renamed(lambda name: "relu_" + name)
    if array in pool_activations.ARRAYS:
        return pool_activations.terms(state.relu_inputs(), array, parse_index(index_text))
    return None


LAB = LabSpec(export=EXPORT, slug="pool", noun="pooling", presets=PRESETS, default=DEFAULT, from_link=from_link,
              bug_sites=SITES["pool"],
              from_form=from_form, show=pool_view.show, limits=form_limits, gradcheck=gradcheck,
              provenance=provenance,
              provenance_arrays=POOL_ARRAYS | POOL_INPUTS | set(RELU_ARRAYS) | pool_activations.PROVENANCE_ARRAYS,
              window_positions=output_count, terms=terms)
router = lab_router(LAB)
