"""A busy server in real Chromium: an edit answered 503 (the queue of heavy work full, issue 13) says so in
the lab's message and is asked again after Retry-After, and the results then arrive as for any edit; a newer edit
replaces that retry, a request for another part of the page (the gradient check) does not."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from tests.browser.grids import type_into, wait_for_grid

pytestmark = pytest.mark.browser


BUSY = {"detail": [{"loc": [], "msg": "the server is busy computing (2 heavy requests running and 16 waiting, the "
                                     "limit); try again in 1 s", "type": "busy"}]}


def busy_at_first(page, live_server, value: str) -> list[str]:
    """/conv's notes example with its first edit (``value`` typed into w[0, 0, 0, 0]) answered 503, Retry-After 1 s,
    and shown as such; the later edits pass. Returns the edit requests' bodies so far, kept up to date."""
    page.goto(live_server + "/conv/preset/notes-7-3-13-6")
    page.wait_for_load_state("networkidle")
    asked: list[str] = []

    def busy_once(route):
        asked.append(route.request.post_data or "")
        if len(asked) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body=json.dumps(BUSY))
        else:
            route.continue_()

    page.route("**/conv/results", busy_once)
    type_into(page, "#w-0-0-0-0", value)
    page.wait_for_function("() => (document.getElementById('form-message') || {}).textContent"
                           "?.includes('Asking again in 1 s')")
    return asked


def test_an_edit_answered_busy_says_so_and_is_asked_again(page, live_server, page_errors):
    asked = busy_at_first(page, live_server, "3")
    assert "The server is busy computing" in page.text_content("#form-message")
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])  # the retry's answer, as for any edit
    assert len(asked) == 2 and page.is_hidden("#form-message")
    assert not [e for e in page_errors if "503" not in e], page_errors


def test_a_request_elsewhere_does_not_cancel_the_edits_retry(page, live_server, page_errors):
    """A request for another part of the page (the gradient check, asked once typing pauses) while an edit waits out
    its Retry-After: the edit is still asked again. Any request cancelled the retry, and CI once saw it never come
    (the page's first check, cut short by the edit, asked again 600 ms after the 503, before the retry's 1 s)."""
    asked = busy_at_first(page, live_server, "3")
    # what gradcheck.js sends once typing pauses (600 ms, before the retry's 1 s) when a check is still to be asked
    page.evaluate("() => { document.body.insertAdjacentHTML('beforeend', '<div id=\"elsewhere\"></div>');"
                  " htmx.ajax('POST', '/conv/gradcheck',"
                  " {source: '#conv-form', target: '#elsewhere', swap: 'none'}); }")
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])  # the retry's answer
    assert len(asked) == 2 and page.is_hidden("#form-message")
    assert not [e for e in page_errors if "503" not in e], page_errors


def test_a_newer_edit_replaces_the_retry(page, live_server, page_errors):
    """An edit typed while the last one waits out its Retry-After is the one asked: the retry is not sent after it."""
    asked = busy_at_first(page, live_server, "2")
    type_into(page, "#w-0-0-0-0", "3")  # the newer edit, answered
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])
    page.wait_for_timeout(1500)  # past the first edit's Retry-After
    # a loaded machine may send the retry before the newer edit exists (it is then answered as any edit): after it,
    # nothing more is sent
    newer = [i for i, body in enumerate(asked) if parse_qs(body)["w"][0] == "3"]
    assert newer == [len(asked) - 1] and len(asked) in (2, 3), asked
    assert not [e for e in page_errors if "503" not in e], page_errors
