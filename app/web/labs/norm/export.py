"""What the normalization lab exports: the open tab's op — batch norm, layer norm (beside batch norm) or
dropout (app.web.kit.export)."""

from __future__ import annotations

from app.web.kit.export import Export, OpCall
from app.web.labs.norm.state import NormState

BN = ("mean", "var", "std", "x_hat", "out", "running_mean", "running_var", "dx_hat", "dvar", "dmean", "dx",
      "dgamma", "dbeta")
LN = ("mean", "var", "std", "x_hat", "out", "dx_hat", "dvar", "dmean", "dx", "dgamma", "dbeta")


def calls(state: NormState) -> list[OpCall]:
    batchnorm = OpCall("batchnorm", state.bn_inputs(), state.bn_params(), BN)
    if state.tab == "ln":
        return [OpCall("layernorm", state.ln_inputs(), {"eps": state.eps}, LN),
                OpCall("batchnorm", state.bn_inputs(), state.bn_params(), BN, prefix="bn.")]
    if state.tab == "dropout":
        return [OpCall("dropout", {"x": state.x, "dout": state.dout()}, state.dropout_params(),
                       ("mask", "out", "dx"))]
    return [batchnorm]


EXPORT = Export(calls, title="Normalization lab")
