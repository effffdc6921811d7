"""The normalization lab at /norm: its spec for the shared lab routes (:mod:`app.web.kit.routes`), and the
dropout expectation it loads lazily.

Batch norm, its running statistics, layer norm and dropout; the section shown is part of the state.
"""

from __future__ import annotations

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from app.settings import Settings
from app.web.kit.bug_sites import SITES
from app.web.kit.fields import FieldError, parse_index
from app.web.kit.form import Form
from app.web.kit.responses import form_errors
from app.web.kit.routes import LabSpec, SettingsDep, Stepper, lab_router, posted, shown_view
from app.web.labs.norm import groupnorm, stages
from app.web.labs.norm import view as norm_view
from app.web.labs.norm.export import EXPORT
from app.web.labs.norm.presets import DEFAULT, PRESETS
from app.web.labs.norm.state import TAB_TITLES, NormState, form_limits, from_form, from_link
from app.web.render import figures
from app.web.render.numbers import cell_text
from app.web.render.templating import templates
from engine.explain.norm import scaled_errors
from engine.explain.terms import op_terms, term_arrays
from engine.gradcheck import check_op
from engine.records import OpInputError
from engine.registry import OPS, op_provenance

GRADCHECK_SAMPLE = 24  # entries checked per input; all of them when an input is smaller
GRADCHECK_STEP = 1e-5  # central differences: truncation ~h², rounding ~1e-16/h; 1e-5 balances them here
GRADCHECK_TOL = 1e-5  # on the error relative to each gradient's size (engine.norm_lab.scaled_errors)
GRADCHECK_DOUT_STREAM = 0xC4  # the random dout a check uses when dout is all ones
INPUTS = {"x", "gamma", "beta", "dout", "running_mean_before", "running_var_before"}
PREFIXES = {"ln_": "layernorm", "drop_": "dropout"}
DISPLAY_ONLY = {  # table -> its sources (x's cell itself, the mask of the other reading of p)
    "drop_mean": lambda i: {"x": [i]},
    "drop_other_out": lambda i: {"x": [i], "drop_other_mask": [i]},
    "drop_other_mask": lambda i: {},
}


def _check_inputs(state: NormState, inputs: dict) -> tuple[dict, bool]:
    """With dout all ones, dx and dγ of a normalisation are exactly 0 (Σ x̂ = 0): check with a random dout."""
    if state.dout_mode != "ones" or state.tab == "dropout":
        return inputs, False
    rng = np.random.default_rng([state.dout_seed, GRADCHECK_DOUT_STREAM])
    return {**inputs, "dout": np.round(rng.standard_normal(state.x.shape), 1)}, True


def gradcheck(state: NormState, form: Form, settings: Settings) -> dict:
    """The numeric gradient check of the section's op: the worst relative error and a scatter."""
    ctx: dict = {"report": None, "tol": GRADCHECK_TOL}
    if state.tab == "bn":
        name, inputs, params = "batchnorm", state.bn_inputs(), state.bn_params("train")
    elif state.tab == "ln":
        name, inputs, params = "layernorm", state.ln_inputs(), {"eps": state.eps}
    elif state.tab == "dropout":
        name, inputs, params = "dropout", {"x": state.x, "dout": state.dout()}, state.dropout_params()
    else:
        return ctx
    inputs, random_dout = _check_inputs(state, inputs)
    try:
        report = check_op(name, inputs, params, h=GRADCHECK_STEP, max_per_input=GRADCHECK_SAMPLE)
    except OpInputError as exc:
        ctx["refused"] = exc.message
        return ctx
    scaled = scaled_errors(report.analytic, report.numeric)
    worst_scaled = max(scaled.values(), default=0.0)
    ctx.update({"report": report, "op": name, "worst": cell_text(report.worst), "random_dout": random_dout,
                "scaled": cell_text(worst_scaled), "ok": worst_scaled < GRADCHECK_TOL,
                "scaled_at": max(scaled, key=scaled.get) if scaled else "",
                "wrt": ", ".join(report.per_input), "train_only": name == "batchnorm" and state.mode == "eval",
                "figure": figures.gradcheck_scatter(report.analytic, report.numeric)})
    return ctx


