"""Decks of live slides: ``/deck`` (the projected lecture), ``/deck/speaker`` (the speaker view in a second
window), ``/deck/edit`` (the editor) and ``POST /deck/link`` (the editor's slides as a deck link, each slide
opened by its lab's own link reader).

The deck is a link (:mod:`app.web.pages.deck_link`); the labs' specs come from the app
(``app.state.labs``, set by :func:`app.main.create_app`), so no page imports a lab. Nothing is kept on the
server: the deck in progress lives in the browser (localStorage), and the projected and the speaker windows keep
in step through a BroadcastChannel (static/js/deck.js).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from app import work
from app.errors import error_response
from app.settings import Settings, get_settings
from app.web.kit.fields import FieldError
from app.web.kit.routes import LabSpec
from app.web.pages.deck_link import Deck, OpenSlide, from_slides, open_slides, read_deck, sample_deck
from app.web.render.templating import templates

router = APIRouter(include_in_schema=False)
SettingsDep = Annotated[Settings, Depends(get_settings)]
FRAME_DISPLAY = "embed=1&present=1"  # how a slide is framed: the lab without site chrome, in presenter mode
ROUTES = {"page": "/deck", "speaker": "/deck/speaker", "edit": "/deck/edit"}


def lab_specs(request: Request) -> Mapping[str, LabSpec]:
    return request.app.state.labs


def frame_link(slide: OpenSlide) -> str | None:
    """What the slide's frame opens: the lab's canonical link in embed and presenter mode, at its section."""
    if not slide.frame:
        return None
    return f"{slide.frame}&{FRAME_DISPLAY}" + (f"#{slide.anchor}" if slide.anchor else "")


def deck_context(deck: Deck, slides: list[OpenSlide], at: int) -> dict[str, Any]:
    """What every deck template gets: the slides (with their frame links), the slide shown, the deck's links."""
    query = deck.to_query()
    items = [{**s.as_json(), "src": frame_link(s)} for s in slides]
    return {"active": "deck", "slides": items, "at": at, "current": items[at - 1], "deck_query": query,
            "links": {name: f"{route}?{query}" for name, route in ROUTES.items()},
            "broken": [s for s in items if s["problem"]]}


def broken_deck(request: Request, error: FieldError, query: str, labs: Mapping[str, LabSpec]) -> Response:
    """A deck link that does not open (damaged, too long, a bad field): 422 naming the field, and ways on."""
    ctx = {"active": "deck", "error": error, "query": query, "sample": sample_deck(labs).link()}
    return templates.TemplateResponse(request, "deck/broken.html", ctx, status_code=422)


async def opened(request: Request, settings: Settings) -> tuple[Deck, list[OpenSlide], int] | FieldError:
    labs = lab_specs(request)

    def read() -> tuple[Deck, list[OpenSlide], int]:
        deck, at = read_deck(request.url.query, settings)
        return deck, open_slides(deck, labs, settings), at

    try:
        return await work.render(settings, read)
    except FieldError as exc:
        return exc


async def deck_page(request: Request, settings: Settings, template: str) -> Response:
    labs = lab_specs(request)
    if not request.url.query:
        return RedirectResponse(sample_deck(labs).link(ROUTES[template]), status_code=303)
    found = await opened(request, settings)
    if isinstance(found, FieldError):
        return broken_deck(request, found, request.url.query, labs)
    deck, slides, at = found
    return templates.TemplateResponse(request, f"deck/{template}.html", deck_context(deck, slides, at))


@router.get("/deck")
async def deck(request: Request, settings: SettingsDep) -> Response:
    """The lecture: the slide shown full width in a frame, ◀ ▶ and the keys (without a deck: the sample)."""
    return await deck_page(request, settings, "page")


@router.get("/deck/speaker")
async def speaker(request: Request, settings: SettingsDep) -> Response:
    """The speaker view: current and next slide, notes, a clock; in step with the projected window."""
    return await deck_page(request, settings, "speaker")


@router.get("/deck/edit")
async def edit(request: Request, settings: SettingsDep) -> Response:
    """The deck editor: the deck of the link, or (without one) the deck in progress kept by the browser."""
    ctx = {"active": "deck", "initial": None, "limits": limits(settings),
           "sample": sample_deck(lab_specs(request)).link("/deck/edit")}
    if not request.url.query:
        return templates.TemplateResponse(request, "deck/edit.html", ctx)
    found = await opened(request, settings)
    if isinstance(found, FieldError):
        return broken_deck(request, found, request.url.query, lab_specs(request))
    deck, _, _ = found
    initial = [{"link": s.link, "title": s.title, "note": s.note} for s in deck.slides]
    return templates.TemplateResponse(request, "deck/edit.html", {**ctx, "initial": initial})


def limits(settings: Settings) -> dict[str, int]:
    return {"slides": settings.deck_max_slides, "title": settings.deck_max_title, "note": settings.deck_max_note,
            "link": settings.deck_max_slide_link}


LOC = {"s": "link", "t": "title", "n": "note"}


@router.post("/deck/link")
async def deck_link(request: Request, settings: SettingsDep) -> Response:
    """``{"slides": [{"link", "title", "note"}, …]}`` → the deck's links and each slide opened (or why not).
    A deck over the caps answers 422 at ``["body", "slides", i, "link" | "title" | "note"]``."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return error_response(422, ["body"], "the body must be JSON: {\"slides\": [{\"link\": …}, …]}")
    items = body.get("slides") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return error_response(422, ["body", "slides"], "must be a list of {link, title, note}")
    labs = lab_specs(request)

    def make() -> dict[str, Any]:
        deck = from_slides(items, settings)
        slides = open_slides(deck, labs, settings)
        query = deck.to_query()
        return {"query": query, "links": {name: f"{route}?{query}" for name, route in ROUTES.items()},
                "slides": [{**s.as_json(), "src": frame_link(s)} for s in slides]}

    try:
        answer = await work.render(settings, make)
    except FieldError as exc:
        kind, number = exc.field[0], int(exc.field[1:])
        return error_response(422, ["body", "slides", number - 1, LOC[kind]], exc.message)
    return JSONResponse(answer)

