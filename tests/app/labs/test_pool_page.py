"""The pooling lab's pages and fragments: full page vs fragment, link state, bad links and forms, provenance.

Expected numbers are worked by hand here from the notes' examples, not recomputed by the engine.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.pool.presets import PRESETS
from app.web.labs.pool.state import PoolState, from_link

# A link as the app wrote it on 2026-11-22 (notes 001's 4×4 example, x[0,0,0,0] changed to 12, window 3).
# It must keep opening with the same numbers: links made today still open later.
STORED_LINK = ("/pool?v=1&x=1x1x4x4:12,1,-11,0,0,10,-15,-16,23,100,2,3,-23,0,7,20&pool=max&size=2&stride=2"
               "&dout=ones&step=3")
# The overlapping example with a typed dout (1…9) for the pooling and for ReLU.
TYPED_LINK = ("/pool?v=1&x=1x1x4x4:1,2,3,0,4,9,5,1,0,6,2,3,1,0,2,4&pool=max&size=2&stride=1"
              "&dout=1x1x3x3:1,2,3,4,5,6,7,8,9&relu_dout=1x1x4x4:1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1")


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def cells(html: str, array: str, plane: str = "0,0") -> list[str]:
    """The texts of the cells of the first table of ``array`` for one plane, in order, from the results."""
    results = html[html.index('id="results"'):]
    tables = re.findall(rf'<table class="heatmap[^"]*" data-arr="{array}"[^>]*>(.*?)</table>', results, re.S)
    table = next(t for t in tables if f'data-idx="{plane},' in t)
    return re.findall(rf'<td data-idx="{plane},\d+,\d+"[^>]*>([^<]*)(?:<sub[^>]*>[^<]*</sub>)?</td>', table)


def state_of(link: str) -> PoolState:
    return from_link(link.split("?", 1)[1], Settings())


def form_for(state: PoolState, **overrides) -> dict:
    N, C, H, W = state.x.shape
    data = {"N": N, "C": C, "H": H, "W": W, "pool": state.pool, "size": state.size, "stride": state.stride,
            "dout_mode": state.dout_mode, "dout_seed": state.dout_seed, "step": state.step,
            "x_shape": "x".join(map(str, state.x.shape)), "x": [str(v) for v in state.x.ravel()]}
    if state.dout_mode == "typed":
        data.update({"dout_shape": "x".join(map(str, state.dout_typed.shape)),
                     "dout": [str(v) for v in state.dout_typed.ravel()],
                     "relu_dout_shape": "x".join(map(str, state.relu_dout_typed.shape)),
                     "relu_dout": [str(v) for v in state.relu_dout_typed.ravel()]})
    data.update(overrides)
    return data


def post(client, path: str, data: dict):
    return client.post(path, data=data, headers={"HX-Request": "true"})


def test_bare_pool_redirects_to_the_notes_example(client):
    r = client.get("/pool", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == ("/pool?v=1&x=1x1x4x4:2,1,-11,0,0,10,-15,-16,23,100,2,3,-23,0,7,20"
                                     "&pool=max&size=2&stride=2&dout=ones")


def test_full_page_for_a_plain_request_fragment_for_htmx(client):
    full = client.get(STORED_LINK)
    assert full.status_code == 200
    assert full.text.lstrip().startswith("<!doctype html>")
    assert "css/labs/pool.css" in full.text and "js/labs/pool.js" in full.text
    fragment = client.get(STORED_LINK, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="lab"')


def test_the_notes_4x4_example(client):
    html = client.get("/pool/preset/notes-4x4").text
    # windows {2, 1, 0, 10}, {−11, 0, −15, −16}, {23, 100, −23, 0}, {2, 3, 7, 20}
    assert cells(html, "out") == ["10", "0", "100", "20"]
    # where: (1, 1), (0, 1), (0, 1), (1, 1) inside each window; flat in the plane 1·4+1, 0·4+3, 2·4+1, 3·4+3
    assert cells(html, "window_argmax") == ["3", "1", "1", "3"]
    assert cells(html, "argmax") == ["5", "3", "9", "15"]
    assert cells(html, "dx") == ["0", "0", "0", "1", "0", "1", "0", "0", "0", "1", "0", "0", "0", "0", "0", "1"]
    # ReLU on the same x: the negatives and the zeros go to 0
    assert cells(html, "relu_out") == ["2", "1", "0", "0", "0", "10", "0", "0", "23", "100", "2", "3",
                                       "0", "0", "7", "20"]
    assert cells(html, "relu_mask") == ["1", "1", "0", "0", "0", "1", "0", "0", "1", "1", "1", "1",
                                        "0", "0", "1", "1"]


def test_stored_link_still_opens_with_the_same_numbers(client):
    html = client.get(STORED_LINK).text
    assert cells(html, "out") == ["12", "0", "100", "20"]  # x[0,0,0,0] = 12 now wins the first window
    assert cells(html, "dx") == ["1", "0", "0", "1", "0", "0", "0", "0", "0", "1", "0", "0", "0", "0", "0", "1"]
    assert "out[0, 0, 1, 1]" in html  # the window at step 3
    assert r"\max(2, 3, 7, 20) = 20" in html


def test_the_notes_routing_example(client):
    html = client.get("/pool/preset/notes-routing").text
    assert cells(html, "out") == ["4"]
    assert cells(html, "dx") == ["0", "0", "0", "10"]
    assert "dx[0,0,1,1] = dout[0,0,0,0] = 10" in html


def test_overlapping_windows_add_up(client):
    html = client.get(TYPED_LINK).text
    # 9 at (1, 1) wins the four windows around it: dout 1 + 2 + 4 + 5
    assert "dx[0,0,1,1] = dout[0,0,0,0] + dout[0,0,0,1] + dout[0,0,1,0] + dout[0,0,1,1] = 1 + 2 + 4 + 5 = 12" in html
    assert cells(html, "dx") == ["0", "0", "0", "0", "0", "12", "9", "0", "0", "15", "0", "0", "0", "0", "0", "9"]
    assert "×4" in html  # the routing drawing counts the arrivals


def test_average_pooling_spreads_dout_over_k_squared(client):
    state = state_of(TYPED_LINK)
    r = post(client, "/pool/lab", form_for(state, pool="avg"))
    assert r.status_code == 200
    # out[0,0,0,0] = (1 + 2 + 4 + 9)/4 = 4; dx[0,0,0,0] = 1/4 (one window), dx[0,0,1,1] = (1+2+4+5)/4 = 3
    assert cells(r.text, "out")[0] == "4"
    dx = cells(r.text, "dx")
    assert dx[0] == "0.25" and dx[5] == "3"
    assert ("dx[0,0,1,1] = (dout[0,0,0,0] + dout[0,0,0,1] + dout[0,0,1,0] + dout[0,0,1,1]) / 4 = "
            "(1 + 2 + 4 + 5) / 4 = 3") in r.text
    assert "pool=avg" in r.headers["HX-Replace-Url"]


def test_ties_say_which_index_wins(client):
    html = client.get("/pool/preset/ties").text
    assert cells(html, "window_argmax") == ["0", "1", "0", "0"]
    assert "4 windows hold more than one maximum" in html
    assert "tied at (0, 3), (1, 3) → <b>(0, 3) wins</b>" in html
    assert html.count('class="tie-loser"') >= 7


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_opens(client, key):
    r = client.get(f"/pool/preset/{key}?seed=7", follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200, page.text[:500]
    assert 'data-arr="out"' in page.text and 'data-arr="relu_dx"' in page.text


def test_random_preset_is_reproducible(client):
    a = client.get("/pool/preset/random?seed=5", follow_redirects=False).headers["location"]
    b = client.get("/pool/preset/random?seed=5", follow_redirects=False).headers["location"]
    c = client.get("/pool/preset/random?seed=6", follow_redirects=False).headers["location"]
    assert a == b != c and "dout=random:5" in a


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_links_round_trip_exactly(seed):
    rng = np.random.default_rng(seed)
    state = PoolState(rng.standard_normal((2, 3, 7, 6)), "avg", 3, 2, dout_mode="typed",
                      dout_typed=rng.standard_normal((2, 3, 3, 2)), relu_dout_typed=rng.standard_normal((2, 3, 7, 6)),
                      step=5)
    back = from_link(state.to_query(), Settings())
    for name in ("x", "dout_typed", "relu_dout_typed"):
        np.testing.assert_array_equal(getattr(back, name), getattr(state, name), err_msg=name)
    assert (back.pool, back.size, back.stride, back.dout_mode, back.step) == ("avg", 3, 2, "typed", 5)


def test_a_long_state_is_deflated_and_still_opens(client):
    x = np.round(np.random.default_rng(0).standard_normal((4, 4, 16, 16)), 3)
    query = PoolState(x, "max", 2, 1).to_query()
    assert query.startswith("v=1&z=")
    r = client.get("/pool?" + query)
    assert r.status_code == 200
    np.testing.assert_array_equal(from_link(query, Settings()).x, x)


BROKEN = {
    "x=2x2:1,2,3": "x",
    "x=1x1x2x2:1,2,3": "x",
    "x=1x1x2x2:1,2,3,abc": "x[3]",
    "x=1x1x2x2:1,2,3,inf": "x[3]",
    "x=1x1x33x1:" + ",".join(["1"] * 33): "x",
    "x=2x3x32x32:" + ",".join(["1"] * 6144): "x",  # each size within its limit, the whole over max_elements
    "x=5x1x1x1:1,2,3,4,5": "x",
    "pool=min": "pool",
    "size=0": "size",
    "size=5": "size",
    "stride=1.5": "stride",
    "stride=9": "stride",
    "step=4": "step",  # 2×2 windows on 4×4: 4 windows, 0 to 3
    "dout=1x1x3x3:1,2,3,4,5,6,7,8,9": "dout",  # the output is 2×2
    "dout=random:-1": "dout",
    "relu_dout=1x1x4x4:" + ",".join(["1"] * 16): "relu_dout",  # only read with a typed dout
    "colour=red": "colour",
}
BASE = {"x": "1x1x4x4:2,1,-11,0,0,10,-15,-16,23,100,2,3,-23,0,7,20", "pool": "max", "size": "2", "stride": "2"}


@pytest.mark.parametrize("change,field", BROKEN.items())
def test_a_tampered_link_names_the_field_and_offers_the_default(client, change, field):
    key, _, value = change.partition("=")
    params = {"v": "1", **BASE, key: value}
    r = client.get("/pool?" + "&".join(f"{k}={v}" for k, v in params.items()))
    assert r.status_code == 422, r.text[:300]
    assert f"<b>{field}</b>" in r.text
    assert "Open the default example" in r.text


def test_a_typed_relu_dout_of_the_wrong_shape_is_refused(client):
    r = client.get(TYPED_LINK.replace("relu_dout=1x1x4x4:" + ",".join(["1"] * 16), "relu_dout=1x1x2x2:1,1,1,1"))
    assert r.status_code == 422 and "<b>relu_dout</b>" in r.text and "x has shape 1 × 1 × 4 × 4" in r.text


@pytest.mark.parametrize("query", ["v=2&x=1", "x=1", "v=1&z=%%%", "v=1&z=AAAA", "v=1&v=1&x=1"])  # bare v=1 opens
def test_broken_link_envelopes_are_422_never_500(client, query):
    assert client.get("/pool?" + query).status_code == 422


def test_an_edit_answers_the_results_and_the_new_link(client):
    state = state_of(STORED_LINK)
    x = [str(v) for v in state.x.ravel()]
    x[5] = "50"  # x[0,0,1,1]: 10 → 50 wins the first window from the 12
    r = post(client, "/pool/results", form_for(state, x=x))
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section id="results"')
    assert cells(r.text, "out") == ["50", "0", "100", "20"]
    assert cells(r.text, "dx")[:6] == ["0", "0", "0", "1", "0", "1"]
    assert "x=1x1x4x4:12,1,-11,0,0,50," in r.headers["HX-Replace-Url"]


def test_a_bad_cell_is_a_422_naming_it_that_swaps_only_the_message(client):
    state = state_of(TYPED_LINK)
    x = [str(v) for v in state.x.ravel()]
    x[6] = "oops"
    dout = [str(v) for v in state.dout_typed.ravel()]
    dout[0] = ""
    r = post(client, "/pool/results", form_for(state, x=x, dout=dout))
    assert r.status_code == 422
    assert r.headers["HX-Reswap"] == "none"
    assert 'hx-swap-oob="true"' in r.text and "x[0, 0, 1, 2]" in r.text and "&#39;oops&#39; is not a number" in r.text
    assert "dout[0, 0, 0, 0]" in r.text and "is empty" in r.text
    assert "HX-Replace-Url" not in r.headers


def test_a_window_larger_than_the_input_shows_why_and_keeps_the_inputs(client):
    state = state_of(STORED_LINK)
    r = post(client, "/pool/lab", form_for(state, H="3", size="4", step="0"))
    assert r.status_code == 422
    assert "No output for these settings" in r.text and "window 4×4 is larger than the input 3×4" in r.text
    assert 'id="dim-size"' in r.text and 'value="4"' in r.text
    assert "x=1x1x3x4:12,1,-11,0,0,10,-15,-16,23,100,2,3&pool=max&size=4" in r.headers["HX-Replace-Url"]


def test_settings_over_the_limits_are_refused_not_clamped(client):
    state = state_of(STORED_LINK)
    r = post(client, "/pool/lab", form_for(state, W="33", stride="5", size="0", pool="min"))
    assert r.status_code == 422
    for text in ("W</b>: must be between 1 and 32, got 33", "stride</b>: must be between 1 and 4, got 5",
                 "size</b>: must be between 1 and 4, got 0", "pool</b>: must be max or avg"):
        assert text in r.text


def test_resizing_keeps_what_fits_and_typed_douts_follow(client):
    state = state_of(TYPED_LINK)
    r = post(client, "/pool/lab", form_for(state, W="5"))
    assert r.status_code == 200
    url = r.headers["HX-Replace-Url"]
    assert "x=1x1x4x5:1,2,3,0,0,4,9,5,1,0,0,6,2,3,0,1,0,2,4,0" in url
    assert "dout=1x1x3x4:1,2,3,1,4,5,6,1,7,8,9,1" in url  # new output column: dout 1
    assert "relu_dout=1x1x4x5:" in url


def test_switching_dout_to_typed_starts_from_ones(client):
    state = state_of(STORED_LINK)
    r = post(client, "/pool/lab", form_for(state, dout_mode="typed"))
    assert r.status_code == 200
    assert 'name="dout"' in r.text and 'name="relu_dout"' in r.text
    assert "dout=1x1x2x2:1,1,1,1" in r.headers["HX-Replace-Url"]


def test_random_dout_is_drawn_from_the_seed(client):
    state = state_of(STORED_LINK)
    a = post(client, "/pool/lab", form_for(state, dout_mode="random", dout_seed="3"))
    b = post(client, "/pool/lab", form_for(state, dout_mode="random", dout_seed="3"))
    assert a.status_code == 200 and cells(a.text, "dout") == cells(b.text, "dout") != ["1"] * 4
    assert "dout=random:3" in a.headers["HX-Replace-Url"]


def test_the_window_steps_and_wraps(client):
    state = state_of(STORED_LINK)
    r = post(client, "/pool/window", {**form_for(state), "step_delta": "1"})
    assert r.status_code == 200 and "out[0, 0, 0, 0]" in r.text  # step 3 + 1 wraps to 0 of 4
    assert r"\max(12, 1, 0, 10) = 12" in r.text
    assert "step=" not in r.headers["HX-Replace-Url"]
    r = post(client, "/pool/window", {**form_for(state), "step_delta": "-2"})
    assert "out[0, 0, 0, 1]" in r.text and "step=1" in r.headers["HX-Replace-Url"]


def test_provenance_of_a_dx_cell_is_the_dout_cells_routed_to_it(client):
    state = state_of(TYPED_LINK)
    r = client.post("/pool/provenance", data={**form_for(state), "array": "dx", "index": "0,0,1,1"})
    assert r.status_code == 200
    assert sorted(r.json()["cells"]["dout"]) == ["0,0,0,0", "0,0,0,1", "0,0,1,0", "0,0,1,1"]


def test_provenance_of_an_out_cell_is_its_window_and_winner(client):
    state = state_of(TYPED_LINK)
    got = client.post("/pool/provenance", data={**form_for(state), "array": "out", "index": "0,0,1,2"}).json()
    assert sorted(got["cells"]["x"]) == ["0,0,1,2", "0,0,1,3", "0,0,2,2", "0,0,2,3"]
    assert got["cells"]["argmax"] == ["0,0,1,2"]


def test_provenance_the_other_way_round(client):
    state = state_of(TYPED_LINK)
    got = client.post("/pool/provenance", data={**form_for(state), "array": "dout", "index": "0,0,2,2"}).json()
    assert got["cells"]["dx"] == ["0,0,3,3"]  # window {2, 3, 2, 4}: the 4 wins
    got = client.post("/pool/provenance", data={**form_for(state), "array": "x", "index": "0,0,0,0"}).json()
    assert got["cells"]["out"] == ["0,0,0,0"]  # a corner is in one window only
    got = client.post("/pool/provenance", data={**form_for(state), "array": "relu_dx", "index": "0,0,2,1"}).json()
    assert got["cells"]["relu_dout"] == ["0,0,2,1"] and got["cells"]["relu_mask"] == ["0,0,2,1"]


@pytest.mark.parametrize("array,index", [("secrets", "0"), ("dx", "9,9,9,9"), ("dx", "a,b"), ("relu_out", "0,0,4,0"),
                                         ("dout", "0,0,3,3")])
def test_bad_provenance_requests_are_422(client, array, index):
    state = state_of(TYPED_LINK)
    r = client.post("/pool/provenance", data={**form_for(state), "array": array, "index": index})
    assert r.status_code == 422


def test_gradcheck_badges_without_kinks(client):
    x = "1x1x4x4:1.5,2.5,-1.5,0.5,3.5,0.5,2,-3,1,4,-2,0.5,2.5,3,-1,1"
    state = from_link(f"v=1&x={x}&pool=max&size=2&stride=1&dout=random:1", Settings())
    r = post(client, "/pool/gradcheck", form_for(state))
    assert r.status_code == 200
    assert r.text.count("badge--ok") == 2 and "not differentiable" not in r.text


def test_gradcheck_badge_says_ties_are_not_differentiable(client):
    r = post(client, "/pool/gradcheck", form_for(state_of(client.get("/pool/preset/ties", follow_redirects=False)
                                                          .headers["location"])))
    assert r.status_code == 200
    assert "not differentiable at 4 tied windows" in r.text and "11 of 16 entries of x left out" in r.text
    assert "badge--bad" not in r.text  # no misleading error: the other 5 entries agree
    assert "x = 0: 2 of 16 entries" in r.text  # ReLU's kink


def test_presets_refuse_bad_keys_and_seeds(client):
    assert client.get("/pool/preset/nope", follow_redirects=False).status_code == 404
    assert client.get("/pool/preset/random?seed=abc", follow_redirects=False).status_code == 422


def test_the_page_has_no_inline_script_or_handlers(client):
    from tests.app.test_pages import parse

    tags = parse(client.get(STORED_LINK).text)
    assert not tags.script_bodies
    for tag, attrs in tags.tags:
        assert not [name for name in attrs if name.startswith("on")], tag
        if tag == "script":
            assert attrs.get("src"), "a <script> without src breaks the CSP"


def test_the_lab_is_linked_from_the_landing_page(client):
    assert 'href="/pool"' in client.get("/").text


def test_a_long_dout_token_of_the_routing_drawing_holds_its_number(client):
    # a 26 px disc held 2.5 or -3, but of -0.0001234 it showed "0001": its white digits off the disc were invisible
    link = ("/pool?v=1&x=1x1x4x4:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16&pool=max&size=2&stride=2"
            "&dout=1x1x2x2:-0.00012345,1,2.5,-3")
    page = client.get(link).text
    tokens = re.findall(r'<g class="routing__token[^"]*"><title>[^<]*</title>\s*<rect x="[\d.]+" y="[\d.]+" '
                        r'width="(\d+)"[^>]*></rect>\s*<text[^>]*>([^<]*)</text>', page)
    assert [text for _, text in tokens] == ["-0.0001234", "1", "2.5", "-3"]
    widths = {text: int(width) for width, text in tokens}
    assert widths["1"] == widths["2.5"] == widths["-3"] == 26  # a short number keeps its disc
    assert widths["-0.0001234"] >= 7.2 * len("-0.0001234") + 4  # 11 px bold digits (7.2 px a character, "." less)



def test_a_long_dx_number_of_the_routing_drawing_fits_inside_its_cell(client):
    # dx's numbers sit at the foot of their 60 px cells in 12 px mono (7.3 px a character): -0.0001234 was 73 px wide,
    # past its cell, and in the last column off the drawing's edge, its minus sign cut
    link = ("/pool?v=1&x=1x1x4x4:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16&pool=max&size=2&stride=2"
            "&dout=1x1x2x2:1,-12.5,2.5,-0.00012345")
    page = client.get(link).text
    values = re.findall(r'<text class="routing__value"[^>]*?(?: style="font-size: ([\d.]+)px")?>([^<]*)</text>', page)
    assert [text for *_, text in values] == ["0", "0", "0", "0", "0", "1", "0", "-12.5", "0", "0", "0", "0", "0", "2.5",
                                            "0", "-0.0001234"]
    for size, text in values:
        assert (not size) == (len(text) <= 7), text  # a short number keeps the stylesheet's 12 px
        width = 7.3 * (float(size) if size else 12) / 12 * len(text)
        assert width <= 60 - 6, text  # inside its 60 px cell, 3 px from each side
