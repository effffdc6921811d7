"""The routes every lab shares, made by one factory from a small spec of the lab.

``lab_router(spec)`` answers, for the lab at ``/<slug>``:

- ``GET /<slug>?<link>``: the whole page from a link (303 to the default preset without one; the
  broken-link page, 422, when the link does not open);
- ``GET /<slug>/preset/{key}?seed=``: 303 to a preset's canonical link;
- ``POST /<slug>/results`` and ``POST /<slug>/lab``: what changed after an edit of the form (the
  results, or the inputs and the results) with the canonical link in ``HX-Replace-Url``;
- ``POST /<slug>/window`` (a lab with a sliding window), ``POST /<slug>/<part>`` for each more stepper:
  the stepper moved by ``step_delta``;
- ``POST /<slug>/gradcheck``: the numeric gradient check of the posted state;
- ``POST /<slug>/provenance``: which cells a hovered cell came from, as JSON, with the terms that sum to
  it where the lab has them;
- ``GET /<slug>/export/arrays.json?<link>``, ``/numpy.py`` and ``/torch.py`` (a lab with an ``export``):
  the page's arrays from the engine, and a NumPy-only and a PyTorch script printing the same JSON.

A bad form answers 422 with nothing but the out-of-band message naming each bad field. Every
route reads the settings through :func:`app.settings.get_settings`, so an override reaches every
limit. What a lab does besides (the optimizer's stream, the network's training) stays in its own
``routes.py``, next to its spec.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from app import work
from app.errors import error_response, wants_html
from app.security import embed_csp
from app.settings import Settings, get_settings
from app.web.kit import bugs, changed, errata, quiz
from app.web.kit.cache import fragment_answer, page_cache, page_variant
from app.web.kit.display import DISPLAY_FIELDS, OFF, Display, parse_display, split_display
from app.web.kit.export import Export, as_json, engine_arrays, numpy_script
from app.web.kit.export_torch import torch_script
from app.web.kit.fields import FieldError, parse_int
from app.web.kit.form import Form, collect, first, form_fields
from app.web.kit.link import read_filled
from app.web.kit.responses import broken_link, field_errors, form_errors, fragment, preset_link
from app.web.render.templating import render, templates
from engine.records import OpInputError

SettingsDep = Annotated[Settings, Depends(get_settings)]
TERMS_SHOWN = 64  # terms a provenance answer lists (their count and sum are always whole)
FormReader = Callable[[Form, Settings], tuple[Any, list[FieldError]]]  # (state, []) or (None, every problem)


@dataclass(frozen=True)
class Shown:
    """What a lab shows for a state: its templates' own context, the state shown, and the status."""

    context: dict[str, Any]  # the factory adds presets, link (the canonical link of ``state``) and limits
    state: Any  # what the page shows (a view may fit it: the conv lab sizes a typed dout to the output)
    status: int = 200  # 422 when the engine refuses the state (the page then says why)


def shown_view(build: Callable[[Any], dict[str, Any]], **extra: Any) -> Callable[[Any, Settings, str], Shown]:
    """``show`` for a lab whose view is one dict ``build(state)``: context ``{"view": view, **extra}``,
    the view's state, and 422 when the view holds an ``error``."""

    def show(state: Any, settings: Settings, part: str) -> Shown:
        view = build(state)
        return Shown({"view": view, **extra}, view["state"], 422 if "error" in view else 200)

    return show


@dataclass(frozen=True)
class Stepper:
    """A stepper of a lab: buttons, ← → and autoplay walk ``field`` of the state through ``positions(state)``
    positions (wrapping), each step answered by ``POST /<slug>/<part>`` with the part re-rendered."""

    part: str  # the route and the template part: "window" -> POST /<slug>/window, <slug>/window.html
    positions: Callable[[Any], int]  # how many positions the state has (0: nothing to step)
    field: str = "step"  # the state's attribute (and link field) holding the position


_RECENT_LINKS: deque[tuple[Any, str]] = deque(maxlen=8)  # (state, its canonical link), by identity: states are frozen


