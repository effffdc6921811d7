"""Stage-by-stage reveals kept in the link (issue 9): the softmax stable vs as written (z → z − max → exp → sum →
divide) and an optimizer's update (Adam: g → m → v → m̂ → v̂ → update). The stage is a link field like any other:
left out when 0, named in a 422 when bad, walked by the kit's stepper; the numbers are the engine's.
"""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import get_settings
from app.web.labs.optim import stages as optim_stages
from app.web.labs.optim.run import VECTOR, run
from app.web.labs.optim.state import from_link as optim_from_link
from app.web.labs.softmax import stages as softmax_stages
from app.web.labs.softmax.state import from_link as softmax_from_link
from app.web.labs.softmax.view import compute
from engine.explain import softmax as softmax_lab
from tests.app.labs.test_optim_page import STORED_LINK as OPTIM_LINK
from tests.app.labs.test_optim_page import form_for as optim_form
from tests.app.labs.test_softmax_page import STORED_LINK as SOFTMAX_LINK
from tests.app.labs.test_softmax_page import form_for as softmax_form

HX = {"HX-Request": "true"}
BIG = "/softmax?v=1&logits=1x3:1000,0,-1&labels=1:0&temperature=1"  # exp(1000) overflows the formula as written


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def group(html: str, key: str) -> dict[str, str]:
    """The data attributes of the stepper group ``data-stepper=key`` (what static/js/steps.js reads)."""
    tag = re.search(rf'<div [^>]*data-stepper="{re.escape(key)}"[^>]*>', html).group(0)
    return dict(re.findall(r'data-(position|count)="(\d+)"', tag))


def query(link: str) -> str:
    return link.partition("?")[2]


# ---------------------------------------------------------------- softmax


def test_softmax_stage_round_trips_and_is_left_out_when_0(client):
    settings = get_settings()
    state = softmax_from_link(query(SOFTMAX_LINK) + "&stage=3", settings)
    assert state.stage == 3 and state.to_query().endswith("&stage=3")
    assert softmax_from_link(state.to_query(), settings).to_query() == state.to_query()
    assert "stage" not in softmax_from_link(query(SOFTMAX_LINK), settings).to_query()
    page = client.get(SOFTMAX_LINK + "&stage=3")
    assert page.status_code == 200
    assert "stage <b>3</b> of 5: exponentiate" in page.text
    assert group(page.text, "#stable") == {"position": "3", "count": "6"}
    whole = client.get(SOFTMAX_LINK)
    assert "every stage at once" in whole.text and "reveal__later" not in whole.text
    assert group(whole.text, "#stable") == {"position": "0", "count": "6"}


@pytest.mark.parametrize("value, words", [("6", ["between 0 and 5"]), ("-1", ["between 0 and 5"]),
                                          ("x", ["not a number"]), ("1.5", ["whole number"])])
def test_a_bad_softmax_stage_is_a_422_naming_it(client, value, words):
    r = client.get(SOFTMAX_LINK + f"&stage={value}")
    assert r.status_code == 422
    assert "<b>stage</b>" in r.text and all(w in r.text for w in words), r.text[:2000]
    state = softmax_from_link(query(SOFTMAX_LINK), get_settings())
    r = client.post("/softmax/results", data=softmax_form(state, stage=value), headers=HX)
    assert r.status_code == 422 and "stage" in r.text


def test_each_softmax_stage_shows_the_engines_numbers(client):
    state = softmax_from_link(query(SOFTMAX_LINK), get_settings())
    r, _ = compute(state)
    naive = softmax_lab.naive_trace(r["scaled"], r["labels"])
    for stage, key in enumerate(softmax_stages.STAGES, 1):
        html = unescape(client.get(SOFTMAX_LINK + f"&stage={stage}").text)
        assert html.count("reveal__now") >= 1 and f"of 5: {softmax_stages.TITLES[key]}" in html, stage
        expected = {"z": r["scaled"], "shift": r["shifted"], "exp": r["exp"], "sum": r["sum_exp"][:, None],
                    "divide": r["probs"]}[key]
        for n in range(2):
            for v in expected[n]:
                assert softmax_stages.tex(float(v)) in html, (stage, n, v)
            naive_row = {"z": naive.z, "shift": naive.z, "exp": naive.exp, "sum": naive.sum_exp[:, None],
                         "divide": naive.probs}[key][n]
            for v in naive_row:
                assert softmax_stages.tex(float(v)) in html, (stage, n, "naive", v)
    # the later stages wait: at stage 1 the probabilities are held back
    assert client.get(SOFTMAX_LINK + "&stage=1").text.count("reveal__later") >= 5


def test_the_softmax_stage_shows_where_the_formula_as_written_breaks(client):
    assert "exp(z) overflows" in client.get(BIG + "&stage=3").text
    assert "inf / inf has no value" in client.get(BIG + "&stage=5").text
    assert "exp(z) overflows" not in client.get(BIG + "&stage=2").text


