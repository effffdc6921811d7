"""A whole network, forward and backward, through the ops' own forward/backward pairs.

The model (see :mod:`engine.network.model`) is a list of layers ending in a loss. Each
layer runs the same pure functions the registry wraps (``conv2d_forward``,
``batchnorm_backward``, ...), and the network keeps every layer's cache and gradient
record, named by the layer's path (``"4.0"``).

- :func:`forward` / :func:`backward`: the step records (:class:`ForwardTrace`,
  :class:`BackwardTrace`). A residual block outputs x + f(x); going back, the gradient
  copies to both paths and the two contributions ADD at the fork (``dx = dout + dx_branch``).
- :func:`trace`: the ``POST /api/v1/networks/trace`` answer (CONVENTIONS.md, "Networks").
- :func:`train_step`: one training step, :func:`forward` and :func:`backward` on their lean
  pass (the same op functions, without the display-only records) and one optimizer update;
  :func:`eval_logits`: the lean forward in eval mode, for scoring.
- :func:`numeric_check_network`: central differences on the loss for every parameter and
  the input, against :func:`backward`.

Determinism: dropout masks come from a seed derived from (seed, layer path), so the loss
is a deterministic function of the parameters for a given seed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.gradcheck import GradCheck, Wrt, compare
from engine.network.model import (
    Layer,
    Model,
    Residual,
    iter_layers,
    layer_field,
    param_shapes,
    parse_model,
)
from engine.network.params import (
    all_finite,
    as_model,
    check_batch,
    check_mode,
    check_params,
    check_seed,
    complete_params,
    dropout_seed,
)
from engine.network.penalty import Penalty, penalize
from engine.ops import activations, batchnorm, conv, dropout, groupnorm, linear, pool, softmax, svm
from engine.optim import rules as optim
from engine.records import OpInputError
from engine.registry import OPS, swapped_names

# layer type -> ((parameter short name, its gradient's field in the op's Grads record), ...)
PARAM_GRADS: dict[str, tuple[tuple[str, str], ...]] = {
    "conv2d": (("w", "dw"), ("b", "db")),
    "linear": (("w", "dw"), ("b", "db")),
    "batchnorm": (("gamma", "dgamma"), ("beta", "dbeta")),
    "groupnorm": (("gamma", "dgamma"), ("beta", "dbeta")),
}


@dataclass(frozen=True)
class ResidualCache:
    x: np.ndarray  # the block's input: the skip path carries it unchanged
    fx: np.ndarray  # f(x): what the block's layers output
    out: np.ndarray  # x + f(x)


@dataclass(frozen=True)
class ResidualGrads:
    dout: np.ndarray  # dL/d(out), copied to both paths
    dx_skip: np.ndarray  # the skip path's share of dL/dx: dout itself
    dx_branch: np.ndarray  # the branch's share: dout sent back through f
    dx: np.ndarray  # dx_skip + dx_branch: the fork adds


@dataclass(frozen=True)
class LayerForward:
    path: str
    type: str
    x: np.ndarray  # the layer's input
    out: np.ndarray  # the layer's output
    cache: Any  # the op's Cache record (ResidualCache for a residual block)


@dataclass(frozen=True)
class LayerBackward:
    path: str
    type: str
    dout: np.ndarray  # dL/d(out) arriving from above
    grads: Any  # the op's Grads record (ResidualGrads for a residual block)

    @property
    def dx(self) -> np.ndarray:
        return self.grads.dx


@dataclass(frozen=True)
class ForwardTrace:
    model: Model
    params: dict[str, np.ndarray]  # parameters and buffers the pass used
    x: np.ndarray
    labels: np.ndarray
    mode: str
    seed: int
    layers: dict[str, LayerForward]  # by path, in pre-order (a residual block before its layers)
    logits: np.ndarray
    loss: float  # data loss + penalty; NaN (and probs, loss_cache None) when a lean pass's logits overflowed
    probs: np.ndarray | None  # softmax's probabilities (None for the SVM loss)
    loss_cache: softmax.SoftmaxCECache | svm.SvmCache | None
    buffers: dict[str, np.ndarray]  # running statistics after this pass (updated in train mode)
    lean: bool = False  # the ops ran without their display-only records (see forward)
    data_loss: float = math.nan  # the loss function's own value
    penalty: Penalty | None = None  # the model's L2/L1 weight penalty and its gradient


@dataclass(frozen=True)
class BackwardTrace:
    layers: dict[str, LayerBackward]  # by path, in pre-order
    dlogits: np.ndarray
    loss_grads: softmax.SoftmaxCEGrads | svm.SvmGrads
    grads: dict[str, np.ndarray]  # learnable parameter name -> dL/dparam (the penalty's share included), in order
    dx: np.ndarray | None  # dL/d(network input); None after a lean pass that starts with a conv


# --- one layer ------------------------------------------------------------------------------


def _layer_forward(layer: Layer, path: str, x: np.ndarray, params: dict[str, np.ndarray], mode: str,
                   seed: int, buffers: dict[str, np.ndarray], lean: bool = False) -> tuple[np.ndarray, Any]:
    """The op's own forward; ``lean`` skips what only a display reads (windows, the staged x − μ)."""
    kind = layer.type
    if kind == "conv2d":
        return conv.conv2d_forward(x, params[path + ".w"], params[path + ".b"], layer.stride, layer.pad)
    if kind == "relu":
        return activations.relu_forward(x, mask_as_numbers=not lean)
    if kind == "sigmoid":
        return activations.sigmoid_forward(x)
    if kind == "tanh":
        return activations.tanh_forward(x)
    if kind == "leaky_relu":
        return activations.leaky_relu_forward(x, layer.slope)
    if kind == "groupnorm":
        return groupnorm.groupnorm_forward(x, params[path + ".gamma"], params[path + ".beta"], layer.groups, layer.eps)
    if kind == "maxpool2d":
        return pool.maxpool2d_forward(x, layer.size, layer.stride, keep_windows=not lean)
    if kind == "avgpool2d":
        return pool.avgpool2d_forward(x, layer.size, layer.stride)
    if kind == "linear":
        return linear.linear_forward(x, params[path + ".w"], params[path + ".b"])
    if kind == "flatten":
        return linear.flatten_forward(x)
    if kind == "dropout":
        return dropout.dropout_forward(x, layer.p, mode, dropout_seed(seed, path))
    if kind == "batchnorm":
        out, cache = batchnorm.batchnorm_forward(
            x, params[path + ".gamma"], params[path + ".beta"], params[path + ".running_mean"],
            params[path + ".running_var"], layer.eps, layer.momentum, mode, layer.convention, staged=not lean)
        buffers[path + ".running_mean"] = cache.running_mean
        buffers[path + ".running_var"] = cache.running_var
        return out, cache
    raise AssertionError(f"unhandled layer type {kind}")  # pragma: no cover - parse_model refuses these


