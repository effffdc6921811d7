"""Quiz mode (app.web.kit.quiz): the link's quiz= is read strictly (422 naming quiz), its cells must be on the
page, and the engine grades each answer — exactly for integer arrays, within a relative 1e-3 otherwise — at the
tolerance's edges; hints give the numbers but not the answer; reveal gives the values.

Numbers by hand, the conv lab's edge filter on 1..25 (5×5), w = [[1, 0, −1]] × 3, b = 0, dout = ones:
out[0,0,1,1] = (7 + 12 + 17) − (9 + 14 + 19) = −6; dx[0,0,2,2] = Σ w = 0; dx[0,0,0,0] = w[0,0,0,0] = 1.
"""

from __future__ import annotations

import re

import pytest

from app.web.kit.fields import FieldError
from app.web.kit.quiz import graded, parse, tolerance
from tests.app.kit.test_bugs_in_labs import form_of

CONV = ("/conv?v=1&x=1x1x5x5:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25"
        "&w=1x1x3x3:1,0,-1,1,0,-1,1,0,-1&b=1:0&stride=1&pad=0&dout=ones&tab=backward")
POOL = "/pool?v=1&x=1x1x4x4:2,1,-11,0,0,10,-15,-16,23,100,2,3,-23,0,7,20&pool=max&size=2&stride=2&dout=ones"
CELLS = "out:0,0,1,1;dx:0,0,2,2;dx:0,0,0,0"


def test_the_quiz_parameter_is_read_strictly():
    assert parse(CELLS, 24) == (("out", "0,0,1,1"), ("dx", "0,0,2,2"), ("dx", "0,0,0,0"))
    assert parse("loss:", 24) == (("loss", ""),)
    assert parse("dx:00,1", 24) == (("dx", "0,1"),)
    for bad in ("", "dx", "dx:0,,1", "DX:0", "dx:0;dx:0", "dx:-1", "dx:0,1;" * 3 + "x:1", "dx:1.5", "d x:1"):
        with pytest.raises(FieldError) as err:
            parse(bad, 3)
        assert err.value.field == "quiz", bad


def test_grading_at_the_tolerance_edges():
    cell = ("dx", "0,0")
    assert tolerance(cell, 2.0) == pytest.approx(2e-3)
    assert graded(cell, 2.0, 2.0019)["ok"] and graded(cell, 2.0, 2.002)["ok"] and graded(cell, 2.0, 1.998)["ok"]
    assert not graded(cell, 2.0, 2.0021)["ok"] and not graded(cell, 2.0, 1.9979)["ok"]
    assert graded(cell, -6.0, -6.005)["ok"] and not graded(cell, -6.0, -6.0061)["ok"]
    assert graded(cell, 0.0, 0.0)["ok"] and graded(cell, 0.0, 1e-10)["ok"] and not graded(cell, 0.0, 1e-6)["ok"]
    assert graded(cell, 2.0, None)["ok"] is None  # not answered: not graded
    index = ("argmax", "0,0,1,1")
    assert graded(index, 5.0, 5.0)["ok"] and not graded(index, 5.0, 5.004)["ok"]  # rel 1e-3 would pass it
    assert graded(("relu_mask", "0,0"), 1.0, 1.0)["ok"] and not graded(("relu_mask", "0,0"), 1.0, 0.9999)["ok"]


def test_a_quiz_link_opens_with_its_cells_hidden_and_a_bad_one_says_why(client):
    r = client.get(f"{CONV}&quiz={CELLS}")
    assert r.status_code == 200
    assert f'data-cells="{CELLS}"' in r.text and "is-active" in r.text
    r = client.get(f"{CONV}&quiz=out:0,0,9,9")
    assert r.status_code == 422 and "out[0, 0, 9, 9] is not a cell this page shows" in r.text
    r = client.get(f"{CONV}&quiz=dx:0;dx:0")
    assert r.status_code == 422 and "quiz" in r.text
    plain = client.get(CONV)
    assert plain.status_code == 200 and 'data-cells=""' in plain.text  # every lab offers "Quiz me"


def _form(client, link: str, slug: str) -> dict:
    return form_of(client.get(link).text, slug)


