"""The normalization lab at /norm: links, presets, fragments, bad input, the gradient check, provenance.

Expected numbers are worked by hand here (the notes' two-sample batch and small batches), not
recomputed by calling the engine.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

HX = {"HX-Request": "true"}

# A stored link: it must keep opening with the same numbers (the notes' 003 two-sample batch).
# Feature 0: x = (1, 3), γ = 2, β = 0.5, dout = (0.3, −1.2) → x̂ = ∓1/√(1 + ε), y = 0.5 ∓ 2/√(1 + ε),
# dx₀ = γ(d₀ − d₁)ε / (2(σ² + ε)^{3/2}) = 2·1.5·1e-5/2/(1 + 1e-5)^{1.5} ≈ 1.5e-5.
# Feature 2: x = (0.5, 0.502): σ² = 1e-6 < ε, x̂ = ±0.001/√(1.1e-5) = ±0.3015, and dx is large:
# dx₀ = 1·(1 − (−0.5))·1e-5/(2·(1.1e-5)^{1.5}) = 1.5e-5/(2·3.648e-8) ≈ 205.6.
STORED = ("/norm?v=1&tab=bn&x=2x3:1,10,0.5,3,4,0.502&gamma=3:2,0.5,1&beta=3:0.5,-1,0&running_mean=3:0,0,0"
          "&running_var=3:1,1,1&dout=2x3:0.3,1,1,-1.2,2,-0.5&mode=train&eps=1e-05&convention=pytorch&c=0"
          "&sample=0&source=random&batches=30&seq_seed=0&true_mean=2&true_var=4&p=0.5&p_means=drop"
          "&drop_seed=0&draws=200")
TINY = ("/norm?v=1&tab=bn&x=3x1:0,2,4&gamma=1:1&beta=1:0&running_mean=1:1&running_var=1:4&dout=3x1:1,0,0"
        "&mode=train&eps=1e-05&convention=pytorch")


def cells(page: str, array: str) -> list[str]:
    """The texts of the cells of the first table ``data-arr=array`` in ``page``, in order."""
    tables = re.findall(rf'<table class="heatmap" data-arr="{re.escape(array)}"[^>]*>(.*?)</table>', page, re.S)
    if not tables:
        return []
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td data-idx=[^>]*>(.*?)</td>", tables[0], re.S)]


def form_of(html: str) -> dict[str, list[str]]:
    """The lab form's fields as a browser would post them (checked radios, selected options, all inputs)."""
    form = html[html.index('<form id="norm-form"'):]
    form = form[:form.index("</form>")]
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or ('type="radio"' in tag and " checked" not in tag):
            continue
        fields.setdefault(name.group(1), []).append(value.group(1) if value else "")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        fields[name] = [re.search(r'<option value="([^"]*)" selected', body).group(1)]
    return fields


def open_link(client, link: str) -> str:
    r = client.get(link)
    assert r.status_code == 200, r.text[:500]
    return r.text


# --------------------------------------------------------------------------- links and presets


