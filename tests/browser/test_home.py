"""The landing page and the API docs in real Chromium: no console errors, formulas typeset, links right."""

from __future__ import annotations

import pytest

from app.web.nav import LABS

pytestmark = pytest.mark.browser


def test_landing_page_loads_clean_with_katex(page, live_server, page_errors):
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    # every formula typeset by KaTeX (lens.js marks what it rendered)
    page.wait_for_function("() => document.querySelectorAll('[data-latex]:not(.is-rendered)').length === 0")
    assert page.locator(".katex").count() >= sum(len(lab.formulas) for lab in LABS)
    assert page.locator(".katex-error").count() == 0, "a formula did not parse"
    assert page.evaluate("() => typeof window.Lens.renderWithin") == "function"
    assert page.evaluate("() => typeof window.htmx") == "object"
    assert not page_errors, page_errors


def test_convolution_card_opens_the_conv_lab(page, live_server):
    page.goto(live_server + "/")
    card = page.locator("article.lab-card", has=page.get_by_role("heading", name="Convolution"))
    assert card.count() == 1
    link = card.get_by_role("link", name="Open the Convolution lab")
    assert link.get_attribute("href") == "/conv"
    nav = page.get_by_role("navigation", name="Labs")
    assert nav.get_by_role("link", name="Convolution").get_attribute("href") == "/conv"
    for lab in LABS:
        if not lab.available:
            assert nav.get_by_role("link", name=lab.title).count() == 0, f"{lab.title} should not be a link yet"


def test_katex_uses_its_own_fonts(page, live_server, page_errors):
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    loaded = page.evaluate(
        "() => document.fonts.ready.then(() => [...document.fonts].filter(f => f.status === 'loaded')"
        ".map(f => f.family))"
    )
    assert any(family.startswith("KaTeX") for family in loaded), loaded
    assert not page_errors, page_errors


def test_htmx_swap_renders_formulas_in_the_new_content(page, live_server, page_errors):
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    # fetch the cards fragment with htmx and swap it in: lens.js must typeset the new formulas
    page.evaluate("() => htmx.ajax('GET', '/', {target: '#labs-grid', swap: 'outerHTML'})")
    page.wait_for_function(
        "() => document.querySelectorAll('#labs-grid').length === 1 && "
        "document.querySelectorAll('#labs-grid [data-latex]:not(.is-rendered)').length === 0"
    )
    assert page.locator("#labs-grid .katex").count() >= sum(len(lab.formulas) for lab in LABS)
    assert not page_errors, page_errors


def test_api_docs_page_runs_swagger_under_the_csp(page, live_server, page_errors):
    page.goto(live_server + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    text = page.locator("#swagger-ui").inner_text()
    assert "/api/v1/ops/{op}" in text and "/api/v1/optimizers/{name}" in text
    assert not page_errors, page_errors


def test_conventions_page_loads_clean(page, live_server, page_errors):
    page.goto(live_server + "/conventions")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="im2col").count() == 1
    assert page.locator("table td", has_text="conv2d").count() >= 1
    assert not page_errors, page_errors
