"""The network lab's form: the builder's layers and buttons, the data, the optimizer and typed numbers.

Returns the lab's state (:mod:`.state`) or every problem found, each a
:class:`~app.web.kit.fields.FieldError` naming the input that holds it (the inputs are named by the
model's field paths, ``model.layers[2].kernel``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, parse_int, parse_number
from app.web.kit.form import Form, choice_field, first, grid_cells, int_field, resize, shape_field
from app.web.labs.network.state import (
    DATA,
    DEFAULT_UNTIL,
    LAYER_TYPES,
    ON,
    SETTINGS,
    NetworkState,
    check_layer_counts,
    check_step_numbers,
    check_typed_size,
    compact_json,
    hyperparams,
    model_works,
    parse_chain,
    parse_model_text,
    timeline,
    typed_input_fits,
)
from engine.data import digits
from engine.network.model import LOSSES, MAX_DEPTH, Model, param_shapes
from engine.network.params import init_params
from engine.network.runs import parse_structure, shape_report
from engine.optim import rules as optim
from engine.records import OpInputError

NEW_LAYER = {  # what "Add layer" inserts
    "conv2d": {"type": "conv2d", "filters": 4, "kernel": 3, "pad": 1},
    "batchnorm": {"type": "batchnorm"},
    "groupnorm": {"type": "groupnorm", "groups": 2},
    "relu": {"type": "relu"},
    "leaky_relu": {"type": "leaky_relu", "slope": 0.1},
    "sigmoid": {"type": "sigmoid"},
    "tanh": {"type": "tanh"},
    "maxpool2d": {"type": "maxpool2d", "size": 2},
    "avgpool2d": {"type": "avgpool2d", "size": 2},
    "dropout": {"type": "dropout", "p": 0.25},
    "flatten": {"type": "flatten"},
    "linear": {"type": "linear", "units": 10},
}


def _layer_from_form(form: Form, spec: dict[str, Any], field: str, errors: list[FieldError]) -> dict[str, Any]:
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
                        raise FieldError(name, f"must be a whole number, got {text}")
                    out[key] = int(value)
                else:
                    out[key] = parse_number(name, text)
            except FieldError as exc:
                errors.append(exc)
                if key in spec:
                    out[key] = spec[key]
        elif key in spec:
            out[key] = spec[key]
    return out


def _model_from_form(form: Form, settings: Settings, errors: list[FieldError]) -> dict[str, Any] | None:
    text = first(form, "model")
    try:
        base = compact_json(parse_model_text("model", text, settings.network_max_layers))
    except FieldError as exc:
        errors.append(exc)
        return None
    shape = []
    for i, value in enumerate(base["input_shape"]):
        name = f"model.input_shape[{i}]"
        try:
            shape.append(parse_int(name, first(form, name, str(value)), 1, settings.network_max_input_side))
        except FieldError as exc:
            errors.append(exc)
            shape.append(value)
    out = {"input_shape": shape,
           "layers": [_layer_from_form(form, layer, f"model.layers[{i}]", errors)
                      for i, layer in enumerate(base["layers"])]}
    out.update(_loss_from_form(form, base, errors))
    return out


def _loss_from_form(form: Form, base: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """The loss and the weight penalties (``model.loss``, ``model.reg``, ``model.l1``): the posted fields, else the
    model's own. The bounds are the engine's (``MAX_REG``), checked when the model is parsed: the message names
    the field and its bound."""
    out: dict[str, Any] = {}
    loss = first(form, "model.loss", base.get("loss", "softmax_cross_entropy"))
    if loss not in LOSSES:
        errors.append(FieldError("model.loss", f"must be one of {', '.join(LOSSES)}; got {loss!r}"))
    elif loss != "softmax_cross_entropy":
        out["loss"] = loss
    for key in ("reg", "l1"):
        name = f"model.{key}"
        text = first(form, name, "").strip()
        if not text:
            if key in base:
                out[key] = base[key]
            continue
        try:
            value = parse_number(name, text)
        except FieldError as exc:
            errors.append(exc)
            continue
        if value:
            out[key] = value
    return out


def _posted_shape(form: Form, name: str, errors: list[FieldError], max_cells: int) -> tuple[int, ...] | None:
    """The shape of the cells posted as ``name`` (None when the form has none: no typed numbers yet)."""
    return shape_field(form, f"{name}_shape", errors, max_cells=max_cells) if f"{name}_shape" in form else None


def _class_index(label: str, text: str) -> float:
    value = parse_number(label, text)
    if not value.is_integer() or value < 0:
        raise FieldError(label, "must be a class index 0, 1, 2, …")
    return value


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


def apply_action(model_json: dict[str, Any], action: str, form: Form, max_layers: int
                 ) -> tuple[dict[str, Any], str | None]:
    """The model after a builder button: ``add:<list path>``, ``remove:<path>``, ``up:<path>``, ``down:<path>``.

    Returns (model JSON, the path of the layer the action concerns, if it still exists).
    """
    verb, _, path = action.partition(":")
    layers = model_json["layers"]
    if verb == "add":
        path = path or first(form, "add_where", "")
        kind = first(form, "add_type", "relu")
        if kind not in LAYER_TYPES:
            raise FieldError("add_type", f"unknown layer type {kind!r}")
        try:
            target = layers if not path else _locate(layers, path)[0][_locate(layers, path)[1]]["layers"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise FieldError("add_where", f"no residual block at {path!r}") from None
        if len(target) >= max_layers:
            raise FieldError("add_type", f"a list holds at most {max_layers} layers")
        if kind == "residual":
            if path and path.count(".") + 1 >= MAX_DEPTH:
                raise FieldError("add_type", f"residual blocks nest at most {MAX_DEPTH} deep")
            new = _residual_default(_shape_at_end(model_json, path))
        else:
            new = dict(NEW_LAYER[kind])
        target.append(new)
        return model_json, (f"{path}." if path else "") + str(len(target) - 1)
    if verb not in ("remove", "up", "down"):
        raise FieldError("action", f"unknown builder action {action!r}")
    try:
        holder, i = _locate(layers, path)
        holder[i]  # noqa: B018 - raises IndexError for a stale path
    except (ValueError, IndexError, KeyError, TypeError):
        raise FieldError("action", f"no layer at {path!r} (the page may be out of date: reload it)") from None
    if verb == "remove":
        if len(holder) == 1 and holder is not layers:
            raise FieldError("action", "a residual block needs at least one layer: remove the block instead")
        if len(holder) == 1:
            raise FieldError("action", "a network needs at least one layer")
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


def from_form(form: Form, settings: Settings, action: str | None = None
              ) -> tuple[NetworkState | None, list[FieldError]]:
    """A state from the lab's form, after an ``action`` if any: a builder button (``add:…``, ``remove:…``,
    ``up:…``, ``down:…``) or ``pad`` (use the drawing pad's digit as your own example).

    Returns (state, []) or (None, every problem found), so the page can flag each bad field.
    """
    errors: list[FieldError] = []
    model_json = _model_from_form(form, settings, errors)
    focus = None
    if model_json is not None and action and action != "pad":
        try:
            model_json, focus = apply_action(model_json, action, form, settings.network_max_layers)
        except FieldError as exc:
            errors.append(exc)
    model = None
    if model_json is not None and not errors:
        try:
            model = parse_structure(model_json)
            check_layer_counts(model, "model", settings.network_max_layers)
        except OpInputError as err:
            errors.append(FieldError(err.field, err.message))
        except FieldError as exc:
            errors.append(exc)
    data = choice_field(form, "data", DATA, errors, "digits")
    on = choice_field(form, "on", ON, errors, "batch")
    max_step = settings.network_max_step
    ints = {key: int_field(form, key, lo, hi, errors, default)
            for key, lo, hi, default in (("batch", 1, settings.network_max_batch, "32"),
                                         ("seed", 0, settings.max_seed, "0"), ("step", 0, max_step, "0"),
                                         ("until", 1, max_step, str(min(DEFAULT_UNTIL, max_step))),
                                         ("N", 1, settings.network_max_examples, "1"))}
    name = first(form, "opt", "adam")
    hp: dict[str, Any] = {}
    if name not in optim.OPTIMIZERS:
        errors.append(FieldError("opt", f"unknown optimizer {name!r}"))
    else:
        raw = {p.name: first(form, p.name) for p in optim.OPTIMIZERS[name] if p.name in form}
        if any(p.name == "bias_correction" for p in optim.OPTIMIZERS[name]) and "hp_form" in form:
            raw["bias_correction"] = "true" if first(form, "bias_correction") in ("true", "on") else "false"
        try:
            hp = hyperparams(name, raw)
        except FieldError as exc:
            errors.append(exc)
    x = labels = None
    posted_x = _posted_shape(form, "x", errors, settings.max_elements)
    if posted_x is not None:
        x = grid_cells(form, "x", posted_x, errors)
        labels = grid_cells(form, "labels", (posted_x[0],), errors, parse=_class_index)
    pad = label = None
    if action == "pad":
        pad = grid_cells(form, "pad", (digits.SIDE, digits.SIDE), errors)
        try:
            label = parse_int("pad_label", first(form, "pad_label", "0"), 0, digits.CLASSES - 1)
        except FieldError as exc:
            errors.append(exc)
    init: dict[str, np.ndarray] = {}
    if model is not None and not errors and first(form, "init_mode") == "typed" and model_works(model):
        init = _init_from_form(form, model, ints["seed"], settings.network_max_typed_init, errors)
    if not errors and model is not None and data == "digits" and on == "batch":
        try:
            check_step_numbers(model, ints["batch"], settings)
        except FieldError as exc:
            errors.append(exc)
    if errors or model is None:
        return None, errors
    try:  # the chain's pick: the picker's two fields when it posted them, else the hidden one
        picked = f"{first(form, 'chain_param')}:{first(form, 'chain_index').replace(' ', '')}"
        chain = parse_chain(picked if first(form, "chain_param") else first(form, "chain", ""), model)
    except FieldError as exc:
        return None, [exc]
    state = NetworkState(model, data, ints["batch"], None, None, on, init, ints["seed"], name, hp, ints["step"],
                         first(form, "op", "f:0"), ints["until"], chain)
    if pad is not None:
        if tuple(model.input_shape) != (1, digits.SIDE, digits.SIDE):
            return None, [FieldError("pad", "the drawing pad feeds models that take 1×8×8 images")]
        x = digits.split(0).normalise(pad)[None, None]
        labels = np.array([float(label)])
        state = replace(state, x=x, labels=labels, on="own" if data == "digits" else on)
    else:
        if state.data == "typed" and typed_input_fits(model, settings):
            try:
                check_typed_size("N", (ints["N"], *model.input_shape), settings)
            except FieldError as exc:
                return None, [exc]
        state = _fit_examples(state, x, labels, ints["N"], settings)
    if model_works(model):
        ops = timeline(model)
        if state.op not in ops:
            state = replace(state, op=ops[0])
        if focus is not None and f"f:{focus}" in ops:
            state = replace(state, op=f"f:{focus}")
    return state, []


def _init_from_form(form: Form, model: Model, seed: int, max_numbers: int, errors: list[FieldError]
                    ) -> dict[str, np.ndarray]:
    """Typed initial parameters: the posted cells resized to each parameter's shape; new ones from the seed."""
    shapes = param_shapes(model)
    if sum(math.prod(s) for s in shapes.values()) > max_numbers:
        return {}
    seeded = init_params(model, seed)
    out = {}
    for name, shape in shapes.items():
        posted = _posted_shape(form, f"p.{name}", errors, max_numbers)
        if posted is not None:
            out[name] = resize(grid_cells(form, f"p.{name}", posted, errors), shape)
        else:
            out[name] = np.array(seeded[name])
    return out


def _fit_examples(state: NetworkState, x: np.ndarray | None, labels: np.ndarray | None, n: int,
                  settings: Settings) -> NetworkState:
    """Typed data (or your own example) resized to the model's input shape and N; labels are kept as
    typed (a label the network has no class for is reported by the page, never clamped)."""
    if not (state.data == "typed" or state.on == "own"):
        return state
    if not typed_input_fits(state.model, settings):
        return replace(state, x=None, labels=None, data="digits", on="batch") if state.data == "typed" else \
            replace(state, x=None, labels=None, on="batch")
    count = n if state.data == "typed" else (x.shape[0] if x is not None else 1)
    shape = (count, *state.model.input_shape)
    x = resize(x if x is not None else np.zeros(shape), shape)
    labels = resize(labels if labels is not None else np.zeros(count), (count,))
    return replace(state, x=x, labels=labels)