def test_the_softmax_stepper_walks_the_stages_and_wraps(client):
    state = softmax_from_link(query(SOFTMAX_LINK), get_settings())
    r = client.post("/softmax/stable", data=softmax_form(state, stage="2", step_delta="1"), headers=HX)
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="stable"')
    assert "stage <b>3</b> of 5" in r.text and r.headers["HX-Replace-Url"].endswith("&stage=3")
    r = client.post("/softmax/stable", data=softmax_form(state, stage="5", step_delta="1"), headers=HX)
    assert "every stage at once" in r.text and "stage=" not in r.headers["HX-Replace-Url"]
    r = client.post("/softmax/results", data=softmax_form(state, stage="4"), headers=HX)
    assert "stage <b>4</b> of 5" in r.text and r.headers["HX-Replace-Url"].endswith("&stage=4")  # an edit keeps it


# ---------------------------------------------------------------- the optimizer's update


def test_optim_stage_round_trips_and_is_left_out_when_0(client):
    settings = get_settings()
    state = optim_from_link(query(OPTIM_LINK) + "&stage=3", settings)
    assert state.stage == 3 and "&j=1&stage=3&" in state.to_query()
    assert optim_from_link(state.to_query(), settings).to_query() == state.to_query()
    assert "stage" not in optim_from_link(query(OPTIM_LINK), settings).to_query()
    page = client.get(OPTIM_LINK + "&stage=3")
    assert page.status_code == 200
    assert "stage <b>3</b> of 6: <b>v</b>" in page.text
    assert group(page.text, "#optim-stages") == {"position": "3", "count": "7"}
    assert "the whole update — step through g → m → v → m̂ → v̂ → update" in client.get(OPTIM_LINK).text


@pytest.mark.parametrize("link, value, words", [
    (OPTIM_LINK, "7", ["stages 1 to 6", "g → m → v → m̂ → v̂ → update"]),
    (OPTIM_LINK, "x", ["not a number"]),
    (OPTIM_LINK.replace("opt=adam,lr:0.01,beta1:0.9,beta2:0.995,eps:1e-07,eps_placement:inside,bias_correction:off,"
                        "weight_decay:0", "opt=sgd,lr:0.1"), "3", ["sgd", "stages 1 to 2", "g → update"]),
])
def test_a_bad_optim_stage_is_a_422_naming_it(client, link, value, words):
    r = client.get(link + f"&stage={value}")
    assert r.status_code == 422
    assert "<b>stage</b>" in r.text and all(w in r.text for w in words), r.text[:2000]


def test_each_optim_stage_shows_the_engines_numbers(client):
    state = optim_from_link(query(OPTIM_LINK), get_settings())
    step = run(state)[state.k - 1]
    names = optim_stages.stage_names(state.opt.name, state.opt.hp)
    assert names == ("g", "m", "v", "m_hat", "v_hat", "update")
    for stage in range(1, len(names) + 1):
        html = client.get(OPTIM_LINK + f"&stage={stage}").text
        part = html[html.index('id="optim-stages"'):]
        assert part.count("reveal__later") == len(names) - stage and part.count("reveal__now") == 1, stage
    html = client.get(OPTIM_LINK + "&stage=1").text
    g = float(np.asarray(step.grads[VECTOR])[state.j])
    assert rf"g_{{1}} = {optim_stages.tex_number(g)}" in html and g == 0.01
    m = float(np.asarray(step.record.slots["m"][VECTOR])[state.j])  # m_1 = 0.1 · 0.01
    assert optim_stages.tex_number(m) in client.get(OPTIM_LINK + "&stage=2").text and m == pytest.approx(0.001)


def test_the_optim_stepper_walks_and_another_optimizer_starts_whole(client):
    state = optim_from_link(query(OPTIM_LINK), get_settings())
    r = client.post("/optim/stages", data=optim_form(state, stage="1", step_delta="1"), headers=HX)
    assert r.status_code == 200 and 'id="optim-stages"' in r.text and "stage <b>2</b> of 6" in r.text
    assert "&stage=2&" in r.headers["HX-Replace-Url"]
    r = client.post("/optim/stages", data=optim_form(state, stage="6", step_delta="1"), headers=HX)
    assert "the whole update" in r.text and "stage=" not in r.headers["HX-Replace-Url"]
    r = client.post("/optim/results", data=optim_form(state, stage="5", optimizer="sgd"), headers=HX)
    assert r.status_code == 200 and "stage=" not in r.headers["HX-Replace-Url"]
    r = client.post("/optim/results", data=optim_form(state, stage="99"), headers=HX)
    assert r.status_code == 422 and "stage" in r.text


# ---------------------------------------------------------------- every stepper says where it is


@pytest.mark.parametrize("path, key", [("/conv", "#window"), ("/pool", "#window"), ("/norm", "#stage"),
                                       ("/softmax", "#stable"), ("/optim", "#optim-stages"), ("/optim", "#step-rows"),
                                       ("/network", "#net-step")])
def test_each_stepper_group_has_its_position_and_count(client, path, key):
    html = client.get(path, follow_redirects=True).text
    found = group(html, key)
    assert set(found) == {"position", "count"} and 0 <= int(found["position"]) < int(found["count"]), found