def test_the_engine_grades_each_answer(client):
    form = {**_form(client, CONV, "conv"), "quiz": CELLS}
    r = client.post("/conv/quiz/grade", data={**form, "answer": ["-6", "0.5", ""]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["ok"] for c in body["cells"]] == [True, False, None]
    assert (body["score"], body["of"]) == (1, 3)
    r = client.post("/conv/quiz/grade", data={**form, "answer": ["-6.006", "0", "1"]})
    assert [c["ok"] for c in r.json()["cells"]] == [True, True, True]
    r = client.post("/conv/quiz/grade", data={**form, "answer": ["-6.0061", "0", "1"]})
    assert [c["ok"] for c in r.json()["cells"]] == [False, True, True]


def test_integer_arrays_are_graded_exactly(client):
    form = {**_form(client, POOL, "pool"), "quiz": "argmax:0,0,0,0;out:0,0,0,0"}
    values = client.post("/pool/quiz/reveal", data=form).json()["cells"]
    argmax, out = float(values[0]["exact"]), float(values[1]["exact"])
    r = client.post("/pool/quiz/grade", data={**form, "answer": [str(argmax), str(out * (1 + 5e-4))]})
    assert [c["ok"] for c in r.json()["cells"]] == [True, True]
    r = client.post("/pool/quiz/grade", data={**form, "answer": [str(argmax + 0.004), str(out)]})
    assert [c["ok"] for c in r.json()["cells"]] == [False, True]


def test_bad_answers_and_cells_are_422s_naming_them(client):
    form = {**_form(client, CONV, "conv"), "quiz": CELLS}
    r = client.post("/conv/quiz/grade", data={**form, "answer": ["six", "0", "1"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "answer out[0, 0, 1, 1]"]
    r = client.post("/conv/quiz/grade", data={**form, "answer": ["1"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "answer"]
    r = client.post("/conv/quiz/grade", data={**form, "quiz": "out:7,7", "answer": ["1"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "quiz"]
    r = client.post("/conv/quiz/hint", data={**form, "cell": "out:0,0,0,0"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "cell"]


def test_a_hint_plugs_in_every_number_but_the_answer(client):
    form = {**_form(client, CONV, "conv"), "quiz": CELLS}
    r = client.post("/conv/quiz/hint", data={**form, "cell": "dx:0,0,0,0"})
    assert r.status_code == 200
    hint = r.json()["hint"]
    assert hint.startswith("dx[0, 0, 0, 0] = Σ of 1 terms: (w[0,0,0,0] · dout[0,0,0,0] = 1 × 1)")
    assert hint.endswith("= ?")
    r = client.post("/conv/quiz/hint", data={**form, "cell": "out:0,0,1,1"})
    assert "is computed from" in r.json()["hint"] and "-6" not in r.json()["hint"]


def test_reveal_gives_the_engines_values(client):
    form = {**_form(client, CONV, "conv"), "quiz": CELLS}
    r = client.post("/conv/quiz/reveal", data=form)
    assert [c["value"] for c in r.json()["cells"]] == ["-6", "0", "1"]


LABS = ("conv", "pool", "norm", "softmax", "optim", "network")


def _result_cells(html: str, count: int) -> list[tuple[str, str, str]]:
    """(array, index, the cell's text) of the first result cells of different tables the page shows."""
    found, seen = [], set()
    tables = re.findall(r'<table class="heatmap([^"]*)" data-arr="([^"]+)"[^>]*>(.*?)</table>', html, re.S)
    for kind, array, body in tables:
        if array in seen or "editable" in kind:  # an input's cells are what the student typed
            continue
        cell = re.search(r'<td data-idx="([^"]*)"[^>]*>(.*?)</td>', body, re.S)
        if cell:
            seen.add(array)
            found.append((array, cell.group(1), re.sub(r"<sub.*?</sub>|<[^>]+>", "", cell.group(2))))
    return found[:count]


@pytest.mark.parametrize("slug", LABS)
def test_every_lab_can_quiz_the_arrays_it_shows(client, slug):
    """Any array any lab shows: a quiz of cells of three of its tables opens, and reveals what the page shows."""
    page = client.get(f"/{slug}")
    assert page.status_code == 200
    cells = _result_cells(page.text, 3)
    assert cells, f"/{slug} shows no result table"
    text = ";".join(f"{a}:{i}" for a, i, _ in cells)
    link = str(page.url) + "&quiz=" + text
    r = client.get(link)
    assert r.status_code == 200, re.findall(r'quiz-panel__error.*?</p>', r.text, re.S)
    form = {**form_of(r.text, slug), "quiz": text}
    revealed = client.post(f"/{slug}/quiz/reveal", data=form)
    assert revealed.status_code == 200, revealed.text[:300]
    assert [c["value"] for c in revealed.json()["cells"]] == [t.strip() for _, _, t in cells]


def test_a_deck_slide_can_be_in_quiz_mode(client):
    """A deck (app/web/pages/deck_link.py) keeps a slide's quiz= in the link its frame opens."""
    from urllib.parse import quote

    r = client.get("/deck?v=1&s1=" + quote(f"{CONV}&quiz={CELLS}", safe="") + "&t1=Quiz")
    assert r.status_code == 200
    assert f"quiz={CELLS}" in r.text.replace("&amp;", "&")