_BACKWARD = {
    "conv2d": conv.conv2d_backward,
    "relu": activations.relu_backward,
    "sigmoid": activations.activation_backward,
    "tanh": activations.activation_backward,
    "leaky_relu": activations.activation_backward,
    "groupnorm": groupnorm.groupnorm_backward,
    "maxpool2d": pool.maxpool2d_backward,
    "avgpool2d": pool.avgpool2d_backward,
    "linear": linear.linear_backward,
    "flatten": linear.flatten_backward,
    "dropout": dropout.dropout_backward,
    "batchnorm": batchnorm.batchnorm_backward,  # staged unless the forward was lean
}


# --- the whole stack ------------------------------------------------------------------------


def _forward_layers(layers: tuple[Layer, ...], prefix: str, x: np.ndarray, params: dict[str, np.ndarray],
                    mode: str, seed: int, records: dict[str, LayerForward], buffers: dict[str, np.ndarray],
                    lean: bool = False) -> np.ndarray:
    for i, layer in enumerate(layers):
        path = prefix + str(i)
        if isinstance(layer, Residual):
            records[path] = None  # type: ignore[assignment]  # hold its pre-order slot
            fx = _forward_layers(layer.layers, path + ".", x, params, mode, seed, records, buffers, lean)
            out = x + fx
            cache: Any = ResidualCache(x, fx, out)
        else:
            try:
                out, cache = _layer_forward(layer, path, x, params, mode, seed, buffers, lean)
            except OpInputError as err:  # e.g. batchnorm's "more than one value per channel": say which layer
                raise OpInputError(layer_field(path), f"{layer.type}: {err.message}") from None
        records[path] = LayerForward(path, layer.type, x, out, cache)
        x = out
    return x


