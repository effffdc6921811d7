"""Decks: the deck link (one codec, strict), slides opened by their labs' own link readers, broken slides named,
the editor's POST /deck/link, and the pages (/deck, /deck/speaker, /deck/edit)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from app.main import LABS
from app.settings import Settings
from app.web.kit.fields import FieldError
from app.web.kit.link import to_query
from app.web.pages.deck_link import Deck, Slide, from_fields, open_slides, read_deck, sample_deck

SPECS = {lab.LAB.slug: lab.LAB for lab in LABS}
SETTINGS = Settings()
POOL = "/pool?v=1&x=1x1x2x2:1,3,2,4&pool=max&size=2&stride=2&dout=ones"
NORM = "/norm?v=1&x=2x3:1,10,0.5,3,4,0.502&stage=2"


def frames(html: str) -> list[str]:
    return [unescape(src) for src in re.findall(r'<iframe[^>]*\bsrc="([^"]*)"', html)]


def test_a_short_deck_is_a_readable_link_and_reads_back():
    deck = Deck((Slide(POOL, "Routing", "say why"), Slide("/conv?v=1")))
    query = deck.to_query()
    assert "s1=" in query and "t1=Routing" in query and "z=" not in query
    assert read_deck(query + "&at=2", SETTINGS) == (deck, 2)


def test_a_long_deck_is_deflated_and_reads_back():
    deck = sample_deck(SPECS)
    query = deck.to_query()
    assert query.startswith("v=1&z=")
    assert read_deck(query, SETTINGS) == (deck, 1)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"s1": POOL, "x1": "?"}, "x1", "not a field of a deck link"),
    ({"s1": POOL, "s3": POOL}, "s2", "has no link"),
    ({}, "s1", "no slides"),
    ({f"s{k}": POOL for k in range(1, 22)}, "s21", "at most 20 slides"),
    ({"s1": POOL, "t1": "x" * 121}, "t1", "Settings.deck_max_title"),
    ({"s1": POOL, "n1": "x" * 2001}, "n1", "Settings.deck_max_note"),
    ({"s1": "  "}, "s1", "empty"),
])
def test_a_bad_deck_names_its_field(fields, field, words):
    with pytest.raises(FieldError) as caught:
        from_fields(fields, SETTINGS)
    assert caught.value.field == field and words in caught.value.message, caught.value


def test_every_slide_of_the_sample_deck_opens_in_its_lab():
    deck = sample_deck(SPECS)
    opened = open_slides(deck, SPECS, SETTINGS)
    assert [s.problem for s in opened] == [None] * len(deck.slides)
    assert {s.lab for s in opened} == {"conv", "pool", "norm"}
    assert [s.frame.partition("?")[2].count("stage=") for s in opened if s.lab == "norm"] == [0, 1, 1, 1]


def test_a_broken_slide_names_itself_and_the_others_open():
    deck = Deck((Slide(POOL, "Routing"), Slide("/nolab?v=1", "Ghost"), Slide("/pool?v=1&x=1x1:3", "Cut short"),
                 Slide("https://example.com/pool?v=1"), Slide(NORM + "#not a section"), Slide(NORM + "#bn-graph")))
    opened = open_slides(deck, SPECS, SETTINGS)
    assert [s.frame is not None for s in opened] == [True, False, False, False, False, True]
    assert "no lab '/nolab'" in opened[1].problem and opened[1].name == "slide 2 “Ghost”"
    assert "pooling link does not open: x:" in opened[2].problem
    assert "not a lab link" in opened[3].problem
    assert "is not a section" in opened[4].problem
    assert opened[5].anchor == "bn-graph"


def test_deck_without_a_link_opens_the_sample_lecture(client):
    r = client.get("/deck", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/deck?v=1&z=")
    r = client.get(r.headers["location"])
    assert r.status_code == 200
    assert "max" in r.text.lower() and "slide 1 of 8" in r.text
    (src,) = frames(r.text)
    assert src.startswith("/conv?v=1&") and src.endswith("&embed=1&present=1#section-window")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]  # the deck itself is not framed


def test_every_slide_frame_answers_and_may_be_framed(client):
    deck = sample_deck(SPECS)
    for k in range(1, len(deck.slides) + 1):
        (src,) = frames(client.get(deck.link(at=k)).text)
        r = client.get(src.partition("#")[0])
        assert r.status_code == 200, (k, src, r.text[:300])
        assert "frame-ancestors 'none'" not in r.headers["content-security-policy"], k


def test_the_deck_page_names_a_broken_slide_and_opens_the_good_ones(client):
    deck = Deck((Slide(POOL, "Routing"), Slide("/nolab?v=1", "Ghost"), Slide(NORM, "Stage 2")))
    r = client.get(deck.link(at=2))
    assert r.status_code == 200
    assert "1 slide of 3 does not open: slide 2 “Ghost”" in unescape(r.text)
    assert "Slide 2 “Ghost” does not open" in unescape(r.text)
    assert frames(r.text) == ["about:blank"]
    r = client.get(deck.link(at=3))
    assert frames(r.text)[0].startswith("/norm?v=1&")


@pytest.mark.parametrize(("query", "field"), [
    ("v=1&z=AAAA-not-deflate", "z"),
    (to_query({"s1": POOL}) + "&at=2", "at"),
    (to_query({"s1": POOL}) + "&at=x", "at"),
    (to_query({"s1": POOL, "slides": "3"}), "slides"),
    ("v=2&s1=%2Fpool", "v"),
    (to_query({f"s{k}": "/pool?v=1" for k in range(1, 22)}), "s21"),
])
def test_a_damaged_deck_link_answers_a_named_422_page(client, query, field):
    for route in ("/deck", "/deck/speaker", "/deck/edit"):
        r = client.get(f"{route}?{query}")
        assert r.status_code == 422, (route, r.text[:300])
        assert "This deck link does not open" in r.text and f"<b>{field}</b>" in r.text, r.text


def test_speaker_and_editor_pages_open_a_deck(client):
    deck = Deck((Slide(POOL, "Routing", "dout goes to the argmax"), Slide(NORM, "Stage 2")))
    r = client.get(deck.link("/deck/speaker", at=1))
    assert r.status_code == 200 and "dout goes to the argmax" in r.text and "Stage 2" in r.text
    r = client.get(deck.link("/deck/edit"))
    assert r.status_code == 200 and "data-initial='[{" in r.text
    r = client.get("/deck/edit")
    assert r.status_code == 200 and "data-initial='null'" in r.text


def test_post_deck_link_answers_the_deck_and_each_slide(client):
    slides = [{"link": POOL, "title": "Routing", "note": ""}, {"link": "/nolab?v=1", "title": "", "note": ""}]
    r = client.post("/deck/link", json={"slides": slides})
    assert r.status_code == 200, r.text
    body = r.json()
    assert read_deck(body["query"], SETTINGS)[0] == Deck((Slide(POOL, "Routing"), Slide("/nolab?v=1")))
    assert body["links"]["page"] == "/deck?" + body["query"]
    assert body["slides"][0]["src"].endswith("&embed=1&present=1") and body["slides"][0]["problem"] is None
    assert body["slides"][1]["src"] is None and "no lab" in body["slides"][1]["problem"]


@pytest.mark.parametrize(("body", "loc"), [
    ({"slides": [{"link": POOL}] * 21}, ["body", "slides", 20, "link"]),
    ({"slides": [{"link": POOL, "title": "t" * 121}]}, ["body", "slides", 0, "title"]),
    ({"slides": [{"link": 3}]}, ["body", "slides", 0, "link"]),
    ({"slides": "no"}, ["body", "slides"]),
    ({"slides": []}, ["body", "slides", 0, "link"]),
])
def test_post_deck_link_refuses_a_bad_deck_naming_the_field(client, body, loc):
    r = client.post("/deck/link", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, r.text


@pytest.mark.parametrize("body", [b"{", b"[" * 100_000 + b"]" * 100_000])
def test_post_deck_link_refuses_a_body_that_is_not_json(client, body):
    r = client.post("/deck/link", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize("lab", ["conv", "pool", "norm", "softmax", "optim", "network"])
def test_every_lab_page_has_add_to_deck(client, lab):
    r = client.get(f"/{lab}")
    assert r.status_code == 200
    assert "data-deck-add" in r.text and "js/deck-editor.js" in r.text


def test_a_slide_of_every_lab_opens_the_network_and_a_present_link_included(client):
    links = {lab: client.get(f"/{lab}", follow_redirects=False).headers["location"] for lab in SPECS}
    deck = Deck(tuple(Slide(link + ("&present=1" if lab == "optim" else ""), lab) for lab, link in links.items()))
    opened = open_slides(deck, SPECS, SETTINGS)
    assert [(s.lab, s.problem) for s in opened] == [(lab, None) for lab in SPECS]
    assert [s.frame for s in opened] == list(links.values())  # the lab's canonical link: present/embed the deck's
    for k in range(1, len(opened) + 1):
        (src,) = frames(client.get(deck.link(at=k)).text)
        assert client.get(src).status_code == 200, src


def test_a_quiz_riding_along_stays_one_field_of_the_frames_link():
    (opened,) = open_slides(Deck((Slide(POOL + "&quiz=dx%3A0%2C0%2C1%2C1%26present%3D0"),)), SPECS, SETTINGS)
    assert opened.frame.endswith("&quiz=dx:0,0,1,1%26present%3D0")  # the lab reads (and refuses) it whole
