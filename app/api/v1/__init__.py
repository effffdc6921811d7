"""The JSON API, versioned under /api/v1 (see docs/CONVENTIONS.md, "The JSON API")."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.v1 import ops, optimizers

router = APIRouter(prefix="/api/v1")
router.include_router(ops.router)
router.include_router(optimizers.router)
