"""Hover provenance on the new ops' grids in the labs (issue 14): the pool lab's activations, the softmax lab's SVM
card and the norm lab's group-norm card are named tables whose hover answers the engine's own provenance in the
page's table names (and the activations' dx their terms); every table the page names answers (never a 422)."""

from __future__ import annotations

import re

from engine.registry import run_op
from tests.app.labs.test_network_page import form_fields, post


def arrays_on(html: str) -> set[str]:
    return set(re.findall(r'<table class="heatmap[^"]*"[^>]*data-arr="([^"]+)"', html))


def hover(client, lab: str, html: str, array: str, index: str) -> dict:
    r = post(client, f"/{lab}/provenance", form_fields(html, f"{lab}-form"), array=array, index=index)
    assert r.status_code == 200, (array, index, r.text[:300])
    return r.json()


def test_pool_activations(client):
    page = client.get("/pool", params={"v": "1", "x": "1x1x2x2:-2,0,1,3", "pool": "max", "size": "2",
                                       "stride": "2", "dout": "ones"}).text
    names = arrays_on(page)
    for op in ("sigmoid", "tanh", "leaky_relu"):
        assert {f"{op}_out", f"{op}_local_grad", f"{op}_dx"} <= names
    assert "act_dout" in names and "relu_x" in names
    got = hover(client, "pool", page, "sigmoid_out", "0,0,1,0")
    assert got["cells"] == {"relu_x": ["0,0,1,0"]}
    got = hover(client, "pool", page, "leaky_relu_dx", "0,0,0,0")
    assert got["cells"] == {"act_dout": ["0,0,0,0"], "leaky_relu_local_grad": ["0,0,0,0"]}
    terms = got["terms"]["terms"]
    assert [(t["coefficient"]["array"], t["upstream"]["array"]) for t in terms] == [("leaky_relu_local_grad",
                                                                                      "act_dout")]
    assert terms[0]["product"] == run_op("leaky_relu", {"x": [[[[-2.0, 0.0], [1.0, 3.0]]]]},
                                         {"slope": 0.01})["dx"][0, 0, 0, 0]
    got = hover(client, "pool", page, "act_dout", "0,0,1,1")
    assert got["cells"] == {f"{op}_dx": ["0,0,1,1"] for op in ("sigmoid", "tanh", "leaky_relu")}


def test_softmax_svm_card(client):
    page = client.get("/softmax", params={"v": "1", "logits": "2x3:3,-2,-100,1,2.5,0.2", "labels": "2:0,2",
                                          "temperature": "1"}).text
    assert {"svm_margins", "svm_positive", "svm_dlogits", "logits"} <= arrays_on(page)
    # margins[1, 1] = max(0, 2.5 − 0.2 + 1): logits[1, 1] against the label's logits[1, 2]
    assert hover(client, "softmax", page, "svm_margins", "1,1")["cells"] == {"logits": ["1,1", "1,2"],
                                                                             "labels": ["1"]}
    got = hover(client, "softmax", page, "svm_dlogits", "1,1")["cells"]
    assert got["svm_positive"] == ["1,1"] and got["labels"] == ["1"]


def test_norm_group_norm_card(client):
    link = client.get("/norm/preset/images", follow_redirects=False).headers["location"]
    page = client.get(link.replace("tab=bn", "tab=ln") if "tab=bn" in link else link + "&tab=ln").text
    names = arrays_on(page)
    gn = sorted(n for n in names if n.startswith("gn"))
    assert gn, names
    x_hat = next(n for n in gn if n.endswith("_x_hat"))
    g = int(re.match(r"gn(\d+)_", x_hat).group(1))
    got = hover(client, "norm", page, x_hat, "1,0,0,1")["cells"]
    fields = dict(form_fields(page, "norm-form"))
    c = int(fields.get("C", 0)) or None
    assert got[f"gn{g}_stats"] == ["1,0", "1,1"]  # its group's μ and σ²
    x_cells = got["x"]
    assert x_cells and all(cell.startswith("1,") for cell in x_cells)  # only sample 1
    per = len({cell.split(",")[1] for cell in x_cells})  # the channels of its group
    assert c is None or per * g == c
    stats = hover(client, "norm", page, f"gn{g}_stats", "0,1")["cells"]  # σ² of sample 0's group 0
    assert sorted(stats["x"]) == sorted(cell.replace("1,", "0,", 1) for cell in x_cells)
    r = post(client, "/norm/provenance", form_fields(page, "norm-form"), array="gn99_x_hat", index="0,0,0,0")
    assert r.status_code == 422


def test_softmax_svm_dlogits_terms(client):
    page = client.get("/softmax", params={"v": "1", "logits": "2x3:3,-2,-100,1,2.5,0.2", "labels": "2:0,2",
                                          "temperature": "1"}).text
    # row 1, label 2: classes 0 (1 − 0.2 + 1 > 0) and 1 (2.5 − 0.2 + 1 > 0) both violate: dlogits[1, 2] = −2/2
    got = hover(client, "softmax", page, "svm_dlogits", "1,2")["terms"]
    assert [t["upstream"]["array"] for t in got["terms"]] == ["svm_positive", "svm_positive"]
    assert sum(t["product"] for t in got["terms"]) == -1.0 == got["value"]
    got = hover(client, "softmax", page, "svm_dlogits", "1,0")["terms"]
    assert [(t["coefficient"]["label"], t["upstream"]["index"]) for t in got["terms"]] == [("1/N", "1,0")]
