"""What the pooling lab exports: its pooling call and its ReLU call (app.web.kit.export)."""

from __future__ import annotations

from app.web.kit.export import Export, OpCall
from app.web.labs.pool.state import PoolState, fit_typed


def calls(state: PoolState) -> list[OpCall]:
    state = fit_typed(state)
    shown = ("out", "argmax", "dx") if state.op == "maxpool2d" else ("out", "dx")
    return [OpCall(state.op, state.pool_inputs(), state.params, shown),
            OpCall("relu", state.relu_inputs(), {}, ("mask", "out", "dx"), prefix="relu.")]


EXPORT = Export(calls, title="Pooling & ReLU lab")
