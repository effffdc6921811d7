"""What the convolution lab exports: its one ``conv2d`` call (app.web.kit.export)."""

from __future__ import annotations

from app.web.kit.export import Export, OpCall
from app.web.labs.conv.state import ConvState, fit_dout, out_shape

SHOWN = ("x_padded", "x_col", "out", "dw", "db", "dx_padded", "dx")


def calls(state: ConvState) -> list[OpCall]:
    shape = out_shape(state)
    if shape is not None:
        state = fit_dout(state, shape)
    return [OpCall("conv2d", state.inputs(shape), {"stride": state.stride, "pad": state.pad}, SHOWN)]


EXPORT = Export(calls, title="Convolution lab")
