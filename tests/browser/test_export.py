"""Export in real Chromium: the header's Download JSON and Copy as NumPy follow the page's current link
(after an edit, not only the link it opened with), a Plotly figure offers its own PNG download, and a heatmap
table, an input grid and the probability bars (drawn by the server) download as SVG or PNG.

Expected numbers by hand: logits [0, 0] → p = [0.5, 0.5].
"""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

START = "/softmax?v=1&logits=1x2:3,0&labels=1:0&temperature=1"
RUNNING = ("/norm?v=1&tab=running&x=4x3:1,2,-1,3,0,0,5,4,1,7,2,4&gamma=3:1,2,0.5&beta=3:0,1,-1&running_mean=3:0,0,0"
           "&running_var=3:1,1,1&dout=4x3:1,-1,0.5,0,2,-0.5,-1,1,1,2,0,-1&mode=train&eps=1e-05&convention=cs231n&c=0"
           "&sample=0&source=random&batches=50&seq_seed=0&true_mean=2&true_var=4&p=0.8&p_means=keep&drop_seed=0"
           "&draws=200")


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
    page.goto(live_server + RUNNING)
    plot = page.locator("#results .norm-plot").first
    page.wait_for_selector("#results .norm-plot .main-svg")
    plot.hover()
    download = '#results .norm-plot .modebar-btn[data-title="Download plot as a png" i]'
    page.locator(download).first.wait_for(state="attached")
    # the download is the only button: the rest of the bar stays off, as the figure asked
    assert page.locator("#results .norm-plot .modebar-btn").count() == page.locator("#results .norm-plot").count()
    assert not page_errors


def test_the_probability_bars_download_as_svg_and_png(page, live_server, page_errors):
    """The bars the server draws as SVG (kit/bars.html) download as a file of their own: the bars, their values,
    and the p axis's labels beside them, with the stylesheet's look written in; p = [0.9526, 0.04743] for [3, 0]."""
    page.goto(live_server + START)
    text = svg_and_png(page, page.locator("#probabilities svg[data-download]").first, "probabilities_sample_0")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", text)
    assert ["0.9526", "0", "label", "0.04743", "1"] == texts[-5:]  # the values above the bars, the ticks under them
    assert "0.75" in texts and "p" in texts  # the p axis, drawn left of the plot: inside the image
    assert re.search(r"<svg x=\"40\" y=\"2\d\"", text) and "font-family:" in text and 'fill="url(#hatch-' in text
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


def svg_and_png(page, target, name: str) -> str:
    """Hovers target and downloads it as SVG and as PNG, each named after it: the SVG's text (the PNG is one)."""
    target.hover()
    svg = table_download(page, "SVG")
    assert svg.suggested_filename == f"{name}.svg"
    target.hover()
    png = table_download(page, "PNG")
    assert png.suggested_filename == f"{name}.png"
    assert open(png.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    return open(svg.path()).read()


def test_a_heatmap_table_downloads_as_svg_and_png(page, live_server, page_errors):
    """static/js/export-table.js: hovering a heatmap table shows a PNG/SVG bar; the SVG holds the table's numbers."""
    page.goto(live_server + START)
    table = page.locator('table.heatmap[data-arr="probs"]').first
    text = svg_and_png(page, table, "probs")
    first = table.locator("td").first.text_content().strip()
    assert text.startswith("<svg") and f">{first}<" in text
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


def focused(page) -> str:
    """What has the keyboard's focus: a bar button's text, else the table or drawing it is in and its tag."""
    return page.evaluate("""() => { const a = document.activeElement;
      if (a.closest('.table-download')) return 'bar ' + a.textContent;
      const t = a.closest('table.heatmap, svg[data-download]');
      const name = t ? (t.getAttribute('data-arr') || t.getAttribute('data-download')) : '-';
      return name + ' ' + a.tagName.toLowerCase(); }""")


def test_the_keyboard_reaches_the_bar_right_after_its_table(page, live_server, page_errors):
    """Tab from a results table's stop lands on the bar's PNG (Enter downloads), Tab from SVG goes on where Tab from
    the table would have gone, Shift+Tab comes back the same way, Esc closes the bar; a drawing is a stop with its bar
    too. Tab in an input grid still goes from cell to cell and on. The bar was the page's last element: Tab reached it
    after every other stop, and an unseen bar kept its two stops."""
    page.goto(live_server + START)
    grid = page.locator('table.heatmap[data-arr="logits"] input.cell')
    grid.nth(0).focus()
    page.keyboard.press("Tab")
    assert focused(page) == "logits input"
    page.keyboard.press("Tab")  # the grid's last cell: on to the next stop, as one types in numbers
    assert not focused(page).startswith(("bar", "logits")), focused(page)
    page.locator('table.heatmap[data-arr="probs"] td[tabindex="0"]').first.focus()
    page.keyboard.press("Tab")
    assert focused(page) == "bar PNG"
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "probs.png"
    page.keyboard.press("Tab")
    assert focused(page) == "bar SVG"
    page.keyboard.press("Tab")
    after = focused(page)
    assert not after.startswith(("bar", "probs")), after
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "bar SVG"  # back the same way
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "bar PNG"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "probs td"
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    assert focused(page) == "probs td"
    page.locator(".table-download:not(.is-shown)").wait_for(state="hidden")
    drawing = page.locator("svg[data-download]").first
    drawing.focus()
    page.keyboard.press("Tab")
    assert focused(page) == "bar PNG"
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"{drawing.get_attribute('data-download')}.png"
    assert not page_errors
