"""One error format for every client: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``.

That is FastAPI's own shape for request validation errors; the engine's
:class:`~engine.records.OpInputError` (field ``inputs.x`` -> loc ``["body", "inputs", "x"]``),
unknown ops (404) and unexpected errors (500) use it too. A 500 never carries a traceback:
the server logs it, the client reads that it is a bug.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.security import SECURITY_HEADERS
from engine.records import OpInputError

log = logging.getLogger("backprop_lens")


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page (not the JSON API, not a static file): its errors are pages."""
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not path.startswith(("/api/", "/static/"))


def error_item(loc: Sequence[str | int], msg: str, type_: str = "value_error") -> dict[str, Any]:
    """One problem: where (``["body", "inputs", "x"]``), what, and its kind (``value_error`` for bad input)."""
    return {"loc": list(loc), "msg": msg, "type": type_}


def errors_response(status: int, items: Sequence[dict[str, Any]]) -> JSONResponse:
    """The answer of every error: ``{"detail": items}`` (items from :func:`error_item`)."""
    return JSONResponse({"detail": list(items)}, status_code=status)


def error_response(status: int, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> JSONResponse:
    """An error answer with one item."""
    return errors_response(status, [error_item(loc, msg, type_)])


def field_loc(field: str) -> list[str | int]:
    """The engine's field name as a FastAPI loc: ``"inputs.x"`` -> ``["body", "inputs", "x"]``,
    ``"grads[0].w"`` -> ``["body", "grads", 0, "w"]``.

    Only the first dot splits: what follows is one name, which may hold dots itself (network
    parameters are named ``"4.0.w"``).
    """
    m = re.fullmatch(r"([^.\[]+)((?:\[\d+\])*)(?:\.(.+))?", field)
    if m is None:
        return ["body", field]
    head, indices, rest = m.groups()
    loc: list[str | int] = ["body", head, *(int(i) for i in re.findall(r"\d+", indices))]
    if rest is not None:
        loc.append(rest)
    return loc


async def op_input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpInputError)
    return error_response(422, field_loc(exc.field), exc.message, "value_error")


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, without echoing the input back (it can be a 4096-number array)."""
    assert isinstance(exc, RequestValidationError)
    items = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid value"))
        loc = list(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            msg = f"the body is not valid JSON: {err.get('ctx', {}).get('error', msg)}"
        items.append(error_item(loc, msg, str(err.get("type", "value_error"))))
    return errors_response(422, items)


# What an HTTPException raised with a plain string (by Starlette or FastAPI) means, in the one shape:
# status -> (loc, type). Its message is kept, or replaced below when it says too little.
HTTP_ERRORS: dict[int, tuple[list[str | int], str]] = {
    400: (["body"], "body_unreadable"),
    404: (["path"], "not_found"),
    405: (["method"], "method_not_allowed"),
    413: (["body"], "too_large"),
    414: (["url"], "url_too_long"),
}


def http_error_items(request: Request, exc: HTTPException) -> list[dict[str, Any]]:
    """The error items of an HTTPException: its own list, or its string ``detail`` given a loc and a type."""
    if isinstance(exc.detail, list):
        return exc.detail
    loc, type_ = HTTP_ERRORS.get(exc.status_code, ([], "http_error"))
    msg = str(exc.detail)
    if exc.status_code == 404:
        msg = f"there is nothing at {request.url.path}"
        if request.url.path.startswith("/api/"):
            msg += "; the JSON API's paths are listed in /openapi.json (and at /docs)"
    elif exc.status_code == 405:
        msg = f"{request.method} is not allowed on {request.url.path}"
    elif exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        msg = "the JSON body is nested too deeply to read"
    elif exc.status_code == 400 and "maximum size" in msg:  # Starlette's form parser: one part over 1 MiB
        msg = f"a form field is too large to read ({msg})"
    return [error_item(loc, msg, type_)]


async def http_error(request: Request, exc: Exception) -> Response:
    """Every HTTPException in the one shape (Starlette's and FastAPI's own answer ``{"detail": "Not Found"}``)."""
    assert isinstance(exc, HTTPException)
    response = errors_response(exc.status_code, http_error_items(request, exc))
    response.headers.update(exc.headers or {})
    return response


async def client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away while its body was read (an aborted htmx request): nothing to answer, no error."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug. Starlette answers this outside every middleware and then re-raises, so the server logs the
    traceback: the response carries the security headers itself, and closes the connection."""
    response = error_response(
        500,
        [],
        f"internal error ({type(exc).__name__}) while handling {request.method} {request.url.path}; "
        "this is a bug in Backprop Lens, not in your input — please report it",
        "internal_error",
    )
    response.headers.update({**SECURITY_HEADERS, "Cache-Control": "no-store", "Connection": "close"})
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(OpInputError, op_input_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ClientDisconnect, client_disconnect)
    app.add_exception_handler(Exception, internal_error)
