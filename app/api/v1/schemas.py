"""JSON Schemas of the API's request bodies, as strict as the validation behind them (issue 13).

The request models keep ``Any`` fields, so every problem is still found and named by the engine's
own checks (``["body", "model", "layers", 3, "kernel"]``, "is ragged: every row must have the
same length"); these schemas only say in the OpenAPI document what those checks accept: the
layer types and their settings' ranges, arrays of numbers nested at most four deep, the limits
of :class:`app.settings.Settings` (its defaults: a server may be configured with others).
"""

from __future__ import annotations

from typing import Any

from pydantic import WithJsonSchema

from app.settings import Settings
from engine.network import model as nm
from engine.network.model import MODES
from engine.optim import rules as optim

LIMITS = Settings()


def number_array(max_items: int | None = None, depth: int = 4, max_numbers: int = LIMITS.max_elements
                 ) -> dict[str, Any]:
    """A bare number, or arrays of numbers nested up to ``depth`` deep (every row as long as the others:
    the engine names a ragged one), ``max_numbers`` in all. JSON has no NaN or infinity."""
    schema: dict[str, Any] = {"type": "number"}
    for _ in range(depth):
        schema = {"anyOf": [{"type": "number"}, {"type": "array", "items": schema}]}
    outer = {"type": "array", "items": schema["anyOf"][1]["items"]}
    if max_items is not None:
        outer["maxItems"] = max_items
    return {"anyOf": [{"type": "number"}, outer],
            "description": f"A number or nested lists of numbers (at most {max_numbers:,} numbers)."}


def _int(lo: int, hi: int, default: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "minimum": lo, "maximum": hi}
    if default is not None:
        out["default"] = default
    return out


def _layer(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    required, _ = nm._KEYS[kind]
    return {"type": "object", "title": kind, "additionalProperties": False,
            "required": ["type", *sorted(required)],
            "properties": {"type": {"const": kind}, **properties}}


LAYER_REF = {"$ref": "#/components/schemas/Layer"}
LAYERS = {"type": "array", "items": LAYER_REF, "minItems": 1, "maxItems": LIMITS.network_max_layers}
LAYER = {"oneOf": [
    _layer("conv2d", {"filters": _int(1, nm.MAX_FILTERS), "kernel": _int(1, nm.MAX_KERNEL),
                      "stride": _int(1, nm.MAX_STRIDE, 1), "pad": _int(0, nm.MAX_PAD, 0)}),
    _layer("batchnorm", {"eps": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 1e-5},
                         "momentum": {"type": "number", "minimum": 0, "maximum": 1,
                                      "description": "default: 0.1 (pytorch) or 0.9 (cs231n)"},
                         "convention": {"enum": list(nm.CONVENTIONS), "default": "pytorch"}}),
    _layer("relu", {}),
    _layer("sigmoid", {}),
    _layer("tanh", {}),
    _layer("leaky_relu", {"slope": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.01}}),
    _layer("groupnorm", {"groups": _int(1, nm.MAX_CHANNELS * 4, 1),
                         "eps": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 1e-5}}),
    _layer("maxpool2d", {"size": _int(1, nm.MAX_POOL), "stride": _int(1, nm.MAX_POOL)}),
    _layer("avgpool2d", {"size": _int(1, nm.MAX_POOL), "stride": _int(1, nm.MAX_POOL)}),
    _layer("dropout", {"p": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}}),
    _layer("flatten", {}),
    _layer("linear", {"units": _int(1, nm.MAX_UNITS)}),
    _layer("residual", {"layers": LAYERS}),
]}
MODEL = {
    "type": "object", "additionalProperties": False, "required": ["input_shape", "layers"],
    "properties": {
        "input_shape": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": 3,
                        "description": "[C, H, W] (an image) or [D] (features)"},
        "layers": LAYERS,
        "loss": {"enum": list(nm.LOSSES), "default": "softmax_cross_entropy"},
        "reg": {"type": "number", "minimum": 0, "maximum": nm.MAX_REG, "default": 0,
                "description": "L2 strength: ½·reg·Σw² over every conv2d and linear w"},
        "l1": {"type": "number", "minimum": 0, "maximum": nm.MAX_REG, "default": 0,
               "description": "L1 strength: l1·Σ|w| over every conv2d and linear w"},
    },
}
ARRAYS_BY_NAME = {"type": "object", "additionalProperties": number_array()}  # the trace: the pages' sizes
API_ARRAYS_BY_NAME = {"type": "object",  # the ops and the optimizers: course-sized (Settings.api_max_*)
                      "additionalProperties": number_array(max_numbers=LIMITS.api_max_elements)}
HYPERPARAMS = {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean"]}}
OPTIMIZER = {"type": "object", "additionalProperties": False, "required": ["name"],
             "properties": {"name": {"enum": list(optim.OPTIMIZERS)}, "hyperparams": HYPERPARAMS}}

TRACE = {
    "model": WithJsonSchema(MODEL),
    "params": WithJsonSchema({"anyOf": [ARRAYS_BY_NAME, {"type": "null"}]}),
    "x": WithJsonSchema(number_array(LIMITS.max_batch)),
    "labels": WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": 0},
                              "maxItems": LIMITS.max_batch}),
    "mode": WithJsonSchema({"enum": list(MODES), "default": "train"}),
    "optimizer": WithJsonSchema({"anyOf": [OPTIMIZER, {"type": "null"}]}),
    "seed": WithJsonSchema(_int(0, 2**63 - 1, 0)),
}
OP_INPUTS = WithJsonSchema(API_ARRAYS_BY_NAME)
OP_PARAMS = WithJsonSchema({"type": "object", "additionalProperties": {"type": ["number", "string", "boolean"]}})
OPT_PARAMS = WithJsonSchema({**API_ARRAYS_BY_NAME, "maxProperties": LIMITS.max_optimizer_params})
OPT_GRADS = WithJsonSchema({"type": "array", "items": API_ARRAYS_BY_NAME, "maxItems": LIMITS.max_optimizer_steps})
OPT_HYPERPARAMS = WithJsonSchema(HYPERPARAMS)
OPT_STATE = WithJsonSchema({"anyOf": [
    {"type": "object", "properties": {"t": _int(0, optim.MAX_T, 0)}, "additionalProperties": API_ARRAYS_BY_NAME,
     "description": "t, and each slot of the optimizer (v; s; m and v) as {name: array}"},
    {"type": "null"}]})
