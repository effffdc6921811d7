"""What a lab answers: a fragment with the canonical link, the 422 out-of-band message, a broken link.

An edit answers either the fragment that changed with ``HX-Replace-Url`` set to the canonical
link (so the address bar always holds the whole state), or a 422 that swaps nothing but an
out-of-band message naming each bad field (so the last valid results stay on screen, dimmed,
and what the user typed stays in the cells). A JSON route of a lab (provenance, a redirect's
query) answers bad fields in the app's one error body (:mod:`app.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import Request
from starlette.responses import Response

from app.errors import error_item, errors_response
from app.web.kit.fields import FieldError, parse_int
from app.web.kit.link import from_query, to_query
from app.web.render.templating import templates


def form_errors(request: Request, errors: list[FieldError], template: str = "kit/form_errors.html") -> Response:
    """422 carrying only the out-of-band #form-message: nothing else is swapped."""
    response = templates.TemplateResponse(request, template, {"form_errors": errors}, status_code=422)
    response.headers["HX-Reswap"] = "none"
    return response


def fragment(request: Request, template: str, context: dict, url: str, status_code: int = 200) -> Response:
    """A fragment for htmx with the canonical link of the new state in ``HX-Replace-Url``."""
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["HX-Replace-Url"] = url
    return response


def field_errors(errors: Iterable[FieldError], where: str = "body", status: int = 422) -> Response:
    """Bad fields as JSON: one item per field at ``[where, field]``."""
    return errors_response(status, [error_item([where, e.field], e.message) for e in errors])


def preset_link(presets: Mapping, key: str, seed: str, canonical: Callable[[Any], str], max_seed: int,
                extra: Mapping[str, str] | None = None) -> str:
    """``GET /<lab>/preset/{key}?seed=``: the preset's canonical link (a FieldError names what is wrong: ``key``, a
    preset the lab does not have, or ``seed``); ``extra`` link fields replace the preset's (``?tab=backward``: the
    example at that tab; the lab's page checks them as strictly as any link)."""
    if key not in presets:
        raise FieldError("key", f"no preset {key!r}; presets: {', '.join(presets)}")
    url = canonical(presets[key].make(parse_int("seed", seed, 0, max_seed)))
    if extra:
        path, _, query = url.partition("?")
        url = f"{path}?{to_query({**from_query(query), **extra})}"
    return url


def broken_link(request: Request, slug: str, noun: str, error: FieldError, default_link: str, query: str,
                display: Mapping[str, bool] | None = None, status: int = 422, presets: Iterable[Any] = ()
                ) -> Response:
    """A link that does not open: ``status`` (422; 404 for a preset the lab does not have), what is wrong with which
    parameter, and the way back to a default (``display``: the page's present/embed, app.web.kit.display) or to
    one of ``presets`` (the lab's examples, each with its key and title)."""
    ctx = {"active": slug, "noun": noun, "error": error, "default_link": default_link, "query": query,
           "display": display or {}, "presets": list(presets)}
    return templates.TemplateResponse(request, "kit/broken.html", ctx, status_code=status)
