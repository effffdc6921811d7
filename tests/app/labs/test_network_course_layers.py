"""The network builder's course layers and losses (issue 14): group norm, leaky ReLU, sigmoid, tanh, the multiclass
SVM loss and the L2/L1 weight penalty — offered by the builder, in the compact link, each bad value a 422 naming its
field and its bound, every op stepped through forward and backward, the loss panel equal to the JSON API's trace,
and the whole-network gradient check passing."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.kit.link import to_query
from app.web.labs.network.run import traced_step
from app.web.labs.network.state import LAYER_TYPES, from_link, timeline
from app.web.labs.optim import run as optim_run
from app.web.labs.optim.state import from_link as optim_from_link
from app.web.render.numbers import cell_text
from engine.network.model import model_to_json
from engine.network.params import init_params
from tests.app.labs.test_network_page import HX, form_fields, layer_errors, link_fields, post, replace_field


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def open_preset(client, key: str):
    """The preset's lab fragment (what the page swaps in) and its state."""
    loc = client.get(f"/network/preset/{key}", follow_redirects=False).headers["location"]
    return client.get(loc, headers=HX), from_link(loc.split("?", 1)[1], Settings())


def test_the_builder_offers_the_new_layers_and_losses(client):
    r, state = open_preset(client, "svm-groupnorm")
    assert r.status_code == 200
    for kind in ("groupnorm", "leaky_relu", "sigmoid", "tanh"):
        assert kind in LAYER_TYPES and f"<option>{kind}</option>" in r.text
    assert '<option value="svm_loss" selected>' in r.text and 'name="model.reg"' in r.text
    assert 'name="model.layers[1].groups" data-label="model.layers[1].groups" value="2"' in r.text
    assert 'name="model.layers[2].slope" data-label="model.layers[2].slope" value="0.1"' in r.text
    assert layer_errors(r.text) == []


def test_compact_link_round_trip_keeps_loss_and_penalties():
    _, state = open_preset(TestClient(create_app()), "svm-groupnorm")
    model = link_fields("/network?" + state.to_query())["model"]
    assert '"loss":"svm_loss"' in model and '"reg":0.01' in model and '"l1"' not in model
    assert '{"type":"groupnorm","groups":2}' in model and '{"type":"leaky_relu","slope":0.1}' in model
    again = from_link(state.to_query(), Settings())
    assert again.model == state.model and again.to_query() == state.to_query()


@pytest.mark.parametrize("kind,text", [("groupnorm", '{"type":"groupnorm","groups":2}'),
                                       ("leaky_relu", '{"type":"leaky_relu","slope":0.1}'),
                                       ("sigmoid", '{"type":"sigmoid"}'), ("tanh", '{"type":"tanh"}')])
def test_add_each_new_layer(client, kind, text):
    r, _ = open_preset(client, "lenet")
    fields = replace_field(form_fields(r.text), "add_where", "")
    fields = replace_field(fields, "add_type", kind)
    out = post(client, "/network/lab", fields, action="add")
    assert out.status_code == 200 and text in unescape(out.text)


@pytest.mark.parametrize("name,value,words", [
    ("model.layers[1].groups", "3", "groupnorm's 3 groups must divide the 4 channels"),
    ("model.layers[1].groups", "1.5", "must be a whole number"),
    ("model.layers[2].slope", "2", "must be in [0, 1], got 2"),
    ("model.layers[2].slope", "x", "is not a number"),
    ("model.reg", "-1", "must be in [0, 1000], got -1"),
    ("model.l1", "2000", "must be in [0, 1000], got 2000"),
    ("model.reg", "abc", "is not a number"),
    ("model.loss", "hinge", "must be one of softmax_cross_entropy, svm_loss"),
])
def test_a_bad_value_names_its_field_and_bound(client, name, value, words):
    r, _ = open_preset(client, "svm-groupnorm")
    out = post(client, "/network/lab", replace_field(form_fields(r.text), name, value))
    text = unescape(out.text)
    if out.status_code == 200:  # a shape that does not work: shown at its layer, the rest kept
        assert any(words in e for e in layer_errors(out.text)), layer_errors(out.text)
    else:
        assert out.status_code == 422 and name in text and words in text, text[:400]


def test_a_bad_link_is_a_422_naming_the_field(client):
    _, state = open_preset(client, "svm-groupnorm")
    fields = link_fields("/network?" + state.to_query())
    bad = fields["model"].replace('"reg":0.01', '"reg":-3')
    r = client.get("/network?" + to_query({**fields, "model": bad}, readable_limit=0))
    assert r.status_code == 422 and "model.reg" in unescape(r.text)


