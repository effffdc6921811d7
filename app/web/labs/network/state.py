"""The network lab's whole state, and its two ways in: a link and the page's form.

The model travels in the link as compact JSON (settings at their defaults left out); long
states are deflated by :func:`app.web.kit.link.to_query`. Both ways in are validated as strictly
as each other — every problem is a :class:`LinkError` naming the field (the form's input
names are the model's field paths, ``model.layers[2].kernel``, so a message marks the input
that holds the bad value) — and nothing is clamped.

A model whose settings are valid but whose shapes do not work is still a state: the page
shows the message at the layer that breaks, and keeps the rest as built.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.web.kit.link import LinkError, decode_array, encode_array, format_number, from_query, parse_int, parse_number
from app.web.kit.link import to_query as link_query
from engine.data import digits
from engine.network.model import MAX_DEPTH, Model, Residual, init_params, layer_to_json, param_shapes
from engine.network.runs import (
    RunSpec,
    backward_order,
    forward_order,
    layer_groups,
    make_spec,
    parse_structure,
    shape_report,
)
from engine.optim import rules as optim
from engine.records import OpInputError

# --- this lab's limits (besides the engine's own and app.settings.Settings) ----------------------
MAX_STEP = 3000  # training steps a link may replay, and the longest run the page streams
MAX_DIGITS_BATCH = 64  # digits per training step
MAX_TYPED_N = 4  # examples in typed data (each drawn as editable grids)
MAX_TYPED_CHANNELS, MAX_TYPED_SIDE, MAX_TYPED_FEATURES = 4, 16, 64  # typed input shapes
MAX_TYPED_INIT = 256  # typed initial parameters: only for models with at most this many learnable numbers
MAX_LAB_PARAMS = 20_000  # learnable numbers in a model this page trains
MAX_LAB_ACTIVATION = 16_384  # numbers one layer outputs for one example
MAX_LAYERS = 24  # layers in one list, in the builder

DATA = ("digits", "typed")
ON = ("batch", "own")
LAYER_TYPES = ("conv2d", "batchnorm", "relu", "maxpool2d", "avgpool2d", "dropout", "flatten", "linear", "residual")
# each type's settings: key -> (kind, default when the key is left out) — "int", "float", "choice"
SETTINGS: dict[str, dict[str, tuple[str, Any]]] = {
    "conv2d": {"filters": ("int", None), "kernel": ("int", None), "stride": ("int", 1), "pad": ("int", 0)},
    "batchnorm": {"eps": ("float", 1e-5), "momentum": ("float?", None), "convention": ("choice", "pytorch")},
    "relu": {},
    "maxpool2d": {"size": ("int", None), "stride": ("int", "size")},
    "avgpool2d": {"size": ("int", None), "stride": ("int", "size")},
    "dropout": {"p": ("float", None)},
    "flatten": {},
    "linear": {"units": ("int", None)},
    "residual": {},
}
NEW_LAYER = {  # what "Add layer" inserts
    "conv2d": {"type": "conv2d", "filters": 4, "kernel": 3, "pad": 1},
    "batchnorm": {"type": "batchnorm"},
    "relu": {"type": "relu"},
    "maxpool2d": {"type": "maxpool2d", "size": 2},
    "avgpool2d": {"type": "avgpool2d", "size": 2},
    "dropout": {"type": "dropout", "p": 0.25},
    "flatten": {"type": "flatten"},
    "linear": {"type": "linear", "units": 10},
}
DEFAULT_UNTIL = 1000
LINK_KEYS = {"model", "data", "batch", "x", "labels", "on", "seed", "opt", "lr", "step", "op", "until"}


@dataclass(frozen=True, eq=False)
class NetworkState:
    model: Model  # every setting valid; the shapes may still not work (the page says where)
    data: str = "digits"  # "digits": train on the digits; "typed": train on x and labels every step
    batch: int = 32  # digits per step
    x: np.ndarray | None = None  # typed data, or (digits, on="own") your own example(s): (N, *input_shape)
    labels: np.ndarray | None = None  # (N,) class indices
    on: str = "batch"  # digits: trace the step's batch ("batch") or your own example ("own")
    init: dict[str, np.ndarray] = field(default_factory=dict)  # typed initial parameters (the rest from the seed)
    seed: int = 0
    optimizer: str = "adam"
    hyperparams: dict[str, Any] = field(default_factory=dict)  # every hyperparameter, cleaned
    step: int = 0  # training steps done before the traced one
    op: str = "f:0"  # the operation shown: f:<path>, loss, b:<path>, u:<path>
    until: int = DEFAULT_UNTIL  # the training stream's last step

    def to_query(self) -> str:
        return link_query(self.link_fields())

    def link_fields(self) -> dict[str, str]:
        fields = {"model": model_text(self.model), "data": self.data}
        if self.data == "digits":
            fields["batch"] = str(self.batch)
            if self.on == "own":
                fields["on"] = "own"
        if self.x is not None and self.labels is not None and (self.data == "typed" or self.on == "own"):
            fields["x"] = encode_array(self.x)
            fields["labels"] = encode_array(self.labels)
        for name, value in self.init.items():
            fields[f"p.{name}"] = encode_array(value)
        fields["seed"] = str(self.seed)
        fields["opt"] = self.optimizer
        hp = optim.clean_hyperparams(self.optimizer, self.hyperparams)
        defaults = {p.name: p.default for p in optim.OPTIMIZERS[self.optimizer]}
        fields["lr"] = format_number(hp["lr"])
        for name, value in hp.items():
            if name != "lr" and value != defaults[name]:
                fields[name] = _hp_text(value)
        if self.step:
            fields["step"] = str(self.step)
        fields["op"] = self.op
        if self.until != DEFAULT_UNTIL:
            fields["until"] = str(self.until)
        return fields

    @property
    def own_example(self) -> bool:
        """The traced step runs on x/labels rather than the step's digits batch."""
        return self.data == "typed" or (self.on == "own" and self.x is not None)

    def spec(self) -> RunSpec:
        """The training run (OpInputError when the model or data cannot train)."""
        x = self.x if self.data == "typed" else None
        labels = self.labels if self.data == "typed" else None
        return make_spec(self.model, self.optimizer, self.hyperparams, self.seed, self.data, self.batch, x, labels,
                         self.init or None)