def fork_add(dx_skip: np.ndarray, dx_branch: np.ndarray) -> np.ndarray:
    """Where one value fed two consumers, its gradient is the SUM of theirs (a new array)."""
    return dx_skip + dx_branch


# The fork's rule in this context only (a ContextVar): fork_add, unless a planted bug swapped it for one request
_FORK: ContextVar[Callable[[np.ndarray, np.ndarray], np.ndarray]] = ContextVar("engine_network_fork", default=fork_add)


@contextmanager
def fork_swapped(rule: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Iterator[None]:
    """Within the block (this context only), a residual block's backward joins its two paths with ``rule``."""
    token = _FORK.set(rule)
    try:
        yield
    finally:
        _FORK.reset(token)


def variant() -> tuple[str, ...]:
    """What computes differently in this context (a swapped fork or op): part of any cache key of results,
    so a run computed with a planted bug never shares them with the true engine's."""
    fork = _FORK.get()
    return tuple(sorted(swapped_names())) + (() if fork is fork_add else (f"fork:{fork.__qualname__}",))


def _backward_layers(layers: tuple[Layer, ...], prefix: str, dout: np.ndarray, records: dict[str, LayerForward],
                     out: dict[str, LayerBackward] | None, grads: dict[str, np.ndarray], need_dx: bool = True
                     ) -> np.ndarray:
    """Back through ``layers``; ``need_dx=False``: the first layer's input needs no gradient (a
    first conv then skips its dx, the costliest part of its backward). ``out=None``: no LayerBackward records."""
    for i in range(len(layers) - 1, -1, -1):
        layer, path = layers[i], prefix + str(i)
        if isinstance(layer, Residual):
            dx_branch = _backward_layers(layer.layers, path + ".", dout, records, out, grads)
            g: Any = ResidualGrads(dout, dout, dx_branch, _FORK.get()(dout, dx_branch))
        else:
            if layer.type == "conv2d" and i == 0 and not need_dx:
                g = conv.conv2d_backward(dout, records[path].cache, need_dx=False)
            else:
                g = _BACKWARD[layer.type](dout, records[path].cache)
            for name, field in PARAM_GRADS.get(layer.type, ()):
                grads[f"{path}.{name}"] = getattr(g, field)
        if out is not None:
            out[path] = LayerBackward(path, layer.type, dout, g)
        dout = g.dx
    return dout


def _forward(model: Model, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray, mode: str,
             seed: int, lean: bool = False) -> ForwardTrace:
    records: dict[str, LayerForward] = {}
    buffers = {k: v for k, v in params.items() if k.endswith((".running_mean", ".running_var"))}
    logits = _forward_layers(model.layers, "", x, params, mode, seed, records, buffers, lean)
    if lean and not all_finite(logits):  # a training run diverged: the loss is not a number
        return ForwardTrace(model, params, x, labels, mode, seed, records, logits, math.nan, None, None, buffers,
                            lean)
    if model.loss == "svm_loss":
        loss, loss_cache = svm.svm_loss_forward(logits, labels)
        probs = None
    else:
        loss, loss_cache = softmax.softmax_cross_entropy_forward(logits, labels)
        probs = loss_cache.probs
    penalty = penalize(model, params)
    return ForwardTrace(model, params, x, labels, mode, seed, records, logits, float(loss) + penalty.loss, probs,
                        loss_cache, buffers, lean, float(loss), penalty)


def forward(model: Any, params: dict[str, Any], x: Any, labels: Any, mode: str = "train",
            seed: int = 0, lean: bool = False) -> ForwardTrace:
    """Run every layer and the loss, keeping each layer's input, output and cache.

    ``lean``: the training loops' pass, the same ops and numbers without the display-only
    arrays (max pooling's windows, batch norm's staged intermediates, the softmax Jacobian).
    """
    model = as_model(model)
    params = check_params(model, params)
    x, labels = check_batch(model, x, labels)
    return _forward(model, params, x, labels, check_mode(mode), check_seed(seed), lean)


def backward(trace: ForwardTrace, keep_layers: bool = True) -> BackwardTrace:
    """Every layer's gradient record, from dL/dlogits down to dL/dx, and dL/dparam by name (with the
    penalty's gradient added to each penalized w). ``keep_layers=False`` (a training step, which reads only
    the gradients): ``layers`` is left empty, the same numbers without a LayerBackward per layer."""
    if trace.model.loss == "svm_loss":
        loss_grads = svm.svm_loss_backward(trace.loss_cache)
    else:
        loss_grads = softmax.softmax_cross_entropy_backward(trace.loss_cache, jacobian=not trace.lean)
    records: dict[str, LayerBackward] | None = {} if keep_layers else None
    grads: dict[str, np.ndarray] = {}
    dx = _backward_layers(trace.model.layers, "", loss_grads.dlogits, trace.layers, records, grads, not trace.lean)
    if trace.penalty is not None:
        for name, dpenalty in trace.penalty.grads.items():
            grads[name] = grads[name] + dpenalty  # a new array: the layer's own record keeps the data gradient
    return BackwardTrace({} if records is None else {p: records[p] for p in trace.layers}, loss_grads.dlogits,
                         loss_grads, {name: grads[name] for name in param_shapes(trace.model)}, dx)


# --- training ------------------------------------------------------------------------------


def train_step(model: Any, params: dict[str, Any], state: optim.OptimizerState | None, x: Any, labels: Any,
               optimizer_name: str, hyperparams: dict[str, Any] | None = None, seed: int = 0
               ) -> tuple[dict[str, np.ndarray], optim.OptimizerState | None, float, dict[str, np.ndarray]]:
    """One training step in train mode: (new params and buffers, new optimizer state, loss, grads).

    The lean :func:`forward` and :func:`backward` (the ops' own functions) and one update by
    :func:`engine.optim.rules.optimizer_step`'s rules. ``state=None`` starts the optimizer from zeros
    (t = 0). Nothing passed in is modified. Pass a different ``seed`` each step for fresh
    dropout masks.
    """
    model = as_model(model)
    params = check_params(model, params)
    x, labels = check_batch(model, x, labels)
    hp = optim.clean_hyperparams(optimizer_name, hyperparams)
    return lean_train_step(model, params, state, x, labels, optimizer_name, hp, check_seed(seed))


def lean_train_step(model: Model, params: dict[str, np.ndarray], state: optim.OptimizerState | None,
                    x: np.ndarray, labels: np.ndarray, optimizer_name: str, hp: dict[str, Any], seed: int
                    ) -> tuple[dict[str, np.ndarray], optim.OptimizerState | None, float, dict[str, np.ndarray]]:
    """:func:`train_step` on checked inputs (a training loop's own arrays, ``hp`` from
    :func:`engine.optim.rules.clean_hyperparams`): the same numbers without re-checking what the loop made."""
    fwd = _forward(model, params, x, labels, "train", seed, lean=True)
    if math.isnan(fwd.loss):  # the logits overflowed: report it (run_steps stops there) and change nothing
        return {**params, **fwd.buffers}, state, fwd.loss, {k: np.full_like(params[k], np.nan)
                                                            for k in param_shapes(model)}
    grads = backward(fwd, keep_layers=False).grads
    if not grads:  # a model without learnable parameters: nothing to update
        return {**params, **fwd.buffers}, state, fwd.loss, grads
    learnable = {k: params[k] for k in grads}
    if state is None:
        state = optim.init_state(optimizer_name, learnable)
    new, state = optim.lean_step(optimizer_name, learnable,
                                 {k: g.astype(learnable[k].dtype, copy=False) for k, g in grads.items()}, state, hp)
    return {**params, **new, **fwd.buffers}, state, fwd.loss, grads


def eval_logits(model: Model, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits (N, K) in eval mode (running statistics, no dropout) on the lean pass, for scoring."""
    return _forward_layers(model.layers, "", x, params, "eval", 0, {}, {}, lean=True)


# --- the API's trace ------------------------------------------------------------------------


def _record_arrays(record: Any, names: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """A record's array fields by name, plus scalar fields the op lists among its arrays."""
    out: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, np.ndarray):
            out[f.name] = value
        elif f.name in names and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f.name] = np.asarray(value)
    return out


