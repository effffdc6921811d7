"""The lab-router factory over a fake minimal lab: every shared route, its status codes, headers and bodies."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jinja2 import ChoiceLoader, DictLoader

from app import errors
from app.settings import Settings, get_settings
from app.web.kit.fields import FieldError, parse_index, parse_int
from app.web.kit.form import Form, first, int_field
from app.web.kit.link import from_query, to_query
from app.web.kit.routes import LabSpec, Shown, lab_router
from app.web.render.templating import templates
from engine.records import OpInputError

HX = {"HX-Request": "true"}
FAKE_TEMPLATES = {  # the fake lab's templates: each shows what it was given
    "fake/page.html": "PAGE n={{ view.n }} link={{ link }} max={{ limits.n }}",
    "fake/lab.html": "LAB n={{ view.n }} step={{ view.step }} max={{ limits.n }}",
    "fake/results.html": "RESULTS n={{ view.n }}",
    "fake/window.html": "WINDOW step={{ view.step }}",
    "fake/gradcheck.html": "CHECK worst={{ worst }}",
}


@dataclass(frozen=True)
class Counter:
    """A fake lab's state: a count n (bounded by Settings.max_batch), a window over n positions, a flag."""

    n: int
    step: int = 0
    fits: bool = True  # ``False``: the page shows an error (and answers 422)

    def to_query(self) -> str:
        return to_query({"n": str(self.n), "step": str(self.step)})


@dataclass(frozen=True)
class Preset:
    key: str
    make: object
    title: str = ""
    source: str = ""


def from_link(query: str, settings: Settings) -> Counter:
    fields = from_query(query)
    return Counter(parse_int("n", fields.get("n", ""), 0, settings.max_batch),
                   parse_int("step", fields.get("step", "0"), 0, 100))


def from_form(form: Form, settings: Settings) -> tuple[Counter | None, list[FieldError]]:
    errors: list[FieldError] = []
    n = int_field(form, "n", 0, settings.max_batch, errors, default="")
    step = int_field(form, "step", 0, 100, errors)
    return (None, errors) if errors else (Counter(n, step), [])


def lab_form(form: Form, settings: Settings) -> tuple[Counter | None, list[FieldError]]:
    state, errors = from_form(form, settings)
    return (replace(state, n=state.n + 1), []) if state and first(form, "action") == "add" else (state, errors)


def show(state: Counter, settings: Settings, part: str) -> Shown:
    view = {"n": state.n, "step": state.step}
    return Shown({"view": view}, state, 200 if state.n != 3 else 422)  # n = 3: the "engine" refuses it


def gradcheck(state: Counter, form: Form, settings: Settings) -> dict | None:
    return None if state.n == 0 else {"worst": state.n / 10}


def provenance(state: Counter, array: str, index_text: str) -> dict:
    index = parse_index(index_text)
    if array == "named":
        raise FieldError("n", "is not what this cell needs")
    if index[0] >= state.n:
        raise OpInputError("index", f"out of range: {index[0]} ≥ {state.n}")
    return {"out": [index, (index[0] + 1,)]}


PRESETS = {"two": Preset("two", lambda seed: Counter(2), "Two"),
           "seeded": Preset("seeded", lambda seed: Counter(seed % 5), "Seeded")}
FAKE = LabSpec(slug="fake", noun="counter", presets=PRESETS, default="two", from_link=from_link, from_form=from_form,
               show=show, limits=lambda settings: {"n": settings.max_batch}, gradcheck=gradcheck,
               provenance=provenance, provenance_arrays={"out", "named"},
               window_positions=lambda state: state.n, lab_form=lab_form)


@pytest.fixture
def fake_app(monkeypatch):
    monkeypatch.setattr(templates.env, "loader", ChoiceLoader([DictLoader(FAKE_TEMPLATES), templates.env.loader]))
    app = FastAPI()
    errors.install(app)
    app.include_router(lab_router(FAKE))
    return app


