"""The network lab's whole state, and its way in from a link (the page's form: :mod:`.form`).

The model travels in the link as compact JSON (settings at their defaults left out); long
states are deflated by :func:`app.web.kit.link.to_query`. Both ways in are validated as strictly
as each other — every problem is a :class:`~app.web.kit.fields.FieldError` naming the field (the
form's input names are the model's field paths, ``model.layers[2].kernel``, so a message marks the
input that holds the bad value) — and nothing is clamped. The lab's limits are
:class:`~app.settings.Settings` fields (``network_max_*``).

A model whose settings are valid but whose shapes do not work is still a state: the page
shows the message at the layer that breaks, and keeps the rest as built.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, MissingField, parse_int, parse_number, setting_bound
from app.web.kit.link import decode_array, encode_array, from_query
from app.web.kit.link import to_query as link_query
from app.web.render.numbers import link_text
from engine.network.model import Model, Residual, layer_to_json, param_shapes
from engine.network.runs import (
    RunSpec,
    ShapeReport,
    backward_order,
    forward_order,
    layer_groups,
    make_spec,
    parse_structure,
    shape_report,
)
from engine.optim import rules as optim
from engine.records import OpInputError

# The view (app.web.labs.network.view) reads these limits here; they are Settings' defaults, so an override of
# get_settings does not reach the builder's marks until the view takes settings itself.
_DEFAULTS = Settings()
MAX_TYPED_INIT = _DEFAULTS.network_max_typed_init
MAX_LAB_PARAMS = _DEFAULTS.network_max_params
MAX_LAB_ACTIVATION = _DEFAULTS.network_max_activation

DATA = ("digits", "typed")
ON = ("batch", "own")
LAYER_TYPES = ("conv2d", "batchnorm", "groupnorm", "relu", "leaky_relu", "sigmoid", "tanh", "maxpool2d", "avgpool2d",
               "dropout", "flatten", "linear", "residual")
LOSS_TITLES = {"softmax_cross_entropy": "softmax cross-entropy", "svm_loss": "multiclass SVM (hinge, margin 1)"}
# each type's settings: key -> (kind, default when the key is left out) — "int", "float", "choice"
SETTINGS: dict[str, dict[str, tuple[str, Any]]] = {
    "conv2d": {"filters": ("int", None), "kernel": ("int", None), "stride": ("int", 1), "pad": ("int", 0)},
    "batchnorm": {"eps": ("float", 1e-5), "momentum": ("float?", None), "convention": ("choice", "pytorch")},
    "groupnorm": {"groups": ("int", 1), "eps": ("float", 1e-5)},
    "relu": {},
    "leaky_relu": {"slope": ("float", 0.01)},
    "sigmoid": {},
    "tanh": {},
    "maxpool2d": {"size": ("int", None), "stride": ("int", "size")},
    "avgpool2d": {"size": ("int", None), "stride": ("int", "size")},
    "dropout": {"p": ("float", None)},
    "flatten": {},
    "linear": {"units": ("int", None)},
    "residual": {},
}
DEFAULT_UNTIL = 1000
REPLAY_BOUND = setting_bound("network_max_step", "a link is replayed from step 0, and a longer replay would keep a "
                                                 "request waiting")
LINK_KEYS = {"model", "data", "batch", "x", "labels", "on", "seed", "opt", "lr", "step", "op", "until", "chain"}
CHAIN = re.compile(r"^(\d+(?:\.\d+)*\.(?:w|b|gamma|beta)):(\d+(?:,\d+)*)$")  # the chain's pick: 0.w:1,0,2,2


def form_limits(settings: Settings) -> dict[str, int]:
    """The form's bounds: the digits per step, typed examples N and their size, the traced step, the stream's end."""
    return {"batch": settings.network_max_batch, "N": settings.network_max_examples,
            "step": settings.network_max_step, "until": settings.network_max_step,
            "typed_channels": settings.network_max_typed_channels, "typed_side": settings.network_max_typed_side}


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
    chain: str = ""  # the parameter element the chain from the loss ends at: "0.w:1,0,2,2" ("": the layer's largest)

    def to_query(self) -> str:
        """Always compact (``v=1&z=…``): the model is JSON, which percent-encoding makes long and unreadable."""
        return link_query(self.link_fields(), readable_limit=0)

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
        fields["lr"] = link_text(hp["lr"])
        for name, value in hp.items():
            if name != "lr" and value != defaults[name]:
                fields[name] = _hp_text(value)
        if self.step:
            fields["step"] = str(self.step)
        fields["op"] = self.op
        if self.until != DEFAULT_UNTIL:
            fields["until"] = str(self.until)
        if self.chain:
            fields["chain"] = self.chain
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
        return link_text(value)
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
    for key in ("reg", "l1"):  # the weight penalties, left out at 0
        if getattr(model, key):
            out[key] = getattr(model, key)
    return out


def model_text(model: Model) -> str:
    return json.dumps(compact_json(model), separators=(",", ":"))


def parse_model_text(field: str, text: str, max_layers: int) -> Model:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise FieldError(field, "is not valid JSON (the link may have been cut short)") from None
    try:
        model = parse_structure(raw)
    except OpInputError as err:
        raise FieldError(field, f"{err.field}: {err.message}") from None
    check_layer_counts(model, field, max_layers)
    return model


def check_layer_counts(model: Model, field: str, max_layers: int) -> None:
    def walk(layers, where: str) -> None:
        if len(layers) > max_layers:
            raise FieldError(field, f"{where} has {len(layers)} layers; this lab builds at most {max_layers} per list")
        for i, layer in enumerate(layers):
            if isinstance(layer, Residual):
                walk(layer.layers, f"{where}[{i}].layers")

    walk(model.layers, "model.layers")


# --- the timeline of one step -----------------------------------------------------------------


def lab_limit_error(report: ShapeReport) -> OpInputError | None:
    """This lab's own bounds (a model the page can train live): the first layer over them."""
    total = 0
    for _path, info in report.infos.items():
        total += info.param_count
        size = math.prod(info.out_shape)
        if size > MAX_LAB_ACTIVATION:
            shape = "×".join(str(d) for d in info.out_shape)
            return OpInputError(info.field, f"{info.type} outputs {shape} = {size:,} numbers per "
                                            f"example; this lab trains live with at most {MAX_LAB_ACTIVATION:,}")
        if total > MAX_LAB_PARAMS:
            return OpInputError(info.field, f"{info.type} brings the model to {total:,} learnable numbers; this lab "
                                            f"trains live with at most {MAX_LAB_PARAMS:,}")
    return None