def _op_for(array: str) -> tuple[str, str, str]:
    """(op, the op's own array name, the prefix its tables carry) for a table's data-arr."""
    for prefix, op in PREFIXES.items():
        if array.startswith(prefix):
            return op, array[len(prefix):], prefix
    return "batchnorm", array, ""


def provenance(state: NormState, array: str, index_text: str) -> dict[str, list[tuple[int, ...]]]:
    """Which cells a cell was computed from; an array or index this lab does not know names ``array``."""
    try:
        return _sources(state, array, parse_index(index_text))
    except OpInputError:
        raise
    except ValueError:
        raise FieldError("array", f"no provenance for {array!r} at {index_text!r}") from None


def _sources(state: NormState, array: str, index: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    if groupnorm.is_group_table(array):  # the group-norm card's groupings (γ = 1, β = 0)
        return groupnorm.provenance(state.x, state.eps, array, index)
    if array in DISPLAY_ONLY:  # tables drawn from engine helpers, not from one op call
        if len(index) != state.x.ndim or any(not 0 <= i < n for i, n in zip(index, state.x.shape, strict=True)):
            raise ValueError(array)
        return DISPLAY_ONLY[array](index)
    if array.startswith("seq_"):  # a running statistic after the sequence: where it started, and the batches
        if len(index) != 1 or not 0 <= index[0] < state.channels:
            raise ValueError(array)
        start = "running_var_before" if array.endswith("_var") else "running_mean_before"
        column = [i for i in np.ndindex(state.x.shape) if i[1] == index[0]] if state.source == "repeat" else []
        return {start: [index], **({"x": column} if column else {})}
    op, name, prefix = _op_for(array)
    if op == "batchnorm":
        if name not in OPS["batchnorm"].arrays:
            raise ValueError(array)
        return op_provenance(op, state.bn_inputs(), state.bn_params(), name, index)
    if op == "layernorm":
        if name not in OPS["layernorm"].arrays:
            raise ValueError(array)
        found = op_provenance(op, state.ln_inputs(), {"eps": state.eps}, name, index)
    else:
        if name not in ("out", "dx", "mask"):
            raise ValueError(array)
        found = op_provenance(op, {"x": state.x, "dout": state.dout()}, state.dropout_params(), name, index)
    out: dict[str, list[tuple[int, ...]]] = {}
    for source, idxs in found.items():
        if source in ("gamma", "beta") and state.x.ndim == 4:  # layer norm's γ_c over H×W: the γ cell c
            idxs = sorted({(i[0],) for i in idxs})
        out[source if source in INPUTS else prefix + source] = idxs
    return out


def terms(state: NormState, array: str, index_text: str):
    """The terms of a batch-norm gradient cell (dx by its three paths, dγ, dβ, …) or dropout's dx; None elsewhere."""
    op, name, prefix = _op_for(array)
    if name not in term_arrays(op):
        return None
    index = parse_index(index_text)
    if op == "batchnorm":
        return op_terms(op, state.bn_inputs(), state.bn_params(), name, index)
    if op == "dropout":
        found = op_terms(op, {"x": state.x, "dout": state.dout()}, state.dropout_params(), name, index)
        return found.renamed(lambda a: a if a in INPUTS else prefix + a)
    return None


LAB = LabSpec(export=EXPORT, slug="norm", noun="normalization", presets=PRESETS, default=DEFAULT, from_link=from_link,
              bug_sites=SITES["norm"],
              from_form=from_form, show=shown_view(norm_view.build, tabs=TAB_TITLES), limits=form_limits,
              gradcheck=gradcheck, provenance=provenance, terms=terms,
              steppers=(Stepper("stage", lambda state: stages.stage_count(state.mode), "stage"),))
router = lab_router(LAB)


@router.post("/norm/expectation")
async def norm_expectation(request: Request, settings: SettingsDep) -> Response:
    """Dropout's expectation: the mean of out over many seeded masks, converging to x (loaded lazily)."""
    _, state, errors = await posted(request, from_form, settings)
    if errors:
        return form_errors(request, errors)
    try:
        view = norm_view.expectation_view(state)
    except OpInputError as exc:
        view = {"error": exc.message}
    return templates.TemplateResponse(request, "norm/expectation.html", {"ex": view, "state": state})
