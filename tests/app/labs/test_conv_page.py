"""The convolution lab's pages and fragments: full page vs fragment, link state, bad links and forms."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.kit.link import READABLE_LIMIT
from app.web.labs.conv.presets import PRESETS
from app.web.labs.conv.state import ConvState, from_link

# A link as the app wrote it on 2026-11-22 (notes 002, b = 0.5, window at position 3).
# It must keep opening with the same numbers: links made today still open later.
STORED_LINK = "/conv?v=1&x=1x1x3x3:1,2,4,3,2,1,5,2,1&w=1x1x2x2:1,-1,2,1&b=1:0.5&stride=1&pad=0&dout=ones&step=3"


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def cells(html: str, array: str, plane: str = "0,0") -> list[str]:
    """The texts of the cells of ``array`` for one plane, in order, from the results."""
    results = html[html.index('id="results"'):]
    table = re.search(rf'<table class="heatmap" data-arr="{array}"[^>]*>(.*?)</table>', results, re.S).group(1)
    return re.findall(rf'<td data-idx="{plane},\d+,\d+"[^>]*>([^<]*)</td>', table)


def form_for(state: ConvState, **overrides) -> dict:
    N, C, H, W = state.x.shape
    F, _, KH, KW = state.w.shape
    data = {"N": N, "C": C, "H": H, "W": W, "F": F, "KH": KH, "KW": KW, "stride": state.stride, "pad": state.pad,
            "dout_mode": state.dout_mode, "dout_seed": state.dout_seed, "step": state.step,
            "x_shape": "x".join(map(str, state.x.shape)), "x": [str(v) for v in state.x.ravel()],
            "w_shape": "x".join(map(str, state.w.shape)), "w": [str(v) for v in state.w.ravel()],
            "b_shape": str(F), "b": [str(v) for v in state.b]}
    data.update(overrides)
    return data


def test_bare_conv_redirects_to_the_default_state(client):
    r = client.get("/conv", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/conv?v=1&x=1x1x5x5:1,2,3")


def test_full_page_for_a_plain_request_fragment_for_htmx(client):
    full = client.get(STORED_LINK)
    assert full.status_code == 200
    assert full.text.lstrip().startswith("<!doctype html>")
    fragment = client.get(STORED_LINK, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="lab"')


def test_stored_link_still_opens_with_the_same_numbers(client):
    html = client.get(STORED_LINK).text
    assert cells(html, "out") == ["7.5", "3.5", "13.5", "6.5"]
    assert cells(html, "dx") == ["1", "0", "-1", "3", "3", "0", "2", "3", "1"]
    assert "out[0, 0, 1, 1]" in html  # the window at step 3


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_opens(client, key):
    r = client.get(f"/conv/preset/{key}?seed=7", follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200, page.text[:500]
    assert 'data-arr="out"' in page.text


def test_notes_edge_preset_gives_all_minus_six(client):
    html = client.get("/conv/preset/edge").text
    assert cells(html, "out") == ["-6"] * 9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_links_round_trip_exactly(seed):
    settings = Settings()
    rng = np.random.default_rng(seed)
    state = ConvState(rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 3, 2)),
                      rng.standard_normal(2), stride=2, pad=1, dout_mode="typed",
                      dout_typed=rng.standard_normal((2, 2, 4, 4)), step=5)
    back = from_link(state.to_query(), settings)
    for name in ("x", "w", "b", "dout_typed"):
        np.testing.assert_array_equal(getattr(back, name), getattr(state, name), err_msg=name)
    assert (back.stride, back.pad, back.dout_mode, back.step) == (2, 1, "typed", 5)


def test_a_long_state_is_deflated_and_still_opens(client):
    rng = np.random.default_rng(0)
    state = ConvState(np.round(rng.standard_normal((4, 4, 16, 16)), 3), np.round(rng.standard_normal((4, 4, 5, 5)), 3),
                      np.zeros(4), pad=2)
    query = state.to_query()
    assert query.startswith("v=1&z=") and len(query) < 40_000
    readable = f"v=1&x={state.x.shape}"
    assert len(readable) < READABLE_LIMIT
    r = client.get("/conv?" + query)
    assert r.status_code == 200
    np.testing.assert_array_equal(from_link(query, Settings()).x, state.x)


BROKEN = {
    "x=2x2:1,2,3": "x",  # 3 values for a 2×2 shape, and only 2 sizes
    "x=1x1x2x2:1,2,3": "x",
    "x=1x1x2x2:1,2,3,abc": "x[3]",
    "x=1x1x2x2:1,2,3,nan": "x[3]",
    "x=1x1x99x2:" + ",".join(["1"] * 198): "x",
    "x=1x2x2x2:1,2,3,4,5,6,7,8": "w",  # channels of x and w differ
    "stride=0": "stride",
    "stride=1.5": "stride",
    "pad=9": "pad",
    "step=99": "step",
    "dout=2x2:1,2,3,4": "dout",
    "dout=random:-1": "dout",
    "colour=red": "colour",
    "view=everything": "view",  # the open section's name in links older than tab
    "tab=everything": "tab",
}
BASE = {"x": "1x1x3x3:1,2,4,3,2,1,5,2,1", "w": "1x1x2x2:1,-1,2,1", "b": "1:0"}


@pytest.mark.parametrize("change,field", BROKEN.items())
def test_a_tampered_link_names_the_field_and_offers_the_default(client, change, field):
    key, _, value = change.partition("=")
    params = {"v": "1", **BASE, key: value}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = client.get("/conv?" + query)
    assert r.status_code == 422, r.text[:300]
    assert f"<b>{field}</b>" in r.text
    assert "Open the default example" in r.text


@pytest.mark.parametrize("query", ["v=2&x=1", "x=1", "v=1&z=%%%", "v=1&z=AAAA", "v=1&v=1&x=1",
                                   "v=1&z=eJzLSM3JyQcABiwCFQ&x=1"])
def test_broken_link_envelopes_are_422_never_500(client, query):
    r = client.get("/conv?" + query)
    assert r.status_code == 422


def test_an_edit_answers_the_results_and_the_new_link(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    form = form_for(state, w=["3", "-1", "2", "1"])
    r = client.post("/conv/results", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section id="results"')
    assert cells(r.text, "out") == ["9.5", "7.5", "19.5", "10.5"]
    assert "w=1x1x2x2:3,-1,2,1" in r.headers["HX-Replace-Url"]


def test_a_bad_cell_is_a_422_naming_it_that_swaps_only_the_message(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    form = form_for(state, x=["1", "2", "4", "3", "oops", "1", "5", "2", "1"], b=[""])
    r = client.post("/conv/results", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert r.headers["HX-Reswap"] == "none"
    assert 'hx-swap-oob="true"' in r.text and "x[0, 0, 1, 1]" in r.text and "&#39;oops&#39; is not a number" in r.text
    assert "b[0]" in r.text and "is empty" in r.text
    assert "HX-Replace-Url" not in r.headers


def test_an_impossible_kernel_shows_why_where_the_result_would_be(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    form = form_for(state, KH="5")
    r = client.post("/conv/lab", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert "No output for these settings" in r.text
    assert 'id="dim-KH"' in r.text and 'value="5"' in r.text
    assert "w=1x1x5x2:1,-1,2,1,0,0,0,0,0,0" in r.headers["HX-Replace-Url"]  # the link keeps the typed shape


def test_resizing_keeps_what_fits_and_restarts_the_window(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/lab", data=form_for(state, W="4", step="3"), headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "x=1x1x3x4:1,2,4,0,3,2,1,0,5,2,1,0" in r.headers["HX-Replace-Url"]


def test_dims_over_the_limits_are_refused_not_clamped(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/lab", data=form_for(state, H="33", F="0"), headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert "H</b>: must be between 1 and 32, got 33" in r.text and "F</b>: must be between 1 and 4" in r.text


def test_the_window_steps_and_wraps(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/window", data={**form_for(state), "step_delta": "1"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "out[0, 0, 0, 0]" in r.text  # step 3 + 1 wraps to 0 of 4
    assert "step=" not in r.headers["HX-Replace-Url"]


def test_provenance_of_a_dx_cell(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/provenance", data={**form_for(state), "array": "dx", "index": "0,0,0,1"})
    assert r.status_code == 200
    got = r.json()["cells"]
    # x[0,1] is reached by windows (0,0) through w[0,1] and (0,1) through w[0,0]
    assert sorted(zip(got["dout"], got["w"], strict=True)) == [("0,0,0,0", "0,0,0,1"), ("0,0,0,1", "0,0,0,0")]


def test_provenance_of_an_x_col_cell_is_its_window_and_kernel_offset(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/provenance", data={**form_for(state), "array": "x_col", "index": "0,3"})
    got = r.json()["cells"]
    assert sorted(got["x_padded"]) == ["0,0,1,1", "0,0,1,2", "0,0,2,1", "0,0,2,2"]
    assert got["out"] == ["0,0,1,1"]
    assert got["w"] == ["0,0,0,0"] and got["w_row"] == ["0,0"]  # row 0: channel 0 at kernel offset (0, 0)


@pytest.mark.parametrize("array,index", [("secrets", "0"), ("dx", "9,9,9,9"), ("dx", "a,b")])
def test_bad_provenance_requests_are_422(client, array, index):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/provenance", data={**form_for(state), "array": array, "index": index})
    assert r.status_code == 422


def test_gradcheck_badge(client):
    state = from_link(STORED_LINK.split("?", 1)[1], Settings())
    r = client.post("/conv/gradcheck", data=form_for(state), headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "badge--ok" in r.text and "14 of 14 entries" in r.text


def test_presets_refuse_bad_keys_and_seeds(client):
    assert client.get("/conv/preset/nope", follow_redirects=False).status_code == 404
    assert client.get("/conv/preset/random?seed=abc", follow_redirects=False).status_code == 422


def test_a_link_older_than_tab_opens_its_section_and_answers_the_tab_name(client):
    old = client.get("/conv", params={"v": "1", **BASE, "view": "backward"})
    assert old.status_code == 200 and 'id="tab-backward" aria-selected="true"' in old.text
    again = from_link(urlencode({"v": "1", **BASE, "view": "backward"}), Settings()).to_query()
    assert "tab=backward" in again and "view=" not in again
