"""THE heatmap writer: its options, its colour scale, and that nothing else in app/ writes a heatmap."""

import re
from pathlib import Path

import numpy as np
import pytest

from app.web.render.heatmap import Heatmaps, colours, heatmap, planes, rounded_tip, scale_max

APP = Path(__file__).resolve().parents[3] / "app"


def cells(html: str) -> list[tuple[str, str]]:
    """(data-idx, text) of every cell."""
    return re.findall(r'<td data-idx="([^"]*)"[^>]*>([^<]*)', html)


def test_only_the_writer_writes_heatmap_tables():
    sources = {str(p.relative_to(APP)): p.read_text() for p in APP.rglob("*.py")}
    heatmaps = sorted(name for name, text in sources.items() if re.search(r'class=\\?"heatmap', text))
    cells = sorted(name for name, text in sources.items() if "<td" in text)
    assert heatmaps == cells == ["web/render/heatmap.py"], (heatmaps, cells)


def test_colours_are_centred_on_zero_and_saturate_at_vmax():
    html = heatmap(np.array([[-2.0, 0.0, 2.0, 5.0]]), "a", vmax=2.0)["html"]
    styles = re.findall(r'style="background:([^;]*);color:([^"]*)"', html)
    assert styles[1] == ("rgb(247,247,247)", "#111")  # zero is white
    assert styles[0] == ("rgb(33,102,172)", "#fff") and styles[2][0] == styles[3][0] == "rgb(191,91,23)"
    bg, fg = colours([[0.0, -1.0], [np.inf, np.nan]], 1.0)  # for cells a drawing colours itself
    assert bg == [["rgb(247,247,247)", "rgb(33,102,172)"], ["rgb(191,91,23)", "rgb(60,60,60)"]] and fg[0][0] == "#111"
    assert colours([[np.inf]], 1.0, rule="finite")[0] == [["rgb(247,247,247)"]]


def test_non_finite_values_get_a_colour_and_do_not_set_the_scale():
    values = np.array([[1.0, np.inf, -np.inf, np.nan]])
    assert scale_max(values) == 1.0
    g = heatmap(values, "p")
    bgs = re.findall(r"background:([^;]*);", g["html"])
    assert bgs[1] == bgs[0] and bgs[2] == "rgb(33,102,172)" and bgs[3] == "rgb(60,60,60)"
    assert [t for _, t in cells(g["html"])] == ["1", "inf", "-inf", "nan"]
    finite = heatmap(values, "p", colour="finite")["html"]  # what is not finite drawn as 0
    assert re.findall(r"background:([^;]*);", finite)[1:] == ["rgb(247,247,247)"] * 3


def test_flagged_non_finite_cells_say_why():
    html = heatmap(np.array([[1.0, np.inf, -np.inf, np.nan]]), "e", why={"inf": "overflowed"})["html"]
    assert [t for _, t in cells(html)] == ["1", "inf", "−inf", "NaN"]
    assert html.count('class="bad"') == 3 and 'title="overflowed"' in html and 'title="NaN"' in html


def test_cells_carry_their_array_and_full_index():
    g = heatmap(np.arange(6.0).reshape(2, 3), "dx", prefix=(1, 2))
    assert 'data-arr="dx"' in g["html"] and [i for i, _ in cells(g["html"])][-1] == "1,2,1,2"
    assert (g["n_rows"], g["n_cols"], g["vmax"], g["vmax_text"]) == (2, 3, 5.0, "5")
    row = heatmap(np.array([1.0, 2.0]), "mean", row_labels=["μ"], col_labels=["c0", "c1"])["html"]
    assert [i for i, _ in cells(row)] == ["0", "1"] and '<th scope="row">μ</th>' in row
    column = heatmap(np.array([1.0, 2.0]), "dprobs", prefix=(3,), layout="column")["html"]
    assert [i for i, _ in cells(column)] == ["3,0", "3,1"] and column.count("<tr ") == 2
    assert cells(heatmap(np.float64(0.5), "loss")["html"]) == [("", "0.5")]
    assert "data-idx" not in heatmap(np.ones((1, 2)), "", label="θ before")["html"]
    explicit = heatmap(np.ones((1, 2)), "update", index=[["0,4", "1,4"]])["html"]
    assert [i for i, _ in cells(explicit)] == ["0,4", "1,4"]


