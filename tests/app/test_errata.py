"""The errata page and the slips each lab shows: every slip listed with a computed right value, every link opens
its example, the lab shows the slip there, and an edit that leaves the example takes it away."""

from __future__ import annotations

import re
from html import unescape

import pytest

from app.web.kit import errata
from app.web.labs.conv.presets import PRESETS as CONV_PRESETS
from tests.app.labs.test_conv_page import form_for

SLIPS = errata.SLIPS


def test_the_errata_page_lists_every_slip_with_its_link(client):
    r = client.get("/errata")
    assert r.status_code == 200
    html = unescape(r.text)
    for slip in SLIPS:
        assert f'id="{slip.key}"' in html, slip.key
        assert slip.printed in html, slip.key
        assert errata.right_value(slip.key) in html, slip.key
        assert f'href="{errata.link(slip)}"' in html, slip.key
    assert 'href="/errata"' in client.get("/").text  # reachable from every page's footer


def test_the_readme_slips_and_the_issues_are_all_there():
    keys = {s.key for s in SLIPS}
    assert {"adam-moments", "edge-filter", "eps-inside", "v-next", "dropout-p", "two-sample"} <= keys  # README
    assert {"im2col-size", "dx12-k21", "dk-matrix", "softmax-values", "beta2", "naive-pad"} <= keys  # the issue


@pytest.mark.parametrize("key,words", [
    ("adam-moments", ["momentum_w2 = 0.1 · 0.01 = 0.001", "5 × 10⁻⁷"]),
    ("edge-filter", ["[[0, 2, 4], [10, 12, 14], [20, 22, 24]]", "every output is −6"]),
    ("im2col-size", ["x_col 8 × 9"]),
    ("dx12-k21", ["dx12 = 13,100 = 1000·12 + 100·11"]),
    ("dk-matrix", ["dK = [[11, 12], [21, 22]]"]),
    ("softmax-values", ["1.84 × 10⁻⁴⁵", "0.0067"]),
    ("beta2", ["4 × 10⁻⁷", "2 × 10⁻⁶"]),
    ("naive-pad", ["[[7, 3], [13, 6]]", "(0, 0)"]),
])
def test_the_right_values_are_the_engines(key, words):
    text = errata.right_value(key)
    for word in words:
        assert word in text, (key, text)


@pytest.mark.parametrize("slip", SLIPS, ids=[s.key for s in SLIPS])
def test_each_link_opens_the_example_and_the_lab_shows_its_slip(client, slip):
    r = client.get(errata.link(slip))
    assert r.status_code == 200, (slip.key, r.url)
    shown = re.search(r'<div id="slips" class="slips">(.*?)</div>\n', r.text, re.S)
    assert shown and slip.printed in unescape(shown.group(1)), slip.key
    for key, value in slip.extra.items():
        assert f"{key}={value}" in str(r.url) or key == "tab" and value in str(r.url), (slip.key, r.url)


def test_an_edit_that_leaves_the_example_clears_its_slip(client):
    state = CONV_PRESETS["edge"].make(0)
    r = client.post("/conv/results", data=form_for(state), headers={"HX-Request": "true"})
    assert '<div id="slips" class="slips" hx-swap-oob="true">' in r.text and "print" in r.text
    changed = form_for(state, x=["0"] + [str(v) for v in range(2, 26)])  # not the notes' 5×5 any more
    r = client.post("/conv/results", data=changed, headers={"HX-Request": "true"})
    assert r.status_code == 200
    slips = r.text[r.text.index('<div id="slips"'):]
    assert "print" not in slips.split("</div>", 1)[0]


def test_a_page_without_a_slipped_example_shows_none(client):
    html = client.get("/pool", follow_redirects=True).text
    assert '<div id="slips" class="slips">\n</div>' in html
