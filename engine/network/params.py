"""A network's numbers before any pass: seeds, initial parameters, and the checks of parameters and batches.

Parameters are named ``<path>.<name>`` (:mod:`engine.network.model`). Every random draw comes
from a seed derived from (seed, purpose, layer path), so editing one layer never reshuffles
another's numbers. The checks answer finite float arrays of the right shapes, or an
:class:`OpInputError` naming the field.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from engine.network.model import (
    MAX_BATCH,
    MODES,
    Model,
    buffer_shapes,
    check_int,
    infer_shapes,
    named_shapes,
    num_classes,
    param_shapes,
    parse_model,
)
from engine.ops.softmax import clean_labels
from engine.records import OpInputError
from engine.registry import as_array

# --- seeds and init ------------------------------------------------------------------------

_PURPOSES = {"init": 0, "dropout": 1}


def check_seed(seed: Any, field: str = "seed") -> int:
    return check_int(field, seed, 0, 2**63 - 1)


@lru_cache(maxsize=1024)
def dropout_seed(seed: int, path: str) -> int:
    """The dropout op's seed for the layer at ``path``: derived from (seed, path), below 2**31."""
    return int(derive_seed(seed, "dropout", path).generate_state(1)[0]) & 0x7FFFFFFF


def derive_seed(seed: int, purpose: str, path: str) -> np.random.SeedSequence:
    """A seed for one layer and purpose: editing one layer never reshuffles another's numbers.

    The path's length goes in first: SeedSequence pads with zeros, so [s, 4] and [s, 4, 0]
    would otherwise collide.
    """
    idx = [int(i) for i in path.split(".")]
    return np.random.SeedSequence([seed, _PURPOSES[purpose], len(idx), *idx])


def init_params(model: Model, seed: int = 0, dtype=np.float64) -> dict[str, np.ndarray]:
    """Learnable parameters and buffers, deterministic in (seed, layer path).

    conv2d and linear: w and b uniform in ±1/√fan_in (PyTorch's default
    kaiming_uniform_(a=√5) and bias init; fan_in = C·KH·KW for conv, D for linear).
    batchnorm: gamma ones, beta zeros, running_mean zeros, running_var ones. groupnorm: gamma ones, beta zeros.
    """
    seed = check_seed(seed)
    out: dict[str, np.ndarray] = {}
    for info in infer_shapes(model):
        p = info.path
        if info.type in ("conv2d", "linear"):
            w_shape = info.param_shapes[f"{p}.w"]
            fan_in = math.prod(w_shape[1:]) if info.type == "conv2d" else w_shape[0]
            bound = 1.0 / math.sqrt(fan_in)
            rng = np.random.default_rng(derive_seed(seed, "init", p))
            out[f"{p}.w"] = rng.uniform(-bound, bound, w_shape).astype(dtype)
            out[f"{p}.b"] = rng.uniform(-bound, bound, info.param_shapes[f"{p}.b"]).astype(dtype)
        elif info.type == "batchnorm":
            c = info.param_shapes[f"{p}.gamma"]
            out[f"{p}.gamma"] = np.ones(c, dtype)
            out[f"{p}.beta"] = np.zeros(c, dtype)
            out[f"{p}.running_mean"] = np.zeros(c, dtype)
            out[f"{p}.running_var"] = np.ones(c, dtype)
        elif info.type == "groupnorm":
            c = info.param_shapes[f"{p}.gamma"]
            out[f"{p}.gamma"] = np.ones(c, dtype)
            out[f"{p}.beta"] = np.zeros(c, dtype)
    return out


def all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()``, sooner for a float array: Σ arr² (one BLAS dot) is finite when every number
    is, and inf or NaN as soon as one is not (squares never cancel); only a sum that overflows asks every number."""
    if arr.dtype.kind == "f" and arr.size:
        # ravel() and the dot method, not reshape(-1) and np.dot, whose argument handling costs more than a
        # parameter's dot itself: 1.46 -> 0.9 µs a call, six calls a training step
        flat = arr.ravel()
        if math.isfinite(flat.dot(flat)):
            return True
    return bool(np.isfinite(arr).all())


def check_params(model: Model, params: Any, field: str = "params", allow_missing: bool = False
                 ) -> dict[str, np.ndarray]:
    """Params (and buffers) by name as finite float arrays of the right shapes; unknown names refused.

    Returns a new dict; arrays already of a float dtype are passed through (not copied).
    """
    if not isinstance(params, dict):
        raise OpInputError(field, f"must be an object of arrays by name, got {type(params).__name__}")
    wanted = named_shapes(model)
    for name in params:
        if name not in wanted:
            known = ", ".join(wanted) or "none: this model has no parameters"
            raise OpInputError(f"{field}.{name}", f"this model has no parameter {name!r} (parameters: {known})")
    out: dict[str, np.ndarray] = {}
    for name, shape in wanted.items():
        if name not in params or params[name] is None:
            if allow_missing:
                continue
            raise OpInputError(f"{field}.{name}", "is required")
        value = params[name]
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            arr = value
        else:
            arr = as_array(f"{field}.{name}", value)
        if arr.shape != shape:
            raise OpInputError(f"{field}.{name}", f"must have shape {list(shape)}, got {list(arr.shape)}")
        if not all_finite(arr):
            raise OpInputError(f"{field}.{name}", "must be finite")
        out[name] = arr
    return out


def complete_params(model: Model, params: dict[str, Any] | None, seed: int = 0) -> dict[str, np.ndarray]:
    """The given params, checked, with any missing one initialised from ``seed`` (as the trace API does)."""
    given = check_params(model, params or {}, allow_missing=True)
    missing = {k: v for k, v in init_params(model, seed).items() if k not in given}
    names = [*param_shapes(model), *buffer_shapes(model)]  # learnable, then buffers, in pre-order
    return {name: given[name] if name in given else missing[name] for name in names}


# --- the batch and the mode ----------------------------------------------------------------


def as_model(model: Any) -> Model:
    """A parsed model (a :class:`Model` passes through)."""
    return model if isinstance(model, Model) else parse_model(model)


def check_batch(model: Model, x: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """x as a finite float array (N, *input_shape) (passed through if it already is one) and
    labels as int64 class indices in [0, K)."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        arr = x
        if not all_finite(arr):
            raise OpInputError("x", "must be finite")
    else:
        arr = as_array("x", x)
    want = tuple(model.input_shape)
    if arr.ndim != len(want) + 1 or arr.shape[1:] != want:
        raise OpInputError("x", f"must have shape [N, {', '.join(map(str, want))}] for this model, "
                                f"got {list(arr.shape)}")
    if not 1 <= arr.shape[0] <= MAX_BATCH:
        raise OpInputError("x", f"must hold 1 to {MAX_BATCH} examples, got {arr.shape[0]}")
    try:
        labels = clean_labels(labels, arr.shape[0], num_classes(model))
    except OpInputError as err:
        raise OpInputError("labels", err.message) from None
    return arr, labels


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise OpInputError("mode", f"must be one of {', '.join(MODES)}; got {mode!r}")
    return mode
