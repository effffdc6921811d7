"""What the API routers share: the error schema for OpenAPI, 404 for unknown names, example rounding."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field

from app.errors import error_item


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description='Where the problem is: `["body", "inputs", "x"]`, `["path", "op"]`.')
    msg: str = Field(description="What is wrong, in words a student understands.")
    type: str = Field(description="`value_error` for bad input; FastAPI's own types for malformed requests.")


class ErrorBody(BaseModel):
    """Every error (400, 404, 413, 414, 422, 500, 503) has this shape: FastAPI's own validation-error format."""

    detail: list[ErrorItem]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be read (JSON nested too deeply)."},
    404: {"model": ErrorBody, "description": "Unknown name in the path; the message lists the known ones."},
    413: {"model": ErrorBody, "description": "The request body is over the configured size limit."},
    422: {"model": ErrorBody, "description": "Bad input: the message names the field and what is wrong."},
    500: {"model": ErrorBody, "description": "A bug in Backprop Lens (never caused by input); no traceback."},
    503: {"model": ErrorBody, "description": "The server's queue of heavy work is full: try again after the "
                                             "`Retry-After` header's seconds.",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
}


def not_found(kind: str, name: str, known: Iterable[str]) -> HTTPException:
    known = sorted(known)
    return HTTPException(404, detail=[error_item(["path", kind], f"unknown {kind} {name!r}; known: "
                                                 f"{', '.join(known) or 'none yet'}", "not_found")])


def rounded(value: Any, digits: int = 3) -> Any:
    """Nested lists / arrays with floats rounded, for readable OpenAPI examples."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, float):
        return round(value, digits)
    return value
