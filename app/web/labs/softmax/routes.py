"""The softmax lab at /softmax: its spec for the shared lab routes (:mod:`app.web.kit.routes`).

GET /softmax?<state> renders the whole page from a link; the page's form posts to the fragment routes.
"""

from __future__ import annotations

from app.settings import Settings
from app.web.kit.bug_sites import SITES
from app.web.kit.fields import parse_index
from app.web.kit.form import Form
from app.web.kit.routes import LabSpec, Stepper, lab_router, shown_view
from app.web.labs.softmax import stages, svm
from app.web.labs.softmax import view as softmax_view
from app.web.labs.softmax.export import EXPORT
from app.web.labs.softmax.presets import DEFAULT, PRESETS
from app.web.labs.softmax.state import OP, SoftmaxState, form_limits, from_form, from_link
from app.web.render import figures
from app.web.render.numbers import cell_text, power_text
from engine.explain import softmax as softmax_lab
from engine.explain.terms import op_terms, term_arrays
from engine.registry import OPS, op_provenance

PROVENANCE_ARRAYS = set(OPS[OP].arrays) | set(softmax_lab.NAIVE_ARRAYS) | set(svm.ARRAYS)


def gradcheck(state: SoftmaxState, form: Form, settings: Settings) -> dict:
    """The numeric gradient check of dlogits at the current inputs: the worst relative error and a scatter."""
    check = softmax_lab.gradcheck_logits(state.logits, state.labels, state.temperature)
    report = check.report
    return {"check": check, "worst": cell_text(check.worst), "noise": cell_text(check.noise),
            "floor": cell_text(check.floor), "h": power_text(check.h),
            "figure": figures.gradcheck_scatter(report.analytic, report.numeric)}


def provenance(state: SoftmaxState, array: str, index_text: str) -> dict[str, list[tuple[int, ...]]]:
    """Which cells a cell was computed from (the loss is a scalar: its index is empty)."""
    index = parse_index(index_text) if index_text else ()
    if array in softmax_lab.NAIVE_ARRAYS:
        return softmax_lab.naive_provenance(array, index, state.logits.shape, state.labels)
    if array in svm.ARRAYS:
        return svm.provenance(state.inputs(), array, index)
    return op_provenance(OP, state.inputs(), state.params(), array, index)


def terms(state: SoftmaxState, array: str, index_text: str):
    """The terms of a dlogits cell (the fused route, or through the Jacobian; the SVM card's dlogits); None for
    other arrays."""
    if array == "svm_dlogits":
        return svm.terms(state.inputs(), parse_index(index_text))
    if array not in term_arrays(OP):
        return None
    return op_terms(OP, state.inputs(), state.params(), array, parse_index(index_text))


LAB = LabSpec(export=EXPORT, slug="softmax", noun="softmax", presets=PRESETS, default=DEFAULT, from_link=from_link,
              from_form=from_form, show=shown_view(softmax_view.build), limits=form_limits, gradcheck=gradcheck,
              bug_sites=SITES["softmax"],
              provenance=provenance, provenance_arrays=PROVENANCE_ARRAYS, terms=terms,
              steppers=(Stepper("stable", lambda state: stages.stage_count(), "stage"),))
router = lab_router(LAB)
