"""The conv lab's backward stepper (dx cell by cell, dw cell by cell, in the link) and the terms its
provenance answers."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.conv.presets import PRESETS
from app.web.labs.conv.state import from_link
from tests.app.labs.test_conv_page import STORED_LINK, form_for

EDGE = ("/conv?v=1&x=1x1x5x5:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25"
        "&w=1x1x3x3:1,0,-1,1,0,-1,1,0,-1&b=1:0&stride=1&pad=0&dout=ones")


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_a_link_opens_the_dx_stepper_at_its_cell(client):
    r = client.get(EDGE + "&tab=backward&walk_step=6")
    assert r.status_code == 200
    assert "cell <b>7</b> of 25: <code>dx[0, 0, 1, 1]</code>" in r.text
    assert "(2 of them not zero) sum to 2; col2im gives dx[0, 0, 1, 1] = 2" in r.text
    # col2im's overlapping adds, with the numbers
    adds = r"dX_{\text{col}}[4,0] + dX_{\text{col}}[3,1] + dX_{\text{col}}[1,3] + dX_{\text{col}}[0,4]"
    assert adds + " = 0 + 1 + 0 + 1 = 2" in r.text


def test_old_links_open_at_the_first_dx_cell_and_the_link_keeps_the_walk(client):
    assert "<code>dx[0, 0, 0, 0]</code>" in client.get(EDGE + "&tab=backward").text
    state = from_link(EDGE.split("?", 1)[1] + "&tab=backward&walk=dw&walk_step=5", Settings())
    assert state.walk == "dw" and state.walk_step == 5
    assert "walk=dw&walk_step=5" in state.to_query()
    assert "walk" not in from_link(EDGE.split("?", 1)[1], Settings()).to_query()


def test_the_dw_stepper_shows_the_taps_and_the_matmul_entry(client):
    r = client.get(EDGE + "&tab=backward&walk=dw&walk_step=5")
    assert "<code>dw[0, 0, 1, 2]</code>" in r.text
    assert r"X_{\text{col}}[5,:]^{\top}" in r.text and "= 126" in r.text


@pytest.mark.parametrize("query,field", [("&walk_step=25", "walk_step"), ("&walk=dz", "walk"),
                                         ("&walk_step=-1", "walk_step")])
def test_bad_walks_name_the_field(client, query, field):
    r = client.get(EDGE + query)
    assert r.status_code == 422 and field in r.text


def test_the_walk_steps_wraps_and_is_kept_in_the_link(client):
    state = from_link(STORED_LINK.split("?", 1)[1] + "&tab=backward", Settings())
    form = {**form_for(state), "tab": "backward", "walk": "dx", "walk_step": "8"}
    r = client.post("/conv/walk", data={**form, "step_delta": "1"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<code>dx[0, 0, 0, 0]</code>" in r.text  # 8 + 1 wraps to 0 of 9
    assert r.text.lstrip().startswith('<section id="walk"')
    r = client.post("/conv/walk", data={**form, "step_delta": "-1"}, headers={"HX-Request": "true"})
    assert "walk_step=7" in r.headers["HX-Replace-Url"] and "tab=backward" in r.headers["HX-Replace-Url"]


def test_switching_the_walk_starts_it_over(client):
    state = from_link(STORED_LINK.split("?", 1)[1] + "&tab=backward", Settings())
    form = {**form_for(state), "tab": "backward", "walk": ["dx", "dw"], "walk_step": "8"}
    r = client.post("/conv/results", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<code>dw[0, 0, 0, 0]</code>" in r.text
    assert "walk=dw" in r.headers["HX-Replace-Url"] and "walk_step" not in r.headers["HX-Replace-Url"]


def test_provenance_answers_the_terms_of_a_gradient_cell(client):
    state = from_link(EDGE.split("?", 1)[1], Settings())
    r = client.post("/conv/provenance", data={**form_for(state), "array": "dx", "index": "0,0,1,1"})
    terms = r.json()["terms"]
    assert terms["label"] == "dx[0,0,1,1]" and terms["value"] == 2 and terms["total"] == 2 and terms["count"] == 4
    pairs = [(t["coefficient"]["label"], t["upstream"]["label"], t["product"]) for t in terms["terms"]]
    assert pairs[0] == ("w[0,0,1,1]", "dout[0,0,0,0]", 0.0) and pairs[-1] == ("w[0,0,0,0]", "dout[0,0,1,1]", 1.0)
    assert terms["text"].startswith("dx[0,0,1,1] = 2, the sum of 4 terms: w[0,0,1,1] (0) times dout[0,0,0,0] (1)")
    # a forward array has cells but no terms
    out = client.post("/conv/provenance", data={**form_for(state), "array": "out", "index": "0,0,0,0"}).json()
    assert "terms" not in out and out["cells"]["x"]


def test_a_dw_cell_lists_every_window_and_db_its_douts(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    dw = client.post("/conv/provenance", data={**form_for(state), "array": "dw", "index": "0,0,1,0"}).json()["terms"]
    assert [t["coefficient"]["label"] for t in dw["terms"]] == ["x[0,0,1,0]", "x[0,0,1,1]", "x[0,0,2,0]", "x[0,0,2,1]"]
    db = client.post("/conv/provenance", data={**form_for(state), "array": "db", "index": "0"}).json()["terms"]
    assert db["count"] == 4 and db["total"] == 4 and re.match(r"db\[0\] = 4", db["text"])


def test_the_transposed_view_follows_the_dx_stepper(client):
    r = client.get(EDGE + "&tab=backward&walk_step=12")
    assert "The stepper's cell dx[0, 0, 2, 2] is row 12 of Cᵀ" in r.text and "Cᵀ (25 × 9)" in r.text
    assert r"C^{\top}[12,:]" in r.text
    state = replace(PRESETS["random"].make(0), tab="backward")  # 2 channels, 2 filters, pad 1: C is 50 × 50
    r = client.get(f"/conv?{state.to_query()}")
    assert "C would be 50 × 50: too large to read (at most 36" in r.text
