"""Export in real Chromium: the header's Download JSON and Copy as NumPy follow the page's current link
(after an edit, not only the link it opened with), and a Plotly figure offers its own PNG download.

Expected numbers by hand: logits [0, 0] → p = [0.5, 0.5].
"""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

START = "/softmax?v=1&logits=1x2:3,0&labels=1:0&temperature=1"


def test_download_and_copy_follow_the_edited_link(page, live_server, page_errors):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(live_server + START)
    page.wait_for_selector("#gradcheck .badge--ok")
    page.click("#logits-0-0")
    page.keyboard.press("Control+A")
    page.keyboard.type("0")
    page.keyboard.press("Tab")
    page.wait_for_url("**logits=1x2:0,0**")

    with page.expect_download() as download:
        page.click("text=Download JSON")
    arrays = json.loads(open(download.value.path()).read())
    assert arrays["probs"] == [[0.5, 0.5]]
    assert download.value.suggested_filename == "softmax.json"

    page.click("text=Copy as NumPy")
    page.wait_for_selector("text=Script copied")
    script = page.evaluate("navigator.clipboard.readText()")
    assert script.startswith('"""Softmax')
    assert "import numpy as np" in script
    assert "logits = np.array([[0.0, 0.0]], dtype=float)" in script
    assert not page_errors


def test_a_figure_offers_plotlys_png_download(page, live_server, page_errors):
    page.goto(live_server + START)
    plot = page.locator("#probabilities .plot").first
    page.wait_for_selector("#probabilities .plot .main-svg")
    plot.hover()
    download = '#probabilities .plot .modebar-btn[data-title="Download plot as a png" i]'
    page.locator(download).first.wait_for(state="attached")
    # the download is the only button: the rest of the bar stays off, as the figure asked
    assert page.locator("#probabilities .plot .modebar-btn").count() == page.locator("#probabilities .plot").count()
    assert not page_errors


def test_copy_as_pytorch_follows_the_link(page, live_server, page_errors):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(live_server + START)
    page.wait_for_selector("#gradcheck .badge--ok")
    page.click("text=Copy as PyTorch")
    page.wait_for_selector("text=Script copied")
    script = page.evaluate("navigator.clipboard.readText()")
    assert "import torch" in script
    assert "logits = torch.tensor([[3.0, 0.0]], dtype=torch.float64)" in script
    assert not page_errors


def table_download(page, kind: str):
    """The download of the shown table bar's PNG or SVG button (static/js/export-table.js)."""
    bar = page.locator(".table-download.is-shown")
    bar.wait_for()
    with page.expect_download() as download:
        bar.locator(f"text={kind}").click()
    return download.value


def test_a_heatmap_table_downloads_as_svg_and_png(page, live_server, page_errors):
    """static/js/export-table.js: hovering a heatmap table shows a PNG/SVG bar; the SVG holds the table's numbers."""
    page.goto(live_server + START)
    table = page.locator('table.heatmap[data-arr="probs"]').first
    table.hover()
    svg = table_download(page, "SVG")
    assert svg.suggested_filename == "probs.svg"
    text = open(svg.path()).read()
    first = table.locator("td").first.text_content().strip()
    assert text.startswith("<svg") and f">{first}<" in text
    table.hover()
    png = table_download(page, "PNG")
    assert png.suggested_filename == "probs.png"
    assert open(png.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert not page_errors


def test_an_input_grid_downloads_with_its_numbers(page, live_server, page_errors):
    """An input grid's cells are <input>s, whose text is their value: the SVG holds each typed number in its box
    (it held empty cells), what is typed since included."""
    page.goto(live_server + START)
    cell = page.locator('table.heatmap[data-arr="logits"] input.cell').nth(1)
    cell.fill("-1.25")
    cell.focus()
    svg = table_download(page, "SVG")
    assert svg.suggested_filename == "logits.svg"
    text = open(svg.path()).read()
    assert re.findall(r"<text[^>]*>([^<]*)</text>", text)[-2:] == ["3", "-1.25"]
    assert text.count("<rect") == 1 + 2 and text.count("stroke=") == 2  # the page, then the two inputs' boxes
    assert not page_errors


def test_the_table_bar_covers_no_cell_of_a_stacked_grid_on_a_phone(page, live_server, page_errors):
    """On a phone the bar has no room beside a table and goes above it: above the optimizer's parameter names too
    when a value is focused (the names are a table of their own over the values' table), never on the names."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/optim")
    for cell in ("#theta0-1", "#pname-2"):
        page.click(cell)
        bar = page.locator(".table-download.is-shown")
        bar.wait_for()
        page.wait_for_timeout(200)  # the formulas typeset once typing pauses may move the page: the bar follows
        overlaps = page.evaluate("""() => {
          const b = document.querySelector('.table-download').getBoundingClientRect();
          return Array.from(document.querySelectorAll('#inputs table.heatmap')).filter((t) => {
            const o = t.getBoundingClientRect();
            return o.left < b.right && b.left < o.right && o.top < b.bottom && b.top < o.bottom;
          }).length;
        }""")
        assert overlaps == 0, cell
        box = bar.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, cell  # on screen: the tables scroll sideways
    assert not page_errors
