"""The optimizer lab's starting state (t0, m0, v0, s0) and "continue from here": link round trip, 422s naming
the field, the numbers equal the JSON API's from the same state, old links unchanged, and a continued run equal
to the longer run it continues."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.optim import run as optim_run
from app.web.labs.optim import starting
from app.web.labs.optim.presets import PRESETS
from app.web.labs.optim.state import OptimState, OptSpec, from_link
from engine.optim import rules as optim_rules
from tests.app.export.test_export import assert_same, run_script
from tests.app.labs.test_optim_page import STORED_LINK, form_for, step_row

HX = {"HX-Request": "true"}
# cs231n assignment2/FullyConnectedNets.ipynb, Adam at t = 5: the first row of expected_next_w
CS231N_ADAM_ROW = [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977]


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def cs231n() -> OptimState:
    return PRESETS["cs231n-adam-t5"].make(0)


def numbers(html: str, array: str) -> list[float]:
    """The exact values of a step-table row (each cell's title ends in its full value)."""
    part = html[html.index('id="step-rows"'):]
    table = re.search(rf'<table class="heatmap steprow" data-arr="{array}"[^>]*>(.*?)</table>', part, re.S).group(1)
    return [float(v) for v in re.findall(r'title="[^"]*: ([-0-9.e+]+)"', table)]


def test_cs231n_adam_from_t5_reproduces_the_published_row(client):
    state = cs231n()
    steps = optim_run.run(state)
    assert steps[0].t == 6 and steps[0].record.t == 6
    got = steps[0].new_params[optim_run.VECTOR]
    assert np.max(np.abs(got - CS231N_ADAM_ROW) / np.maximum(1e-8, np.abs(got) + np.abs(CS231N_ADAM_ROW))) < 1e-6
    html = client.get(f"/optim?{state.to_query()}").text
    assert "Step t = 6" in html and 'name="t0"' in html and 'value="5"' in html
    assert step_row(html, "theta")[:2] == ["-0.4009", "-0.3484"]


def test_the_lab_equals_the_api_from_the_same_state(client):
    """Momentum and rmsprop from a given state, two steps: every θ and slot as POST /api/v1/optimizers answers."""
    for name, slot, hp in (("momentum", "v", {"lr": 0.1, "momentum": 0.9}), ("rmsprop", "s", {"lr": 0.01}),
                           ("adam", "m", {"lr": 0.01})):
        spec = OptSpec.make(name, hp)
        slots = {s: np.array([0.3, 0.05]) for s in ("m", "v", "s") if s in {"momentum": "v", "rmsprop": "s"}.get(
            name, "mv")}
        start = starting.StartingState(3, slots)
        base = PRESETS["random"].make(1)
        state = replace(base, opt=spec, names=("a", "b"), theta=np.array([1.0, -2.0]), grads=np.array(
            [[0.5, -0.25], [0.1, 0.2]]), steps=2, k=2, starting=start)
        steps = optim_run.run(from_link(state.to_query(), Settings()))
        body = {"params": {"w": [1.0, -2.0]}, "grads": [{"w": [0.5, -0.25]}, {"w": [0.1, 0.2]}], "hyperparams": hp,
                "state": {"t": 3, **{s: {"w": a.tolist()} for s, a in slots.items()}}}
        api = client.post(f"/api/v1/optimizers/{name}", json=body).json()["steps"]
        for lab_step, api_step in zip(steps, api, strict=True):
            assert lab_step.t == api_step["t"], name
            assert np.allclose(lab_step.new_params["theta"], api_step["params"]["w"], rtol=0, atol=1e-15), name
            assert np.allclose(lab_step.record.slots[slot]["theta"], api_step["state"][slot]["w"], atol=1e-15), name
        html = client.get(f"/optim?{state.to_query()}").text
        assert numbers(html, "theta") == pytest.approx(api[1]["params"]["w"], abs=1e-12)


def test_link_round_trip_and_old_links_unchanged():
    state = cs231n()
    query = state.to_query()
    assert "&t0=5&m0=5:0.6," in query and "&v0=5:0.7," in query
    again = from_link(query, Settings())
    assert again.starting.t == 5 and np.array_equal(again.starting.slots["v"], state.starting.slots["v"])
    assert again.to_query() == query
    # a link without a starting state opens as before and writes none; a zero state is left out of the link
    old = from_link(STORED_LINK.split("?", 1)[1], Settings())
    assert old.starting is None and "t0=" not in old.to_query()
    zero = replace(old, starting=starting.canonical(starting.zero("adam", old.P)))
    assert zero.to_query() == old.to_query()
    # a slot left out starts at zero
    partial = from_link(query.replace(re.search(r"&m0=[^&]*", query).group(0), ""), Settings())
    assert not partial.starting.slots["m"].any() and partial.starting.slots["v"][0] == 0.7


@pytest.mark.parametrize("edit,field,words", [
    (("t0=5", "t0=-1"), "t0", "between 0 and 1000000"),
    (("t0=5", "t0=2.5"), "t0", "whole number"),
    (("t0=5", "t0=1000001"), "t0", "MAX_T"),
    (("&v0=5:0.7,", "&v0=5:-0.7,"), "v0[w0]", "may not be negative"),
    (("&m0=5:", "&m0=4:"), "m0", "shape 4 needs 4 values"),
    (("&m0=5:", "&s0=1:1&m0=5:"), "s0", "adam keeps no s0"),
    (("&m0=5:0.6,", "&m0=5:abc,"), "m0[0]", "not a number"),
])
def test_a_bad_starting_state_in_a_link_is_a_422_naming_it(client, edit, field, words):
    query = cs231n().to_query().replace(*edit, 1)
    r = client.get(f"/optim?{query}")
    assert r.status_code == 422, r.text[:300]
    assert field in r.text and words in r.text


def test_the_form_posts_the_starting_state_and_names_a_bad_cell(client):
    state = cs231n()
    data = form_for(state, t0="5", start_for="adam", m0=[repr(float(v)) for v in state.starting.slots["m"]],
                    v0=[repr(float(v)) for v in state.starting.slots["v"]])
    r = client.post("/optim/results", data=data, headers=HX)
    assert r.status_code == 200 and "Step t = 6" in r.text
    assert numbers(r.text, "theta") == pytest.approx(CS231N_ADAM_ROW, abs=5e-9)
    assert "t0=5" in r.headers.get("HX-Replace-Url", "") + r.headers.get("HX-Push-Url", "")
    bad = client.post("/optim/results", data={**data, "v0": ["0.7", "-1", "0.6", "0.6", "0.6"]}, headers=HX)
    assert bad.status_code == 422 and "v0[w1]" in bad.text and "may not be negative" in bad.text
    bad_t = client.post("/optim/results", data={**data, "t0": "x"}, headers=HX)
    assert bad_t.status_code == 422 and "t0" in bad_t.text
    # another optimizer: its slots start at zero (adam's v is not momentum's velocity); t0 stays
    switched = client.post("/optim/lab", data={**data, "optimizer": "momentum"}, headers=HX)
    assert switched.status_code == 200 and 'name="v0"' in switched.text and 'name="m0"' not in switched.text
    assert 'id="t0" name="t0" inputmode="numeric" value="5"' in switched.text


def test_continue_from_here_equals_the_longer_run(client):
    """Three typed steps from zero; continue from step 2: the new run starts at t0 = 2 from θ2 and the state after
    step 2, and its step (t = 3) is the longer run's third step exactly."""
    base = replace(PRESETS["random"].make(2), steps=3, k=2)
    base = replace(base, grads=base.grads[:3])
    whole = optim_run.run(base)
    data = form_for(base)
    r = client.post("/optim/continue", data=data, headers=HX)
    assert r.status_code == 200, r.text[:300]
    url = r.headers.get("HX-Replace-Url") or r.headers.get("HX-Push-Url")
    cont = from_link(url.split("?", 1)[1], Settings())
    assert cont.starting.t == 2 and cont.steps == 1 and cont.k == 1
    assert np.array_equal(cont.theta, whole[1].new_params["theta"])
    assert np.array_equal(cont.starting.slots["v"], whole[1].record.slots["v"]["theta"])
    again = optim_run.run(cont)
    assert again[0].t == 3
    assert np.array_equal(again[0].new_params["theta"], whole[2].new_params["theta"])
    assert "Step t = 3" in r.text and 'id="t0" name="t0" inputmode="numeric" value="2"' in r.text
    # from the last step: the last gradient once more
    last = from_link(client.post("/optim/continue", data={**data, "k": "3"}, headers=HX)
                     .headers["HX-Replace-Url"].split("?", 1)[1], Settings())
    assert last.starting.t == 3 and np.array_equal(last.grads, base.grads[-1:])


def test_continue_refuses_an_overflowed_step(client):
    base = replace(PRESETS["random"].make(2), opt=OptSpec.make("sgd", {"lr": 10.0}), steps=1, k=1)
    base = replace(base, grads=np.full((1, base.P), 1e308))
    r = client.post("/optim/continue", data=form_for(base), headers=HX)
    assert r.status_code == 422 and "not a finite number" in r.text


def test_terms_of_the_first_step_use_the_given_state(client):
    """Hovering m at the first step from t0 = 5: β1·m0 (the given m0, a constant) + (1 − β1)·g6; m̂ divides by
    1 − β1⁶."""
    state = cs231n()
    start = {"t0": "5", "start_for": "adam", "m0": [repr(float(v)) for v in state.starting.slots["m"]],
             "v0": [repr(float(v)) for v in state.starting.slots["v"]]}
    r = client.post("/optim/provenance", data={**form_for(state), **start, "array": "m", "index": "0,0"}, headers=HX)
    assert r.status_code == 200, r.text[:300]
    labels = [t["upstream"]["label"] for t in r.json()["terms"]["terms"]]
    assert labels == ["m_5[0] = 0.6 (given)", "g_6[0]"], labels
    r = client.post("/optim/provenance", data={**form_for(state), **start, "array": "m_hat", "index": "0,0"},
                    headers=HX)
    terms = r.json()["terms"]["terms"]
    assert terms[0]["coefficient"]["label"] == "1/(1 − β1^6)"
    assert terms[0]["coefficient"]["value"] == pytest.approx(1 / (1 - 0.9**6))


@pytest.mark.parametrize("name,slot", [("momentum", "v"), ("rmsprop", "s"), ("adamw", "m")])
def test_the_numpy_export_starts_from_the_same_state(client, tmp_path, name, slot):
    """The exported NumPy script takes t0 and the slots too: it prints the page's arrays (test_export's check)."""
    slots = {s: np.array([0.4, 0.2, 0.1, 0.3]) for s in optim_rules.SLOTS[name]}
    base = PRESETS["random"].make(3)
    state = replace(base, opt=OptSpec.make(name, {"lr": 0.05}), starting=starting.StartingState(4, slots))
    query = state.to_query()
    assert f"{slot}0=" in query
    arrays = client.get(f"/optim/export/arrays.json?{query}").json()
    script = client.get(f"/optim/export/numpy.py?{query}").text
    assert "t0=4" in script
    assert_same(arrays, run_script(script, tmp_path))
