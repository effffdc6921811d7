"""Issue 13: no request over 0.5 CPU-s at the limits, or it is refused by a named limit. The network lab's traced
step is bounded by Settings.network_max_step_numbers (a 24-layer network at batch 64 cost 0.42-1.8 CPU-s a page):
its link and its form are a 422 naming batch, the limit and why; the same model at a batch within it opens."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import numpy as np
import pytest

from app.settings import Settings
from app.web.labs.network.presets import PRESETS
from app.web.labs.network.state import check_step_numbers
from bench.pageforms import as_data, parse, replaced

S = Settings()
DEEP = {"input_shape": [1, 8, 8], "layers": [*[{"type": "conv2d", "filters": 8, "kernel": 3, "pad": 1},
                                              {"type": "relu"}] * 11, {"type": "flatten"},
                                            {"type": "linear", "units": 10}]}


def deep_link(batch: int) -> str:
    return "/network?" + urlencode({"v": "1", "model": json.dumps(DEEP, separators=(",", ":")), "data": "digits",
                                    "batch": str(batch), "seed": "0", "opt": "sgd", "lr": "0.1", "step": "0"})


def test_the_deepest_network_at_the_largest_batch_is_refused_by_its_named_limit(client):
    r = client.get(deep_link(S.network_max_batch))
    assert r.status_code == 422
    text = " ".join(r.text.split())
    assert "Settings.network_max_step_numbers" in text and "754,304" in text and "use a batch of at most 33" in text


def test_the_same_network_within_the_limit_opens(client):
    r = client.get(deep_link(33), follow_redirects=True)
    assert r.status_code in (200, 503)  # (503: its replay's progress, on a loaded machine)


def test_the_form_names_batch_too(client):
    page = parse("network", client.get(deep_link(33), follow_redirects=True).text)
    r = client.post("/network/results", data=as_data(replaced(page.fields, "batch", str(S.network_max_batch))),
                    headers={"HX-Request": "true"})
    assert r.status_code == 422 and "network_max_step_numbers" in r.text


@pytest.mark.parametrize("key", list(PRESETS))
def test_every_preset_fits_at_the_largest_batch(key):
    check_step_numbers(PRESETS[key].make(0).model, S.network_max_batch, S)  # no FieldError


def test_an_op_answer_over_its_named_limit_is_a_422(client):
    """conv2d at the API's sizes (x 4×64×32×32, 64 filters 3×3) answered 77 MB in 3.5 CPU-s; x_col alone holds
    4·30·30 × 576 = 2,073,600 numbers."""
    rng = np.random.default_rng(0)
    body = {"inputs": {"x": rng.normal(size=(4, 64, 32, 32)).round(2).tolist(),
                       "w": rng.normal(size=(64, 64, 3, 3)).round(2).tolist(), "b": [0.0] * 64}}
    r = client.post("/api/v1/ops/conv2d", json=body)
    assert r.status_code == 422
    item = r.json()["detail"][0]
    assert item["loc"] == ["body", "inputs"] and "Settings.api_max_answer_numbers" in item["msg"]


def test_cs231n_sized_ops_still_answer(client):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 500))
    r = client.post("/api/v1/ops/batchnorm", json={"inputs": {"x": x.round(3).tolist(), "gamma": [1.0] * 500,
                                                              "beta": [0.0] * 500}})
    assert r.status_code == 200
