"""Pages as cacheable documents: a canonical link always renders the same bytes.

So a rendered lab page (or fragment) is kept in an in-process LRU keyed by its canonical link
(and the part and variant: the full page or htmx's partial), bounded by
``Settings.page_cache_entries`` and ``Settings.page_cache_bytes``; its gzipped bytes are kept next
to it, so a hit costs neither a render nor a compression. Concurrent misses of one key render once
(single flight): the first request renders, the others wait for it.

Every cached GET answer carries a strong ``ETag`` (a hash of the bytes) and a ``Cache-Control``
that lets a shared cache (nginx, a CDN) keep it ``Settings.page_shared_max_age`` seconds while a
browser revalidates (``max-age=0``); a conditional GET whose ``If-None-Match`` holds the ETag is
answered 304 with no body.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app import work
from app.compression import gzip_bytes
from app.security import SECURITY_HEADERS
from app.settings import Settings
from app.web.kit import changed
from app.web.kit.changed import VARY

_claimed: contextvars.ContextVar[Hashable | None] = contextvars.ContextVar("lens_claimed_url", default=None)
KEPT_HEADERS = ("content-type", "hx-replace-url", "hx-reswap",  # what a cached answer repeats of the original
                "content-security-policy")  # a route's own CSP (an embed=1 page's) over the default


@dataclass(frozen=True)
class Entry:
    status: int
    body: bytes
    gzipped: bytes | None  # None when gzip does not pay (small bodies)
    headers: tuple[tuple[str, str], ...]

    @cached_property
    def etag(self) -> str:
        """A hash of the bytes, made when an answer first needs it: an edit cut to what changed (Lens-Have) never
        does, and hashing the whole of a CIFAR fragment (500 KB) cost it 1.4 ms."""
        return '"' + hashlib.blake2b(self.body, digest_size=16).hexdigest() + '"'

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 200


def cache_control(settings: Settings) -> str:
    """Shared caches may keep a page for a link; browsers revalidate it (cheap: a 304)."""
    return f"public, max-age=0, s-maxage={settings.page_shared_max_age}, must-revalidate"


class PageCache:
    """An LRU of rendered answers by key, bounded in entries and bytes; one per app (``app.state.page_cache``).

    Used from the event loop only (no lock needed); the rendering itself happens elsewhere.
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self.bytes = 0
        self.inflight: dict[Hashable, asyncio.Future[Entry | None]] = {}
        self.aliases: OrderedDict[Hashable, Hashable] = OrderedDict()  # a URL as it came -> its canonical key
        self.pending: dict[Hashable, asyncio.Future[None]] = {}  # URLs being read (before their key is known)
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Entry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        if entry.size > self.max_bytes or self.max_entries < 1:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self.entries[key] = entry
        self.bytes += entry.size
        while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.bytes -= evicted.size

    def alias(self, url: Hashable, key: Hashable) -> None:
        """Remember that ``url`` (a link as it came) shows the page at ``key`` (its canonical link)."""
        self.aliases[url] = key
        self.aliases.move_to_end(url)
        while len(self.aliases) > self.max_entries:
            self.aliases.popitem(last=False)

    def hit_alias(self, headers: Headers, url: Hashable, settings: Settings) -> Response | None:
        """The cached page of a link seen before (None: not seen, or its page was evicted)."""
        key = self.aliases.get(url)
        entry = self.get(key) if key is not None else None
        if entry is None:
            return None
        self.hits += 1
        return respond(headers, entry, cache_control(settings))

    async def by_url(self, headers: Headers, url: Hashable, settings: Settings,
                     answer: Callable[[], Awaitable[Response]]) -> Response:
        """The page of a link as it came: cached, or ``answer()`` — which the first request for the URL runs while
        the others wait for it (300 requests of a new link read it once, not 300 times)."""
        hit = self.hit_alias(headers, url, settings)
        if hit is not None:
            return hit
        if _claimed.get() == url:  # this request claimed the URL at the door (answer_cached): the others wait there
            return await answer()
        pending = self.pending.get(url)
        if pending is not None:
            await waiting(pending)
            hit = self.hit_alias(headers, url, settings)
            if hit is not None:
                return hit
        with self.reading(url):
            return await answer()

    @contextmanager
    def reading(self, url: Hashable) -> Iterator[None]:
        """This request reads ``url``: the others for it wait (``self.pending``) until it is done."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending[url] = future
        try:
            yield
        finally:
            if self.pending.get(url) is future:
                del self.pending[url]
            future.set_result(None)

    async def answer(self, request: Request, key: Hashable, render: Callable[[], Awaitable[Response]],
                     settings: Settings, shared: bool, cut: Callable[[bytes], bytes] | None = None) -> Response:
        """The cached answer for ``key`` (304 when the client has it), rendering it once when missing.

        ``shared``: a GET page a shared cache may keep (else the answer is ``no-cache`` for HTTP caches,
        though this process still keeps it: a POSTed fragment). ``cut``: the answer's body as this request gets it
        (app.web.kit.changed: without the tables the client holds) — the whole body is what is kept. A request that
        says ``Cache-Control: no-cache`` (a benchmark timing the work: bench.web) is rendered anew, and kept."""
        fresh = "no-cache" in request.headers.get("cache-control", "").lower()
        entry = None if fresh else self.get(key)
        if entry is None and not fresh and key in self.inflight:
            entry = await waiting(self.inflight[key])
        if entry is None:
            self.misses += 1
            future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
            if not fresh:  # a fresh render is nobody else's to wait for
                self.inflight[key] = future
            try:
                response = await render()
                # an edit that is cut (Lens-Have) never sends the whole body: it is not gzipped for it (conv CIFAR's
                # 150 KB fragment: 7.6 ms); a later whole answer of it is gzipped on its way out (app.compression)
                entry = await entry_of(response, settings, compress=cut is None, shared=shared)
                if entry is not None:
                    self.put(key, entry)
            except BaseException:
                future.set_result(None)
                raise
            finally:
                if self.inflight.get(key) is future:
                    del self.inflight[key]
                if not future.done():
                    future.set_result(entry)
            if entry is None:  # not cacheable (a streamed or odd answer): answer it as it came
                return response
        else:
            self.hits += 1
        if cut is not None:
            body = cut(entry.body)
            if body is not entry.body:  # this request's own answer: never kept, never an ETag
                headers = {**SECURITY_HEADERS, **dict(entry.headers), "Cache-Control": "no-store", "Vary": VARY}
                return Response(body, status_code=entry.status, headers=headers)
        return respond(request.headers, entry, cache_control(settings) if shared else "no-cache",
                       vary="HX-Request, Accept-Encoding" if shared else VARY)


T = TypeVar("T")
THREAD_BYTES = 32 * 1024  # a body this large is gzipped and hashed in a worker thread: zlib and hashlib let go
# of the interpreter lock, so the other core does it while the event loop goes on (a 150 KB page: ~4 ms at level 6)


async def entry_of(response: Response, settings: Settings, compress: bool = True,
                   shared: bool = True) -> Entry | None:
    """:func:`make_entry`, off the event loop for a large body."""
    body = getattr(response, "body", None)
    if isinstance(body, bytes) and len(body) >= THREAD_BYTES:
        return await anyio.to_thread.run_sync(make_entry, response, settings, compress, shared)
    return make_entry(response, settings, compress, shared)


def make_entry(response: Response, settings: Settings, compress: bool = True, shared: bool = True) -> Entry | None:
    """The entry kept for ``response``: its body, gzipped too (``compress``, when it pays). A page (``shared``) is
    gzipped at ``Settings.gzip_level``: once, and sent many times; a large fragment, sent while its user waits
    (a network step: 88-210 KiB), at ``gzip_large_level``, as app.compression gzips the answers it does not keep."""
    body = getattr(response, "body", None)
    if not isinstance(body, bytes) or response.status_code not in (200, 422):
        return None
    gzipped = None
    if compress and len(body) >= settings.gzip_minimum_size:
        large = not shared and len(body) >= settings.gzip_large_bytes
        level = settings.gzip_large_level if large else settings.gzip_level
        gzipped = gzip_bytes(body, level)
        if len(gzipped) >= len(body):
            gzipped = None
    headers = tuple((name, value) for name, value in response.headers.items() if name in KEPT_HEADERS)
    return Entry(response.status_code, body, gzipped, headers)


def _client_has(headers: Headers, etag: str) -> bool:
    wanted = headers.get("if-none-match")
    if not wanted:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    return etag in tags or "*" in tags


def respond(request_headers: Headers, entry: Entry, cache_control_value: str,
            vary: str = "HX-Request, Accept-Encoding") -> Response:
    """The cached answer (or a 304), with every header it needs: it may be sent before any middleware runs."""
    headers = {**SECURITY_HEADERS, "ETag": entry.etag, "Cache-Control": cache_control_value, "Vary": vary}
    own_csp = dict(entry.headers).get("content-security-policy")
    if own_csp is not None:  # a route's own (an embed=1 page's) replaces the default, in a 304 too (a 304's
        headers["Content-Security-Policy"] = own_csp  # headers update the browser's stored ones)
    if entry.status == 200 and _client_has(request_headers, entry.etag):
        return Response(status_code=304, headers=headers)
    headers.update((name, value) for name, value in entry.headers if name != "content-security-policy")
    if entry.gzipped is not None and "gzip" in request_headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzipped, status_code=entry.status, headers=headers)
    return Response(entry.body, status_code=entry.status, headers=headers)


async def waiting(future: asyncio.Future[T]) -> T:
    """The page another request is rendering, counted in ``app.work.waiting_for_pages`` while it is waited for
    (training streams wait with it: app.work)."""
    work.waiting_for_pages[0] += 1
    try:
        return await asyncio.shield(future)
    finally:
        work.waiting_for_pages[0] -= 1


def page_cache(request: Request) -> PageCache | None:
    """The app's page cache (None for an app made without one)."""
    return getattr(request.app.state, "page_cache", None)


