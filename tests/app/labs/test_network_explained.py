"""The network lab's backward explained: one element of each gradient with its numbers, paired provenance on
the shown layer, and the chain from the loss to a picked parameter element ending in its update."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.labs.test_network_page import NOTES_LINK, form_fields, link_fields, post, replace_field

BACK_0 = NOTES_LINK.replace("op=loss", "op=b:0")  # the notes' conv, backward


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_the_backward_panel_writes_one_element_of_each_gradient_with_its_numbers(client):
    page = client.get(BACK_0).text
    assert "One element with its numbers: dw[" in page and "One element with its numbers: db[" in page


def test_the_chain_runs_from_the_loss_to_the_weight_and_ends_in_its_update(client):
    page = client.get(BACK_0 + "&chain=0.w:1,0,2,2").text
    assert "The chain: how the loss reached <code>0.w[1,0,2,2]</code>" in page
    hops = page[page.index("net-chain__hops"):page.index("net-chain__total")]
    order = [where for where in ("the loss", "layer 3", "layer 2", "layer 1", "layer 0") if where in hops]
    assert order == ["the loss", "layer 3", "layer 2", "layer 1", "layer 0"]
    assert hops.index("the loss") < hops.index("layer 0")
    assert "And the optimizer's update of this one number" in page and r"\theta_{1}" in page


@pytest.mark.parametrize("chain", ["0.w:9,0,0,0", "7.w:0", "0.q:0", "0.w:1,0"])
def test_a_bad_pick_in_a_link_names_the_chain(client, chain):
    r = client.get(BACK_0 + "&chain=" + chain)
    assert r.status_code == 422 and "chain" in r.text


def test_the_picker_follows_another_element_and_the_link_keeps_it(client):
    fields = form_fields(client.get(BACK_0).text)
    fields = replace_field(replace_field(fields, "chain_param", "0.b"), "chain_index", "1")
    r = post(client, "/network/step", fields)
    assert r.status_code == 200 and "how the loss reached <code>0.b[1]</code>" in r.text
    assert link_fields(r.headers["HX-Replace-Url"])["chain"] == "0.b:1"


def test_hovering_a_cell_of_the_shown_layer_answers_its_terms(client):
    fields = form_fields(client.get(NOTES_LINK.replace("op=loss", "op=b:1")).text)  # relu, backward
    r = post(client, "/network/provenance", fields, array="dx", index="0,0,0,0")
    assert r.status_code == 200
    answer = r.json()
    assert answer["cells"] == {"dout": ["0,0,0,0"], "mask": ["0,0,0,0"]}
    assert [t["coefficient"]["array"] for t in answer["terms"]["terms"]] == ["mask"]
    conv = form_fields(client.get(BACK_0).text)
    dw = post(client, "/network/provenance", conv, array="dw", index="0,0,0,0").json()["terms"]
    assert dw["count"] == 4 and abs(dw["total"] - dw["value"]) < 1e-12  # 2×2 windows of a 4×4 input, 3×3 kernel