@dataclass(frozen=True)
class LabSpec:
    """One lab, as much as the shared routes need to know of it."""

    slug: str  # the URL prefix and the templates' folder: /conv, templates/conv/
    noun: str  # what a broken link calls it: "This convolution link does not open"
    presets: Mapping[str, Any]  # key -> preset whose make(seed) is a state
    default: str  # the preset a bare /<slug> opens, with seed 0
    from_link: Callable[[str, Settings], Any]  # a state from a link's query; raises FieldError
    from_form: FormReader  # a state from the posted form
    show: Callable[[Any, Settings, str], Shown]  # the context of a part: "page", "lab", "results" or "window"
    limits: Callable[[Settings], Mapping[str, Any]]  # the form's bounds, in every context as ``limits``
    gradcheck: Callable[[Any, Form, Settings], dict[str, Any] | None] | None = None  # its context; None: 204
    provenance: Callable[[Any, str, str], Mapping[str, Iterable[Sequence[int]]]] | None = None  # (state, array,
    # index text) -> {table: [cell index, ...]}; ValueError or OpInputError: not a cell, FieldError: names the field
    provenance_arrays: Collection[str] | None = None  # what may be asked, checked before the form is read
    window_positions: Callable[[Any], int] | None = None  # a sliding window's positions (0: none fits): the
    # stepper "window" over the state's ``step`` (POST /<slug>/window)
    steppers: tuple[Stepper, ...] = ()  # more steppers (the conv lab's backward walk)
    terms: Callable[[Any, str, str], Any] | None = None  # (state, array, index text) -> engine Terms or None: the
    # provenance route then also answers the terms that sum to the cell (paired coefficient and upstream cells)
    templates: Mapping[str, str] = field(default_factory=dict)  # a part's template, when not <slug>/<part>.html
    # (what htmx gets of the page is always <slug>/lab.html, the whole lab)
    lab_form: FormReader | None = None  # how POST /<slug>/lab reads the form, when not as ``from_form`` does
    heavy: Callable[[Any, Settings], Callable[[], None] | None] | None = None  # the work a state needs before it
    # can be shown (a replay), as a job run under the one limiter (app.work) with the per-request CPU budget
    export: Export | None = None  # GET /<slug>/export/arrays.json and numpy.py of a link (app.web.kit.export)
    bug_sites: Mapping[str, bugs.BugSite] | None = None  # spot the bug in this lab: bug key -> where it opens
    # (app.web.kit.bugs; a link's ``bug=`` token plants one, POST /<slug>/bug/mark and /bug/reveal grade it)

    def template(self, part: str) -> str:
        return self.templates.get(part, f"{self.slug}/{part}.html")

    def all_steppers(self) -> tuple[Stepper, ...]:
        window = (Stepper("window", self.window_positions),) if self.window_positions is not None else ()
        return window + self.steppers

    def canonical(self, state: Any) -> str:
        """The link that holds the whole ``state``. An edit asks it of one state three times (the page cache's
        key, the page's link, HX-Replace-Url): written once (a CIFAR-sized link costs ~2 ms, most of it zlib)."""
        for seen, link in tuple(_RECENT_LINKS):
            if seen is state:
                return link
        link = f"/{self.slug}?{state.to_query()}"
        _RECENT_LINKS.append((state, link))
        return link

    def default_link(self) -> str:
        return self.canonical(self.presets[self.default].make(0))

    def context(self, shown: Shown, settings: Settings) -> dict[str, Any]:
        link = self.canonical(shown.state)
        return {**shown.context, "presets": self.presets.values(), "link": link, "limits": self.limits(settings),
                "slips": errata.slips_shown(self.slug, link.partition("?")[2], self.presets)}


def displayed(response: Response, display: Display, settings: Settings) -> Response:
    """A page as its display asks: an ``embed=1`` document answers the CSP that lets the configured origins
    frame it (every other keeps the default ``frame-ancestors 'none'``, set by the middleware)."""
    if display.embed:
        response.headers["Content-Security-Policy"] = embed_csp(settings.embed_frame_ancestors)
    return response


async def prepare(lab: LabSpec, state: Any, settings: Settings) -> None:
    """Run the state's heavy work (if any) under the one limiter: raises app.work.Busy or InProgress (503)."""
    job = lab.heavy(state, settings) if lab.heavy is not None else None
    if job is not None:
        try:
            await work.run(settings, job)
        except work.InProgress as exc:
            exc.link = lab.canonical(state)  # an htmx request is sent there: the page shows the progress
            raise


async def posted(request: Request, read: FormReader, settings: Settings) -> tuple[Form, Any, list[FieldError]]:
    """The posted form, and the state ``read`` makes of it (or None and every problem found)."""
    fields = await form_fields(request, settings.max_form_fields)
    state, errors = read(fields, settings)
    return fields, state, errors


