"""static/js/lens.js in real Chromium: plots drawn after load and after htmx swaps, purged when swapped out."""

from __future__ import annotations

import json

import pytest

from app.web.render.templating import PLOTLY_URL

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