def _hp_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)


# --- the model as compact JSON ---------------------------------------------------------------


def compact_layer(layer) -> dict[str, Any]:
    """A layer's JSON with the settings at their defaults left out."""
    spec = layer_to_json(layer)
    if isinstance(layer, Residual):
        return {"type": "residual", "layers": [compact_layer(inner) for inner in layer.layers]}
    out = {"type": spec["type"]}
    for key, (_, default) in SETTINGS[layer.type].items():
        value = spec.get(key)
        if default == "size":
            default = spec.get("size")
        if value != default:
            out[key] = value
    return out


def compact_json(model: Model) -> dict[str, Any]:
    out: dict[str, Any] = {"input_shape": list(model.input_shape),
                           "layers": [compact_layer(layer) for layer in model.layers]}
    if model.loss != "softmax_cross_entropy":
        out["loss"] = model.loss
    return out


def model_text(model: Model) -> str:
    return json.dumps(compact_json(model), separators=(",", ":"))


def parse_model_text(field: str, text: str) -> Model:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise LinkError(field, "is not valid JSON (the link may have been cut short)") from None
    try:
        model = parse_structure(raw)
    except OpInputError as err:
        raise LinkError(field, f"{err.field}: {err.message}") from None
    _check_layer_counts(model, field)
    return model


def _check_layer_counts(model: Model, field: str) -> None:
    def walk(layers, where: str) -> None:
        if len(layers) > MAX_LAYERS:
            raise LinkError(field, f"{where} has {len(layers)} layers; this lab builds at most {MAX_LAYERS} per list")
        for i, layer in enumerate(layers):
            if isinstance(layer, Residual):
                walk(layer.layers, f"{where}[{i}].layers")

    walk(model.layers, "model.layers")


# --- the timeline of one step -----------------------------------------------------------------


def timeline(model: Model) -> list[str]:
    """Every operation of one training step, in order: forward by layer, the loss, backward by
    layer, then the update of each parameterised layer (a model whose shapes work)."""
    ops = [f"f:{p}" for p in forward_order(model)] + ["loss"] + [f"b:{p}" for p in backward_order(model)]
    return ops + [f"u:{p}" for p in layer_groups(model)]


def model_works(model: Model) -> bool:
    return shape_report(model).ok


# --- from a link ------------------------------------------------------------------------------


def _field(fields: Mapping[str, str], key: str, default: str | None = None) -> str:
    if key in fields:
        return fields[key]
    if default is None:
        raise LinkError(key, "is missing from the link")
    return default


