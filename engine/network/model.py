"""A network model: strict parsing of the model JSON, shape inference, parameter names and init.

The model JSON of CONVENTIONS.md ("Networks") becomes a frozen :class:`Model` of frozen
layer records. Anything invalid raises :class:`OpInputError` naming the field
(``model.layers[4].layers[0].kernel``); a stack whose shapes cannot work is refused at the
layer that breaks (``model.layers[3]``), with the sizes that do not fit.

Parameters are named ``<path>.<name>``: the path is the layer's index, dotted inside a
residual block (``4.0.w``). conv2d and linear own ``w`` and ``b``; batchnorm owns ``gamma``
and ``beta`` and the buffers ``running_mean`` and ``running_var`` (in the same dict, never
given a gradient); groupnorm owns ``gamma`` and ``beta``. Layers are listed in pre-order: a
residual block before its inner layers.

The loss is softmax cross-entropy or the multiclass SVM (hinge) loss, plus optional weight
penalties on every conv2d and linear ``w`` (not biases, not norms' γ, β): ``reg`` the L2 strength,
½·reg·Σw² (cs231n's convention, gradient reg·w — PyTorch's weight decay), and ``l1``, l1·Σ|w|
(gradient l1·sign(w), 0 at w = 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from engine import conventions
from engine.network.layers import (  # noqa: F401  (re-exported: the model's layer records)
    ACTIVATIONS,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dropout,
    Flatten,
    GroupNorm,
    Layer,
    LeakyRelu,
    Linear,
    MaxPool2d,
    Relu,
    Residual,
    Sigmoid,
    Tanh,
)
from engine.records import OpInputError

Shape = tuple[int, ...]  # one sample's shape: (C, H, W) or (D,)

# Limits the app also shows; anything outside is refused, never clamped.
MAX_CHANNELS, MAX_SIDE, MAX_FEATURES = 16, 64, 4096
MAX_FILTERS, MAX_KERNEL, MAX_STRIDE, MAX_PAD = 64, 7, 3, 3
MAX_POOL = 4
MAX_UNITS = 1024
MAX_LAYERS = 32  # per list (top level or inside one residual block)
MAX_DEPTH = 3  # residual blocks nested at most this deep
MAX_PARAMS = 1_000_000  # learnable numbers in the whole model
MAX_BATCH = 1024  # examples in one x
MODES = ("train", "eval")
LOSSES = ("softmax_cross_entropy", "svm_loss")
MAX_REG = 1000.0  # the largest L2 or L1 strength
CONVENTIONS = conventions.values("convention")


@dataclass(frozen=True)
class Model:
    input_shape: Shape  # one sample: (C, H, W) or (D,)
    layers: tuple[Layer, ...]
    loss: str = "softmax_cross_entropy"
    reg: float = 0.0  # L2 strength: ½·reg·Σw² over every conv2d and linear w
    l1: float = 0.0  # L1 strength: l1·Σ|w|


@dataclass(frozen=True)
class LayerInfo:
    """One layer with its shapes (batch axis left out) and what it owns."""

    path: str  # "4.0"
    field: str  # "model.layers[4].layers[0]": where an error about it points
    type: str
    in_shape: Shape
    out_shape: Shape
    param_count: int  # learnable numbers this layer owns itself (a residual block: 0)
    param_shapes: dict[str, Shape] = field(default_factory=dict)  # full name -> shape: {"0.w": (4, 1, 3, 3)}
    buffer_shapes: dict[str, Shape] = field(default_factory=dict)  # {"1.running_mean": (4,)}


# --- parsing -------------------------------------------------------------------------------

_KEYS: dict[str, tuple[set[str], set[str]]] = {  # type -> (required keys, optional keys), besides "type"
    "conv2d": ({"filters", "kernel"}, {"stride", "pad"}),
    "batchnorm": (set(), {"eps", "momentum", "convention"}),
    "relu": (set(), set()),
    "sigmoid": (set(), set()),
    "tanh": (set(), set()),
    "leaky_relu": (set(), {"slope"}),
    "groupnorm": (set(), {"groups", "eps"}),
    "maxpool2d": ({"size"}, {"stride"}),
    "avgpool2d": ({"size"}, {"stride"}),
    "dropout": ({"p"}, set()),
    "flatten": (set(), set()),
    "linear": ({"units"}, set()),
    "residual": ({"layers"}, set()),
}


def check_int(field: str, value: Any, lo: int, hi: int, bound: str = "") -> int:
    """``value`` as an int in [lo, hi], or OpInputError naming ``field`` (and, given ``bound``, what sets ``hi``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OpInputError(field, f"must be a whole number, got {value!r}")
    if not math.isfinite(value) or value != int(value):
        raise OpInputError(field, f"must be a whole number, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        why = f" ({hi}: {bound})" if bound else ""
        raise OpInputError(field, f"must be between {lo} and {hi}, got {value}{why}")
    return value


def _engine_limit(name: str) -> str:
    """What bounds a layer setting: one of this module's limits, which keep a step quick to trace and draw."""
    return f"the network engine's {name} in engine/network/model.py, which keeps a training step quick to trace"


def _float(field: str, value: Any, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OpInputError(field, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise OpInputError(field, f"must be a finite number, got {value!r}")
    if (value <= lo if lo_open else value < lo) or (value >= hi if hi_open else value > hi):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise OpInputError(field, f"must be in {left}{lo:g}, {hi:g}{right}, got {value:g}")
    return value


def _parse_layers(field: str, value: Any, depth: int) -> tuple[Layer, ...]:
    if not isinstance(value, (list, tuple)):
        raise OpInputError(field, f"must be a list of layers, got {type(value).__name__}")
    if not value:
        raise OpInputError(field, "must hold at least one layer")
    if len(value) > MAX_LAYERS:
        raise OpInputError(field, f"has {len(value)} layers; the limit is {MAX_LAYERS}")
    return tuple(_parse_layer(f"{field}[{i}]", item, depth) for i, item in enumerate(value))


def _parse_layer(field: str, spec: Any, depth: int) -> Layer:
    if isinstance(spec, Layer):  # already parsed
        return spec
    if not isinstance(spec, dict):
        raise OpInputError(field, f"must be an object with a \"type\", got {type(spec).__name__}")
    kind = spec.get("type")
    if kind not in _KEYS:
        raise OpInputError(f"{field}.type", f"unknown layer type {kind!r}; known: {', '.join(_KEYS)}")
    required, optional = _KEYS[kind]
    for key in spec:
        if key != "type" and key not in required | optional:
            allowed = ", ".join(sorted(required | optional)) or "no other keys"
            raise OpInputError(f"{field}.{key}", f"{kind} has no setting {key!r} (allowed: {allowed})")
    for key in sorted(required):
        if key not in spec:
            raise OpInputError(f"{field}.{key}", f"is required for {kind}")
    f = lambda key: f"{field}.{key}"  # noqa: E731
    if kind == "conv2d":
        return Conv2d(
            filters=check_int(f("filters"), spec["filters"], 1, MAX_FILTERS, _engine_limit("MAX_FILTERS")),
            kernel=check_int(f("kernel"), spec["kernel"], 1, MAX_KERNEL, _engine_limit("MAX_KERNEL")),
            stride=check_int(f("stride"), spec.get("stride", 1), 1, MAX_STRIDE, _engine_limit("MAX_STRIDE")),
            pad=check_int(f("pad"), spec.get("pad", 0), 0, MAX_PAD, _engine_limit("MAX_PAD")),
        )
    if kind == "batchnorm":
        convention = spec.get("convention", "pytorch")
        if convention not in CONVENTIONS:
            raise OpInputError(f("convention"), f"must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
        momentum = spec.get("momentum")
        return BatchNorm(
            eps=_float(f("eps"), spec.get("eps", 1e-5), 0.0, 1.0, lo_open=True),
            momentum=None if momentum is None else _float(f("momentum"), momentum, 0.0, 1.0),
            convention=convention,
        )
    if kind in ("maxpool2d", "avgpool2d"):
        size = check_int(f("size"), spec["size"], 1, MAX_POOL, _engine_limit("MAX_POOL"))
        stride = check_int(f("stride"), spec.get("stride", size), 1, MAX_POOL, _engine_limit("MAX_POOL"))
        return (MaxPool2d if kind == "maxpool2d" else AvgPool2d)(size=size, stride=stride)
    if kind == "dropout":
        return Dropout(p=_float(f("p"), spec["p"], 0.0, 1.0, hi_open=True))
    if kind == "leaky_relu":
        return LeakyRelu(slope=_float(f("slope"), spec.get("slope", 0.01), 0.0, 1.0))
    if kind == "groupnorm":
        return GroupNorm(groups=check_int(f("groups"), spec.get("groups", 1), 1, MAX_CHANNELS * 4),
                         eps=_float(f("eps"), spec.get("eps", 1e-5), 0.0, 1.0, lo_open=True))
    if kind in ("sigmoid", "tanh"):
        return Sigmoid() if kind == "sigmoid" else Tanh()
    if kind == "linear":
        return Linear(units=check_int(f("units"), spec["units"], 1, MAX_UNITS, _engine_limit("MAX_UNITS")))
    if kind == "residual":
        if depth >= MAX_DEPTH:
            raise OpInputError(field, f"residual blocks may be nested at most {MAX_DEPTH} deep")
        return Residual(layers=_parse_layers(f("layers"), spec["layers"], depth + 1))
    return Relu() if kind == "relu" else Flatten()


def parse_structure(model_json: Any) -> Model:
    """The model JSON as a :class:`Model`, every setting validated, shapes NOT checked (the builder's view)."""
    if isinstance(model_json, Model):
        return model_json
    if not isinstance(model_json, dict):
        raise OpInputError("model", f"must be an object, got {type(model_json).__name__}")
    for key in model_json:
        if key not in ("input_shape", "layers", "loss", "reg", "l1"):
            raise OpInputError(f"model.{key}", f"unknown key {key!r} (allowed: input_shape, layers, loss, reg, l1)")
    for key in ("input_shape", "layers"):
        if key not in model_json:
            raise OpInputError(f"model.{key}", "is required")
    raw = model_json["input_shape"]
    if not isinstance(raw, (list, tuple)) or len(raw) not in (1, 3):
        raise OpInputError("model.input_shape", f"must be [C, H, W] (an image) or [D] (features), got {raw!r}")
    limits = (MAX_CHANNELS, MAX_SIDE, MAX_SIDE) if len(raw) == 3 else (MAX_FEATURES,)
    names = ("MAX_CHANNELS", "MAX_SIDE", "MAX_SIDE") if len(raw) == 3 else ("MAX_FEATURES",)
    input_shape = tuple(check_int(f"model.input_shape[{i}]", v, 1, hi, _engine_limit(name))
                        for i, (v, hi, name) in enumerate(zip(raw, limits, names, strict=True)))
    loss = model_json.get("loss", "softmax_cross_entropy")
    if loss not in LOSSES:
        raise OpInputError("model.loss", f"must be one of {', '.join(LOSSES)}; got {loss!r}")
    reg = _float("model.reg", model_json.get("reg", 0.0), 0.0, MAX_REG)
    l1 = _float("model.l1", model_json.get("l1", 0.0), 0.0, MAX_REG)
    return Model(input_shape, _parse_layers("model.layers", model_json["layers"], 0), loss, reg, l1)


def parse_model(model_json: Any) -> Model:
    """The model JSON as a :class:`Model`, validated strictly and shape-checked."""
    model = parse_structure(model_json)
    infer_shapes(model)
    return model


def layer_to_json(layer: Layer) -> dict[str, Any]:
    if isinstance(layer, Residual):
        return {"type": "residual", "layers": [layer_to_json(inner) for inner in layer.layers]}
    out: dict[str, Any] = {"type": layer.type}
    out.update({k: v for k, v in vars(layer).items()})
    return out


def model_to_json(model: Model) -> dict[str, Any]:
    """The inverse of :func:`parse_model` (every setting spelled out)."""
    return {"input_shape": list(model.input_shape), "layers": [layer_to_json(layer) for layer in model.layers],
            "loss": model.loss, "reg": model.reg, "l1": model.l1}


# --- walking and shapes --------------------------------------------------------------------


def iter_layers(layers: tuple[Layer, ...], prefix: str = "", field: str = "model.layers"
                ) -> Iterator[tuple[str, str, Layer]]:
    """(path, field, layer) in pre-order: a residual block, then its inner layers."""
    for i, layer in enumerate(layers):
        path, here = f"{prefix}{i}", f"{field}[{i}]"
        yield path, here, layer
        if isinstance(layer, Residual):
            yield from iter_layers(layer.layers, f"{path}.", f"{here}.layers")


def layer_field(path: str) -> str:
    """The model field of the layer at ``path``: "4.0" -> "model.layers[4].layers[0]"."""
    return "model" + "".join(f".layers[{i}]" for i in path.split("."))


def _dims(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def _source(prev: str | None) -> str:
    return "the input is" if prev is None else f"layer {prev} outputs"


def _layer_shapes(layer: Layer, shape: Shape, field: str, prev: str | None
                  ) -> tuple[Shape, dict[str, Shape], dict[str, Shape]]:
    """(out_shape, own param shapes by short name, buffer shapes by short name) or OpInputError."""
    where = _source(prev)
    if isinstance(layer, Conv2d):
        if len(shape) != 3:
            raise OpInputError(field, f"conv2d needs an image input C×H×W, but {where} {_dims(shape)} features")
        c, h, w = shape
        k, s, p = layer.kernel, layer.stride, layer.pad
        if h + 2 * p < k or w + 2 * p < k:
            padded = f" ({h + 2 * p}×{w + 2 * p} after padding {p})" if p else ""
            raise OpInputError(field, f"conv2d {k}×{k} kernel needs an input at least {k}×{k}, "
                                      f"but {where} {h}×{w}{padded}")
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        return (layer.filters, oh, ow), {"w": (layer.filters, c, k, k), "b": (layer.filters,)}, {}
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        if len(shape) != 3:
            raise OpInputError(field, f"{layer.type} needs an image input C×H×W, but {where} {_dims(shape)} features")
        c, h, w = shape
        k, s = layer.size, layer.stride
        if h < k or w < k:
            raise OpInputError(field, f"{layer.type} {k}×{k} needs an input at least {k}×{k}, but {where} {h}×{w}")
        return (c, (h - k) // s + 1, (w - k) // s + 1), {}, {}
    if isinstance(layer, BatchNorm):
        c = (shape[0],)
        return shape, {"gamma": c, "beta": c}, {"running_mean": c, "running_var": c}
    if isinstance(layer, GroupNorm):
        c = shape[0]
        if c % layer.groups:
            what = "channels" if len(shape) == 3 else "features"
            raise OpInputError(f"{field}.groups", f"groupnorm's {layer.groups} groups must divide the {c} {what} "
                                                  f"into equal groups ({where} {_dims(shape)})")
        return shape, {"gamma": (c,), "beta": (c,)}, {}
    if isinstance(layer, Flatten):
        return (math.prod(shape),), {}, {}
    if isinstance(layer, Linear):
        if len(shape) != 1:
            raise OpInputError(field, f"linear needs a flat input (N, D), but {where} {_dims(shape)}: "
                                      "add a flatten layer before it")
        return (layer.units,), {"w": (shape[0], layer.units), "b": (layer.units,)}, {}
    return shape, {}, {}  # relu, dropout (a residual block is handled by the caller)


def _infer(layers: tuple[Layer, ...], shape: Shape, prefix: str, field: str, prev: str | None,
           infos: list[LayerInfo], total: list[int]) -> Shape:
    for i, layer in enumerate(layers):
        path, here = f"{prefix}{i}", f"{field}[{i}]"
        if isinstance(layer, Residual):
            slot = len(infos)
            infos.append(None)  # type: ignore[arg-type]  # filled once the branch is known
            branch = _infer(layer.layers, shape, f"{path}.", f"{here}.layers", prev, infos, total)
            if branch != shape:
                raise OpInputError(here, f"a residual block must keep its input's shape to add x + f(x), but its "
                                         f"input is {_dims(shape)} and its layers output {_dims(branch)}")
            infos[slot] = LayerInfo(path, here, "residual", shape, shape, 0)
        else:
            out, own, buffers = _layer_shapes(layer, shape, here, prev)
            count = sum(math.prod(s) for s in own.values())
            total[0] += count
            if total[0] > MAX_PARAMS:
                raise OpInputError(here, f"{layer.type} brings the model to {total[0]:,} learnable numbers; "
                                         f"the limit is {MAX_PARAMS:,}")
            infos.append(LayerInfo(path, here, layer.type, shape, out, count,
                                   {f"{path}.{k}": v for k, v in own.items()},
                                   {f"{path}.{k}": v for k, v in buffers.items()}))
            shape = out
        prev = path
    return shape


def _forward_order(layers: tuple, prefix: str = "") -> list[str]:
    """Layer paths in the order forward computes their outputs (a residual block after its layers)."""
    out: list[str] = []
    for i, layer in enumerate(layers):
        path = f"{prefix}{i}"
        if isinstance(layer, Residual):
            out.extend(_forward_order(layer.layers, path + "."))
        out.append(path)
    return out


def forward_order(model: Model) -> list[str]:
    return _forward_order(model.layers)


def backward_order(model: Model) -> list[str]:
    """Layer paths in the order backward computes their gradients (a residual's fork after its layers)."""
    def walk(layers: tuple, prefix: str) -> list[str]:
        out: list[str] = []
        for i in range(len(layers) - 1, -1, -1):
            layer, path = layers[i], f"{prefix}{i}"
            if isinstance(layer, Residual):
                out.extend(walk(layer.layers, path + "."))
            out.append(path)
        return out

    return walk(model.layers, "")


def error_path(err: OpInputError) -> str | None:
    """The layer path an error points at ("model.layers[4].layers[0].kernel" -> "4.0"), or None."""
    parts, rest = [], err.field
    if not rest.startswith("model.layers["):
        return None
    while rest.startswith(("model.layers[", ".layers[")):
        rest = rest[rest.index("[") + 1:]
        index, _, rest = rest.partition("]")
        parts.append(index)
    return ".".join(parts) if parts else None


def layer_groups(model: Model) -> dict[str, tuple[str, ...]]:
    """Each parameterised layer's path -> its learnable parameter names, in pre-order."""
    return {info.path: tuple(info.param_shapes) for info in infer_shapes(model) if info.param_shapes}


def infer_shapes(model: Model) -> list[LayerInfo]:
    """Every layer's shapes and parameters, in pre-order; OpInputError at the layer that breaks.

    Cached per model (models are frozen and hashable): treat the records as read-only.
    """
    return list(_shape_table(model))


@lru_cache(maxsize=128)
def _shape_table(model: Model) -> tuple[LayerInfo, ...]:
    infos: list[LayerInfo] = []
    out = _infer(model.layers, tuple(model.input_shape), "", "model.layers", None, infos, [0])
    if len(out) != 1:
        raise OpInputError("model.loss", f"{model.loss} needs logits (N, K), but the last layer outputs "
                                         f"{_dims(out)}: end with flatten and linear")
    if out[0] < 2:
        raise OpInputError("model.loss", f"{model.loss} needs at least 2 classes, but the last layer outputs 1")
    return tuple(infos)


def num_classes(model: Model) -> int:
    return infer_shapes(model)[-1].out_shape[0] if model.layers else model.input_shape[0]


def param_shapes(model: Model) -> dict[str, Shape]:
    """Learnable parameters: full name -> shape, in pre-order."""
    return dict(_named_shapes(model)[0])


def buffer_shapes(model: Model) -> dict[str, Shape]:
    """Buffers (batchnorm's running statistics): full name -> shape, in pre-order."""
    return dict(_named_shapes(model)[1])


def named_shapes(model: Model) -> dict[str, Shape]:
    """Learnable parameters, then buffers: full name -> shape, in pre-order (one cache look-up)."""
    learnable, buffers = _named_shapes(model)
    return dict(learnable + buffers)


@lru_cache(maxsize=128)
def _named_shapes(model: Model) -> tuple[tuple[tuple[str, Shape], ...], tuple[tuple[str, Shape], ...]]:
    table = _shape_table(model)
    return (tuple((n, s) for info in table for n, s in info.param_shapes.items()),
            tuple((n, s) for info in table for n, s in info.buffer_shapes.items()))
