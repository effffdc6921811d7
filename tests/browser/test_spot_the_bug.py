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


def test_the_residual_bug_found_on_network(page, live_server, page_errors):
    page.goto(live_server + "/bugs")
    page.click('li.bug:has(.bug__title:text("overwrites the gradient")) a.bug__open')
    page.wait_for_selector("#bug-panel", timeout=30000)  # a replay of two bugged training steps may answer 503 first
    assert page.url.startswith(live_server + "/network?") and "bug=" in page.url and "residual" not in page.url
    page.wait_for_selector("#gradcheck .badge--bad", timeout=30000)  # the whole-network check catches it
    page.click('#lab table[data-arr="dx_skip"] td >> nth=0')  # the skip path is right: not it
    page.click("#bug-panel button[type=submit]")
    page.wait_for_selector('#bug-verdict [data-verdict="wrong"]')
    page.click('#lab table[data-arr="dx"] td >> nth=0')  # dx = skip + branch is where it is made
    assert page.input_value("#bug-marked") == "dx"
    page.click("#bug-panel button[type=submit]")
    page.wait_for_selector('#bug-verdict [data-verdict="found"]')
    page.click("text=Show me")
    page.wait_for_selector("#bug-reveal [data-revealed]")
    assert "the correct engine" in page.inner_text("#bug-reveal")
    page.screenshot(path="/tmp/e_shots/network_bug_found.png", full_page=False)
    assert not [e for e in page_errors if "ERR_ABORTED" not in e and " 503" not in e]
