"""A deck: a lecture as one link — an ordered list of slides, each a lab link with an optional title and note.

The deck's link is written by the labs' one link codec (:mod:`app.web.kit.link`): readable when short
(``/deck?v=1&s1=%2Fpool%3Fv%3D1…&t1=Routing&n1=…``), deflated into ``z=`` when long. Slide ``k`` (from 1) is
the fields ``s<k>`` (its lab link, path and query: ``/norm?v=1&…&stage=3``), ``t<k>`` (title) and ``n<k>``
(note). Which slide is shown is not part of the deck: it rides beside it as ``at=k`` (like a stream's
``from``), so advancing never re-deflates the deck.

Reading a deck is two strictnesses. The deck itself (the codec, the fields, the caps in ``Settings.deck_*``)
is read like any link: a problem raises :class:`~app.web.kit.fields.FieldError` naming the field, and the page
answers 422. A slide whose lab link does not open (no such lab, or the lab's own link reader refuses it) is
not the deck's problem: :func:`open_slides` marks that slide with why, and every other slide still opens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from app.settings import Settings
from app.web.kit.display import split_display
from app.web.kit.fields import FieldError, parse_int
from app.web.kit.link import from_query, read_filled, split_query, to_query
from app.web.kit.routes import LabSpec

AT = "at"  # the deck route's own parameter: the slide shown, from 1
_KEY = re.compile(r"([stn])([1-9][0-9]{0,2})")
ANCHOR = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")  # a section of the lab page the slide lands on: /pool?…#backward
KINDS = {"s": "link", "t": "title", "n": "note"}
CAPS = {"s": "deck_max_slide_link", "t": "deck_max_title", "n": "deck_max_note"}  # Settings fields


@dataclass(frozen=True)
class Slide:
    link: str  # a lab link as the deck holds it: "/pool?v=1&x=…"
    title: str = ""
    note: str = ""


@dataclass(frozen=True)
class Deck:
    slides: tuple[Slide, ...]

    def fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for k, slide in enumerate(self.slides, 1):
            fields[f"s{k}"] = slide.link
            if slide.title:
                fields[f"t{k}"] = slide.title
            if slide.note:
                fields[f"n{k}"] = slide.note
        return fields

    def to_query(self) -> str:
        return to_query(self.fields())

    def link(self, route: str = "/deck", at: int = 1) -> str:
        """``/deck?<deck>`` (or ``/deck/speaker``, ``/deck/edit``), with ``&at=k`` past the first slide."""
        return f"{route}?{self.to_query()}" + (f"&{AT}={at}" if at > 1 else "")


@dataclass(frozen=True)
class OpenSlide:
    """A slide as the deck page shows it: its lab's canonical link (``frame``), or why it does not open."""

    number: int  # from 1
    slide: Slide
    lab: str | None  # the lab's slug, when the path names one
    frame: str | None  # the lab's canonical link of the slide's state (None: the slide does not open)
    problem: str | None  # why it does not open, in words
    anchor: str = ""  # the section the slide lands on (the link's #fragment)

    @property
    def name(self) -> str:
        """How messages name the slide: 'slide 3 “Routing”' (or 'slide 3')."""
        return f"slide {self.number} “{self.slide.title}”" if self.slide.title else f"slide {self.number}"

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "link": self.slide.link, "title": self.slide.title, "note": self.slide.note,
                "lab": self.lab, "frame": self.frame, "anchor": self.anchor, "problem": self.problem, "name": self.name,
                "Name": self.name[:1].upper() + self.name[1:]}


EXERCISE = ("quiz", "bug")  # a slide in quiz mode (app.web.kit.quiz) or with a planted bug (app.web.kit.bugs)


def check_slide(k: int, link: str, title: str, note: str, settings: Settings) -> Slide:
    """A slide's fields within the caps (FieldError naming ``s<k>``, ``t<k>`` or ``n<k>``)."""
    for kind, text in (("s", link), ("t", title), ("n", note)):
        name, setting = KINDS[kind], CAPS[kind]
        cap = getattr(settings, setting)
        if len(text) > cap:
            raise FieldError(f"{kind}{k}", f"slide {k}'s {name} is {len(text):,} characters long; a deck holds at "
                             f"most {cap:,} (Settings.{setting})")
    if not link.strip():
        raise FieldError(f"s{k}", f"slide {k}'s link is empty: a slide is a lab link, e.g. /pool?v=1&…")
    return Slide(link.strip(), title.strip(), note.strip())


def from_fields(fields: Mapping[str, str], settings: Settings) -> Deck:
    """The deck of a link's fields (after the codec): every key is s/t/n and a slide number, numbered 1..n."""
    numbers: dict[int, dict[str, str]] = {}
    for key, value in fields.items():
        match = _KEY.fullmatch(key)
        if match is None:
            raise FieldError(key, "is not a field of a deck link (s1, t1, n1, s2, …: each slide's link, title and "
                             "note; at: the slide shown)")
        numbers.setdefault(int(match[2]), {})[match[1]] = value
    count = max(numbers, default=0)
    if count == 0:
        raise FieldError("s1", "the deck has no slides")
    if count > settings.deck_max_slides:
        raise FieldError(f"s{count}", f"a deck holds at most {settings.deck_max_slides} slides "
                         "(Settings.deck_max_slides)")
    slides = []
    for k in range(1, count + 1):
        given = numbers.get(k, {})
        if "s" not in given:
            raise FieldError(f"s{k}", f"slide {k} has no link (the deck numbers its slides 1 to {count})")
        slides.append(check_slide(k, given["s"], given.get("t", ""), given.get("n", ""), settings))
    return Deck(tuple(slides))


