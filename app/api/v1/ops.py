"""``POST /api/v1/ops/{op}``: run one op, answer every named array (CONVENTIONS.md's table)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from app import work
from app.api.v1 import schemas
from app.api.v1.common import ERROR_RESPONSES, not_found, rounded
from app.api.v1.jsonarrays import ArraysResponse
from app.api.v1.limits import check_op_limits
from app.settings import Settings, get_settings
from engine import registry
from engine.records import Arrays, OpInputError, numbers_in

log = logging.getLogger("backprop_lens")
router = APIRouter(prefix="/ops", tags=["ops"])

OP_NAMES = sorted(registry.OPS)


class OpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Annotated[dict[str, Any], schemas.OP_INPUTS] = Field(
        description="Input arrays by name, as nested lists of numbers (a scalar is a bare number). "
        "Optional inputs may be left out: a missing `dout` means all ones.",
        examples=[{"x": [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], "w": [[[[1, 0], [0, -1]]]], "b": [0.5]}],
    )
    params: Annotated[dict[str, Any], schemas.OP_PARAMS] = Field(
        default_factory=dict,
        description="Scalar parameters by name (`stride`, `pad`, `eps`, `mode`, ...); missing ones take their "
        "defaults. Out-of-range values are rejected, never clamped.",
        examples=[{"stride": 1, "pad": 0}],
    )
    dtype: Literal["float64", "float32"] = Field(
        "float64", description="Floating-point type of the computation (float64 unless you ask)."
    )


class OpResponse(BaseModel):
    op: str = Field(description="The op that ran.")
    params: dict[str, Any] = Field(description="Every parameter in force, defaults filled in.")
    arrays: dict[str, Any] = Field(
        description="Every named array: inputs echoed back, cached intermediates, gradients. "
        "Nested lists; 0-d values as bare numbers; integer arrays (argmax, labels) as integers, boolean "
        "masks as 0/1; any non-finite output value (overflow) as null."
    )


def _examples() -> dict[str, dict[str, Any]]:
    """One request example per op, from its OpSpec.example, for the /docs dropdown."""
    out = {}
    for name in OP_NAMES:
        spec = registry.OPS[name]
        if spec.example is None:
            continue
        try:
            inputs, params = spec.example(np.random.default_rng(0))
        except Exception:  # an op still being written must not stop the app; its tests will fail
            log.warning("op %s: example() failed; no OpenAPI example", name, exc_info=True)
            continue
        out[name] = {"summary": spec.title, "value": {"inputs": rounded(inputs), "params": rounded(params)}}
    return out


@router.post(
    "/{op}",
    response_model=OpResponse,
    responses=ERROR_RESPONSES,
    summary="Run one op forward and backward",
    description="Runs op forward and backward on your arrays and answers every named array of "
    "[CONVENTIONS.md](/conventions#the-json-api-versioned-under-api-v1-described-by-the-app-s-openapi-schema). "
    f"Known ops: {', '.join(f'`{n}`' for n in OP_NAMES) or 'none yet'}. An unknown op answers 404.",
)
async def run_op(
    op: Annotated[str, Path(description="The op to run.", json_schema_extra={"enum": OP_NAMES})],
    body: Annotated[OpRequest, Body(openapi_examples=_examples())],
    settings: Annotated[Settings, Depends(get_settings)],
) -> ArraysResponse:
    if op not in registry.OPS:
        raise not_found("op", op, registry.OPS)
    # course-sized inputs (Settings.api_max_*) take a while: validated, computed and written under the work limiter
    return await work.run(settings, _answer, op, body, settings)


def _answer(op: str, body: OpRequest, settings: Settings) -> ArraysResponse:
    spec, arrays, params = registry.prepare(
        op, body.inputs, body.params, dtype=body.dtype, max_elements=settings.api_max_elements
    )
    check_op_limits(arrays, settings)
    if spec.shapes is not None:  # the answer's size from the inputs' shapes: an oversized answer is refused unrun
        check_answer_size(op, numbers_in(spec.shapes({k: v.shape for k, v in arrays.items()}, params)), settings)
    result: Arrays = spec.run(arrays, params)
    check_answer_size(op, sum(int(np.size(a)) for a in result.values()), settings)  # an op without shapes
    return ArraysResponse({"op": op, "params": params, "arrays": result})  # encoded here, in the worker thread


def check_answer_size(op: str, numbers: int, settings: Settings) -> None:
    """A 422 naming ``inputs`` when an answer of ``numbers`` numbers is over Settings.api_max_answer_numbers."""
    if numbers > settings.api_max_answer_numbers:
        raise OpInputError("inputs", f"the answer would hold {numbers:,} numbers (every named array of {op}); the "
                                     f"limit is {settings.api_max_answer_numbers:,} (Settings.api_max_answer_numbers: "
                                     "writing a larger answer would cost seconds) — use smaller arrays")
