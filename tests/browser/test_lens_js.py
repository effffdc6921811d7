"""static/js/lens.js in real Chromium: plots drawn after load and after htmx swaps, purged when swapped out."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from app.web.render.numbers import cell_text
from app.web.render.templating import PLOTLY_URL
from tests.app.render.test_numbers import CELL_CASES

pytestmark = pytest.mark.browser

FIGURE = json.dumps({"data": [{"type": "heatmap", "z": [[1, 2], [3, 4]]}], "layout": {"title": {"text": "t"}}})


def test_figures_render_and_swapped_out_plots_are_purged(page, live_server, page_errors):
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    # this page does not load plotly.js; add it the way a lab page would (a same-origin script: CSP allows it)
    page.evaluate(
        """(url) => new Promise((resolve, reject) => {
            const s = document.createElement('script');
            s.src = url; s.addEventListener('load', resolve); s.addEventListener('error', reject);
            document.head.appendChild(s);
        })""",
        PLOTLY_URL,
    )
    # a plot inside the swappable lab grid, drawn by Lens.renderWithin
    page.evaluate(
        """(spec) => {
            const fig = document.createElement('div');
            fig.className = 'figure';
            fig.setAttribute('data-figure', spec);
            document.querySelector('#labs-grid').appendChild(fig);
            window.__oldFigure = fig;
            Lens.renderWithin(fig.parentElement);
        }""",
        FIGURE,
    )
    page.wait_for_function("() => document.querySelector('#labs-grid .figure .main-svg') !== null")
    assert page.evaluate("() => !!window.__oldFigure._fullLayout")

    # swap the grid out with a real htmx request: the old plot must be purged
    page.evaluate("() => htmx.ajax('GET', '/', {target: '#labs-grid', swap: 'outerHTML'})")
    page.wait_for_function("() => window.__oldFigure.isConnected === false")
    page.wait_for_function("() => window.__oldFigure._fullLayout === undefined")

    # new content carrying a data-figure is drawn after the swap (htmx.onLoad)
    page.evaluate(
        """(spec) => {
            const grid = document.querySelector('#labs-grid');
            const html = '<div id="labs-grid"><div class="figure" data-figure=\\'' + spec + '\\'></div></div>';
            htmx.swap(grid, html, {swapStyle: 'outerHTML'});
        }""",
        FIGURE,
    )
    page.wait_for_function("() => document.querySelector('#labs-grid .figure .main-svg') !== null")
    assert not page_errors, page_errors


def test_copy_link_button(page, live_server, page_errors):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(live_server + "/")
    page.evaluate(
        """() => {
            const b = document.createElement('button');
            b.className = 'button'; b.textContent = 'Copy link'; b.setAttribute('data-copy-link', '');
            document.querySelector('main').prepend(b);
        }"""
    )
    page.get_by_role("button", name="Copy link").click()
    page.wait_for_function("() => document.querySelector('[data-copy-link]').hasAttribute('data-copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == live_server + "/"
    assert not page_errors, page_errors


def test_format_number_writes_what_the_server_writes(page, live_server, page_errors):
    """Lens.formatNumber is cell_text in JS: the same text for the same float, ties rounded half to even."""
    rng = np.random.default_rng(0)
    values = [v for v, _ in CELL_CASES if math.isfinite(v)] + [2768.5, 0.125, 12345.0]
    values += (rng.uniform(-10, 10, 300) * 10.0 ** rng.integers(-12, 12, 300)).tolist()
    page.goto(live_server + "/")
    got = page.evaluate("(vs) => vs.map((v) => Lens.formatNumber(v))", values)
    assert got == [cell_text(v) for v in values]
    assert page.evaluate("() => [Lens.formatNumber(Infinity), Lens.formatNumber(-Infinity), Lens.formatNumber(NaN),"
                         " Lens.formatNumber(null), Lens.formatNumber(12.5, 2), Lens.formatNumber(0.37, 2),"
                         " Lens.formatNumber(2.302585, {decimals: 4})]") == ["inf", "-inf", "nan", "—", "12", "0.37",
                                                                             "2.3026"]
    assert not page_errors, page_errors
