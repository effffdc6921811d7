"""The catalogue of planted bugs (see :mod:`engine.bugs`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.bugs import layers, ops

Arrays = dict[str, Any]


@dataclass(frozen=True)
class Bug:
    key: str  # in a link only ever inside a signed token, never as text
    title: str  # the mistake, as a student would describe it once found
    lab: str  # conv | pool | norm | softmax | optim | network
    difficulty: str  # easy | medium | hard
    replaces: str  # the engine function it is a variant of
    corrupts: tuple[str, ...]  # the shown arrays it changes (on its example)
    caught_by: str  # "gradcheck" or "comparison"
    explanation: str  # what "show me" says
    run: Callable[[Arrays, dict], Arrays]  # (inputs, params) -> the op's arrays, bug planted
    reference: Callable[[Arrays, dict], Arrays]  # the correct engine's arrays
    example: Callable[[np.random.Generator], tuple[Arrays, dict]]  # an input that shows the bug
    # gradcheck: (input perturbed, output, analytic gradient name); L = Σ output·dout (or output itself if 0-d)
    grad: tuple[str, str, str] | None = None
    caught: Callable[[Arrays, Arrays, dict], bool] | None = None  # comparison: (bug arrays, inputs, params) -> found
    tags: tuple[str, ...] = field(default=())


BUGS: tuple[Bug, ...] = (
    Bug("conv-flip", "Forward convolution flips the kernel (a true convolution, not the cross-correlation)",
        "conv", "medium", "engine.ops.conv.conv2d_forward", ("out",), "gradcheck",
        "out used w rotated by 180°, but backward still differentiates the unflipped cross-correlation: dx and dw "
        "no longer match out's numeric gradient.",
        ops.conv_flip, ops.conv_reference, ops.conv_example, grad=("w", "out", "dw")),
    Bug("conv-dx-unrotated", "dx as a full convolution with the kernel not rotated by 180°",
        "conv", "hard", "engine.ops.conv.conv2d_backward", ("dx",), "gradcheck",
        "dx = dout (padded) ⋆ w without the 180° rotation: each input cell receives the weight mirrored across "
        "the kernel's centre.", ops.conv_dx_unrotated, ops.conv_reference, ops.conv_example, grad=("x", "out", "dx")),
    Bug("col2im-assign", "col2im assigns overlapping windows instead of adding them",
        "conv", "medium", "engine.ops.im2col.col2im", ("dx",), "gradcheck",
        "where windows overlap (stride < kernel) a cell read by several windows keeps only the last window's "
        "gradient; the others are overwritten.", ops.conv_col2im_assign, ops.conv_reference, ops.conv_example,
        grad=("x", "out", "dx")),
    Bug("maxpool-all-ties", "Max pooling routes the gradient to every maximum of a tie",
        "pool", "hard", "engine.ops.pool.maxpool2d_backward", ("dx",), "comparison",
        "each tied maximum gets the whole dout, so Σ dx > Σ dout: PyTorch (and the engine) route it to the first "
        "maximum only.", ops.maxpool_all_ties, ops.maxpool_reference, ops.maxpool_example,
        caught=ops.gradient_not_conserved),
    Bug("relu-mask-ge", "ReLU's backward mask uses x ≥ 0 instead of x > 0",
        "pool", "easy", "engine.ops.activations.relu_backward", ("dx",), "comparison",
        "at x = 0 the gradient passes (dx = dout) where PyTorch's convention, and the notes', give 0.",
        ops.relu_ge, ops.relu_reference, ops.relu_example, caught=ops.relu_passes_at_zero),
    Bug("softmax-no-max", "Softmax without subtracting the row's maximum",
        "softmax", "easy", "engine.ops.softmax.softmax_cross_entropy_forward", ("probs", "loss", "dlogits"),
        "comparison", "e^z overflows for large logits: probs become nan (inf/inf) although the softmax is "
        "perfectly defined; subtracting the row's max changes nothing mathematically and avoids it.",
        ops.softmax_no_max, ops.softmax_reference, ops.softmax_big_example, caught=ops.not_finite),
    Bug("ce-no-mean", "Cross-entropy gradient without the 1/N of the mean",
        "softmax", "easy", "engine.ops.softmax.softmax_cross_entropy_backward", ("dlogits",), "gradcheck",
        "the loss is the mean over N samples, so dlogits = (p − y)/N; without 1/N it is N times too large.",
        ops.ce_no_mean, ops.softmax_reference, ops.softmax_example, grad=("logits", "loss", "dlogits")),
    Bug("bn-no-mean-path", "Batch-norm backward without the path through the mean",
        "norm", "hard", "engine.ops.batchnorm.batchnorm_backward", ("dx",), "gradcheck",
        "dx = dx̂/σ + dσ²·2(x − μ)/n, missing + dμ/n: μ depends on every x, and that path is dropped.",
        ops.bn_no_mean_path, ops.bn_reference, ops.bn_example, grad=("x", "out", "dx")),
    Bug("bn-unbiased-train", "Batch norm normalizes with the unbiased variance in training",
        "norm", "medium", "engine.ops.batchnorm.batchnorm_forward", ("var", "std", "x_hat", "out", "dx"),
        "gradcheck", "training normalizes with the biased batch variance (÷ n); n/(n − 1)·σ² belongs only in "
        "PyTorch's running_var. Backward still assumes ÷ n, so dx misses out's numeric gradient.",
        ops.bn_unbiased, ops.bn_reference, ops.bn_example, grad=("x", "out", "dx")),
    Bug("dropout-no-scale", "Dropout does not scale the kept values at train time",
        "norm", "easy", "engine.ops.dropout.dropout_forward", ("out", "dx"), "comparison",
        "inverted dropout divides kept values by 1 − p (PyTorch's p) so E[out] = x; without it the expected "
        "output shrinks to (1 − p)·x and eval mode sees a different scale.",
        ops.dropout_no_scale, ops.dropout_reference, ops.dropout_example, caught=ops.dropout_unscaled),
    Bug("adam-no-bias-correction", "Adam without bias correction",
        "optim", "medium", "engine.optim.rules.optimizer_step", ("m_hat", "v_hat", "update"), "comparison",
        "m̂ = m and v̂ = v: both start at 0, so the first steps are far from PyTorch's Adam, whose first step is "
        "lr·g/|g| = ±lr.", layers.adam_no_bias, layers.adam_reference, layers.adam_example,
        caught=layers.adam_first_step_not_lr),
    Bug("residual-overwrite", "A residual block overwrites the gradient instead of adding the skip path",
        "network", "medium", "engine.network (residual backward)", ("dx",), "gradcheck",
        "y = x + f(x), so dx = dout + df; writing dx = df drops the identity path's dout.",
        layers.residual_overwrite, layers.residual_reference, layers.residual_example, grad=("x", "out", "dx")),
)

_BY_KEY = {bug.key: bug for bug in BUGS}


def get_bug(key: str) -> Bug:
    return _BY_KEY[key]


def by_lab() -> dict[str, list[Bug]]:
    labs: dict[str, list[Bug]] = {}
    for bug in BUGS:
        labs.setdefault(bug.lab, []).append(bug)
    return labs
