"""The app factory: ``uvicorn app.main:create_app --factory`` (or ``backprop-lens serve``)."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version

import anyio
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app import errors, health, work
from app.api import v1 as api
from app.api.v1 import schemas as api_schemas
from app.compression import SizedGZipMiddleware
from app.middleware import BodyLimitMiddleware, HeadersMiddleware, UrlLimitMiddleware
from app.paths import STATIC
from app.security import SECURITY_HEADERS, embed_csp
from app.settings import Settings, get_settings
from app.timing import ServerTimingMiddleware
from app.tracking import SharedLinkMiddleware
from app.turnstile import Turnstile
from app.web.kit.cache import PageCache, answer_cached
from app.web.labs.conv import routes as conv
from app.web.labs.network import routes as network
from app.web.labs.norm import routes as norm
from app.web.labs.optim import routes as optim
from app.web.labs.pool import routes as pool
from app.web.labs.softmax import routes as softmax
from app.web.pages import assets, bugs, deck, errata, home, qr
from app.web.pages.errors import error_page
from app.web.render.templating import is_htmx, render, templates

LABS = (conv, pool, norm, softmax, optim, network)


LAB_PAGES = frozenset(f"/{lab.LAB.slug}" for lab in LABS)
HEALTHZ = Response(b'{"status":"ok"}', media_type="application/json",
                   headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


class LensApp(FastAPI):
    """FastAPI, answering its two hottest requests before any middleware or routing: ``/healthz`` (a load
    balancer's probe must not queue behind the requests it is meant to measure) and a lab page already in the
    page cache (300 students on one link). Both answers carry the headers the middleware would add. The other
    HTTP requests enter the router through a turnstile, a few per turn of the event loop (app/turnstile.py)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
                await HEALTHZ(scope, receive, send)
                return
            settings = app_settings(self)  # as the routes see them
            await answer_cached(self.state.page_cache, settings, LAB_PAGES, scope, receive, send, self._routed)
            return
        await super().__call__(scope, receive, send)

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Through the middleware and the router, a few requests per turn of the event loop (app.turnstile)."""
        await self.state.turnstile.enter()
        await super().__call__(scope, receive, send)


def settings_dependency(settings: Settings) -> Callable[[], Awaitable[Settings]]:
    """The app's override of :func:`get_settings`: ``async``, because FastAPI calls a plain function dependency in
    its thread pool, a thread hop (two GIL hand-overs behind the page renders) on every routed request."""

    async def current_settings() -> Settings:
        return settings

    return current_settings


def app_settings(app: FastAPI) -> Settings:
    """The settings ``app``'s routes see: its own, or a test's override (a plain function)."""
    override = app.dependency_overrides.get(get_settings, get_settings)
    if override is getattr(app.state, "settings_dependency", None):
        return app.state.settings
    return override()


def compile_templates() -> int:
    """Load (compile) every HTML template into Jinja's cache; how many."""
    names = [name for name in templates.env.list_templates() if name.endswith(".html")]
    for name in names:
        templates.env.get_template(name)
    return len(names)

DESCRIPTION = """\
Every number of a small CNN's forward pass, backward pass and optimizer update, computed
live by a NumPy engine. The conventions (layouts, im2col ordering, tie rules, array names)
are in [CONVENTIONS.md](/conventions).

Only the JSON API is described here; the labs' pages and fragments are HTML for the browser.

Errors share one shape, `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`:
**422** for bad input (the message names the field), **404** for an unknown op or optimizer
in the path (the message lists the known ones) or an unknown path, **400** for a body that
cannot be read (nested too deeply), **413** for a body over the size limit, **414** for a URL
over the size limit, **503** with `Retry-After` when the server's queue of heavy work is full,
**500** only for a bug in Backprop Lens.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app. ``settings`` replaces :func:`get_settings` everywhere (middleware included)."""
    settings = settings or get_settings()
    embed_csp(settings.embed_frame_ancestors)  # a bad embedding setting stops the start, not every embed page
    app = LensApp(
        lifespan=_lifespan,
        title="Backprop Lens",
        version=version("backprop-lens"),
        description=DESCRIPTION,
        docs_url=None,  # our own /docs (app/pages/home.py) serves Swagger UI locally, CSP-clean
        redoc_url=None,
        openapi_tags=[
            {"name": "ops", "description": "One op forward and backward: every named array."},
            {"name": "optimizers", "description": "Optimizer updates step by step, with their state."},
            {"name": "networks", "description": "One training step of a whole network, traced layer by layer."},
            {"name": "health", "description": "For load balancers and tests."},
        ],
    )
    app.state.settings, app.state.settings_dependency = settings, settings_dependency(settings)
    app.dependency_overrides[get_settings] = app.state.settings_dependency
    app.openapi = lambda: _openapi(app)
    app.state.page_cache = PageCache(settings.page_cache_entries, settings.page_cache_bytes)
    app.state.turnstile = Turnstile(settings.routed_per_loop_turn)
    app.state.labs = {lab.LAB.slug: lab.LAB for lab in LABS}  # the labs' specs, for pages that open lab links (/deck)

    errors.install(app)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(work.Busy, _unavailable)
    app.add_exception_handler(work.InProgress, _unavailable)

    app.include_router(assets.router)  # before the /static mount, which would shadow it
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(home.router)
    app.include_router(errata.router)
    app.include_router(bugs.router)
    app.include_router(qr.router)
    app.include_router(deck.router)
    for lab in LABS:
        app.include_router(lab.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # The last added runs first: set headers on whatever answers, limit the URL, take a sharer's parameters off a
    # page's link, limit the body, then compress; innermost, the server's own time (Server-Timing).
    app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(SizedGZipMiddleware, minimum_size=settings.gzip_minimum_size, compresslevel=settings.gzip_level,
                       large_bytes=settings.gzip_large_bytes, large_level=settings.gzip_large_level)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SharedLinkMiddleware)
    app.add_middleware(UrlLimitMiddleware, max_bytes=settings.max_url_bytes)
    app.add_middleware(HeadersMiddleware, max_age=settings.static_max_age)
    return app


async def _unavailable(request: Request, exc: Exception) -> Response:
    """503 with Retry-After: the limiter is full (Busy) or a replay stopped at its budget (InProgress).

    A browser opening a link gets a page that reloads itself after Retry-After; htmx and API clients get the
    one error body (the lab's script shows its message and retries the request)."""
    assert isinstance(exc, (work.Busy, work.InProgress))
    headers = {"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"}
    busy = isinstance(exc, work.Busy)
    if errors.wants_html(request) and request.method == "GET" and not is_htmx(request):
        title = "The server is busy" if busy else "Computing this link"
        return error_page(503, title, exc.message + ".", exc.retry_after, headers)
    response = errors.error_response(503, [], exc.message, "busy" if busy else "in_progress")
    response.headers.update(headers)
    if not busy and exc.link and is_htmx(request):  # htmx follows HX-Redirect even on a 503: to the progress page
        response.headers["HX-Redirect"] = exc.link
    return response


_warm = False  # this process's templates are compiled and its labs have run once


def warm_labs(settings: Settings) -> None:
    """Show each lab's default example once: what a process loads on first use (the digits, NumPy's first
    calls) is loaded before the first student arrives. A lab that fails here fails its own requests too."""
    for lab in LABS:
        spec = lab.LAB
        try:
            spec.show(spec.presets[spec.default].make(0), settings, "page")
        except Exception:  # never stop the server for it: the lab's requests will show the problem
            errors.log.warning("warming up the %s lab failed", spec.slug, exc_info=True)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Compile every template and show each lab's default once before the first request (~2-3 CPU-s, once per
    process): else the first burst of students on a fresh worker pays for it, each first render slower. Then
    freeze what start-up made out of the garbage collector's reach, and shorten the interpreter lock's switch
    interval (``Settings.gil_switch_interval_ms``): the event loop's two long waits during a burst."""
    global _warm
    settings = app_settings(app)
    if settings.gil_switch_interval_ms > 0:  # the event loop's wait for the interpreter lock (Settings)
        sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    if not _warm:  # what it fills is the process's own (templates, data): once is enough
        await anyio.to_thread.run_sync(compile_templates)
        await anyio.to_thread.run_sync(warm_labs, settings)
        gc.collect()
        gc.freeze()  # what start-up made lives as long as the process: the collector never scans it again (a full
        # collection of it took 115-165 ms, the event loop stopped as long: a /healthz probe waited for it)
        _warm = True
    yield


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, with the model layer's schema the trace request refers to (app/api/v1/schemas.py)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                             tags=app.openapi_tags)
        schema.setdefault("components", {}).setdefault("schemas", {})["Layer"] = api_schemas.LAYER
        app.openapi_schema = schema
    return app.openapi_schema


async def _http_error(request: Request, exc: Exception) -> Response:
    """A person who follows a dead link gets a page; an API client gets JSON in the one error shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and errors.wants_html(request):
        return render(request, "404.html", {"path": request.url.path}, status_code=404)
    return await errors.http_error(request, exc)
