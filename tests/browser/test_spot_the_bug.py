"""Spot the bug in real Chromium: from /bugs, open the batch-norm bug in the normalization lab; the gradient check
fails, an edit keeps the bug in the link, a wrong array is graded ✗, the right one (picked by clicking its table)
✓, and "show me" puts the bug's dx beside the correct engine's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_a_bug_found_on_norm(page, live_server, page_errors):
    page.goto(live_server + "/bugs")
    page.click('li.bug:has(.bug__title:text("without the path through the mean")) a.bug__open')
    page.wait_for_selector("#bug-panel")
    assert "bug=" in page.url and "mean-path" not in page.url
    page.wait_for_selector("#gradcheck .badge--bad")

    page.click("#x-0-0")  # an edit recomputes with the bug still planted
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.wait_for_url("**x=4x3:2,**")
    assert "bug=" in page.url
    page.wait_for_selector("#gradcheck .badge--bad")

    page.select_option("#bug-marked", "mean")
    page.click("#bug-panel button[type=submit]")
    page.wait_for_selector('#bug-verdict [data-verdict="wrong"]')

    page.click('#lab table[data-arr="dx"] td >> nth=0')  # a click on a table picks its array
    assert page.input_value("#bug-marked") == "dx"
    page.click("#bug-panel button[type=submit]")
    page.wait_for_selector('#bug-verdict [data-verdict="found"]')

    page.click("text=Show me")
    page.wait_for_selector("#bug-reveal [data-revealed]")
    assert "the correct engine" in page.inner_text("#bug-reveal")
    assert not page_errors