def test_every_operation_steps_forward_and_backward(client):
    _, state = open_preset(client, "svm-groupnorm")
    for op in timeline(state.model):
        r = client.get("/network?" + replace(state, op=op).to_query(), headers=HX)
        assert r.status_code == 200, (op, r.text[:300])
        assert "katex-error" not in r.text
    body = client.get("/network?" + replace(state, op="f:1").to_query(), headers=HX).text
    assert "Mean μ of each example&#39;s group (2 groups of 2 channels)" in body or \
        "Mean μ of each example's group (2 groups of 2 channels)" in body
    body = client.get("/network?" + replace(state, op="b:2").to_query(), headers=HX).text
    assert "Local slope: 1 where x &gt; 0, a elsewhere (from the forward pass)" in body


def test_the_loss_panel_equals_the_api_trace(client):
    """The SVM loss and the L2 penalty as the page shows them are the trace API's numbers on the same step."""
    state = replace(open_preset(client, "svm-groupnorm")[1], data="typed", x=np.random.default_rng(1).normal(
        size=(3, 1, 8, 8)).round(2), labels=np.array([1.0, 4.0, 7.0]), op="loss")
    html = client.get("/network?" + state.to_query(), headers=HX).text
    params = {k: v.tolist() for k, v in init_params(state.model, state.seed).items()}
    api = client.post("/api/v1/networks/trace", json={"model": model_to_json(state.model), "params": params,
                                                      "x": state.x.tolist(), "labels": [1, 4, 7]}).json()
    shown = unescape(html)
    assert "multiclass SVM (hinge) loss + the weight penalty" in shown
    assert "Margins max(0, z[n, j] − z[n, yₙ] + 1)" in shown
    assert api["l2_penalty"] > 0 and api["l1_penalty"] == 0
    assert abs(api["loss"] - api["data_loss"] - api["l2_penalty"]) < 1e-12
    assert cell_text(api["loss"]) in shown and cell_text(api["data_loss"]) in shown


def test_the_backward_of_a_penalized_weight_shows_the_penalty_gradient(client):
    _, state = open_preset(client, "svm-groupnorm")
    html = unescape(client.get("/network?" + replace(state, op="b:0").to_query(), headers=HX).text)
    assert "The penalty's gradient reg·w of 0.w" in html and "dw the optimizer gets: data gradient + penalty" in html


def test_whole_network_gradient_check_passes_with_the_new_layers(client):
    """Group norm, leaky ReLU, sigmoid, tanh, the SVM loss, L2 and L1 in one network: the page's numeric check."""
    model = ('{"input_shape":[1,4,4],"layers":[{"type":"conv2d","filters":4,"kernel":3,"pad":1},'
             '{"type":"groupnorm","groups":2},{"type":"leaky_relu","slope":0.1},{"type":"sigmoid"},{"type":"tanh"},'
             '{"type":"flatten"},{"type":"linear","units":3}],"loss":"svm_loss","reg":0.05,"l1":0.01}')
    query = to_query({"model": model, "data": "typed", "x": "2x1x4x4:" + ",".join(
        str(round(v, 2)) for v in np.random.default_rng(3).normal(size=32)), "labels": "2:0,2", "seed": "1",
        "opt": "sgd", "lr": "0.1", "op": "f:0"}, readable_limit=0)
    page = client.get("/network?" + query, headers=HX)
    assert page.status_code == 200, page.text[:300]
    r = post(client, "/network/gradcheck", form_fields(page.text))
    assert r.status_code == 200 and "badge--ok" in r.text, r.text[:500]
    worst = float(re.search(r'data-worst="([^"]+)"', r.text).group(1))
    assert worst < 1e-6


def test_open_an_update_in_the_optimizer_lab_from_its_state(client):
    """An update 12 steps into training opens in /optim as one step from the run's optimizer state (t0 = 12, m0, v0):
    the lab's θ after it is the network's, and its t is the run's."""
    _, state = open_preset(client, "svm-groupnorm")
    state = replace(state, step=12, op="u:1")  # the group norm's γ and β
    html = client.get("/network?" + state.to_query(), headers=HX).text
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)" data-open-lab="optimizer"', html)]
    assert len(hrefs) == 2, hrefs  # 1.gamma and 1.beta
    _, _, st = traced_step(state)
    for href, name in zip(hrefs, ("1.gamma", "1.beta"), strict=True):
        lab = optim_from_link(href.split("?", 1)[1], Settings())
        assert lab.starting is not None and lab.starting.t == 12 and lab.steps == 1
        step = optim_run.run(lab)[0]
        assert step.t == 13 == st.update.t
        assert np.array_equal(step.new_params["theta"], st.new_params[name]), name
    assert "t0 = 12, m0, v0" in unescape(html)