def lab_router(lab: LabSpec) -> APIRouter:
    """The page, preset, fragment, window, gradcheck and provenance routes of ``lab``."""
    router = APIRouter(tags=["pages"], include_in_schema=False)  # HTML, not the JSON API: out of the OpenAPI schema
    base = f"/{lab.slug}"

    async def shown_fragment(request: Request, state: Any, settings: Settings, part: str,
                             plant: bugs.Plant | None = None, cells: tuple[quiz.Cell, ...] | None = None) -> Response:
        async def make() -> Response:
            await prepare(lab, state, settings)
            shown = await work.render(settings, quiz.hiding(cells, bugs.planted(plant, lab.show)), state, settings,
                                      part)
            ctx = lab.context(shown, settings)
            template = lab.template(part)
            if part in ("results", "lab") and lab.slug in errata.LABS:  # an edit: the slips follow, out of band
                ctx, template = {**ctx, "inner": template}, "kit/fragment.html"
            answer = fragment(request, template, ctx, bugs.link(plant, lab.canonical(shown.state)), shown.status)
            if not cells:
                return answer
            values = quiz.values_of(shown.context)
            if quiz.missing(cells, values):  # a stepper's part: the page holds the hidden cells' values
                whole = await work.render(settings, bugs.planted(plant, lab.show), shown.state, settings, "page")
                values = quiz.values_of(whole.context)
            return quiz.masked(answer, cells, values)

        key = (part, lab.canonical(state), bugs.key(plant), cells, settings)
        return await fragment_answer(request, key, make, settings, cut=changed.cutter(request.headers, cells))

    def broken(request: Request, exc: FieldError, query: str, display: Mapping[str, bool] | None = None,
               status: int = 422) -> Response:
        """This lab's page for a link that does not open: what is wrong, the default example and the others."""
        return broken_link(request, lab.slug, lab.noun, exc, lab.default_link(), query, display, status,
                           lab.presets.values())

    @router.get(base, name=f"{lab.slug}_page")
    async def page(request: Request, settings: SettingsDep) -> Response:
        """The page of a link: from the page cache by its canonical link, or rendered (once) and kept. The display
        parameters (``present``, ``embed``: app.web.kit.display) are taken out before the lab reads its link."""
        raw = request.url.query
        try:
            query, display = split_display(raw)
            query, plant = bugs.from_query(lab.slug, lab.bug_sites, query, settings.bug_secret)
            query, cells = quiz.from_query(query, settings.quiz_max_cells)
        except FieldError as exc:
            return displayed(broken(request, exc, raw), OFF, settings)
        if not query:
            return RedirectResponse(display.link(lab.default_link()), status_code=303)
        cache, variant = page_cache(request), page_variant(request.headers)
        url = (variant, base, raw, settings)  # the settings too: what a page shows depends on its limits

        async def answer() -> Response:
            try:
                state, filled = await work.render(settings, read_filled, query,
                                                  lambda q: lab.from_link(q, settings),
                                                  lab.default_link().partition("?")[2])
            except FieldError as exc:
                return displayed(broken(request, exc, query, display.context()), display, settings)
            if filled:  # what the link left out is the default example's: show the whole link
                filled_link = quiz.link(cells, bugs.link(plant, lab.canonical(state)))
                return RedirectResponse(display.link(filled_link), status_code=303)

            async def make() -> Response:
                await prepare(lab, state, settings)
                shown = await work.render(settings, quiz.hiding(cells, bugs.planted(plant, lab.show)), state,
                                          settings, "page")
                ctx = {**lab.context(shown, settings), "display": display.context()}
                ctx.update(bugs.context(plant, ctx["link"]))
                quiz_ctx, quiz_error = quiz.context(cells, shown.context, lab.slug, ctx["link"], settings)
                ctx.update(quiz_ctx)
                answer = render(request, lab.template("page"), ctx, partial=f"{lab.slug}/lab.html",
                                status_code=422 if quiz_error else shown.status)
                return displayed(quiz.masked_from(answer, cells, shown.context), display, settings)

            if cache is None:
                return await make()
            key = (variant, lab.canonical(state), display, bugs.key(plant), cells, settings)
            cache.alias(url, key)
            return await cache.answer(request, key, make, settings, shared=True)

        return await answer() if cache is None else await cache.by_url(request.headers, url, settings, answer)

    @router.get(base + "/preset/{key}", name=f"{lab.slug}_preset")
    def preset(key: str, request: Request, settings: SettingsDep, seed: str = "0") -> Response:
        """303 to the preset's canonical link; a preset the lab does not have (404) or a bad seed (422) named: in a
        page for a browser (with the lab's examples to pick from), in the one error body for any other client."""
        extra = {k: v for k, v in request.query_params.items() if k != "seed"}  # e.g. the errata's tab=backward
        try:  # a preset chosen in presenter mode (or in a frame) stays in it: present/embed follow the link
            display = parse_display({k: extra.pop(k) for k in DISPLAY_FIELDS if k in extra})
            url = preset_link(lab.presets, key, seed, lab.canonical, settings.max_seed, extra)
        except FieldError as exc:
            status, where = (404, "path") if exc.field == "key" else (422, "query")
            if not wants_html(request):
                return field_errors([exc], where=where, status=status)
            asked = request.url.path + ("?" + request.url.query if request.url.query else "")
            return displayed(broken(request, exc, asked, status=status), OFF, settings)
        return RedirectResponse(display.link(url), status_code=303)

    def edit(part: str, read: FormReader, doc: str) -> None:
        async def route(request: Request, settings: SettingsDep) -> Response:
            fields, state, errors = await posted(request, read, settings)
            plant = collect(errors, bugs.from_form, lab.slug, lab.bug_sites, fields, settings.bug_secret)
            cells = collect(errors, quiz.from_form, fields, settings.quiz_max_cells)
            if errors:
                return form_errors(request, errors)
            return await shown_fragment(request, state, settings, part, plant, cells)

        route.__doc__ = doc
        router.add_api_route(f"{base}/{part}", route, methods=["POST"], name=f"{lab.slug}_{part}")

    edit("results", lab.from_form, "The results after an edit of a cell or a setting (the inputs are not swapped).")
    edit("lab", lab.lab_form or lab.from_form, "The inputs and the results after a change of shape or of mode.")

    def stepper(spec: Stepper) -> None:
        async def route(request: Request, settings: SettingsDep) -> Response:
            fields, state, errors = await posted(request, lab.from_form, settings)
            bound = settings.max_window_step
            delta = collect(errors, parse_int, "step_delta", first(fields, "step_delta", "0"), -bound, bound)
            plant = collect(errors, bugs.from_form, lab.slug, lab.bug_sites, fields, settings.bug_secret)
            cells = collect(errors, quiz.from_form, fields, settings.quiz_max_cells)
            if errors:
                return form_errors(request, errors)
            count = spec.positions(state)
            if not count:
                return Response(status_code=204)
            moved = replace(state, **{spec.field: (getattr(state, spec.field) + delta) % count})
            return await shown_fragment(request, moved, settings, spec.part, plant, cells)

        route.__doc__ = f"The {spec.part} stepper moved by ``step_delta`` positions (wrapping around)."
        router.add_api_route(f"{base}/{spec.part}", route, methods=["POST"], name=f"{lab.slug}_{spec.part}")

    for spec in lab.all_steppers():
        stepper(spec)

    if lab.gradcheck is not None:
        gradcheck = lab.gradcheck

        @router.post(base + "/gradcheck", name=f"{lab.slug}_gradcheck")
        async def check(request: Request, settings: SettingsDep) -> Response:
            """The numeric gradient check of the posted state: the worst relative error and a scatter."""
            fields, state, errors = await posted(request, lab.from_form, settings)
            plant = collect(errors, bugs.from_form, lab.slug, lab.bug_sites, fields, settings.bug_secret)
            cells = collect(errors, quiz.from_form, fields, settings.quiz_max_cells)
            if errors:
                return form_errors(request, errors)
            await prepare(lab, state, settings)
            ctx = await work.run(settings, bugs.planted(plant, gradcheck), state, fields, settings)
            if ctx is None:
                return Response(status_code=204)
            answer = templates.TemplateResponse(request, lab.template("gradcheck"), ctx)
            if not cells:
                return answer
            shown = await work.render(settings, bugs.planted(plant, lab.show), state, settings, "page")
            return quiz.masked_from(answer, cells, shown.context)  # its scatter plots the gradients

    if lab.provenance is not None:
        sources_of = lab.provenance

        @router.post(base + "/provenance", name=f"{lab.slug}_provenance")
        async def provenance(request: Request, settings: SettingsDep) -> Response:
            """Which cells a hovered cell came from: ``{"array", "index", "cells": {table: ["n,c,h,w", ...]}}``."""
            fields, state, errors = await posted(request, lab.from_form, settings)
            array, index = first(fields, "array"), first(fields, "index")
            plant = collect(errors, bugs.from_form, lab.slug, lab.bug_sites, fields, settings.bug_secret)
            if lab.provenance_arrays is not None and array not in lab.provenance_arrays:
                return error_response(422, ["body", "array"], f"no provenance for {array!r}")
            if errors:
                return field_errors(errors)
            await prepare(lab, state, settings)  # a lab whose state needs a replay (the network) has it first
            try:  # in a thread: a lab's provenance may run its op (or a network's traced step) again
                answer = await work.render(settings, bugs.planted(plant, answer_provenance), state, array, index)
            except FieldError as exc:
                return field_errors([exc])
            except OpInputError as exc:
                return error_response(422, ["body", "index"], exc.message)
            except ValueError:
                return error_response(422, ["body", "index"], f"index {index!r} is not a cell of {array}")
            return JSONResponse(answer)

        def answer_provenance(state: Any, array: str, index: str) -> dict[str, Any]:
            sources = sources_of(state, array, index)
            cells = {name: [",".join(str(int(i)) for i in idx) for idx in idxs] for name, idxs in sources.items()}
            answer = {"array": array, "index": index, "cells": cells}
            if lab.terms is not None:
                try:
                    found = lab.terms(state, array, index)
                except (OpInputError, ValueError):
                    found = None
                if found is not None:
                    answer["terms"] = found.as_json(max_terms=TERMS_SHOWN)
            return answer

    if lab.export is not None:
        export_routes(router, lab, lab.export)
    if lab.bug_sites:
        bugs.add_routes(router, lab, posted)
    quiz.add_routes(router, lab, posted, prepare)

    return router


