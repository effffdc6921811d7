"""``POST /api/v1/networks/trace``: one training step of a network, every layer's arrays (CONVENTIONS.md).

Limits, all from :class:`app.settings.Settings` (the same the README and the schema state):
``max_elements`` numbers in x and in each given parameter, ``max_batch`` examples,
``network_max_layers`` layers per list, ``network_max_params`` learnable numbers,
``network_max_activation`` numbers out of any layer per example, and ``trace_max_numbers``
numbers in the answer (checked once the trace is made). Every problem answers 422 with the
field's location (``["body", "model", "layers", 3, "kernel"]``, ``["body", "params", "4.0.w"]``)
— never a 500, never a clamp. The trace runs under the one limiter of heavy work
(:mod:`app.work`): when it is full, 503 with Retry-After.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app import work
from app.api.v1 import schemas
from app.api.v1.common import ERROR_RESPONSES
from app.api.v1.jsonarrays import ArraysResponse
from app.errors import error_response
from app.settings import Settings, get_settings
from engine import registry
from engine.network import trace as network
from engine.network.model import Residual, infer_shapes, param_shapes, parse_model
from engine.records import OpInputError

router = APIRouter(prefix="/api/v1", tags=["networks"])

EXAMPLE_MODEL = {
    "input_shape": [1, 4, 4],
    "layers": [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
               {"type": "flatten"}],
    "loss": "softmax_cross_entropy",
}
EXAMPLE = {
    "model": EXAMPLE_MODEL,
    "params": {"0.w": [[[[1, 0, -1], [1, 0, -1], [1, 0, -1]]], [[[1, 1, 1], [0, 0, 0], [-1, -1, -1]]]],
               "0.b": [0, 0]},
    "x": [[[[3, 1, 0, 2], [2, 0, 1, 3], [1, 2, 0, 1], [0, 3, 2, 1]]]],
    "labels": [1],
    "mode": "train",
    "optimizer": {"name": "sgd", "hyperparams": {"lr": 0.1}},
    "seed": 0,
}


class TraceRequest(BaseModel):
    """Fields typed ``Any`` so that the engine's checks find and name every problem; their schemas
    (app/api/v1/schemas.py) say what those checks accept."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[Any, schemas.TRACE["model"]] = Field(
        description="The network: input_shape, layers, loss (CONVENTIONS.md, \"Networks\").")
    params: Annotated[Any, schemas.TRACE["params"]] = Field(
        None, description="Parameters and buffers by name (`0.w`, `4.1.gamma`, `4.1.running_mean`); missing ones "
                          "are initialised from `seed`.")
    x: Annotated[Any, schemas.TRACE["x"]] = Field(
        description="The batch, (N, C, H, W) for an image model or (N, D) for a feature model.")
    labels: Annotated[Any, schemas.TRACE["labels"]] = Field(description="One class index per example.")
    mode: Annotated[Any, schemas.TRACE["mode"]] = Field(
        "train", description="`train` (batch statistics, dropout on) or `eval`.")
    optimizer: Annotated[Any, schemas.TRACE["optimizer"]] = Field(
        None, description="Optional `{\"name\": \"adam\", \"hyperparams\": {...}}`: one update from zero "
                          "optimizer state (t = 1).")
    seed: Annotated[Any, schemas.TRACE["seed"]] = Field(
        0, description="Initialises missing parameters and fixes dropout masks.")
    arrays: Literal["lists", "base64"] = Field(
        "lists", description="How the answer's arrays travel: `lists` (nested lists of numbers, non-finite as null) "
                             "or `base64` (each array `{\"dtype\", \"shape\", \"base64\"}`: its numbers "
                             "little-endian in row-major order, exact to the bit, NaN and ±inf as IEEE values).")


class TraceLayer(BaseModel):
    path: str = Field(description="The layer's index, dotted inside a residual block (`4.0`).")
    type: str
    out_shape: list[int]
    forward: dict[str, Any] = Field(description="The op's forward arrays (CONVENTIONS.md's table), inputs echoed.")
    backward: dict[str, Any] = Field(description="The op's backward arrays: dout and every gradient.")


class TraceResponse(BaseModel):
    layers: list[TraceLayer] = Field(description="Every layer in pre-order (a residual block, then its layers).")
    loss: float | None
    probs: Any
    grads: dict[str, Any] = Field(description="dL/dparam for every learnable parameter.")
    update: dict[str, Any] | None = Field(description="`{\"t\", \"params\", \"state\"}` when an optimizer was given.")


