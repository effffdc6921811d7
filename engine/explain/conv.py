"""One position of the sliding window, term by term: the notes' t11 = x11·k11 + x12·k12 + … + B.

The conv lab steps this window over the padded input; every number it shows (each
product, their sum, the bias, the output) comes from here, and the output equals the
im2col path's ``out`` at the same position (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from engine.records import OpInputError
from engine.tex import tex_number


@dataclass(frozen=True)
class WindowTerms:
    n: int
    f: int
    oh: int
    ow: int
    x_window: np.ndarray  # x_padded[n, :, oh·s : oh·s + KH, ow·s : ow·s + KW], (C, KH, KW)
    kernel: np.ndarray  # w[f], (C, KH, KW)
    products: np.ndarray  # x_window ⊙ kernel
    total: float  # Σ products
    bias: float  # b[f]
    out: float  # total + bias
    latex: str  # the sum with the numbers plugged in


_num = partial(tex_number, digits=4, parens=True)  # a term of the sum: a cell's 4 digits


def window_terms(x_padded: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int,
                 n: int, f: int, oh: int, ow: int, max_terms: int = 9) -> WindowTerms:
    """The window of output (n, f, oh, ow). Writes every term in the formula up to ``max_terms``."""
    N, C, Hp, Wp = x_padded.shape
    F, _, KH, KW = w.shape
    top, left = oh * stride, ow * stride
    if not (0 <= n < N and 0 <= f < F and 0 <= top and top + KH <= Hp and 0 <= left and left + KW <= Wp):
        raise OpInputError("step", f"no window at out[{n}, {f}, {oh}, {ow}]")
    x_window = np.array(x_padded[n, :, top:top + KH, left:left + KW], copy=True)
    kernel = np.array(w[f], copy=True)
    products = x_window * kernel
    total = float(products.sum())
    bias = float(b[f])
    out = total + bias
    pairs = [rf"{_num(xv)}\cdot{_num(kv)}" for xv, kv in zip(x_window.ravel(), kernel.ravel(), strict=True)]
    if len(pairs) > max_terms:
        pairs = [*pairs[:max_terms - 3], r"\cdots", *pairs[-2:]]
    lhs = rf"\text{{out}}[{n}, {f}, {oh}, {ow}]"
    latex = (rf"{lhs} = \underbrace{{{' + '.join(pairs)}}}_{{\sum x \odot w\; =\; {tex_number(total, 4)}}}"
             rf" + \underbrace{{{_num(bias)}}}_{{b_{{{f}}}}} = {tex_number(out)}")
    return WindowTerms(n, f, oh, ow, x_window, kernel, products, total, bias, out, latex)