def test_bare_norm_redirects_to_the_default_link(client):
    r = client.get("/norm", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/norm?v=1&tab=bn&x=2x3:1,10,0.5,3,4,0.502")


def test_the_stored_link_keeps_opening_with_the_same_numbers(client):
    html = open_link(client, STORED)
    assert cells(html, "mean") == ["2", "7", "0.501"]
    assert cells(html, "var") == ["1", "9", "1e-6"]
    assert cells(html, "x_hat")[:3] == ["-1", "1", "-0.3015"]  # −1/√(1+ε), 3/√(9+ε), −0.001/√(1.1e-5)
    assert cells(html, "out")[:3] == ["-1.5", "-0.5", "-0.3015"]  # 0.5 − 2/√(1+ε) ≈ −1.5; −1 + 0.5·1
    dx = cells(html, "dx")
    assert dx[0] == "1.5e-5" and dx[3] == "-1.5e-5"
    assert dx[2] == "205.6" and dx[5] == "-205.6"
    assert cells(html, "dbeta") == ["-0.9", "3", "0.5"]
    assert "Two samples: why dx ≈ 0 here" in html
    assert "max |dx − dx<sub>compact</sub>|" in html and "agree--ok" in html


def test_a_page_reopened_from_its_own_link_is_identical(client):
    first = open_link(client, STORED)
    r = client.post("/norm/results", data=form_of(first), headers=HX)
    assert r.status_code == 200
    link = r.headers["HX-Replace-Url"]
    assert parse_qs(urlsplit(link).query) == parse_qs(urlsplit(STORED).query)
    again = open_link(client, link)
    for array in ("out", "dx", "x_hat", "dx_compact", "dgamma"):
        assert cells(again, array) == cells(first, array), array


def test_htmx_gets_the_lab_fragment_and_a_browser_the_page(client):
    full = client.get(STORED)
    part = client.get(STORED, headers=HX)
    assert "<html" in full.text and "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="lab"')
    assert "HX-Request" in full.headers.get("vary", "")


@pytest.mark.parametrize("key", ["two-sample", "notes-002", "tiny", "images", "random", "random-images"])
def test_every_preset_opens(client, key):
    r = client.get(f"/norm/preset/{key}?seed=3", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/norm?v=1")
    html = open_link(client, r.headers["location"])
    assert cells(html, "out") and cells(html, "dx")


def test_random_presets_follow_their_seed(client):
    a = client.get("/norm/preset/random?seed=1", follow_redirects=False).headers["location"]
    b = client.get("/norm/preset/random?seed=1", follow_redirects=False).headers["location"]
    c = client.get("/norm/preset/random?seed=2", follow_redirects=False).headers["location"]
    assert a == b != c


def test_preset_errors(client):
    r = client.get("/norm/preset/nope")
    assert r.status_code == 404 and "two-sample" in r.json()["detail"][0]["msg"]
    r = client.get("/norm/preset/random?seed=-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "seed"]


@pytest.mark.parametrize("tab", ["bn", "running", "ln", "dropout"])
def test_every_section_opens_from_a_link_and_posts_back_the_same_state(client, tab):
    link = STORED.replace("tab=bn", f"tab={tab}")
    html = open_link(client, link)
    assert f'value="{tab}" id="tab-{tab}" checked' in html
    r = client.post("/norm/results", data=form_of(html), headers=HX)
    assert r.status_code == 200, r.text[:400]
    assert parse_qs(urlsplit(r.headers["HX-Replace-Url"]).query) == parse_qs(urlsplit(link).query)


@pytest.mark.parametrize("query,field,words", [
    ("x=2x3:1,2,3,4,5,6&gamma=2:1,1", "gamma", ["2 values", "3 features"]),
    ("x=2x3:1,2,3,4,5,6&running_var=3:1,-1,1", "running_var[1]", ["variance", "≥ 0"]),
    ("x=2x3:1,2,3,4,5,6&eps=0", "eps", ["between"]),
    ("x=2x3:1,2,3,4,5,6&p=1", "p", ["DROPPING", "0 ≤ p < 1"]),
    ("x=2x3:1,2,3,4,5,6&p=0&p_means=keep", "p", ["KEEPING"]),
    ("x=2x3:1,2,3,4,5,6&tab=graphs", "tab", ["bn, running, ln, dropout"]),
    ("x=2x3:1,2,3,4,5,6&colour=red", "colour", ["not a setting"]),
    ("x=2x3x1:1,2,3,4,5,6", "x", ["N×D", "N×C×H×W"]),
    ("x=5x3:" + ",".join(["1"] * 15), "x", ["limit"]),
    ("x=2x3:1,2,3,4,5,6&c=3", "c", ["feature from 0 to 2"]),
    ("x=2x3:1,2,3,4,5,6&dout=2x2:1,2,3,4", "dout", ["shape"]),
])
def test_a_bad_link_names_its_field(client, query, field, words):
    r = client.get(f"/norm?v=1&{query}")
    assert r.status_code == 422
    box = re.search(r'<p class="error-box"><b>(.*?)</b>: (.*?)</p>', r.text)
    assert box and box.group(1) == field, r.text[:2000]
    for word in words:
        assert word in html.unescape(box.group(2)), box.group(2)
    assert "Open the default example" in r.text


# --------------------------------------------------------------------------- fragments


def test_an_edit_answers_the_results_and_the_new_link(client):
    form = form_of(open_link(client, TINY))
    form["x"] = ["0", "2", "7"]  # μ = 3, σ² = (9 + 1 + 16)/3 = 26/3
    r = client.post("/norm/results", data=form, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section id="results"')
    assert "x=3x1:0,2,7" in r.headers["HX-Replace-Url"]
    assert cells(r.text, "mean") == ["3"]
    assert cells(r.text, "var") == ["8.667"]


def test_the_tiny_batch_by_hand(client):
    """x = (0, 2, 4): μ = 2, σ² = 8/3, x̂ = (−√1.5, 0, √1.5)·√(8/3 / (8/3 + ε)) ≈ (−1.225, 0, 1.225).

    dout = (1, 0, 0): Σdout = 1, Σ dout·x̂ = −1.225, so dx = 1/(3σ)·(3·dout − 1 + 1.225·x̂):
    dx₀ = (3 − 1 − 1.5)/(3·1.633) = 0.1021, dx₁ = −1/(3·1.633) = −0.2041, dx₂ = (−1 + 1.5)/4.899 = 0.1021.
    """
    html = open_link(client, TINY)
    assert cells(html, "x_hat") == ["-1.225", "0", "1.225"]
    assert cells(html, "dx") == ["0.1021", "-0.2041", "0.1021"]
    assert cells(html, "dgamma") == ["-1.225"] and cells(html, "dbeta") == ["1"]
    # running statistics, PyTorch m = 0.1: μ 0.9·1 + 0.1·2 = 1.1; σ² 0.9·4 + 0.1·(3/2·8/3 = 4) = 4
    assert cells(html, "running_mean") == ["1.1"] and cells(html, "running_var") == ["4"]


def test_eval_mode_uses_the_running_statistics(client):
    """Eval with μ_run = 1, σ²_run = 4: x̂ = (x − 1)/√(4 + ε) ≈ (−0.5, 0.5, 1.5); dx = dout·γ/√(4 + ε)."""
    html = open_link(client, TINY.replace("mode=train", "mode=eval"))
    assert cells(html, "mean") == ["1"] and cells(html, "var") == ["4"]
    assert cells(html, "x_hat") == ["-0.5", "0.5", "1.5"]
    assert cells(html, "dx") == ["0.5", "0", "0"]
    assert cells(html, "running_mean") == ["1"]  # unchanged in eval
    assert "0: constant" in html and "μ  running" in html  # the graph: no gradient through μ, σ²


def test_a_bad_cell_is_named_and_nothing_is_swapped(client):
    form = form_of(open_link(client, STORED))
    form["x"][3] = "abc"
    form["running_var"][2] = "-1"
    r = client.post("/norm/results", data=form, headers=HX)
    assert r.status_code == 422
    assert r.headers["HX-Reswap"] == "none"
    assert 'hx-swap-oob="true"' in r.text
    assert "x[1, 0]" in r.text and "&#39;abc&#39; is not a number" in r.text
    assert "running_var[2]" in r.text and "variance" in r.text


@pytest.mark.parametrize("field,value,words", [
    ("eps", "0", ["eps", "between"]), ("momentum", "2", ["momentum", "[0, 1]"]),
    ("p", "1", ["p", "DROPPING"]), ("batches", "0", ["batches", "between 1 and 200"]),
    ("true_var", "-2", ["true_var", "[0,"]), ("draws", "5000", ["draws", "1000"]),
])
def test_a_bad_setting_is_named(client, field, value, words):
    form = form_of(open_link(client, STORED))
    form[field] = [value]
    r = client.post("/norm/results", data=form, headers=HX)
    assert r.status_code == 422
    for word in words:
        assert word in r.text, (word, r.text)


def test_an_impossible_setting_says_why_and_keeps_the_inputs(client):
    """PyTorch's running variance divides by n − 1: one sample in train mode has no answer."""
    form = form_of(open_link(client, STORED))
    form["N"] = ["1"]
    r = client.post("/norm/lab", data=form, headers=HX)
    assert r.status_code == 422
    assert 'data-error-field="inputs.x"' in r.text and "n − 1 = 0" in r.text
    assert 'id="x-0-0" value="1"' in r.text  # the inputs are drawn, as they were


def test_switching_to_images_spreads_each_feature_over_its_plane(client):
    form = form_of(open_link(client, TINY))
    form["layout"] = ["nchw"]
    r = client.post("/norm/lab", data=form, headers=HX)
    assert r.status_code == 200
    assert "x=3x1x2x2:0,0,0,0,2,2,2,2,4,4,4,4" in r.headers["HX-Replace-Url"]
    # each channel now holds its feature's values 4 times: the same μ and σ²
    assert cells(r.text, "mean") == ["2"]
    assert cells(r.text, "x_hat")[:4] == ["-1.225"] * 4
    back = form_of(r.text)
    back["layout"] = ["nd"]
    r = client.post("/norm/lab", data=back, headers=HX)
    assert "x=3x1:0,2,4" in r.headers["HX-Replace-Url"]


def test_resizing_keeps_what_fits(client):
    form = form_of(open_link(client, STORED))
    form["D"] = ["4"]
    r = client.post("/norm/lab", data=form, headers=HX)
    link = r.headers["HX-Replace-Url"]
    assert "x=2x4:1,10,0.5,0,3,4,0.502,0" in link
    assert "gamma=4:2,0.5,1,1" in link and "running_var=4:1,1,1,1" in link
    assert "dout=2x4:0.3,1,1,1,-1.2,2,-0.5,1" in link


def test_a_section_change_redraws_the_inputs_it_needs(client):
    form = form_of(open_link(client, STORED))
    form["tab"] = ["dropout"]
    r = client.post("/norm/lab", data=form, headers=HX)
    assert r.status_code == 200 and "tab=dropout" in r.headers["HX-Replace-Url"]
    assert 'id="p"' in r.text and 'id="gamma-0"' not in r.text
    assert cells(r.text, "drop_mask")  # the mask is drawn
    kept = form_of(r.text)
    assert kept["gamma"] == ["2", "0.5", "1"], "hidden, but kept in the form"


# --------------------------------------------------------------------------- sections


def test_running_statistics_section(client):
    html = open_link(client, TINY.replace("tab=bn", "tab=running") + "&source=repeat&batches=2")
    # repeated x = (0, 2, 4): batch μ 2, biased σ² 8/3, unbiased 4; from μ_run 1, σ²_run 4:
    # PyTorch m = 0.1: μ 1.1 → 1.19; σ² 4 → 4. cs231n m = 0.9: μ the same; σ² 0.9·4 + 0.1·8/3 = 3.867 → 3.747
    assert cells(html, "seq_pytorch_mean") == ["1.19"] and cells(html, "seq_cs231n_mean") == ["1.19"]
    assert cells(html, "seq_pytorch_var") == ["4"] and cells(html, "seq_cs231n_var") == ["3.747"]
    assert "data-figure=" in html and "unbiased" in html


def test_layer_norm_section_shows_both_groupings(client):
    link = STORED.replace("tab=bn", "tab=ln").replace("x=2x3:1,10,0.5,3,4,0.502", "x=2x3:1,2,3,0,0,6")
    html = open_link(client, link)
    # layer norm: row 0 (1, 2, 3) μ 2, σ² 2/3; row 1 (0, 0, 6) μ 2, σ² 8
    assert cells(html, "ln_mean") == ["2", "2"] and cells(html, "ln_var") == ["0.6667", "8"]
    assert "down each column" in html and "across each row" in html
    assert "agree--ok" in html


def test_dropout_section_and_expectation(client):
    link = STORED.replace("tab=bn", "tab=dropout").replace("p=0.5", "p=0.25")
    html = open_link(client, link)
    mask = cells(html, "drop_mask")
    out = cells(html, "drop_out")
    x = [1, 10, 0.5, 3, 4, 0.502]
    # kept values are scaled by 1/(1 − 0.25) = 4/3, dropped ones are 0
    for m, o, v in zip(mask, out, x, strict=True):
        assert (m, o) in (("1", f"{v * 4 / 3:.4g}"), ("0", "0")), (m, o, v)
    assert "1/(1 − p)" in html
    form = form_of(html)
    r = client.post("/norm/expectation", data=form, headers=HX)
    assert r.status_code == 200 and "data-figure=" in r.text
    assert "mean of out over 200 masks" in r.text
    eval_html = open_link(client, link.replace("mode=train", "mode=eval"))
    assert set(cells(eval_html, "drop_mask")) == {"1"} and cells(eval_html, "drop_out")[:2] == ["1", "10"]


# --------------------------------------------------------------------------- gradient check and provenance


@pytest.mark.parametrize("tab,op", [("bn", "batchnorm"), ("ln", "layernorm"), ("dropout", "dropout")])
def test_the_gradient_check_passes(client, tab, op):
    form = form_of(open_link(client, STORED.replace("tab=bn", f"tab={tab}")))
    r = client.post("/norm/gradcheck", data=form, headers=HX)
    assert r.status_code == 200
    assert "badge--ok" in r.text and f"({op}" in r.text, r.text


def test_the_gradient_check_with_dout_ones_uses_a_random_dout_and_says_so(client):
    form = form_of(open_link(client, TINY.replace("dout=3x1:1,0,0", "dout=ones")))
    r = client.post("/norm/gradcheck", data=form, headers=HX)
    assert "badge--ok" in r.text and "exactly 0" in r.text


def test_no_gradient_check_for_the_running_statistics(client):
    form = form_of(open_link(client, STORED.replace("tab=bn", "tab=running")))
    r = client.post("/norm/gradcheck", data=form, headers=HX)
    assert "Nothing to differentiate" in r.text


def provenance(client, link: str, array: str, index: str) -> dict:
    form = form_of(open_link(client, link))
    r = client.post("/norm/provenance", data={**form, "array": array, "index": index}, headers=HX)
    assert r.status_code == 200, r.text
    return r.json()["cells"]


def test_provenance_batch_norm_reads_down_a_column(client):
    cells_ = provenance(client, STORED, "out", "1,2")
    assert sorted(cells_["x"]) == ["0,2", "1,2"] and cells_["gamma"] == ["2"] and cells_["beta"] == ["2"]
    cells_ = provenance(client, STORED, "dx", "0,1")
    assert sorted(cells_["dout"]) == ["0,1", "1,1"] and sorted(cells_["x"]) == ["0,1", "1,1"]
    assert provenance(client, STORED, "mean", "2") == {"x": ["0,2", "1,2"]}


def test_provenance_in_eval_reads_the_running_statistics(client):
    cells_ = provenance(client, STORED.replace("mode=train", "mode=eval"), "out", "1,0")
    assert cells_["x"] == ["1,0"] and cells_["running_mean_before"] == ["0"]


def test_provenance_layer_norm_reads_across_a_row(client):
    cells_ = provenance(client, STORED.replace("tab=bn", "tab=ln"), "ln_out", "1,0")
    assert sorted(cells_["x"]) == ["1,0", "1,1", "1,2"] and cells_["gamma"] == ["0"]
    assert provenance(client, STORED.replace("tab=bn", "tab=ln"), "ln_mean", "0") == {"x": ["0,0", "0,1", "0,2"]}


def test_provenance_dropout_and_display_tables(client):
    link = STORED.replace("tab=bn", "tab=dropout")
    assert provenance(client, link, "drop_out", "1,2") == {"x": ["1,2"], "drop_mask": ["1,2"], "drop_scale": [""]}
    assert provenance(client, link, "drop_mean", "0,1") == {"x": ["0,1"]}
    run = STORED.replace("tab=bn", "tab=running") + "&source=repeat"
    run = run.replace("&source=random", "")
    assert provenance(client, run, "seq_pytorch_var", "1") == {"running_var_before": ["1"], "x": ["0,1", "1,1"]}


@pytest.mark.parametrize("array,index", [("nope", "0,0"), ("out", "5,5"), ("out", "a"), ("ln_nope", "0")])
def test_provenance_refuses_what_it_does_not_know(client, array, index):
    form = form_of(open_link(client, STORED))
    r = client.post("/norm/provenance", data={**form, "array": array, "index": index}, headers=HX)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"


def _graph_nodes(page: str) -> list[dict]:
    """Each node of the batch-norm graph's SVG: its box and its rows' value and gradient texts with their x."""
    svg = re.search(r'<svg class="norm-graph" viewBox="0 0 (\d+) \d+".*?</svg>', page, re.S)
    number = r'<text x="([\d.]+)" y="[\d.]+" {}class="norm-node__{}"><title>[^<]*</title>([^<]*)</text>'
    nodes = []
    for group in re.findall(r'<g class="norm-node[^"]*">(.*?)</g>', svg.group(0), re.S):
        x, w = (float(v) for v in re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', group).groups())
        values = re.findall(number.format("", "fwd"), group)
        grads = re.findall(number.format('text-anchor="end" ', "bwd"), group)
        rows = list(zip(values, grads, strict=True)) if values else []  # a scalar node: no value column
        nodes.append({"x": x, "w": w, "rows": rows, "view_w": float(svg.group(1))})
    return nodes


def test_the_graphs_longest_numbers_never_run_into_their_gradients(client):
    # 0.0008186 beside 0.5307 ran into each other in x's node (a fixed 196-unit node), and so would any value and
    # gradient of 15 characters or more: a node is now as wide as its longest value and gradient need
    link = ("/norm?v=1&tab=bn&x=3x1:0.0008186,2,-1.235e-05&gamma=1:1&beta=1:0&running_mean=1:0&running_var=1:1"
            "&dout=3x1:1,-0.00001234,0&mode=train&eps=1e-05&convention=pytorch&c=0&sample=0")
    page = open_link(client, link)
    nodes = [node for node in _graph_nodes(page) if node["rows"]]
    assert len(nodes) == 3  # x, x̂ and y
    char = 9.7  # a character of a 16 px monospace number (norm.css), in the graph's units
    for node in nodes:
        for (vx, value), (gx, grad) in node["rows"]:
            assert float(vx) + char * len(value) + 8 <= float(gx) - char * len(grad), (value, grad)
        assert node["x"] + node["w"] <= node["view_w"]
    middle = sorted(nodes, key=lambda node: node["x"])
    # room between them for the arrows' labels
    assert all(a["x"] + a["w"] + 100 <= b["x"] for a, b in zip(middle, middle[1:], strict=False))
    assert any(len(value) + len(grad) >= 15 for node in nodes for (_, value), (_, grad) in node["rows"])


def test_the_graphs_top_labels_stand_clear_of_the_arc_and_of_each_other():
    """∂σ²/∂xᵢ's label over its arc (x → σ², over μ), ∂σ²/∂μ's under the arc and over μ and σ²: they sat 19 units
    apart with the arc through the first; and σ²'s exponent is written as one (it read '^−3/2')."""
    from app.web.labs.norm import view as norm_view
    from app.web.labs.norm.presets import PRESETS

    g = norm_view.bn_view(PRESETS["two-sample"].make(0))["graph"]
    edges = {e["label"].split(" = ")[0]: e for e in g["edges"]}
    arc = edges["∂σ²/∂xᵢ"]
    (x0, y0), (c1, c2, (x1, y1)) = (
        [float(v) for v in arc["path"].split()[0][1:].split(",")],
        [[float(v) for v in p.lstrip("C").split(",")] for p in arc["path"].split()[1:]])
    ts = np.linspace(0, 1, 201)
    ys = (1 - ts) ** 3 * y0 + 3 * (1 - ts) ** 2 * ts * c1[1] + 3 * (1 - ts) * ts ** 2 * c2[1] + ts ** 3 * y1
    xs = (1 - ts) ** 3 * x0 + 3 * (1 - ts) ** 2 * ts * c1[0] + 3 * (1 - ts) * ts ** 2 * c2[0] + ts ** 3 * x1
    half = 100  # half the width of either label, in the graph's units (13 px type, ~22 characters)
    under = ys[np.abs(xs - arc["lx"]) <= half]
    assert arc["ly"] + 4 <= under.min()  # the label's baseline over the arc where the label is
    mu = edges["∂σ²/∂μ"]
    under = ys[np.abs(xs - mu["lx"]) <= half]
    assert under.max() + 14 <= mu["ly"] or mu["ly"] + 14 <= under.min()  # clear of the arc, one line of type
    assert mu["ly"] - 14 >= arc["ly"] + 4 and mu["ly"] + 4 <= min(n["y"] for n in g["nodes"])
    assert "⁻³ᐟ²" in edges["∂x̂ᵢ/∂σ²"]["label"] and "^" not in edges["∂x̂ᵢ/∂σ²"]["label"]