def loc(field: str) -> list[str | int]:
    """The engine's field as a FastAPI loc: ``model.layers[3].kernel`` -> ["body", "model", "layers", 3, "kernel"];
    a parameter keeps its dotted name: ``params.4.0.w`` -> ["body", "params", "4.0.w"]."""
    head, _, rest = field.partition(".")
    if head in ("params", "grads") and rest:
        return ["body", head, rest]
    out: list[str | int] = ["body"]
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return out


def _error(field: str, message: str) -> JSONResponse:
    return error_response(422, loc(field), message)


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_count(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.size
    return 1


def _check_layer_counts(layers: tuple, field: str, limit: int) -> None:
    if len(layers) > limit:
        raise OpInputError(field, f"has {len(layers)} layers; the limit is {limit} per list")
    for i, layer in enumerate(layers):
        if isinstance(layer, Residual):
            _check_layer_counts(layer.layers, f"{field}[{i}].layers", limit)


def check_limits(body: TraceRequest, settings: Settings) -> tuple[Any, np.ndarray, dict[str, Any] | None]:
    """(the parsed model, x as an array, the given params) within the settings' limits, or OpInputError."""
    model = parse_model(body.model)
    _check_layer_counts(model.layers, "model.layers", settings.network_max_layers)
    x = registry.as_array("x", body.x, max_elements=settings.max_elements)
    if x.ndim >= 1 and x.shape[0] > settings.max_batch:
        raise OpInputError("x", f"holds {x.shape[0]} examples; the limit is {settings.max_batch}")
    total = sum(math.prod(s) for s in param_shapes(model).values())
    if total > settings.network_max_params:
        raise OpInputError("model", f"has {total:,} learnable numbers; the limit is {settings.network_max_params:,}")
    for info in infer_shapes(model):
        size = math.prod(info.out_shape)
        if size > settings.network_max_activation:
            raise OpInputError(info.field, f"{info.type} would output {size:,} numbers per example; "
                                           f"the limit is {settings.network_max_activation:,}")
    params = body.params
    if params is not None:
        if not isinstance(params, dict):
            raise OpInputError("params", f"must be an object of arrays by name, got {type(params).__name__}")
        params = {name: registry.as_array(f"params.{name}", value, max_elements=settings.max_elements)
                  if isinstance(value, (list, int, float)) and not isinstance(value, bool) else value
                  for name, value in params.items()}
    return model, x, params


@router.post(
    "/networks/trace",
    response_model=TraceResponse,
    responses=ERROR_RESPONSES,
    summary="Trace one training step of a network",
    description="Runs the model forward on x, the softmax cross-entropy loss against labels, backward through "
    "every layer and, with `optimizer`, one update; answers every layer's forward and backward arrays under the "
    "op's own names ([CONVENTIONS.md](/conventions), \"Networks\"). Limits (the server's settings; these are the "
    "defaults): x and each parameter at most {max_elements} numbers; at most {max_batch} examples, "
    "{network_max_layers} layers per list, {network_max_params:,} learnable numbers, {network_max_activation:,} "
    "numbers out of any layer per example, and {trace_max_numbers:,} numbers in the answer. 503 with "
    "Retry-After when the server's heavy-work queue is full.".format(**vars(Settings())),
)
async def trace_network(
    body: Annotated[TraceRequest, Body(openapi_examples={"notes": {"summary": "Notes 004: conv → ReLU → max-pool "
                                                                              "→ loss, one SGD step",
                                                                   "value": EXAMPLE}})],
    settings: Annotated[Settings, Depends(get_settings)],
) -> JSONResponse:
    try:
        return await work.run(settings, _trace, body, settings)
    except OpInputError as err:
        return _error(err.field, err.message)


def _trace(body: TraceRequest, settings: Settings) -> ArraysResponse:
    """The answer, encoded (a worker thread's job), or OpInputError."""
    model, x, params = check_limits(body, settings)
    answer = network.trace(model, params, x, body.labels, body.mode, body.optimizer, body.seed)
    numbers = _count(answer)
    if numbers > settings.trace_max_numbers:
        raise OpInputError("x", f"the trace would hold {numbers:,} numbers; the limit is "
                                f"{settings.trace_max_numbers:,} (use fewer examples or a smaller network)")
    return ArraysResponse(answer, arrays=body.arrays)