def check_step_numbers(model: Model, batch: int, settings: Settings) -> None:
    """The page's cost bound: the numbers one traced step of ``batch`` digits holds (every layer's output for each
    example), at most ``Settings.network_max_step_numbers``; a model whose shapes do not work is the builder's."""
    report = shape_report(model)
    if not report.ok:
        return
    per_example = sum(math.prod(info.out_shape) for info in report.infos.values())
    if per_example * batch > settings.network_max_step_numbers:
        most = settings.network_max_step_numbers // per_example
        raise FieldError("batch", f"at batch {batch} one traced step of this model holds {per_example * batch:,} "
                                  f"numbers ({per_example:,} an example); the lab traces at most "
                                  f"{settings.network_max_step_numbers:,} — "
                                  + setting_bound("network_max_step_numbers", "a larger step would cost over half a "
                                                  "CPU-second to trace and draw")
                                  + (f"; use a batch of at most {most}" if most else "; use a smaller model"))


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
        raise MissingField(key)
    return default


def hyperparams(name: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Optimizer ``name``'s hyperparameters from their texts (``true``/``false`` for a switch), cleaned."""
    out: dict[str, Any] = {}
    for p in optim.OPTIMIZERS[name]:
        if p.name not in fields:
            continue
        text = fields[p.name]
        if p.kind is bool:
            if text not in ("true", "false"):
                raise FieldError(p.name, f"must be true or false, got {text!r}")
            out[p.name] = text == "true"
        elif p.kind is str:
            out[p.name] = text
        else:
            out[p.name] = parse_number(p.name, text)
    try:
        return optim.clean_hyperparams(name, out)
    except OpInputError as err:
        raise FieldError(err.field.removeprefix("hyperparams.").removeprefix("params."), err.message) from None


def _x_limits(model: Model, settings: Settings) -> tuple[int, ...]:
    n = settings.network_max_examples
    if len(model.input_shape) == 3:
        side = settings.network_max_typed_side
        return (n, settings.network_max_typed_channels, side, side)
    return (n, settings.network_max_typed_features)


def from_link(query: str, settings: Settings) -> NetworkState:
    """A state from a link's query string; raises FieldError naming the bad parameter."""
    fields = from_query(query)
    for key in fields:
        if key not in LINK_KEYS and not key.startswith("p.") and not _is_hyperparam(key):
            raise FieldError(key, f"is not a setting of the network lab (known: {', '.join(sorted(LINK_KEYS))}, "
                                 "p.<parameter> and the optimizer's hyperparameters)")
    model = parse_model_text("model", _field(fields, "model"), settings.network_max_layers)
    data = _field(fields, "data", "digits")
    if data not in DATA:
        raise FieldError("data", f"must be one of {', '.join(DATA)}; got {data!r}")
    batch = parse_int("batch", _field(fields, "batch", "32"), 1, settings.network_max_batch,
                      setting_bound("network_max_batch", "each training step stays quick to trace"))
    on = _field(fields, "on", "batch")
    if on not in ON:
        raise FieldError("on", f"must be one of {', '.join(ON)}; got {on!r}")
    if data == "digits" and on == "batch":  # (typed data and an own example trace those few examples instead)
        check_step_numbers(model, batch, settings)
    x = labels = None
    if data == "typed" or on == "own":
        lim = _x_limits(model, settings)
        x = decode_array("x", _field(fields, "x"), len(lim), lim)
        check_typed_size("x", x.shape, settings)
        labels = decode_array("labels", _field(fields, "labels"), 1, lim[:1])
        _check_xy(model, x, labels)
    elif "x" in fields or "labels" in fields:
        raise FieldError("x" if "x" in fields else "labels", "is only part of a link with data=typed or on=own")
    init = _init_from_fields(model, fields, settings.network_max_typed_init)
    seed = parse_int("seed", _field(fields, "seed", "0"), 0, settings.max_seed)
    name = _field(fields, "opt", "adam")
    if name not in optim.OPTIMIZERS:
        raise FieldError("opt", f"unknown optimizer {name!r}; known: {', '.join(optim.OPTIMIZERS)}")
    for key in fields:
        if _is_hyperparam(key) and key not in {p.name for p in optim.OPTIMIZERS[name]}:
            raise FieldError(key, f"is not a hyperparameter of {name}")
    hp = hyperparams(name, fields)
    step = parse_int("step", _field(fields, "step", "0"), 0, settings.network_max_step, REPLAY_BOUND)
    until = parse_int("until", _field(fields, "until", str(min(DEFAULT_UNTIL, settings.network_max_step))), 1,
                      settings.network_max_step)
    op = _field(fields, "op", "f:0")
    if model_works(model):
        ops = timeline(model)
        if op not in ops:
            raise FieldError("op", f"{op!r} is not an operation of this network's step (e.g. {ops[0]}, loss, "
                                  f"{ops[-1]})")
    chain = parse_chain(_field(fields, "chain", ""), model)
    return NetworkState(model, data, batch, x, labels, on, init, seed, name, hp, step, op, until, chain)


def parse_chain(text: str, model: Model) -> str:
    """The chain's pick ``<parameter>:<index>`` (a parameter of the model and one of its elements), or ""."""
    if not text:
        return ""
    match = CHAIN.match(text)
    if not match:
        raise FieldError("chain", f"must be a parameter and an element, e.g. 0.w:0,0,1,1; got {text!r}")
    name, index = match.group(1), tuple(int(i) for i in match.group(2).split(","))
    if not model_works(model):
        return text
    shapes = param_shapes(model)
    if name not in shapes:
        raise FieldError("chain", f"{name} is not a parameter of this network (parameters: {', '.join(shapes)})")
    shape = shapes[name]
    if len(index) != len(shape) or any(i >= s for i, s in zip(index, shape, strict=True)):
        raise FieldError("chain", f"{name}[{', '.join(map(str, index))}] is not an element: {name} has shape "
                                  f"{list(shape)}")
    return text


def _is_hyperparam(key: str) -> bool:
    return any(key == p.name for specs in optim.OPTIMIZERS.values() for p in specs)


def _check_xy(model: Model, x: np.ndarray, labels: np.ndarray) -> None:
    want = tuple(model.input_shape)
    if x.shape[1:] != want:
        raise FieldError("x", f"has shape {list(x.shape)}, but the model takes examples of shape {list(want)}")
    if labels.shape[0] != x.shape[0]:
        raise FieldError("labels", f"has {labels.shape[0]} labels for {x.shape[0]} examples")
    if not np.all(labels == np.round(labels)) or np.any(labels < 0):
        raise FieldError("labels", "must hold class indices 0, 1, 2, …")
    # a label the network has no class for is shown by the page at the data, as the form does: not a broken link


def _init_from_fields(model: Model, fields: Mapping[str, str], max_numbers: int) -> dict[str, np.ndarray]:
    names = [k for k in fields if k.startswith("p.")]
    if not names:
        return {}
    if not model_works(model):
        raise FieldError(names[0], "typed parameters need a model whose shapes work")
    shapes = param_shapes(model)
    if sum(math.prod(s) for s in shapes.values()) > max_numbers:
        raise FieldError(names[0], f"typed parameters are for models of at most {max_numbers} learnable numbers")
    out = {}
    for key in names:
        name = key[2:]
        if name not in shapes:
            raise FieldError(key, f"this model has no parameter {name!r} (parameters: {', '.join(shapes)})")
        shape = shapes[name]
        arr = decode_array(key, fields[key], len(shape), shape)
        if arr.shape != shape:
            raise FieldError(key, f"must have shape {list(shape)}, got {list(arr.shape)}")
        out[name] = arr
    return {name: out[name] for name in shapes if name in out}


def check_typed_size(field: str, shape: tuple[int, ...], settings: Settings) -> None:
    """Typed data holds at most ``Settings.max_elements`` numbers in all (four 1×28×28 digits, one 4×28×28
    example): each size within its own bound is not enough. Raises FieldError naming ``field``."""
    count = math.prod(shape)
    if count > settings.max_elements:
        sizes = " × ".join(str(d) for d in shape)
        raise FieldError(field, f"would hold {sizes} = {count} numbers; typed data holds at most "
                                f"{settings.max_elements} ({setting_bound('max_elements', 'one array of a form')})")


def typed_input_fits(model: Model, settings: Settings = _DEFAULTS) -> bool:
    """The model's examples are small enough to be typed as grids."""
    shape = model.input_shape
    if len(shape) == 3:
        return shape[0] <= settings.network_max_typed_channels and max(shape[1:]) <= settings.network_max_typed_side
    return shape[0] <= settings.network_max_typed_features