def read_deck(query: str, settings: Settings) -> tuple[Deck, int]:
    """(deck, the slide shown, from 1) of a deck route's query; FieldError names what is wrong."""
    rest, own = split_query(query, (AT,))
    deck = from_fields(from_query(rest), settings)
    at = parse_int(AT, own[AT], 1, len(deck.slides)) if AT in own else 1
    return deck, at


def from_slides(items: Sequence[Mapping[str, Any]], settings: Settings) -> Deck:
    """The deck of the editor's list ``[{link, title, note}, …]`` (FieldError names ``s<k>``/``t<k>``/``n<k>``)."""
    if not items:
        raise FieldError("s1", "the deck has no slides")
    if len(items) > settings.deck_max_slides:
        raise FieldError(f"s{len(items)}", f"a deck holds at most {settings.deck_max_slides} slides "
                         "(Settings.deck_max_slides)")
    slides = []
    for k, item in enumerate(items, 1):
        texts = {}
        for kind, name in KINDS.items():
            value = item.get(name, "") if isinstance(item, Mapping) else None
            if not isinstance(value, str):
                raise FieldError(f"{kind}{k}", f"slide {k}'s {name} must be text")
            texts[name] = value
        slides.append(check_slide(k, texts["link"], texts["title"], texts["note"], settings))
    return Deck(tuple(slides))


def open_slide(number: int, slide: Slide, labs: Mapping[str, LabSpec], settings: Settings) -> OpenSlide:
    """Run the slide's lab's own link reader: its canonical link, or why it does not open."""
    link, _, anchor = slide.link.partition("#")
    path, _, query = link.partition("?")
    slug = path[1:] if path.startswith("/") else None
    if slug is None or slug not in labs:
        known = ", ".join(f"/{name}" for name in labs)
        what = f"there is no lab {path!r}" if path.startswith("/") else f"{path[:40]!r} is not a lab link"
        return OpenSlide(number, slide, None, None, f"{what}: a slide is a lab link, one of {known}, with its query")
    lab = labs[slug]
    if anchor and not ANCHOR.fullmatch(anchor):
        return OpenSlide(number, slide, slug, None, f"#{anchor[:40]} is not a section of the page: after # comes a "
                         "section's id (letters, digits, - and _), e.g. #backward")
    try:
        own, _ = split_display(query)  # a link copied in presenter mode: the deck adds present/embed itself
        own, exercise = split_query(own, EXERCISE)  # a quiz or a planted bug rides along; its lab page checks it
        if not own:
            return OpenSlide(number, slide, slug, lab.default_link(), None, anchor)
        state, _ = read_filled(own, lambda q: lab.from_link(q, settings), lab.default_link().partition("?")[2])
    except FieldError as exc:
        return OpenSlide(number, slide, slug, None, f"this {lab.noun} link does not open: {exc.field}: {exc.message}")
    extra = "".join(f"&{key}={quote(value, safe=':,;')}" for key, value in exercise.items())  # as it came, re-quoted
    return OpenSlide(number, slide, slug, lab.canonical(state) + extra, None, anchor)


def open_slides(deck: Deck, labs: Mapping[str, LabSpec], settings: Settings) -> list[OpenSlide]:
    return [open_slide(k, slide, labs, settings) for k, slide in enumerate(deck.slides, 1)]


def edit_slide(link: str, fields: Mapping[str, str]) -> str:
    """``link`` with some of its lab link fields replaced (the sample deck's stages: ``{"stage": "3"}``)."""
    path, _, query = link.partition("?")
    query, hash_, anchor = query.partition("#")
    return f"{path}?{to_query({**from_query(query), **fields})}{hash_}{anchor}"


def sample_deck(labs: Mapping[str, LabSpec]) -> Deck:
    """The lecture the issue asks a lecturer to prepare: backprop through max-pool and batch norm."""

    def preset(slug: str, key: str, anchor: str, **fields: str) -> str:
        lab = labs[slug]
        link = lab.canonical(lab.presets[key].make(0))
        return (edit_slide(link, fields) if fields else link) + f"#{anchor}"

    bn = "two-sample"
    return Deck((
        Slide(preset("conv", "edge", "section-window"), "Where the numbers come from: a convolution",
              "Step the sliding window with → (or the clicker): each output is one window times the filter, plus b. "
              "This is the layer whose output we pool next."),
        Slide(preset("pool", "notes-4x4", "window"), "Max pooling forward: the argmax",
              "Each 2×2 window keeps its largest value; the argmax map records where it was. Ask: what does the "
              "gradient of max look like?"),
        Slide(preset("pool", "notes-routing", "backward"), "Max pooling backward: the gradient is routed",
              "dout = 10 goes to the argmax only: every other input of the window gets 0. Click a cell of dx."),
        Slide(preset("pool", "overlap", "backward"), "Overlapping windows add",
              "Stride 1: the 9 wins four windows, so four dout cells add into its dx. Sum them on the board."),
        Slide(preset("norm", bn, "bn-forward"), "Batch norm forward: normalize over the batch",
              "Two samples (notes 003): μ, σ², x̂, then γ·x̂ + β. Point at the mean and the biased variance."),
        Slide(preset("norm", bn, "bn-graph", stage="1"), "Batch norm backward ①: dβ and dγ",
              "PageDown walks the graph stage by stage; each stage shows its numbers."),
        Slide(preset("norm", bn, "bn-graph", stage="4"), "Batch norm backward ④: dvar and dmean",
              "The two paths through the mean meet here: the variance's and x̂'s."),
        Slide(preset("norm", bn, "bn-graph", stage="6"), "Batch norm backward ⑥: dx",
              "dx from the staged graph equals the compact formula: the page states that they agree."),
    ))