@pytest.fixture
def fake(fake_app):
    return TestClient(fake_app)


def test_the_bare_page_redirects_to_the_default_preset(fake):
    r = fake.get("/fake", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fake?v=1&n=2&step=0"


def test_a_link_opens_the_page_and_htmx_gets_the_lab_only(fake):
    r = fake.get("/fake?v=1&n=4&step=1")
    assert r.status_code == 200 and r.text == "PAGE n=4 link=/fake?v=1&amp;n=4&amp;step=1 max=4"
    assert "HX-Request" in r.headers["vary"]
    r = fake.get("/fake?v=1&n=4&step=1", headers=HX)
    assert r.text == "LAB n=4 step=1 max=4"


def test_a_state_the_engine_refuses_is_shown_with_422(fake):
    assert fake.get("/fake?v=1&n=3").status_code == 422


def test_a_bad_link_is_the_broken_link_page_naming_the_field(fake):
    r = fake.get("/fake?v=1&n=9")
    assert r.status_code == 422
    assert "This counter link does not open" in r.text and "<b>n</b>: must be between 0 and 4, got 9" in r.text
    assert 'href="/fake?v=1&amp;n=2&amp;step=0"' in r.text  # the way back: the default preset
    assert 'href="/fake/preset/two"' in r.text and 'href="/fake/preset/seeded"' in r.text  # or any example
    r = fake.get("/fake?v=1&present=2")  # a bad display parameter: the same page, the same ways back
    assert r.status_code == 422 and "<b>present</b>" in r.text and 'href="/fake/preset/two"' in r.text


def test_presets_redirect_and_bad_ones_answer_the_error_body(fake):
    r = fake.get("/fake/preset/seeded?seed=7", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fake?v=1&n=2&step=0"
    r = fake.get("/fake/preset/nope")
    assert r.status_code == 404
    assert r.json() == {"detail": [{"loc": ["path", "key"], "msg": "no preset 'nope'; presets: two, seeded",
                                    "type": "value_error"}]}
    r = fake.get("/fake/preset/two?seed=-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "seed"]


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_following_a_bad_preset_link_gets_a_page_naming_it_and_the_labs_examples(fake):
    # a lecturer's slide with a mistyped example: a page, not the JSON error body
    r = fake.get("/fake/preset/nope", headers=BROWSER)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "This counter link does not open" in r.text
    assert "<b>key</b>: no preset &#39;nope&#39;; presets: two, seeded" in r.text
    assert 'href="/fake/preset/two"' in r.text and ">Two</a>" in r.text and 'href="/fake/preset/seeded"' in r.text
    assert 'href="/fake?v=1&amp;n=2&amp;step=0"' in r.text  # the default example
    assert "/fake/preset/nope" in r.text  # the link as received
    r = fake.get("/fake/preset/two?seed=-1", headers=BROWSER)
    assert r.status_code == 422 and "<b>seed</b>: must be between 0 and" in r.text
    r = fake.get("/fake/preset/seeded?seed=7", headers=BROWSER, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fake?v=1&n=2&step=0"  # a good one still redirects


def test_an_edit_answers_the_fragment_and_the_canonical_link(fake):
    r = fake.post("/fake/results", data={"n": "1", "step": "0"}, headers=HX)
    assert r.status_code == 200 and r.text == "RESULTS n=1"
    assert r.headers["HX-Replace-Url"] == "/fake?v=1&n=1&step=0"
    r = fake.post("/fake/lab", data={"n": "1", "action": "add"}, headers=HX)  # /lab reads the form its own way
    assert r.text == "LAB n=2 step=0 max=4" and r.headers["HX-Replace-Url"] == "/fake?v=1&n=2&step=0"


def test_a_bad_form_swaps_nothing_but_the_message(fake):
    r = fake.post("/fake/results", data={"n": "x", "step": "101"}, headers=HX)
    assert r.status_code == 422 and r.headers["HX-Reswap"] == "none"
    assert 'id="form-message" hx-swap-oob="true"' in r.text
    assert "<b>n</b>: &#39;x&#39; is not a number" in r.text and "<b>step</b>: must be between 0 and 100" in r.text


def test_the_window_steps_and_wraps_and_answers_204_when_none_fits(fake):
    r = fake.post("/fake/window", data={"n": "4", "step": "3", "step_delta": "2"}, headers=HX)
    assert r.status_code == 200 and r.text == "WINDOW step=1" and r.headers["HX-Replace-Url"].endswith("step=1")
    r = fake.post("/fake/window", data={"n": "4", "step": "0", "step_delta": "-1"}, headers=HX)
    assert r.text == "WINDOW step=3"
    assert fake.post("/fake/window", data={"n": "0", "step_delta": "1"}).status_code == 204
    r = fake.post("/fake/window", data={"n": "4", "step_delta": "1.5"})
    assert r.status_code == 422 and "step_delta" in r.text


def test_gradcheck_renders_its_context_or_answers_204(fake):
    r = fake.post("/fake/gradcheck", data={"n": "2"})
    assert r.status_code == 200 and r.text == "CHECK worst=0.2"
    assert fake.post("/fake/gradcheck", data={"n": "0"}).status_code == 204
    assert fake.post("/fake/gradcheck", data={"n": ""}).status_code == 422


@pytest.mark.parametrize("data,status,loc,words", [
    ({"array": "secret", "index": "0"}, 422, ["body", "array"], "no provenance for 'secret'"),
    ({"array": "out", "index": "0", "n": "x"}, 422, ["body", "n"], "is not a number"),
    ({"array": "out", "index": "a,b"}, 422, ["body", "index"], "index 'a,b' is not a cell of out"),
    ({"array": "out", "index": "7"}, 422, ["body", "index"], "out of range: 7 ≥ 2"),
    ({"array": "named", "index": "0"}, 422, ["body", "n"], "is not what this cell needs"),
])
def test_provenance_errors_name_where(fake, data, status, loc, words):
    r = fake.post("/fake/provenance", data={"n": "2", **data})
    assert r.status_code == status
    item = r.json()["detail"][0]
    assert item["loc"] == loc and words in item["msg"] and item["type"] == "value_error"


def test_provenance_answers_the_cells_as_text(fake):
    r = fake.post("/fake/provenance", data={"n": "2", "array": "out", "index": "1"})
    assert r.status_code == 200
    assert r.json() == {"array": "out", "index": "1", "cells": {"out": ["1", "2"]}}


def test_every_route_reads_the_settings_through_the_dependency(fake_app, fake):
    assert fake.get("/fake?v=1&n=4").status_code == 200
    fake_app.dependency_overrides[get_settings] = lambda: Settings(max_batch=2, max_seed=3)
    assert fake.get("/fake?v=1&n=4").status_code == 422
    assert fake.get("/fake?v=1&n=1", headers=HX).text == "LAB n=1 step=0 max=2"
    assert fake.post("/fake/results", data={"n": "4"}).status_code == 422
    assert fake.get("/fake/preset/two?seed=4").status_code == 422


def test_a_lab_without_gradcheck_provenance_or_window_has_no_such_routes(fake_app):
    bare = replace(FAKE, slug="bare", gradcheck=None, provenance=None, window_positions=None)
    paths = {route.path for route in lab_router(bare).routes}
    quiz = {f"/{{slug}}/quiz/{part}" for part in ("grade", "hint", "reveal")}  # quiz mode is on every lab
    bare_quiz = {q.format(slug="bare") for q in quiz}
    assert paths == {"/bare", "/bare/preset/{key}", "/bare/results", "/bare/lab"} | bare_quiz
    paths = {route.path for route in lab_router(FAKE).routes}
    assert paths == {"/fake", "/fake/preset/{key}", "/fake/results", "/fake/lab", "/fake/window", "/fake/gradcheck",
                     "/fake/provenance"} | {q.format(slug="fake") for q in quiz}
