"""The convolution lab at /conv: its spec for the shared lab routes (:mod:`app.web.kit.routes`).

GET /conv?<state> renders the whole page from a link; the page's form posts to the fragment
routes, the sliding window's stepper to /conv/window.
"""

from __future__ import annotations

import numpy as np

from app.settings import Settings
from app.web.kit.bug_sites import SITES
from app.web.kit.fields import parse_index
from app.web.kit.form import Form
from app.web.kit.routes import LabSpec, Stepper, lab_router
from app.web.labs.conv import view as conv_view
from app.web.labs.conv.export import EXPORT
from app.web.labs.conv.presets import DEFAULT, PRESETS
from app.web.labs.conv.state import (
    ConvState,
    form_limits,
    from_form,
    from_link,
    out_shape,
    output_count,
    walk_count,
)
from app.web.render import figures
from app.web.render.numbers import cell_text
from engine.explain.terms import op_terms, term_arrays
from engine.gradcheck import check_op
from engine.ops.im2col import row_to_offset
from engine.records import OpInputError
from engine.registry import op_provenance

GRADCHECK_SAMPLE = 40  # entries checked per input; all of them when an input is smaller
GRADCHECK_STEP = 1e-3  # conv is linear in each input: central differences have no truncation error
PROVENANCE_ARRAYS = {"x", "w", "b", "x_padded", "x_col", "w_row", "wx_row", "out", "dout", "dout_row",
                     "dw", "db", "dx_col", "dx", "dx_full_conv", "dout_padded", "w_rot"}


def gradcheck(state: ConvState, form: Form, settings: Settings) -> dict:
    """The numeric gradient check of the current inputs: the worst relative error and a scatter."""
    try:
        report = check_op("conv2d", state.inputs(out_shape(state)), {"stride": state.stride, "pad": state.pad},
                          h=GRADCHECK_STEP, max_per_input=GRADCHECK_SAMPLE)
    except OpInputError:
        return {"report": None}
    return {"report": report, "worst": cell_text(report.worst),
            "figure": figures.gradcheck_scatter(report.analytic, report.numeric)}


def provenance(state: ConvState, array: str, index_text: str) -> dict[str, list[tuple[int, ...]]]:
    """Which cells a cell was computed from; an x_col cell also outlines its window (column) and kernel offset (row)."""
    index = parse_index(index_text)
    inputs, params = state.inputs(out_shape(state)), {"stride": state.stride, "pad": state.pad}
    sources = op_provenance("conv2d", inputs, params, array, index)
    if array != "x_col":
        return sources
    _, _, oh_count, ow_count = out_shape(state)
    n, oh, ow = np.unravel_index(index[1], (state.x.shape[0], oh_count, ow_count))
    window = op_provenance("conv2d", inputs, params, "out", (int(n), 0, int(oh), int(ow)))
    F, C, KH, KW = state.w.shape
    c, kh, kw = row_to_offset(index[0], C, KH, KW)  # a row is one kernel offset of every filter
    return {**sources, "x_padded": window.get("x_padded", []),
            "out": [(int(n), f, int(oh), int(ow)) for f in range(F)],
            "w": [(f, c, kh, kw) for f in range(F)], "w_row": [(f, index[0]) for f in range(F)]}


def terms(state: ConvState, array: str, index_text: str):
    """The terms that sum to a gradient cell (dx, dw, db, dx_col, dx_full_conv, dx_padded); None for other arrays."""
    if array not in term_arrays("conv2d"):
        return None
    params = {"stride": state.stride, "pad": state.pad}
    return op_terms("conv2d", state.inputs(out_shape(state)), params, array, parse_index(index_text))


LAB = LabSpec(export=EXPORT, slug="conv", noun="convolution", presets=PRESETS, default=DEFAULT, from_link=from_link,
              bug_sites=SITES["conv"],
              from_form=from_form, show=conv_view.show, limits=form_limits, gradcheck=gradcheck,
              provenance=provenance, provenance_arrays=PROVENANCE_ARRAYS, window_positions=output_count,
              steppers=(Stepper("walk", walk_count, "walk_step"),), terms=terms)
router = lab_router(LAB)
