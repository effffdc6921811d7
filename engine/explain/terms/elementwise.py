"""Terms of the ops whose gradient routes or scales upstream values: pooling, activations, flatten.

- maxpool2d dx[n, c, h, w] = Σ 1·dout[n, c, oh, ow] over the windows whose maximum (argmax) is (h, w):
  the routed upstream values (overlapping windows that share a maximum add);
- avgpool2d dx[n, c, h, w] = Σ 1/(KH·KW)·dout[n, c, oh, ow] over the windows that cover (h, w);
- relu dx = mask·dout; sigmoid, tanh, leaky_relu dx = local_grad·dout (one term each);
- flatten dx[n, c, h, w] = 1·dout[n, (c·H + h)·W + w];
- dropout dx = (mask·scale)·dout.

The cells come from the op's own provenance (one definition of which windows reach a cell).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explain.terms.record import Term, Terms, cell, constant
from engine.ops.im2col import pair
from engine.records import Arrays, Index, OpInputError
from engine.registry import OPS

POOL_FORMULAS = {
    "maxpool2d": r"\frac{\partial L}{\partial x}[n,c,h,w] = \sum_{(o_h,o_w):\ \text{argmax} = h W + w}"
                 r" 1\cdot\frac{\partial L}{\partial \text{out}}[n,c,o_h,o_w]",
    "avgpool2d": r"\frac{\partial L}{\partial x}[n,c,h,w] = \sum_{(o_h,o_w)\ \ni\ (h,w)}"
                 r" \frac{1}{K_H K_W}\,\frac{\partial L}{\partial \text{out}}[n,c,o_h,o_w]",
}
LOCAL_FORMULA = r"\frac{\partial L}{\partial x} = \frac{\partial y}{\partial x}\cdot\frac{\partial L}{\partial y}"


def _no_terms(op: str, array: str, arrays: tuple[str, ...]) -> OpInputError:
    return OpInputError("array", f"{op} has no terms for {array!r}; arrays with terms: {', '.join(arrays)}")


def pool_terms(op: str):
    def terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
        if array != "dx":
            raise _no_terms(op, array, ("dx",))
        dout = result["dout"]
        sources = OPS[op].provenance(result, params, "dx", index)["dout"]
        n, c, h, w = index
        if op == "maxpool2d":
            width = result["x"].shape[3]
            terms = [Term(cell("argmax", src, 1.0, f"[argmax[{','.join(map(str, src))}] = {h * width + w}]"),
                          cell("dout", src, dout[src])) for src in sources]
            note = (f"x[{n},{c},{h},{w}] won {len(terms)} window{'s' * (len(terms) != 1)}: each routes its whole "
                    "upstream value here (overlaps add)." if terms else
                    f"x[{n},{c},{h},{w}] is the maximum of no window: nothing is routed to it.")
        else:
            kh, kw = pair(params["size"])
            share = 1.0 / (kh * kw)
            terms = [Term(constant(share, f"1/({kh}·{kw})"), cell("dout", src, dout[src])) for src in sources]
            note = (f"{len(terms)} window{'s' * (len(terms) != 1)} cover x[{n},{c},{h},{w}]; each shares its upstream "
                    f"value equally among its {kh * kw} cells.")
        return Terms(op, "dx", tuple(index), float(result["dx"][index]), tuple(terms), POOL_FORMULAS[op], note)

    return terms


def relu_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    if array != "dx":
        raise _no_terms("relu", array, ("dx",))
    x = float(result["x"][index])
    term = Term(cell("mask", index, result["mask"][index]), cell("dout", index, result["dout"][index]))
    note = f"x = {x:g} is {'positive: the gradient passes' if x > 0 else 'not positive: the gradient stops'}."
    return Terms("relu", "dx", tuple(index), float(result["dx"][index]), (term,),
                 r"\frac{\partial L}{\partial x} = \mathbf{1}[x > 0]\cdot\frac{\partial L}{\partial y}", note)


def local_terms(op: str):
    def terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
        if array != "dx":
            raise _no_terms(op, array, ("dx",))
        term = Term(cell("local_grad", index, result["local_grad"][index]), cell("dout", index, result["dout"][index]))
        return Terms(op, "dx", tuple(index), float(result["dx"][index]), (term,), LOCAL_FORMULA,
                     "The upstream value times the activation's slope at this input.")

    return terms


def dropout_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    if array != "dx":
        raise _no_terms("dropout", array, ("dx",))
    scale = float(result["scale"])
    mask = float(result["mask"][index])
    term = Term(cell("mask", index, mask * scale, f"{scale:g}·mask[{','.join(map(str, index))}]"),
                cell("dout", index, result["dout"][index]))
    note = (f"Kept in the forward pass, so the gradient passes, scaled by {scale:g} as the value was." if mask else
            "Dropped in the forward pass: no gradient passes.")
    formula = r"\frac{\partial L}{\partial x} = \text{scale}\cdot\text{mask}\cdot\frac{\partial L}{\partial y}"
    return Terms("dropout", "dx", tuple(index), float(result["dx"][index]), (term,), formula, note)


def flatten_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    if array != "dx":
        raise _no_terms("flatten", array, ("dx",))
    shape = result["x"].shape
    n = index[0]
    flat = int(np.ravel_multi_index(tuple(index[1:]), shape[1:]))
    term = Term(constant(1.0, "1"), cell("dout", (n, flat), result["dout"][n, flat]))
    return Terms("flatten", "dx", tuple(index), float(result["dx"][index]), (term,),
                 r"\frac{\partial L}{\partial x}[n,\dots] = \frac{\partial L}{\partial y}[n, \text{row-major index}]",
                 f"Flattening only moves values: this cell was entry {flat} of row {n}.")


FAMILY = {
    "maxpool2d": (pool_terms("maxpool2d"), ("dx",)),
    "avgpool2d": (pool_terms("avgpool2d"), ("dx",)),
    "relu": (relu_terms, ("dx",)),
    "flatten": (flatten_terms, ("dx",)),
    "dropout": (dropout_terms, ("dx",)),
    **{name: (local_terms(name), ("dx",)) for name, spec in OPS.items() if "local_grad" in spec.arrays},
}