def _hyperparams(name: str, fields: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in optim.OPTIMIZERS[name]:
        if p.name not in fields:
            continue
        text = fields[p.name]
        if p.kind is bool:
            if text not in ("true", "false"):
                raise LinkError(p.name, f"must be true or false, got {text!r}")
            out[p.name] = text == "true"
        elif p.kind is str:
            out[p.name] = text
        else:
            out[p.name] = parse_number(p.name, text)
    try:
        return optim.clean_hyperparams(name, out)
    except OpInputError as err:
        raise LinkError(err.field.removeprefix("hyperparams.").removeprefix("params."), err.message) from None


def _x_limits(model: Model) -> tuple[int, ...]:
    if len(model.input_shape) == 3:
        return (MAX_TYPED_N, MAX_TYPED_CHANNELS, MAX_TYPED_SIDE, MAX_TYPED_SIDE)
    return (MAX_TYPED_N, MAX_TYPED_FEATURES)


def from_link(query: str) -> NetworkState:
    """A state from a link's query string; raises LinkError naming the bad parameter."""
    fields = from_query(query)
    for key in fields:
        if key not in LINK_KEYS and not key.startswith("p.") and not _is_hyperparam(key):
            raise LinkError(key, f"is not a setting of the network lab (known: {', '.join(sorted(LINK_KEYS))}, "
                                 "p.<parameter> and the optimizer's hyperparameters)")
    model = parse_model_text("model", _field(fields, "model"))
    data = _field(fields, "data", "digits")
    if data not in DATA:
        raise LinkError("data", f"must be one of {', '.join(DATA)}; got {data!r}")
    batch = parse_int("batch", _field(fields, "batch", "32"), 1, MAX_DIGITS_BATCH)
    on = _field(fields, "on", "batch")
    if on not in ON:
        raise LinkError("on", f"must be one of {', '.join(ON)}; got {on!r}")
    x = labels = None
    if data == "typed" or on == "own":
        lim = _x_limits(model)
        x = decode_array("x", _field(fields, "x"), len(lim), lim)
        labels = decode_array("labels", _field(fields, "labels"), 1, (MAX_TYPED_N,))
        _check_xy(model, x, labels)
    elif "x" in fields or "labels" in fields:
        raise LinkError("x" if "x" in fields else "labels", "is only part of a link with data=typed or on=own")
    init = _init_from_fields(model, fields)
    seed = parse_int("seed", _field(fields, "seed", "0"), 0, 2**31 - 1)
    name = _field(fields, "opt", "adam")
    if name not in optim.OPTIMIZERS:
        raise LinkError("opt", f"unknown optimizer {name!r}; known: {', '.join(optim.OPTIMIZERS)}")
    for key in fields:
        if _is_hyperparam(key) and key not in {p.name for p in optim.OPTIMIZERS[name]}:
            raise LinkError(key, f"is not a hyperparameter of {name}")
    hp = _hyperparams(name, fields)
    step = parse_int("step", _field(fields, "step", "0"), 0, MAX_STEP)
    until = parse_int("until", _field(fields, "until", str(DEFAULT_UNTIL)), 1, MAX_STEP)
    op = _field(fields, "op", "f:0")
    if model_works(model):
        ops = timeline(model)
        if op not in ops:
            raise LinkError("op", f"{op!r} is not an operation of this network's step (e.g. {ops[0]}, loss, "
                                  f"{ops[-1]})")
    return NetworkState(model, data, batch, x, labels, on, init, seed, name, hp, step, op, until)


def _is_hyperparam(key: str) -> bool:
    return any(key == p.name for specs in optim.OPTIMIZERS.values() for p in specs)


def _check_xy(model: Model, x: np.ndarray, labels: np.ndarray) -> None:
    want = tuple(model.input_shape)
    if x.shape[1:] != want:
        raise LinkError("x", f"has shape {list(x.shape)}, but the model takes examples of shape {list(want)}")
    if labels.shape[0] != x.shape[0]:
        raise LinkError("labels", f"has {labels.shape[0]} labels for {x.shape[0]} examples")
    if not np.all(labels == np.round(labels)) or np.any(labels < 0):
        raise LinkError("labels", "must hold class indices 0, 1, 2, …")
    # a label the network has no class for is shown by the page at the data, as the form does: not a broken link


def _init_from_fields(model: Model, fields: Mapping[str, str]) -> dict[str, np.ndarray]:
    names = [k for k in fields if k.startswith("p.")]
    if not names:
        return {}
    if not model_works(model):
        raise LinkError(names[0], "typed parameters need a model whose shapes work")
    shapes = param_shapes(model)
    if sum(math.prod(s) for s in shapes.values()) > MAX_TYPED_INIT:
        raise LinkError(names[0], f"typed parameters are for models of at most {MAX_TYPED_INIT} learnable numbers")
    out = {}
    for key in names:
        name = key[2:]
        if name not in shapes:
            raise LinkError(key, f"this model has no parameter {name!r} (parameters: {', '.join(shapes)})")
        shape = shapes[name]
        arr = decode_array(key, fields[key], len(shape), shape)
        if arr.shape != shape:
            raise LinkError(key, f"must have shape {list(shape)}, got {list(arr.shape)}")
        out[name] = arr
    return {name: out[name] for name in shapes if name in out}


# --- from the page's form -----------------------------------------------------------------------


def first(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _layer_from_form(form, spec: dict[str, Any], field: str, errors: list[LinkError]) -> dict[str, Any]:
    kind = spec["type"]
    out: dict[str, Any] = {"type": kind}
    if kind == "residual":
        out["layers"] = [_layer_from_form(form, inner, f"{field}.layers[{i}]", errors)
                         for i, inner in enumerate(spec.get("layers", []))]
        return out
    for key, (kind_, _default) in SETTINGS[kind].items():
        name = f"{field}.{key}"
        if name in form:
            text = first(form, name).strip()
            try:
                if kind_ == "choice":
                    out[key] = text
                elif kind_ == "float?" and text in ("", "default"):
                    continue
                elif kind_ == "int":
                    value = parse_number(name, text)
                    if not value.is_integer():
                        raise LinkError(name, f"must be a whole number, got {text}")
                    out[key] = int(value)
                else:
                    out[key] = parse_number(name, text)
            except LinkError as exc:
                errors.append(exc)
                if key in spec:
                    out[key] = spec[key]
        elif key in spec:
            out[key] = spec[key]
    return out


def _model_from_form(form, errors: list[LinkError]) -> dict[str, Any] | None:
    text = first(form, "model")
    try:
        base = compact_json(parse_model_text("model", text))
    except LinkError as exc:
        errors.append(exc)
        return None
    shape = []
    for i, value in enumerate(base["input_shape"]):
        name = f"model.input_shape[{i}]"
        try:
            shape.append(parse_int(name, first(form, name, str(value)), 1, 64))
        except LinkError as exc:
            errors.append(exc)
            shape.append(value)
    return {"input_shape": shape,
            "layers": [_layer_from_form(form, layer, f"model.layers[{i}]", errors)
                       for i, layer in enumerate(base["layers"])]}


def _locate(layers: list, path: str) -> tuple[list, int]:
    """(the list holding the layer at ``path``, its index in that list)."""
    parts = [int(p) for p in path.split(".")]
    holder = layers
    for p in parts[:-1]:
        holder = holder[p]["layers"]
    return holder, parts[-1]


def _residual_default(channels_or_units: tuple[int, ...] | None) -> dict[str, Any]:
    if channels_or_units is not None and len(channels_or_units) == 3:
        return {"type": "residual", "layers": [{"type": "conv2d", "filters": channels_or_units[0], "kernel": 3,
                                                "pad": 1}, {"type": "relu"}]}
    units = channels_or_units[0] if channels_or_units else 10
    return {"type": "residual", "layers": [{"type": "linear", "units": units}, {"type": "relu"}]}


def apply_action(model_json: dict[str, Any], action: str, form) -> tuple[dict[str, Any], str | None]:
    """The model after a builder button: ``add:<list path>``, ``remove:<path>``, ``up:<path>``, ``down:<path>``.

    Returns (model JSON, the path of the layer the action concerns, if it still exists).
    """
    verb, _, path = action.partition(":")
    layers = model_json["layers"]
    if verb == "add":
        path = path or first(form, "add_where", "")
        kind = first(form, "add_type", "relu")
        if kind not in LAYER_TYPES:
            raise LinkError("add_type", f"unknown layer type {kind!r}")
        try:
            target = layers if not path else _locate(layers, path)[0][_locate(layers, path)[1]]["layers"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise LinkError("add_where", f"no residual block at {path!r}") from None
        if len(target) >= MAX_LAYERS:
            raise LinkError("add_type", f"a list holds at most {MAX_LAYERS} layers")
        if kind == "residual":
            if path and path.count(".") + 1 >= MAX_DEPTH:
                raise LinkError("add_type", f"residual blocks nest at most {MAX_DEPTH} deep")
            new = _residual_default(_shape_at_end(model_json, path))
        else:
            new = dict(NEW_LAYER[kind])
        target.append(new)
        return model_json, (f"{path}." if path else "") + str(len(target) - 1)
    if verb not in ("remove", "up", "down"):
        raise LinkError("action", f"unknown builder action {action!r}")
    try:
        holder, i = _locate(layers, path)
        holder[i]  # noqa: B018 - raises IndexError for a stale path
    except (ValueError, IndexError, KeyError, TypeError):
        raise LinkError("action", f"no layer at {path!r} (the page may be out of date: reload it)") from None
    if verb == "remove":
        if len(holder) == 1 and holder is not layers:
            raise LinkError("action", "a residual block needs at least one layer: remove the block instead")
        if len(holder) == 1:
            raise LinkError("action", "a network needs at least one layer")
        del holder[i]
        return model_json, None
    j = i - 1 if verb == "up" else i + 1
    if not 0 <= j < len(holder):
        return model_json, path
    holder[i], holder[j] = holder[j], holder[i]
    prefix = path.rpartition(".")[0]
    return model_json, (f"{prefix}." if prefix else "") + str(j)


def _shape_at_end(model_json: dict[str, Any], path: str) -> tuple[int, ...] | None:
    """The shape flowing at the end of the list at ``path`` (top level: ""), if the shapes work that far."""
    try:
        model = parse_structure(model_json)
    except OpInputError:
        return None
    rep = shape_report(model)
    if not path:
        known = [i for p, i in rep.infos.items() if "." not in p]
        return known[-1].out_shape if known else tuple(model.input_shape)
    block = rep.infos.get(path)
    return block.in_shape if block else None


def _cells(form, name: str, shape: tuple[int, ...], errors: list[LinkError], integer: bool = False) -> np.ndarray:
    texts = form.get(name, [])
    size = math.prod(shape)
    if len(texts) != size:
        errors.append(LinkError(name, f"expected {size} cells for shape {list(shape)}, got {len(texts)}"))
        return np.zeros(shape)
    values = np.zeros(size)
    for flat, text in enumerate(texts):
        label = f"{name}[{', '.join(str(int(i)) for i in np.unravel_index(flat, shape))}]"
        try:
            values[flat] = parse_number(label, text)
            if integer and (not values[flat].is_integer() or values[flat] < 0):
                raise LinkError(label, "must be a class index 0, 1, 2, …")
        except LinkError as exc:
            errors.append(exc)
    return values.reshape(shape)


def _posted_shape(form, name: str) -> tuple[int, ...] | None:
    text = first(form, f"{name}_shape")
    try:
        shape = tuple(int(s) for s in text.split("x"))
    except ValueError:
        return None
    return shape if shape and min(shape) >= 1 else None


def resize(values: np.ndarray, shape: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """An array of ``shape`` holding the values that still fit; new cells ``fill``."""
    out = np.full(shape, fill, dtype=np.float64)
    if values.ndim == len(shape):
        common = tuple(slice(0, min(a, b)) for a, b in zip(values.shape, shape, strict=True))
        out[common] = values[common]
    return out


def from_form(form: Mapping[str, list[str]], action: str | None = None
              ) -> tuple[NetworkState | None, list[LinkError]]:
    """A state from the lab's form, after an ``action`` if any: a builder button (``add:…``, ``remove:…``,
    ``up:…``, ``down:…``) or ``pad`` (use the drawing pad's digit as your own example).

    Returns (state, []) or (None, every problem found), so the page can flag each bad field.
    """
    errors: list[LinkError] = []
    model_json = _model_from_form(form, errors)
    focus = None
    if model_json is not None and action and action != "pad":
        try:
            model_json, focus = apply_action(model_json, action, form)
        except LinkError as exc:
            errors.append(exc)
    model = None
    if model_json is not None and not errors:
        try:
            model = parse_structure(model_json)
            _check_layer_counts(model, "model")
        except OpInputError as err:
            errors.append(LinkError(err.field, err.message))
        except LinkError as exc:
            errors.append(exc)
    data = first(form, "data", "digits")
    if data not in DATA:
        errors.append(LinkError("data", f"must be one of {', '.join(DATA)}"))
    on = first(form, "on", "batch")
    if on not in ON:
        errors.append(LinkError("on", f"must be one of {', '.join(ON)}"))
    ints = {}
    for key, lo, hi, default in (("batch", 1, MAX_DIGITS_BATCH, "32"), ("seed", 0, 2**31 - 1, "0"),
                                 ("step", 0, MAX_STEP, "0"), ("until", 1, MAX_STEP, str(DEFAULT_UNTIL)),
                                 ("N", 1, MAX_TYPED_N, "1")):
        try:
            ints[key] = parse_int(key, first(form, key, default), lo, hi)
        except LinkError as exc:
            errors.append(exc)
            ints[key] = lo
    name = first(form, "opt", "adam")
    hp: dict[str, Any] = {}
    if name not in optim.OPTIMIZERS:
        errors.append(LinkError("opt", f"unknown optimizer {name!r}"))
    else:
        raw = {p.name: first(form, p.name) for p in optim.OPTIMIZERS[name] if p.name in form}
        if any(p.name == "bias_correction" for p in optim.OPTIMIZERS[name]) and "hp_form" in form:
            raw["bias_correction"] = "true" if first(form, "bias_correction") in ("true", "on") else "false"
        try:
            hp = _hyperparams(name, raw)
        except LinkError as exc:
            errors.append(exc)
    x = labels = None
    posted_x = _posted_shape(form, "x")
    if posted_x is not None:
        x = _cells(form, "x", posted_x, errors)
        labels = _cells(form, "labels", (posted_x[0],), errors, integer=True)
    pad = label = None
    if action == "pad":
        pad = _cells(form, "pad", (digits.SIDE, digits.SIDE), errors)
        try:
            label = parse_int("pad_label", first(form, "pad_label", "0"), 0, digits.CLASSES - 1)
        except LinkError as exc:
            errors.append(exc)
    init: dict[str, np.ndarray] = {}
    if model is not None and not errors and first(form, "init_mode") == "typed" and model_works(model):
        init = _init_from_form(form, model, ints["seed"], errors)
    if errors or model is None:
        return None, errors
    state = NetworkState(model, data, ints["batch"], None, None, on, init, ints["seed"], name, hp, ints["step"],
                         first(form, "op", "f:0"), ints["until"])
    if pad is not None:
        if tuple(model.input_shape) != (1, digits.SIDE, digits.SIDE):
            return None, [LinkError("pad", "the drawing pad feeds models that take 1×8×8 images")]
        x = digits.split(0).normalise(pad)[None, None]
        labels = np.array([float(label)])
        state = replace(state, x=x, labels=labels, on="own" if data == "digits" else on)
    else:
        state = _fit_examples(state, x, labels, ints["N"])
    if model_works(model):
        ops = timeline(model)
        if state.op not in ops:
            state = replace(state, op=ops[0])
        if focus is not None and f"f:{focus}" in ops:
            state = replace(state, op=f"f:{focus}")
    return state, []


def _init_from_form(form, model: Model, seed: int, errors: list[LinkError]) -> dict[str, np.ndarray]:
    """Typed initial parameters: the posted cells resized to each parameter's shape; new ones from the seed."""
    shapes = param_shapes(model)
    if sum(math.prod(s) for s in shapes.values()) > MAX_TYPED_INIT:
        return {}
    seeded = init_params(model, seed)
    out = {}
    for name, shape in shapes.items():
        posted = _posted_shape(form, f"p.{name}")
        if posted is not None:
            out[name] = resize(_cells(form, f"p.{name}", posted, errors), shape)
        else:
            out[name] = np.array(seeded[name])
    return out


def typed_input_fits(model: Model) -> bool:
    shape = model.input_shape
    if len(shape) == 3:
        return shape[0] <= MAX_TYPED_CHANNELS and max(shape[1:]) <= MAX_TYPED_SIDE
    return shape[0] <= MAX_TYPED_FEATURES


def _fit_examples(state: NetworkState, x: np.ndarray | None, labels: np.ndarray | None, n: int) -> NetworkState:
    """Typed data (or your own example) resized to the model's input shape and N; labels are kept as
    typed (a label the network has no class for is reported by the page, never clamped)."""
    if not (state.data == "typed" or state.on == "own"):
        return state
    if not typed_input_fits(state.model):
        return replace(state, x=None, labels=None, data="digits", on="batch") if state.data == "typed" else \
            replace(state, x=None, labels=None, on="batch")
    count = n if state.data == "typed" else (x.shape[0] if x is not None else 1)
    shape = (count, *state.model.input_shape)
    x = resize(x if x is not None else np.zeros(shape), shape)
    labels = resize(labels if labels is not None else np.zeros(count), (count,))
    return replace(state, x=x, labels=labels)
