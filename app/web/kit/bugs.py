"""Spot the bug inside a lab: the lab computes with one planted bug of :mod:`engine.bugs`, the student marks
the array where it starts and is graded, and "show me" puts the bug's arrays beside the correct engine's.

A lab switches it on with ``LabSpec.bugs``: ``{bug key: BugSite}`` — the link each bug opens on and the
arrays (the page's ``data-arr`` names) that count as finding it. The link holds the bug only as an opaque
``bug=<token>``: the bug's key encrypted and authenticated with ``Settings.bug_secret`` (HMAC-SHA256 as the
keystream and the tag), so neither the page nor the link says which bug is planted, and a token that was not
made by this server (or is for another lab) is a 422 naming ``bug``.

Planting goes through the registry's one op path: :func:`engine.registry.swapped` replaces the op the bug
is a variant of, for the request's own computation only (a context variable set inside the worker thread
that computes it; nothing global changes, other requests and threads see the real op). engine.bugs is
imported only here, and only when a request holds a token: the normal path never loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app import work
from app.settings import Settings, get_settings
from app.web.kit.fields import FieldError
from app.web.kit.form import collect, first
from app.web.kit.link import split_query
from app.web.render.heatmap import heatmap, planes, scale_max
from app.web.render.templating import templates

NONCE, PLAIN, TAG = 8, 32, 12  # bytes of the token: nonce, the padded key (encrypted), the tag
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")  # a marked array's name


@dataclass(frozen=True)
class BugSite:
    """Where a bug opens in a lab and what finding it means there."""

    link: str  # the lab's link query (``v=1&…``) the bug opens on: a state on which it shows
    found: tuple[str, ...]  # the page's arrays (data-arr) where the mistake is made: marking one finds it
    follows: tuple[str, ...] = ()  # arrays that are wrong only because an earlier one is
    names: Mapping[str, str] = field(default_factory=dict)  # engine array -> the page's name, where they differ


def _engine_bugs() -> Any:
    return importlib.import_module("engine.bugs")  # only when a bug is asked for: see the module's docstring


def _plant_module() -> Any:
    return importlib.import_module("engine.bugs.plant")


def _stream(secret: str, nonce: bytes) -> bytes:
    return hmac.new(secret.encode(), b"bug-key" + nonce, hashlib.sha256).digest()[:PLAIN]


def _tag(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), b"bug-tag" + body, hashlib.sha256).digest()[:TAG]


def seal(key: str, secret: str) -> str:
    """The opaque token of bug ``key``: the same for the same key and secret (a stable link), unreadable
    and unforgeable without the secret."""
    plain = key.encode().ljust(PLAIN, b"\0")
    if len(plain) > PLAIN:
        raise ValueError(f"bug key {key!r} is longer than {PLAIN} bytes")
    nonce = hmac.new(secret.encode(), b"bug-nonce" + plain, hashlib.sha256).digest()[:NONCE]
    body = nonce + bytes(a ^ b for a, b in zip(plain, _stream(secret, nonce), strict=True))
    return base64.urlsafe_b64encode(body + _tag(secret, body)).decode().rstrip("=")


def unseal(token: str, secret: str) -> str:
    """The bug key inside ``token``; FieldError("bug") when it was not made by this server."""
    bad = FieldError("bug", "is not a bug this server planted (the token is damaged, cut short or forged); "
                            "open the bug again from /bugs")
    if not 0 < len(token) <= 128 or not token.isascii():
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    if len(raw) != NONCE + PLAIN + TAG or base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        raise bad  # (re-encoded: a last character that differs only in base64's unused bits is not the token)
    body, tag = raw[:-TAG], raw[-TAG:]
    if not hmac.compare_digest(tag, _tag(secret, body)):
        raise bad
    plain = bytes(a ^ b for a, b in zip(body[NONCE:], _stream(secret, body[:NONCE]), strict=True))
    return plain.rstrip(b"\0").decode("ascii", "replace")


@dataclass(frozen=True)
class Plant:
    """A request's planted bug: its token (what links carry) and key (what only the server reads)."""

    token: str
    key: str
    slug: str
    site: BugSite

    @property
    def suffix(self) -> str:
        return "&bug=" + self.token

    def run(self, job: Callable[..., Any], *args: Any, record: Callable[[dict, dict], None] | None = None) -> Any:
        """``job(*args)`` with the bug's op swapped in (call it inside the worker thread that computes)."""
        with _plant_module().planted(self.key, record):
            return job(*args)

    def wrap(self, job: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args: self.run(job, *args)


def plant_of(slug: str, sites: Mapping[str, BugSite] | None, token: str | None, secret: str) -> Plant | None:
    """The bug a request's ``bug`` token plants in lab ``slug`` (None without a token); FieldError("bug")
    when the token is forged, or is not for this lab."""
    if token is None:
        return None
    if not sites:
        raise FieldError("bug", f"the {slug} lab has no planted bugs")
    key = unseal(token, secret)
    if key not in sites:
        raise FieldError("bug", f"this bug is not planted in the {slug} lab; open it from /bugs")
    return Plant(token, key, slug, sites[key])


def sealed_links(sites: Mapping[str, BugSite], slug: str, secret: str) -> dict[str, str]:
    """{bug key: the lab link that opens it}, for the /bugs page."""
    return {key: f"/{slug}?{site.link}&bug={seal(key, secret)}" for key, site in sites.items()}


# --------------------------------------------------------------------------- grading and "show me"


def check_name(text: str) -> str:
    if not 0 < len(text) <= 40 or not set(text) <= NAME_CHARS:
        raise FieldError("marked", "must be the name of an array the page shows (letters, digits, _ and .)")
    return text


def grade(plant: Plant, marked: str) -> dict[str, str]:
    """The verdict on the array a student marked: found, downstream of the mistake, or not there."""
    site = plant.site
    if marked in site.found:
        return {"verdict": "found", "text": f"Found it: the mistake is made where {marked} is computed."}
    if marked in site.follows:
        return {"verdict": "follows", "text": f"{marked} is wrong, but only because an array it is computed "
                                              "from is: follow it back to where the mistake is made."}
    return {"verdict": "wrong", "text": f"{marked} is right here. Compare the page's own checks: the gradient "
                                        "check, and any two ways the page computes one thing."}


def reveal(plant: Plant, show: Callable[[], Any]) -> dict[str, Any]:
    """The bug, and its arrays beside the correct engine's on the page's own inputs: ``show`` computes the
    page (with the bug planted) once to learn what its planted op was called with."""
    calls: list[tuple[dict, dict]] = []
    planted_page = plant.run(show, record=lambda arrays, params: calls.append((dict(arrays), dict(params))))
    bug = _engine_bugs().get_bug(plant.key)
    context: dict[str, Any] = {"title": bug.title, "explanation": bug.explanation, "replaces": bug.replaces,
                               "caught": bug.caught_by, "pairs": []}
    if not _plant_module().OP_OF.get(plant.key):  # not a registry op (the optimizer's): the page's own tables
        context["pairs"] = _page_pairs(plant.site, planted_page.context, show().context)
        context["unused"] = not context["pairs"]
        return context
    if not calls:
        context["unused"] = True  # the page on screen does not call the op (another section of the lab does)
        return context
    arrays, params = calls[0]
    wrong, right = _plant_module().both(plant.key, arrays, params)
    page_names = (*plant.site.found, *plant.site.follows)  # where it is made first, then what follows
    engine_of = {shown: engine for engine, shown in plant.site.names.items()}
    for name in dict.fromkeys([*(engine_of.get(n, n) for n in page_names), *bug.corrupts]):
        if name not in wrong or name not in right:
            continue
        a, b = np.asarray(wrong[name], float), np.asarray(right[name], float)
        vmax = scale_max(np.where(np.isfinite(a), a, 0), b)
        context["pairs"].append({"name": plant.site.names.get(name, name), "differs": _differs(a, b),
                                 "wrong": _grids(a, vmax), "right": _grids(b, vmax)})
    return context


def _page_pairs(site: BugSite, wrong: Mapping[str, Any], right: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's own tables of the arrays where the bug is made and what follows, planted beside correct."""
    grids = importlib.import_module("app.web.kit.quiz").grids  # (quiz imports this module)
    pairs = []
    for name in (*site.found, *site.follows):
        w = [g for g in grids(wrong) if g["array"] == name]
        r = [g for g in grids(right) if g["array"] == name]
        if w and r:
            differs = any(not np.array_equal(a["cells"][1], b["cells"][1]) for a, b in zip(w, r, strict=False))
            pairs.append({"name": name, "differs": differs, "wrong": w[:1], "right": r[:1]})
    return pairs


def _differs(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


def _grids(values: np.ndarray, vmax: float) -> list[dict]:
    """One or more heatmaps (no data-arr: these tables are not the page's) on the pair's shared scale."""
    why = {"nan": "not a number: inf/inf or 0·inf", "inf": "overflowed"}
    if values.ndim == 4:
        return planes(values, "", vmax=vmax, why=why)
    if values.ndim == 3:
        return [heatmap(v, "", vmax=vmax, why=why) for v in values]
    return [heatmap(values, "", vmax=vmax, why=why)]


# --------------------------------------------------------------------------- what the lab routes call


def from_query(slug: str, sites: Mapping[str, BugSite] | None, query: str, secret: str) -> tuple[str, Plant | None]:
    """(the lab's own link, the planted bug): ``bug=`` taken out of a page's or an export's query."""
    query, own = split_query(query, ("bug",))
    return query, plant_of(slug, sites, own.get("bug"), secret)


def from_form(slug: str, sites: Mapping[str, BugSite] | None, form: Mapping[str, list[str]],
              secret: str) -> Plant | None:
    """The bug a posted lab form plants (its hidden ``bug`` input, kit/bug_panel.html)."""
    values = form.get("bug")
    return plant_of(slug, sites, values[0], secret) if values else None


def planted(plant: Plant | None, job: Callable[..., Any]) -> Callable[..., Any]:
    """``job`` computing with the bug (itself when nothing is planted)."""
    return job if plant is None else plant.wrap(job)


def link(plant: Plant | None, url: str) -> str:
    """A lab link that keeps the planted bug."""
    return url if plant is None else url + plant.suffix


def key(plant: Plant | None) -> str | None:
    """What a cached page of a planted lab is also keyed by."""
    return None if plant is None else plant.token


def context(plant: Plant | None, link_url: str) -> dict[str, Any]:
    """What a planted page adds to its context: its link with the bug, and the panel (kit/bug_panel.html)."""
    if plant is None:
        return {}
    return {"link": link_url + plant.suffix, "bug_panel": {"token": plant.token, "slug": plant.slug}}


def unplanted(slug: str, sites: Mapping[str, BugSite] | None, query: str, secret: str) -> str:
    """An export's query without a bug; a planted lab is not exported (FieldError naming ``bug``): the export
    computes with the correct engine, and comparing it with the page would give the bug away."""
    query, plant = from_query(slug, sites, query, secret)
    if plant is not None:
        raise FieldError("bug", "a lab with a planted bug is not exported (the export is the correct engine's "
                                "and would give the bug away); find the bug first, or remove bug= from the link")
    return query


def add_routes(router: APIRouter, lab: Any, posted: Callable[..., Any]) -> None:
    """``POST /<slug>/bug/mark`` (grade the array a student marked) and ``POST /<slug>/bug/reveal`` (show me),
    both from the lab's posted form with its hidden ``bug`` input."""
    base = f"/{lab.slug}/bug"

    async def planted_form(request: Request, settings: Settings) -> tuple[Any, Any, Plant | None, list[FieldError]]:
        fields, state, errors = await posted(request, lab.from_form, settings)
        plant = collect(errors, from_form, lab.slug, lab.bug_sites, fields, settings.bug_secret)
        if plant is None and not errors:
            errors.append(FieldError("bug", "this page has no planted bug"))
        return fields, state, plant, errors

    @router.post(base + "/mark", name=f"{lab.slug}_bug_mark")
    async def mark(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Response:
        """The verdict on the array the student marked (``marked``): found, downstream of the bug, or not it."""
        fields, _, plant, errors = await planted_form(request, settings)
        marked = collect(errors, check_name, first(fields, "marked"))
        if errors or plant is None:
            return templates.TemplateResponse(request, "kit/bug_verdict.html", {"errors": errors}, status_code=422)
        return templates.TemplateResponse(request, "kit/bug_verdict.html", {"marked": marked, **grade(plant, marked)})

    @router.post(base + "/reveal", name=f"{lab.slug}_bug_reveal")
    async def show_me(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Response:
        """Show me: the bug, and its arrays beside the correct engine's on the inputs of the page."""
        _, state, plant, errors = await planted_form(request, settings)
        if errors or plant is None:
            return templates.TemplateResponse(request, "kit/bug_verdict.html", {"errors": errors}, status_code=422)
        ctx = await work.run(settings, reveal, plant, lambda: lab.show(state, settings, "page"))
        return templates.TemplateResponse(request, "kit/bug_reveal.html", {"reveal": ctx})
