"""The softmax lab's pages and fragments: full page vs fragment, link state, presets, bad links and forms.

Expected numbers are worked by hand in each test (exp, log), never read back from the engine.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.softmax.presets import PRESETS
from app.web.labs.softmax.state import SoftmaxState, from_link

# A link as the app wrote it on 2026-11-22: the notes' row and a uniform row, labels 0 and 2.
# It must keep opening with the same numbers: links made today still open later.
STORED_LINK = "/softmax?v=1&logits=2x3:3,-2,-100,0,0,0&labels=2:0,2&temperature=1"


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def cells(html: str, array: str) -> dict[str, str]:
    """{data-idx: text} of the first table of ``array`` in the results."""
    results = html[html.index('id="results"'):]
    table = re.search(rf'<table class="heatmap" data-arr="{array}"[^>]*>(.*?)</table>', results, re.S).group(1)
    return dict(re.findall(r'<td data-idx="([\d,]*)"[^>]*>([^<]*)</td>', table))


def form_for(state: SoftmaxState, **overrides) -> dict:
    n, k = state.logits.shape
    data = {"N": str(n), "K": str(k), "logits_shape": f"{n}x{k}",
            "logits": [repr(float(v)) for v in state.logits.ravel()],
            "labels": [str(int(v)) for v in state.labels], "temperature": repr(state.temperature)}
    data.update(overrides)
    return data


def notes_state() -> SoftmaxState:
    return PRESETS["notes"].make(0)


def test_bare_softmax_redirects_to_the_notes_example(client):
    r = client.get("/softmax", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/softmax?v=1&logits=1x3:3,-2,-100&labels=1:0&temperature=1"


def test_full_page_for_a_plain_request_fragment_for_htmx(client):
    full = client.get(STORED_LINK)
    assert full.status_code == 200
    assert full.text.lstrip().startswith("<!doctype html>")
    assert "css/labs/softmax.css" in full.text and "js/labs/softmax.js" in full.text and "js/lab.js" in full.text
    fragment = client.get(STORED_LINK, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="lab"')


def test_stored_link_still_opens_with_the_same_numbers(client):
    html = client.get(STORED_LINK).text
    # row 0: shifted [0, −5, −103]; S = 1 + e^−5 + e^−103 = 1.006738; p = [0.9933, 0.006693, 1.84e−45]
    # row 1: uniform, p = 1/3 each
    probs = cells(html, "probs")
    assert [probs[f"0,{k}"] for k in range(3)] == ["0.9933", "0.006693", "1.84e-45"]
    assert [probs[f"1,{k}"] for k in range(3)] == ["0.3333"] * 3
    # ℓ0 = log(1 + e^−5 + e^−103) = 0.006715, ℓ1 = ln 3 = 1.0986; L = (0.006715 + 1.0986)/2 = 0.5527
    nll = cells(html, "nll")
    assert nll == {"0": "0.006715", "1": "1.099"}
    assert "L = 0.5527" in html
    # dlogits = (p − y)/N: row 1 = ([1/3, 1/3, 1/3] − [0, 0, 1])/2 = [0.1667, 0.1667, −0.3333]
    d = cells(html, "dlogits")
    assert [d[f"1,{k}"] for k in range(3)] == ["0.1667", "0.1667", "-0.3333"]
    assert [d[f"0,{k}"] for k in range(3)] == ["-0.003346", "0.003346", "9.199e-46"]
    assert 'data-agree="ok"' in html and 'data-naive="ok"' in html


def test_the_notes_slip_is_pointed_out(client):
    html = client.get("/softmax/preset/notes").text
    assert "The notes' numbers (001)" in html
    # e^−100 / 20.2209 = 3.720e−44 / 20.2209 = 1.840e−45, not the notes' 1.88e−45; e^−2/20.22 = 0.006693
    assert "1.88 × 10⁻⁴⁵" in html and "1.84 × 10⁻⁴⁵" in html
    assert "0.0066" in html and "0.006693" in html
    assert "slip in the notes" in html
    assert "20.22" in html  # the notes' denominator: the unshifted sum, which agrees


def test_the_notes_table_is_only_for_the_notes_row_at_t_1(client):
    assert "The notes' numbers" not in client.get("/softmax?v=1&logits=1x3:3,-2,-100&labels=1:0&temperature=2").text
    assert "The notes' numbers" not in client.get("/softmax/preset/batch").text


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_opens_and_its_link_round_trips(client, key):
    r = client.get(f"/softmax/preset/{key}?seed=7", follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    page = client.get(location)
    assert page.status_code == 200, page.text[:500]
    assert 'data-arr="probs"' in page.text and 'data-arr="jacobian"' in page.text
    state = PRESETS[key].make(7)
    again = from_link(location.split("?", 1)[1], Settings())
    np.testing.assert_array_equal(again.logits, state.logits)
    np.testing.assert_array_equal(again.labels, state.labels)
    assert again.temperature == state.temperature


def test_random_preset_depends_on_the_seed_only(client):
    a = client.get("/softmax/preset/random?seed=3", follow_redirects=False).headers["location"]
    b = client.get("/softmax/preset/random?seed=3", follow_redirects=False).headers["location"]
    c = client.get("/softmax/preset/random?seed=4", follow_redirects=False).headers["location"]
    assert a == b != c


def test_unknown_preset_and_bad_seed(client):
    r = client.get("/softmax/preset/nope")
    assert r.status_code == 404 and "notes" in r.json()["detail"][0]["msg"]
    r = client.get("/softmax/preset/random?seed=-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "seed"]


def test_big_logits_show_where_the_naive_formula_breaks(client):
    html = client.get("/softmax/preset/big").text
    # exp(1000) overflows (inf/inf = NaN), e^−1000… underflow (0/0 = NaN), e^−800 underflows (−log 0 = inf)
    naive = cells(html, "naive_probs")
    assert naive["0,0"] == "NaN" and naive["1,2"] == "NaN"
    assert cells(html, "naive_exp")["0,0"] == "inf"
    assert cells(html, "naive_nll")["2"] == "inf"
    assert 'data-naive="broken"' in html and "709.78" in html
    # the stable route: row 0 shifted [0, −1, −10], p0 = 1/(1 + e^−1 + e^−10) = 0.7310
    assert cells(html, "probs")["0,0"] == "0.731"
    # row 2: ℓ = 805 + log(1 + e^−5) = 805.0067, finite although p_2 = 0
    assert cells(html, "nll")["2"] == "805"
    assert "the long way cannot be taken" in html


def test_an_edit_answers_the_results_and_the_canonical_link(client):
    form = form_for(notes_state(), logits=["0", "0", "0"], labels=["1"])
    r = client.post("/softmax/results", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.headers["HX-Replace-Url"] == "/softmax?v=1&logits=1x3:0,0,0&labels=1:1&temperature=1"
    assert r.text.lstrip().startswith('<section id="results"')
    assert cells(r.text, "probs") == {"0,0": "0.3333", "0,1": "0.3333", "0,2": "0.3333"}
    # ln 3 = 1.0986
    assert "L = 1.099" in r.text


def test_temperature_divides_the_logits_and_the_gradient(client):
    # logits [2, 0] at T = 2: z = [1, 0], p = [e/(e + 1), 1/(e + 1)] = [0.7311, 0.2689];
    # dlogits = (p − y)/(N·T) = [(0.7311 − 1)/2, 0.2689/2] = [−0.1345, 0.1345]
    form = form_for(notes_state(), N="1", K="2", logits_shape="1x2", logits=["2", "0"], labels=["0"], temperature="2")
    r = client.post("/softmax/results", data=form)
    assert r.status_code == 200, r.text
    assert cells(r.text, "probs") == {"0,0": "0.7311", "0,1": "0.2689"}
    assert cells(r.text, "dlogits") == {"0,0": "-0.1345", "0,1": "0.1345"}
    assert cells(r.text, "scaled") == {"0,0": "1", "0,1": "0"}


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"labels": ["3"]}, "labels[0]", ["out of range", "between 0 and 2"]),
    ({"labels": ["-1"]}, "labels[0]", ["out of range"]),
    ({"labels": ["1.5"]}, "labels[0]", ["whole number"]),
    ({"logits": ["3", "abc", "-100"]}, "logits[0, 1]", ["'abc' is not a number"]),
    ({"logits": ["3", "", "-100"]}, "logits[0, 1]", ["empty"]),
    ({"logits": ["3", "-2", "inf"]}, "logits[0, 2]", ["not a finite number"]),
    ({"logits": ["3", "-2", "2e6"]}, "logits[0, 2]", ["between −1e6 and 1e6"]),
    ({"temperature": "30"}, "temperature", ["between 0.05 and 20"]),
    ({"temperature": "0"}, "temperature", ["between 0.05 and 20"]),
    ({"temperature": "warm"}, "temperature", ["not a number"]),
    ({"N": "5"}, "N", ["between 1 and 4"]),
    ({"K": "11"}, "K", ["between 2 and 10"]),
    ({"K": "1"}, "K", ["between 2 and 10"]),
    ({"logits": ["1", "2"]}, "logits", ["expected 3 cells"]),
    ({"labels": []}, "labels", ["one per row"]),
])
def test_bad_input_is_a_422_naming_the_field(client, overrides, field, words):
    r = client.post("/softmax/results", data=form_for(notes_state(), **overrides), headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert r.headers["HX-Reswap"] == "none"
    assert 'id="form-message"' in r.text and 'hx-swap-oob="true"' in r.text
    assert f"<b>{field}</b>" in r.text.replace("&#39;", "'")
    for word in words:
        assert word in r.text.replace("&#39;", "'"), word
    assert "data-invalid" in r.text and field in r.text


def test_every_bad_field_is_named_at_once(client):
    form = form_for(notes_state(), logits=["x", "-2", "y"], temperature="99")
    text = client.post("/softmax/results", data=form).text
    for field in ("logits[0, 0]", "logits[0, 2]", "temperature"):
        assert f"<b>{field}</b>" in text


def test_resizing_keeps_what_fits(client):
    state = PRESETS["batch"].make(0)  # 3 × 4, labels [0, 3, 2]
    r = client.post("/softmax/lab", data=form_for(state, N="2", K="3"), headers={"HX-Request": "true"})
    assert r.status_code == 200
    # rows 0, 1 and columns 0–2 stay; label 3 no longer exists, so it moves to the last class, 2
    assert r.headers["HX-Replace-Url"] == "/softmax?v=1&logits=2x3:2,1,0.1,0.5,2.5,-1&labels=2:0,2&temperature=1"
    assert r.text.lstrip().startswith('<div id="lab"')
    assert 'id="label-1"' in r.text and 'id="label-2"' not in r.text
    r = client.post("/softmax/lab", data=form_for(notes_state(), N="2"))
    assert r.headers["HX-Replace-Url"] == "/softmax?v=1&logits=2x3:3,-2,-100,0,0,0&labels=2:0,0&temperature=1"


@pytest.mark.parametrize(("query", "field"), [
    ("v=1&logits=1x3:3,-2,-100&labels=1:3&temperature=1", "labels[0]"),
    ("v=1&logits=1x3:3,-2,-100&labels=2:0,1&temperature=1", "labels"),
    ("v=1&logits=1x3:3,-2,-100&labels=1:0&temperature=25", "temperature"),
    ("v=1&logits=5x3:" + ",".join(["0"] * 15) + "&labels=5:0,0,0,0,0", "logits"),
    ("v=1&logits=1x11:" + ",".join(["0"] * 11) + "&labels=1:0", "logits"),
    ("v=1&logits=1x1:0&labels=1:0", "logits"),
    ("v=1&logits=1x3:3,-2&labels=1:0", "logits"),
    ("v=1&logits=1x3:3,-2,nan&labels=1:0", "logits[2]"),
    ("v=1&logits=1x3:3,-2,1e9&labels=1:0", "logits[0, 2]"),
    ("v=1&logits=1x3:3,-2,-100&labels=1:0&stride=2", "stride"),
    ("v=2&logits=1x3:3,-2,-100&labels=1:0", "v"),
    ("logits=1x3:3,-2,-100&labels=1:0", "v"),
])
def test_a_bad_link_explains_itself(client, query, field):
    r = client.get(f"/softmax?{query}")
    assert r.status_code == 422
    assert "does not open" in r.text
    assert f"<b>{field}</b>" in r.text
    assert "Open the default example" in r.text


def test_gradcheck_badge(client):
    for key in ("notes", "big", "hot", "batch"):
        r = client.post("/softmax/gradcheck", data=form_for(PRESETS[key].make(0)))
        assert r.status_code == 200
        assert "badge--ok" in r.text, (key, r.text[:400])
        assert "data-figure=" in r.text
    r = client.post("/softmax/gradcheck", data=form_for(notes_state(), temperature="nope"))
    assert r.status_code == 422


def provenance(client, array: str, index: str, state: SoftmaxState | None = None):
    data = {**form_for(state or PRESETS["batch"].make(0)), "array": array, "index": index}
    return client.post("/softmax/provenance", data=data)


def test_provenance_forward_and_backward(client):
    # probs[1, 2] ← the whole row 1 of logits (and exp[1, 2], S[1])
    cells_ = provenance(client, "probs", "1,2").json()["cells"]
    assert cells_["logits"] == ["1,0", "1,1", "1,2", "1,3"]
    assert cells_["exp"] == ["1,2"] and cells_["sum_exp"] == ["1"]
    # dlogits[1, 3] ← probs[1, 3], onehot[1, 3], labels[1]
    cells_ = provenance(client, "dlogits", "1,3").json()["cells"]
    assert cells_ == {"probs": ["1,3"], "onehot": ["1,3"], "labels": ["1"]}
    # the loss ← every ℓn; ℓ1 ← log p[1, label 3] and labels[1]
    assert provenance(client, "loss", "").json()["cells"] == {"nll": ["0", "1", "2"]}
    assert provenance(client, "nll", "1").json()["cells"] == {"log_probs": ["1,3"], "labels": ["1"]}
    # J[0, 1, 2] ← p[0, 1], p[0, 2]
    assert provenance(client, "jacobian", "0,1,2").json()["cells"] == {"probs": ["0,1", "0,2"]}
    # the naive route and the row maxima
    assert provenance(client, "naive_exp", "2,1").json()["cells"] == {"scaled": ["2,1"], "logits": ["2,1"]}
    assert provenance(client, "naive_nll", "1").json()["cells"] == {"naive_probs": ["1,3"], "labels": ["1"]}
    assert provenance(client, "row_max", "0").json()["cells"]["logits"] == ["0,0", "0,1", "0,2", "0,3"]


def test_provenance_refuses_what_it_does_not_know(client):
    r = provenance(client, "x", "0,0")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "array"]
    r = provenance(client, "probs", "9,9")
    assert r.status_code == 422 and "outside probs" in r.json()["detail"][0]["msg"]
    r = provenance(client, "probs", "a,b")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "index"]


def test_the_page_draws_bars_with_the_label_marked(client):
    html = client.get("/softmax/preset/batch").text
    charts = re.findall(r'<figure class="barchart" data-bars="([^"]+)">(.*?)</figure>', html, re.S)
    assert [key for key, _ in charts] == [f"probabilities_sample_{n}" for n in range(3)]  # one chart per sample
    chart = charts[1][1]  # sample 1, label 3
    assert "sample 1: label 3, −log p<sub>3</sub> = 2.721" in chart
    bars = re.findall(r'<rect class="barchart__bar( is-marked)?"[^>]* height="([^"]+)" fill="([^"]+)">', chart)
    assert [bool(marked) for marked, _, _ in bars] == [False, False, False, True]
    assert bars[3][2] == "url(#hatch-probabilities_sample_1)" and f'id="hatch-{charts[1][0]}"' in chart
    assert re.findall(r'class="barchart__tick is-marked"[^>]*>([^<]*)<', chart) == ["3", "label"]
    # the values written on the bars: softmax of [0.5, 2.5, −1, 0] (shifted [−2, 0, −3.5, −2.5],
    # S = 1 + 0.135335 + 0.030197 + 0.082085 = 1.247618) → p = [0.10847, 0.80153, 0.024204, 0.065793]
    assert re.findall(r'class="barchart__value"[^>]*>([^<]*)<', chart) == ["0.1085", "0.8015", "0.0242", "0.06579"]
    heights = [float(h) for _, h, _ in bars]  # 140 px for p = 1
    assert heights == pytest.approx([140 * p for p in (0.10847, 0.80153, 0.024204, 0.065793)], abs=0.01)
    assert "data-figure" not in html.split('id="probabilities"')[1].split("</section>")[0]  # no Plotly figure


def test_no_inline_script_on_the_page(client):
    html = client.get(STORED_LINK).text
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+=", html)


def test_link_state_round_trips_exactly():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n, k = int(rng.integers(1, 5)), int(rng.integers(2, 11))
        state = SoftmaxState(rng.normal(size=(n, k)) * 10 ** rng.uniform(-3, 5), rng.integers(0, k, n),
                             float(rng.uniform(0.05, 20)))
        again = from_link(state.to_query(), Settings())
        np.testing.assert_array_equal(again.logits, state.logits)
        np.testing.assert_array_equal(again.labels, state.labels)
        assert again.temperature == state.temperature


def test_hand_worked_two_equal_logits(client):
    html = client.get("/softmax/preset/coin").text
    assert cells(html, "probs") == {"0,0": "0.5", "0,1": "0.5"}
    assert f"L = {math.log(2):.4f}" in html  # ln 2 = 0.6931
    assert cells(html, "dlogits") == {"0,0": "-0.5", "0,1": "0.5"}