def test_every_table_is_named_by_a_caption():
    assert '<caption class="visually-hidden">x[0, 1]</caption>' in heatmap(np.ones((2, 2)), "x", prefix=(0, 1))["html"]
    assert '<caption class="visually-hidden">m̂ of w</caption>' in heatmap(np.ones((2, 2)), "m", label="m̂ of w")["html"]


def test_marks_windows_classes_attributes_subscripts_and_tips():
    mark = np.array([[True, False], [False, False]])
    window = np.array([[True, True], [False, False]])
    g = heatmap(np.array([[0.5, 2.0], [3.0, 4.25]]), "x", mark=mark, window=window, classes={(1, 1): "winner"},
                attrs={(1, 1): {"data-wins": "0,0 0,1"}}, subs={(1, 0): "2"},
                tip=lambda i, j, v, text: f"x[{i},{j}] = {v!r}" if (i, j) == (1, 1) else "")
    html = g["html"]
    assert 'class="pad win"' in html and 'class="win"' in html
    assert '<td data-idx="1,1" style="background:rgb(191,91,23);color:#fff" class="winner" title="x[1,1] = 4.25"' \
           ' data-wins="0,0 0,1">4.25</td>' in html
    assert '>3<sub class="cell-sub">2</sub></td>' in html
    default = heatmap(np.array([[0.5, 2.0, 1 / 3]]), "y")["html"]  # the exact value on every fraction
    assert default.count("title=") == 2 and 'title="0.3333333333333333"' in default
    rounded = heatmap(np.array([[0.5, 2.0, 1 / 3]]), "y", tip=rounded_tip)["html"]  # only where digits hide
    assert rounded.count("title=") == 1


def test_labels_bands_and_cut_matrices():
    g = heatmap(np.ones((2, 3)), "x_col", row_labels=["r0", "r1"], col_labels=["a", "b", "c"], hidden_rows=4,
                hidden_cols=5, shape_text="6 × 8")
    assert "<thead><tr><th></th>" in g["html"] and '<th class="more">+5</th>' in g["html"]
    assert "… 4 more rows and 5 more columns (6 × 8 in all)" in g["html"]
    band = heatmap(np.ones((2, 3)), "m", band=("m", "first moment"), row_labels=["w", "b"], row_class="row-label",
                   kind="band", classes=[["", "sel", ""]] * 2)["html"]
    assert band.startswith('<table class="heatmap band" data-arr="m" data-h="')
    assert '<th class="band-label" rowspan="2" scope="rowgroup" title="first moment">m</th>' in band
    assert band.count('<th scope="row" class="row-label">') == 2 and band.count('class="sel"') == 2
    index = heatmap(np.array([[0.0, 3.0]]), "argmax", colour="none", kind="heatmap--index")["html"]
    assert "style=" not in index and 'class="heatmap heatmap--index"' in index


def test_planes_share_one_scale_and_a_batch_colours_once():
    values = np.arange(16.0).reshape(2, 2, 2, 2) - 8
    ps = planes(values, "out", ("n", "f"))
    assert [p["title"] for p in ps] == ["n=0, f=0", "n=0, f=1", "n=1, f=0", "n=1, f=1"]
    assert {p["vmax"] for p in ps} == {8.0}
    assert [p["title"] for p in planes(values, "x", label="x", only=(1, 0))] == ["x, n=1, c=0"]
    batch = Heatmaps()
    a, b = batch.add(np.ones((1, 1)), "a"), batch.add(-np.ones((1, 1)), "b")
    assert a["html"] == "" and b["html"] == ""
    batch.render()
    assert heatmap(np.ones((1, 1)), "a")["html"] == a["html"] and "rgb(33,102,172)" in b["html"]


def test_values_must_be_a_table():
    with pytest.raises(ValueError):
        heatmap(np.ones((2, 2, 2)), "x")
