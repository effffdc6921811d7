"""A quiz page sends no hidden value: with ``quiz=`` in the link, the cells it hides are written nowhere in the
page (app.web.render.hidden: THE heatmap writer draws them blank; app.web.kit.quiz_mask: the same number in a
formula, a card, a tooltip, a second table or a figure is taken out), nor in a fragment after an edit.

Each lab is opened on a random preset (its numbers are distinctive), on every tab; from every array the page shows,
one cell whose value is distinctive (not a whole number, at least three significant digits, its text written by
no other cell of the page, and present on the page without the quiz) is hidden; then neither THE number
formatter's text of it (``cell_text``) nor its repr may appear in the quiz page as a number (not inside a longer
one: ``0.3192`` in ``0.31925`` is another number).
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections import Counter

import numpy as np
import pytest

from app.settings import get_settings
from app.web.kit import quiz
from app.web.render.numbers import cell_text
from tests.app import replay
from tests.app.kit.test_bugs_in_labs import form_of
from tests.app.kit.test_bugs_network import TRUE

CASES = [("conv", "random", {"tab": t}) for t in ("window", "im2col", "backward")] + \
    [("pool", "random", {}), ("softmax", "random", {}), ("optim", "random", {}), ("optim", "cs231n-adam-t5", {})] + \
    [("norm", "random", {"tab": t}) for t in ("bn", "running", "ln", "dropout")] + \
    [("norm", "random-images", {"tab": "bn"}), ("network", "svm-groupnorm", {}),
     ("network", "lenet", {"op": "b:0"}), ("network", "resnet", {"op": "b:4"})]


def written(text: str, number: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(number) + r"(?!\d)", text) is not None


def opened(client, link: str):
    return replay.get(client, link)


def distinctive(values: dict, page: str, slug: str) -> list[tuple[quiz.Cell, float]]:
    """One cell per result array whose value's text is distinctive and on the plain page (the middle such cell);
    not the lab's inputs (what the user typed stays in its box: the quiz asks results)."""
    inputs = set(form_of(page, slug))
    counts = Counter(cell_text(abs(v)) for v in values.values())
    per: dict[str, list] = {}
    for (array, index), v in values.items():
        text = cell_text(abs(v))
        if (array not in inputs and np.isfinite(v) and not float(v).is_integer()
                and len(text.replace(".", "").lstrip("0")) >= 3 and "e" not in text and counts[text] == 1
                and written(page, cell_text(v))):
            per.setdefault(array, []).append(((array, index), v))
    return [cells[len(cells) // 2] for cells in per.values()]


@pytest.mark.parametrize(("slug", "preset", "change"), CASES)
def test_a_quiz_page_writes_no_hidden_value(app, client, slug, preset, change):
    lab = app.state.labs[slug]
    state = dataclasses.replace(lab.presets[preset].make(1), **change)
    link = lab.canonical(state)
    plain = opened(client, link)
    assert plain.status_code == 200, plain.text[:500]
    values = quiz.values_of(lab.show(state, get_settings(), "page").context)
    cells = distinctive(values, plain.text, slug)[:get_settings().quiz_max_cells]
    assert len(cells) >= 2, f"{slug}/{preset} {change}: too few distinctive cells to prove anything"
    page = opened(client, link + "&quiz=" + quiz.text_of(tuple(c for c, _ in cells)))
    assert page.status_code == 200, page.text[:500]
    leaks = [f"{a}:{i} = {v!r}" for (a, i), v in cells
             if written(page.text, cell_text(v)) or written(page.text, repr(v))]
    assert not leaks, f"{slug}/{preset} {change}: the quiz page writes {leaks}"
    for (a, i), _ in cells:  # each hidden cell is still there to answer, blank
        assert f'data-idx="{i}" class' in page.text or "data-hidden" in page.text, (a, i)


def test_an_edit_of_a_quiz_page_answers_a_fragment_without_the_hidden_values(app, client):
    lab = app.state.labs["conv"]
    state = dataclasses.replace(lab.presets["random"].make(1), tab="backward")
    plain = client.get(lab.canonical(state))
    values = quiz.values_of(lab.show(state, get_settings(), "page").context)
    cells = distinctive(values, plain.text, "conv")
    text = quiz.text_of(tuple(c for c, _ in cells))
    form = form_of(plain.text, "conv")
    for part in ("results", "lab"):
        bare = client.post(f"/conv/{part}", data=form)
        assert all(written(bare.text, cell_text(v)) for _, v in cells[:1])  # the values are there without a quiz
        r = client.post(f"/conv/{part}", data={**form, "quiz": text})
        assert r.status_code == 200, r.text[:300]
        assert not [c for c, v in cells if written(r.text, cell_text(v)) or written(r.text, repr(v))]
        assert "data-quiz-masked" in r.text
    r = client.post("/conv/results", data={**form, "quiz": "dx:1.5"})  # a bad quiz is named like any field
    assert r.status_code == 422 and "quiz" in r.text


def test_a_cell_of_an_image_plane_can_be_quizzed_and_is_masked(app, client):
    lab = app.state.labs["conv"]
    state = lab.presets["mnist"].make(0)
    link = lab.canonical(state)
    values = quiz.values_of(lab.show(state, get_settings(), "page").context)
    assert ("out", "0,0,10,12") in values  # a 28 × 28 result is an image: its cells are quiz cells too
    page = client.get(link + "&quiz=out:0,0,10,12")
    assert page.status_code == 200, page.text[:300]
    plane = re.search(r'<div class="plane"[^>]*data-arr="out" data-prefix="0,0"[^>]*>', page.text).group(0)
    assert 'data-hidden="10,12"' in plane
    f64 = np.frombuffer(base64.b64decode(re.search(r'data-f64="([^"]*)"', plane).group(1)), "<f8").reshape(28, 28)
    assert np.isnan(f64[10, 12]) and np.isfinite(np.delete(f64.reshape(-1), 10 * 28 + 12)).all()
    r = client.post("/conv/quiz/reveal", data={**form_of(page.text, "conv"), "quiz": "out:0,0,10,12"})
    assert r.status_code == 200 and float(r.json()["cells"][0]["exact"]) == values[("out", "0,0,10,12")]


def test_the_gradient_check_of_a_quiz_page_plots_no_hidden_gradient(app, client):
    lab = app.state.labs["conv"]
    state = dataclasses.replace(lab.presets["random"].make(1), tab="backward")
    plain = client.get(lab.canonical(state))
    values = quiz.values_of(lab.show(state, get_settings(), "page").context)
    form = form_of(plain.text, "conv")
    bare = client.post("/conv/gradcheck", data=form)
    shown = [(c, v) for c, v in values.items() if c[0] == "dx" and not float(v).is_integer()
             and written(bare.text, repr(v))][:3]
    assert shown, "the scatter plots dx"
    r = client.post("/conv/gradcheck", data={**form, "quiz": quiz.text_of(tuple(c for c, _ in shown))})
    assert r.status_code == 200 and "data-figure" in r.text
    assert not [c for c, v in shown if written(r.text, repr(v))]


def test_a_quiz_stays_hidden_through_the_step_views_operations(client):
    """quiz.js sends ``quiz`` with every request of a quiz page: a step away and back draws the hidden cells blank
    again, their values nowhere in the answer (they were in it, under the answer boxes)."""
    page = opened(client, TRUE + "&quiz=dx:1,3;dx:0,0")
    assert page.text.count("data-quiz-masked") == 2
    form = {**form_of(page.text, "network"), "quiz": "dx:1,3;dx:0,0"}
    client.post("/network/step", data={**form, "op_delta": "-1"})
    back = client.post("/network/step", data={**form, "op_goto": form["op"]})
    assert back.status_code == 200 and back.text.count("data-quiz-masked") == 2
    true = client.post("/network/step", data={k: v for k, v in form.items() if k != "quiz"} | {"op_goto": form["op"]})
    hidden = re.search(r'<td data-idx="1,3"[^>]*title="([^"]*)"', true.text.split('data-arr="dx"', 1)[1]).group(1)
    assert hidden not in back.text  # the exact value, in no tooltip, formula or other table


def test_a_step_without_a_quiz_never_walks_the_page_for_its_values(client, monkeypatch):
    """values_of walks the whole context (half of a resnet step's server time): a step view's answer walks it for
    a quiz's cells only."""
    form = form_of(opened(client, TRUE).text, "network")
    walked = []
    real = quiz.values_of
    monkeypatch.setattr(quiz, "values_of", lambda context: walked.append(1) or real(context))
    plain = client.post("/network/step", data={**form, "op_delta": "-1"})
    assert plain.status_code == 200 and "data-quiz-masked" not in plain.text and not walked
    hidden = client.post("/network/step", data={**form, "op_goto": form["op"], "quiz": "dx:1,3;dx:0,0"})
    assert hidden.status_code == 200 and hidden.text.count("data-quiz-masked") == 2 and walked


def test_a_quizzed_probability_has_no_bar_to_measure(client):
    """The softmax bars are drawn by the server (app.web.render.bars): a hidden probability's bar is an empty dashed
    slot with "?", not a bar whose height (140 px for p = 1) reads its value; the other bars are drawn."""
    link = "/softmax?v=1&logits=2x3:2,1,0.1,0.5,2.5,-1&labels=2:0,1&temperature=1"
    plain = client.get(link).text
    page = client.get(link + "&quiz=probs:1,2").text
    chart = re.search(r'data-bars="probabilities_sample_1">(.*?)</figure>', page, re.S).group(1)
    heights = [float(h) for h in re.findall(r'<rect class="barchart__bar[^"]*"[^>]* height="([^"]+)"', chart)]
    assert heights[2] == 0 and heights[0] > 0 and heights[1] > 0
    assert 'class="barchart__hidden"' in chart and "p = ?" in chart
    assert re.findall(r'class="barchart__value"[^>]*>([^<]*)<', chart)[2] == "?"
    p = re.findall(r'class="barchart__value"[^>]*>([^<]*)<',
                   re.search(r'data-bars="probabilities_sample_1">(.*?)</figure>', plain, re.S).group(1))[2]
    assert not written(page, p) and written(plain, p)  # 0.0242-like: on the plain page, nowhere on the quiz's
    assert 'class="barchart__hidden"' not in re.search(r'data-bars="probabilities_sample_0">(.*?)</figure>',
                                                       page, re.S).group(1)
