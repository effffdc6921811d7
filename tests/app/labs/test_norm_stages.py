"""The batch-norm graph walked stage by stage (①→⑥ in train, ①→④ in eval), the stage in the link."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.labs.test_norm_page import HX, STORED, TINY, form_of


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_a_link_opens_its_stage_with_the_numbers(client):
    r = client.get(STORED + "&stage=6")
    assert r.status_code == 200
    assert "stage <b>⑥</b> of ①②③④⑤⑥: <code>dx</code>" in r.text
    assert "three paths reach xᵢ" in r.text and "norm-node--x norm-node--current" in r.text
    assert "Σ of 3 terms" in r.text and "through the variance σ²" in r.text
    assert "norm-edge--current" in r.text


def test_without_a_stage_the_whole_graph_and_no_current_box(client):
    r = client.get(STORED)
    assert "the whole graph — step through ①→⑥" in r.text and "norm-node--current" not in r.text


def test_the_stepper_walks_and_wraps_and_keeps_the_stage_in_the_link(client):
    form = form_of(client.get(STORED + "&stage=5").text)
    r = client.post("/norm/stage", data={**form, "step_delta": "1"}, headers=HX)
    assert r.status_code == 200 and "<code>dx</code>" in r.text and "stage=6" in r.headers["HX-Replace-Url"]
    r = client.post("/norm/stage", data={**form_of(client.get(STORED + "&stage=6").text), "step_delta": "1"},
                    headers=HX)
    assert "the whole graph" in r.text and "stage=" not in r.headers["HX-Replace-Url"]


def test_eval_has_four_stages_and_a_fifth_is_refused(client):
    link = TINY.replace("mode=train", "mode=eval")
    assert "stage <b>④</b> of ①②③④: <code>dx</code>" in client.get(link + "&stage=4").text
    r = client.get(link + "&stage=5")
    assert r.status_code == 422 and "stage" in r.text


def test_each_stage_sums_its_terms(client):
    for stage, array in enumerate(("dbeta", "dgamma", "dx_hat", "dvar", "dmean", "dx"), start=1):
        r = client.get(TINY + f"&stage={stage}")
        assert f"<code>{array}</code>" in r.text and "Σ of" in r.text, stage