def export_routes(router: APIRouter, lab: LabSpec, export: Export) -> None:
    """``GET /<slug>/export/arrays.json`` and ``/numpy.py`` of a link; a bad link is the page's named 422."""
    base = f"/{lab.slug}/export"

    async def exported(request: Request, settings: Settings, make: Callable[[Any, str], Response]) -> Response:
        try:  # the address bar's link, present/embed included (they change nothing here)
            query, _ = split_display(request.url.query)
            query = bugs.unplanted(lab.slug, lab.bug_sites, query, settings.bug_secret)
            state = await work.render(settings, lab.from_link, query, settings)
        except FieldError as exc:
            return field_errors([exc], where="query")
        try:
            await prepare(lab, state, settings)  # a state that needs a replay (the network's step) has it first
            return await work.run(settings, make, state, query)
        except OpInputError as exc:
            return error_response(422, ["query", exc.field], exc.message)

    def arrays(state: Any, query: str) -> Response:
        return JSONResponse(as_json(engine_arrays(export.calls(state))))

    def script(fmt: str) -> Callable[[Any, str], Response]:
        kit = {"numpy.py": numpy_script, "torch.py": torch_script}[fmt]

        def make(state: Any, query: str) -> Response:
            links = (f"/{lab.slug}?{query}", f"{base}/arrays.json?{query}")
            own = export.writers.get(fmt)
            text = own(state, *links) if own is not None else kit(export, export.calls(state), *links)
            return Response(text, media_type="text/x-python; charset=utf-8",
                            headers={"Content-Disposition": f'inline; filename="{lab.slug}_{fmt[:-3]}.py"'})
        return make

    @router.get(base + "/arrays.json", name=f"{lab.slug}_export_arrays")
    async def arrays_json(request: Request, settings: SettingsDep) -> Response:
        """The engine's arrays of the page of this link, ``{name: nested list}``."""
        return await exported(request, settings, arrays)

    if "numpy.py" in export.formats:
        @router.get(base + "/numpy.py", name=f"{lab.slug}_export_numpy")
        async def numpy_py(request: Request, settings: SettingsDep) -> Response:
            """A NumPy-only script recomputing the page's arrays; it prints the same JSON as arrays.json."""
            return await exported(request, settings, script("numpy.py"))

    if "torch.py" in export.formats:
        @router.get(base + "/torch.py", name=f"{lab.slug}_export_torch")
        async def torch_py(request: Request, settings: SettingsDep) -> Response:
            """The same computation with PyTorch autograd (float64); it prints the same JSON as arrays.json."""
            return await exported(request, settings, script("torch.py"))
