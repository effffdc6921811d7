"""What the softmax lab exports: its ``softmax_cross_entropy`` call (app.web.kit.export)."""

from __future__ import annotations

from app.web.kit.export import Export, OpCall
from app.web.labs.softmax.state import OP, SoftmaxState


def calls(state: SoftmaxState) -> list[OpCall]:
    return [OpCall(OP, state.inputs(), state.params(), ("probs", "log_probs", "nll", "loss", "dlogits"))]


EXPORT = Export(calls, title="Softmax & cross-entropy lab")
