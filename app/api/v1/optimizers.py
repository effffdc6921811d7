"""``POST /api/v1/optimizers/{name}``: run an optimizer over a sequence of gradients, from zero state or a given one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1 import schemas
from app.api.v1.common import ERROR_RESPONSES, not_found
from app.api.v1.jsonarrays import ArraysResponse
from app.settings import Settings, get_settings
from engine.optim import rules as optim
from engine.records import OpInputError, Param

router = APIRouter(prefix="/optimizers", tags=["optimizers"])

OPTIMIZER_NAMES = list(optim.OPTIMIZERS)


def _describe(param: Param) -> str:
    if param.choices:
        allowed = " | ".join(f"`{c}`" for c in param.choices)
    elif param.kind is bool:
        allowed = "`true` | `false`"
    else:
        allowed = f"{param.lo:g} … {param.hi:g}" if param.lo is not None and param.hi is not None else "number"
    default = str(param.default).lower() if param.kind is bool else param.default
    return f"`{param.name}` (default `{default}`; {allowed}): {param.doc}"


def _hyperparams_doc() -> str:
    lines = []
    for name, specs in optim.OPTIMIZERS.items():
        lines.append(f"- **{name}**: " + "; ".join(_describe(p) for p in specs))
    return "\n".join(lines)


class OptimizerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: Annotated[dict[str, Any], schemas.OPT_PARAMS] = Field(
        description="The starting parameters by name, as nested lists of numbers.",
        examples=[{"w": [0.5, -0.3], "b": 0.1}],
    )
    grads: Annotated[list[Any], schemas.OPT_GRADS] = Field(
        description="One `{name: array}` object per step, shaped like `params`; the optimizer takes one "
        "step per entry, starting from zero state (t = 1 on the first) or from `state`.",
        examples=[[{"w": [0.1, -0.2], "b": 0.05}, {"w": [0.08, -0.1], "b": 0.02}]],
    )
    hyperparams: Annotated[dict[str, Any], schemas.OPT_HYPERPARAMS] = Field(
        default_factory=dict,
        description="Hyperparameters by name; missing ones take PyTorch's defaults. Out-of-range values are "
        "rejected, never clamped.",
        examples=[{"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}],
    )
    state: Annotated[dict[str, Any] | None, schemas.OPT_STATE] = Field(
        None,
        description="An optional starting state, under the names the answer uses: `t` (the updates already "
        "taken, default 0; the first step of this request is then t + 1) and every slot of the optimizer — "
        "momentum `v`; rmsprop `s`; adam/adamw `m` and `v` — each `{name: array}` shaped like `params`. "
        "Missing: zero state. `m_hat` and `v_hat` are computed, not given; rmsprop's `s` and adam's `v` may "
        "not be negative.",
        examples=[{"t": 5, "m": {"w": [0.6, 0.7]}, "v": {"w": [0.7, 0.5]}}],
    )
    dtype: Literal["float64", "float32"] = Field("float64", description="Floating-point type of the computation.")


class OptimizerStep(BaseModel):
    t: int = Field(description="The step number (1 on the first).")
    params: dict[str, Any] = Field(description="The parameters after this step.")
    state: dict[str, Any] = Field(
        description="The optimizer's state after this step, per slot then per parameter: momentum `v`; "
        "rmsprop `s`; adam/adamw `m`, `v`, `m_hat`, `v_hat`; sgd none."
    )
    update: dict[str, Any] = Field(description="The change applied: new − old parameters.")
    effective_step: dict[str, Any] = Field(description="The per-element learning rate this step used.")


class OptimizerResponse(BaseModel):
    optimizer: str
    hyperparams: dict[str, Any] = Field(description="Every hyperparameter in force, defaults filled in.")
    steps: list[OptimizerStep]


EXAMPLES = {
    "adam": {
        "summary": "Adam, two steps (defaults of PyTorch)",
        "value": {"params": {"w": [0.5, -0.3], "b": 0.1},
                  "grads": [{"w": [0.1, -0.2], "b": 0.05}, {"w": [0.08, -0.1], "b": 0.02}],
                  "hyperparams": {"lr": 0.001}},
    },
    "adam_notes": {
        "summary": "Adam as in the notes: ε inside the root, no bias correction",
        "value": {"params": {"w": [0.5, -0.3]}, "grads": [{"w": [0.1, -0.2]}],
                  "hyperparams": {"eps_placement": "inside", "bias_correction": False}},
    },
    "adam_from_state": {
        "summary": "Adam continuing from a given state (t = 5, as cs231n's test)",
        "value": {"params": {"w": [-0.4, 0.6]}, "grads": [{"w": [-0.6, 0.4]}],
                  "hyperparams": {"lr": 0.01}, "state": {"t": 5, "m": {"w": [0.6, 0.9]}, "v": {"w": [0.7, 0.5]}}},
    },
    "momentum": {
        "summary": "Momentum, the notes' EMA form",
        "value": {"params": {"w": [1.0, 2.0]}, "grads": [{"w": [0.5, 0.5]}, {"w": [0.5, 0.5]}],
                  "hyperparams": {"lr": 0.1, "momentum": 0.9, "form": "ema"}},
    },
}


def _count(value: Any) -> int:
    """How many numbers a JSON array holds (0 if it is not a clean array: the engine will say why)."""
    try:
        return int(np.size(np.asarray(value, dtype=float)))
    except (TypeError, ValueError):
        return 0


@router.post(
    "/{name}",
    response_model=OptimizerResponse,
    responses=ERROR_RESPONSES,
    summary="Run an optimizer over a sequence of gradients",
    description="Starts from zero state (or the given `state`) and takes one step per entry of `grads`, "
    "answering every parameter and state value after each step. Hyperparameters:\n\n" + _hyperparams_doc(),
)
def run_optimizer(
    name: Annotated[str, Path(description="The optimizer.", json_schema_extra={"enum": OPTIMIZER_NAMES})],
    body: Annotated[OptimizerRequest, Body(openapi_examples=EXAMPLES)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> ArraysResponse:
    if name not in optim.OPTIMIZERS:
        raise not_found("optimizer", name, optim.OPTIMIZERS)
    if len(body.params) > settings.max_optimizer_params:
        raise OpInputError(
            "params", f"has {len(body.params)} parameters; the limit is {settings.max_optimizer_params}"
        )
    if len(body.grads) > settings.max_optimizer_steps:
        raise OpInputError("grads", f"has {len(body.grads)} steps; the limit is {settings.max_optimizer_steps}")
    numbers = sum(_count(v) for v in body.params.values())
    if numbers * len(body.grads) > settings.max_optimizer_values:
        raise OpInputError(
            "grads",
            f"{len(body.grads)} steps × {numbers} parameter numbers = {numbers * len(body.grads)} values to "
            f"answer; the limit is {settings.max_optimizer_values}",
        )
    hyperparams = optim.clean_hyperparams(name, body.hyperparams)
    steps = optim.run_optimizer(
        name, body.params, body.grads, hyperparams, dtype=body.dtype,
        max_steps=settings.max_optimizer_steps, max_elements=settings.api_max_elements, state=body.state,
    )
    return ArraysResponse({"optimizer": name, "hyperparams": hyperparams, "steps": steps})