async def fragment_answer(request: Request, key: Hashable, render: Callable[[], Awaitable[Response]],
                          settings: Settings, cut: Callable[[bytes], bytes] | None = None) -> Response:
    """A POSTed fragment (an edit's, a step's) from the page cache by ``key`` (:meth:`PageCache.answer`), or
    rendered (and ``cut``) by an app made without one."""
    cache = page_cache(request)
    if cache is None:
        return changed.cut(await render(), cut)
    return await cache.answer(request, key, render, settings, shared=False, cut=cut)


def page_variant(headers: Headers) -> str:
    """Which document a GET of a lab link asks for: the whole page, or htmx's partial of the lab."""
    htmx = headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"
    return "lab" if htmx else "page"


async def answer_cached(cache: PageCache, settings: Settings, paths: frozenset[str], scope: Scope,
                        receive: Receive, send: Send, app: ASGIApp) -> None:
    """Answer a GET of a lab link, before any routing or middleware when its page is in the page cache: a hit
    costs a dictionary look-up and a write. A link another request is reading is waited for here, then answered.

    The first request for a link not seen yet claims it here (single flight at the door): it goes on to ``app``,
    whose page route (:meth:`PageCache.by_url`) knows the claim is its own, while the burst of requests for the
    same link waits here, not each through the middleware and the router's ~100 routes (300 students on one
    new link: the first renders, 299 wait for it here and are answered from the cache). Anything else: ``app``."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in paths:
        await app(scope, receive, send)
        return
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        await app(scope, receive, send)
        return
    headers = Headers(scope=scope)
    url = (page_variant(headers), scope["path"], query, settings)
    pending = cache.pending.get(url)
    if pending is not None:
        await waiting(pending)
    response = cache.hit_alias(headers, url, settings)
    if response is not None:
        await response(scope, receive, send)
        return
    if url in cache.pending:  # another request read it and found no page to keep (a redirect, a broken link)
        await app(scope, receive, send)
        return
    with cache.reading(url):
        token = _claimed.set(url)
        try:
            await app(scope, receive, send)
        finally:
            _claimed.reset(token)