def _op_arrays(fwd: LayerForward, bwd: LayerBackward, params: dict[str, np.ndarray]
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One layer's forward and backward arrays under the op's own names (CONVENTIONS.md's table)."""
    if fwd.type == "residual":
        return ({"x": fwd.x, "fx": fwd.cache.fx, "out": fwd.out},
                {"dout": bwd.dout, "dx_skip": bwd.grads.dx_skip, "dx_branch": bwd.grads.dx_branch, "dx": bwd.dx})
    names = OPS[fwd.type].arrays
    own = {name: params[f"{fwd.path}.{name}"] for name, _ in PARAM_GRADS.get(fwd.type, ())}
    forward_arrays = {"x": fwd.x, **own, **_record_arrays(fwd.cache, names), "out": fwd.out}
    forward_arrays.update({k: np.asarray(getattr(fwd.cache, k)) for k in ("dropped_rows", "dropped_cols")
                           if k in names and hasattr(fwd.cache, k)})  # properties of ConvCache
    backward_arrays = {"dout": bwd.dout, **_record_arrays(bwd.grads, names)}
    if fwd.type == "conv2d":  # dx the second way, as the conv page shows it: both agree
        c = fwd.cache
        full = conv.conv2d_full_conv(bwd.dout, c.w, c.x.shape, c.stride, c.pad)
        backward_arrays.update(dout_dilated=full.dout_dilated, dout_padded=full.dout_padded, w_rot=full.w_rot,
                               dx_full_conv=full.dx)
    return forward_arrays, backward_arrays


def _optimizer(spec: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict):
        raise OpInputError("optimizer", f"must be an object {{\"name\": ..., \"hyperparams\": {{...}}}}, got {spec!r}")
    for key in spec:
        if key not in ("name", "hyperparams"):
            raise OpInputError(f"optimizer.{key}", f"unknown key {key!r} (allowed: name, hyperparams)")
    name = spec.get("name")
    if name not in optim.OPTIMIZERS:
        raise OpInputError("optimizer.name", f"unknown optimizer {name!r}; known: {', '.join(optim.OPTIMIZERS)}")
    try:
        return name, optim.clean_hyperparams(name, spec.get("hyperparams"))
    except OpInputError as err:
        raise OpInputError(f"optimizer.{err.field}", err.message) from None


def trace(model: Any, params: dict[str, Any] | None, x: Any, labels: Any, mode: str = "train",
          optimizer: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """The ``POST /api/v1/networks/trace`` answer, arrays as NumPy arrays (see :func:`jsonable`).

    ``{"layers": [{"path", "type", "out_shape", "forward": {name: array}, "backward": {name: array}}],
    "loss", "data_loss", "l2_penalty", "l1_penalty", "probs", "grads": {param name: array},
    "reg_grads": {w name: array}, "update": {"t", "params", "state"} or None}``: ``loss`` is the data
    loss plus the penalties; ``grads`` include the penalty's gradient ``reg_grads`` (see
    :mod:`engine.network.penalty`); ``probs`` is None for the SVM loss.
    Missing parameters are initialised from ``seed``. ``layers`` is in pre-order (a residual
    block, then its layers); a residual block's arrays are x, fx, out and dout, dx_skip,
    dx_branch, dx. ``update.params`` holds every parameter after one optimizer step and the
    buffers after this pass (train mode updates batchnorm's running statistics).
    """
    model = as_model(model)
    seed = check_seed(seed)
    mode = check_mode(mode)
    opt = None if optimizer is None else _optimizer(optimizer)
    params = complete_params(model, params, seed)
    x, labels = check_batch(model, x, labels)
    fwd = _forward(model, params, x, labels, mode, seed)
    bwd = backward(fwd)
    layers = []
    for path, rec in fwd.layers.items():
        f_arrays, b_arrays = _op_arrays(rec, bwd.layers[path], params)
        layers.append({"path": path, "type": rec.type, "out_shape": list(rec.out.shape),
                       "forward": f_arrays, "backward": b_arrays})
    update = None
    if opt is not None:
        name, hp = opt
        learnable = {k: params[k] for k in bwd.grads}
        state = optim.init_state(name, learnable) if learnable else None
        if learnable:
            new, state, rec = optim.optimizer_step(name, learnable, bwd.grads, state, hp)
            shown: dict[str, Any] = dict(rec.slots)
            if name in ("adam", "adamw"):
                shown.update(m_hat=rec.m_hat, v_hat=rec.v_hat)
            t = rec.t
        else:
            new, shown, t = {}, {}, 1
        update = {"t": t, "params": {**new, **fwd.buffers}, "state": shown}
    penalty = fwd.penalty
    return {"layers": layers, "loss": fwd.loss, "data_loss": fwd.data_loss, "l2_penalty": penalty.l2,
            "l1_penalty": penalty.l1, "probs": fwd.probs, "grads": bwd.grads, "reg_grads": penalty.grads,
            "update": update}


def jsonable(value: Any) -> Any:
    """A trace (or any nest of dicts, lists and arrays) as plain JSON values."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- gradient check -------------------------------------------------------------------------


def numeric_check_network(model: Any, params: dict[str, Any], x: Any, labels: Any, seed: int = 0,
                          h: float = 1e-6, mode: str = "train", max_per_input: int | None = None,
                          wrt: tuple[str, ...] | None = None) -> GradCheck:
    """Worst gradient error between :func:`backward` and central differences of the loss.

    Checks every learnable parameter and the input x, as :func:`engine.gradcheck.check_op`
    does for one op (``per_input`` keys ``"0.w"``, ..., ``"x"``; gradients ``"d0.w"``, ...,
    ``"dx"``). The loss is a deterministic function of them: dropout masks are fixed by
    ``seed``; batchnorm in train mode uses the batch statistics (its buffers do not feed the
    loss). ``max_per_input`` checks that many entries of each array, drawn with ``seed``;
    ``wrt`` limits the check to those names.
    """
    model = as_model(model)
    params = {k: np.asarray(v, np.float64) for k, v in check_params(model, params).items()}
    x, labels = check_batch(model, x, labels)
    x = x.astype(np.float64)
    seed, mode = check_seed(seed), check_mode(mode)
    bwd = backward(_forward(model, params, x, labels, mode, seed))

    def loss_of(name: str) -> Callable[[np.ndarray], float]:
        if name == "x":
            return lambda v: _forward(model, params, v, labels, mode, seed).loss
        return lambda v: _forward(model, {**params, name: v}, x, labels, mode, seed).loss

    checks = [(name, params[name], g) for name, g in bwd.grads.items()] + [("x", x, bwd.dx)]
    targets = {name: Wrt(loss_of(name), value, grad) for name, value, grad in checks if wrt is None or name in wrt}
    return compare(targets, h, max_per_input, seed)


__all__ = [
    "BackwardTrace", "ForwardTrace", "LayerBackward", "LayerForward", "ResidualCache", "ResidualGrads",
    "backward", "check_batch", "dropout_seed", "eval_logits", "forward", "iter_layers", "jsonable",
    "numeric_check_network", "parse_model", "trace", "train_step",
]
