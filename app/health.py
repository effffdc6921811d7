"""``/healthz`` (liveness) and ``/readyz`` (readiness: the engine answers), for load balancers.

Both are ``async def``: they answer from the event loop, never queued behind page renders in the
thread pool, so a burst of heavy pages does not make a balancer take the server out.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.errors import error_response
from engine import registry

router = APIRouter(tags=["health"])

PROBE = {"x": np.array([[-1.0, 2.0]])}  # relu forward and backward on two numbers: ~0.1 ms
PROBE_EXPECTED = {"out": [[0.0, 2.0]], "dx": [[0.0, 1.0]]}




@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", summary="Liveness: the process answers",
                  responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", summary="Readiness: the engine computes a tiny op correctly",
                  responses={200: {"content": {"application/json": {"example": {"status": "ready", "ms": 0.1}}}},
                             503: {"description": "The engine failed its probe (the error body names why)."}})
async def readyz() -> Any:
    started = time.perf_counter()
    try:
        arrays = registry.run_op("relu", PROBE, {})
        ok = all(np.array_equal(arrays[name], expected) for name, expected in PROBE_EXPECTED.items())
    except Exception as exc:  # a readiness probe reports, never raises
        return error_response(503, ["engine"], f"the engine's probe failed: {type(exc).__name__}", "not_ready")
    if not ok:
        return error_response(503, ["engine"], "the engine's probe (relu on two numbers) answered wrong numbers",
                              "not_ready")
    return JSONResponse({"status": "ready", "ms": round((time.perf_counter() - started) * 1000, 3)})
