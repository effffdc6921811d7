"""A busy server in real Chromium: an edit answered 503 (the queue of heavy work full, issue 13) says so in
the lab's message and is asked again after Retry-After, and the results then arrive as for any edit."""

from __future__ import annotations

import json

import pytest

from tests.browser.grids import type_into, wait_for_grid

pytestmark = pytest.mark.browser


def test_an_edit_answered_busy_says_so_and_is_asked_again(page, live_server, page_errors):
    page.goto(live_server + "/conv/preset/notes-7-3-13-6")
    page.wait_for_load_state("networkidle")
    refused = []

    def busy_once(route):
        if not refused:
            refused.append(route.request.url)
            body = {"detail": [{"loc": [], "msg": "the server is busy computing (2 heavy requests running and 16 "
                                                  "waiting, the limit); try again in 1 s", "type": "busy"}]}
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body=json.dumps(body))
        else:
            route.continue_()

    page.route("**/conv/results", busy_once)
    type_into(page, "#w-0-0-0-0", "3")
    page.wait_for_function("() => (document.getElementById('form-message') || {}).textContent"
                           "?.includes('Asking again in 1 s')")
    assert "The server is busy computing" in page.text_content("#form-message")
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])  # the retry's answer, as for any edit
    assert refused and page.is_hidden("#form-message")
    assert not [e for e in page_errors if "503" not in e], page_errors
