"""A stepper's next answer is asked for before its key is pressed (static/js/prefetch.js, issue 12): in real Chromium,
→ is answered without a request of its own when the page asked for that step ahead, with exactly the numbers the
server gives that step; an edit made since, or Lens.prefetch = false, sends the key's own request as before.
"""

from __future__ import annotations

import pytest

from tests.browser.test_network import open_lab, position, wait_for_link, wait_for_position

pytestmark = pytest.mark.browser

STEP = "/network/step"


class Requests:
    """The page's POSTs to ``path``, by kind: htmx's own ("xhr") and those asked ahead ("fetch")."""

    def __init__(self, page, path: str) -> None:
        self.seen: list[str] = []
        page.on("request", lambda r: self.seen.append(r.resource_type) if r.method == "POST" and
                r.url.split("?")[0].endswith(path) else None)

    def count(self, kind: str) -> int:
        return self.seen.count(kind)


def step_view_in_view(page) -> None:
    page.click("h1")  # focus off the form, as a person clicking the page would
    page.evaluate("() => document.querySelector('.net-timeline').scrollIntoView({block: 'center'})")


def cells(page, root: str = "#net-step") -> list[str]:
    """Every number the step's panel shows, in order."""
    return page.evaluate("(r) => [...document.querySelectorAll(r + ' td, ' + r + ' [data-value]')]"
                         ".map((el) => el.textContent.trim())", root)


def wait_asked(page, requests: Requests, n: int) -> None:
    page.wait_for_function("() => true")  # a turn of the page's loop: the idle callback asks
    for _ in range(100):
        if requests.count("fetch") >= n:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"asked ahead {requests.count('fetch')} times, expected {n}")


def test_a_step_asked_for_ahead_is_answered_without_a_request_with_the_servers_numbers(
        page, live_server, page_errors, browser):
    requests = Requests(page, STEP)
    open_lab(page, live_server)
    step_view_in_view(page)
    wait_asked(page, requests, 1)  # the stepper the keys drive now: its next step, asked for once typing pauses
    for title in ("Forward · 1 relu", "Forward · 2 maxpool2d", "Forward · 3 flatten"):
        asked = requests.count("fetch")
        page.keyboard.press("ArrowRight")
        wait_for_position(page, title)
        wait_asked(page, requests, asked + 1)  # the page idle: the steps either side asked for
    assert requests.count("xhr") == 0  # every → answered by what was asked ahead
    shown = cells(page)
    wait_for_link(page, lambda f: f.get("op") == "f:3")
    # the same step opened fresh from its link: the server's own numbers, the same as those shown
    other = browser.new_page()
    other.goto(page.url)
    other.wait_for_load_state("networkidle")
    assert position(other) == "Forward · 3 flatten"
    assert cells(other) == shown
    other.close()
    page.keyboard.press("ArrowLeft")  # back: asked for too (the other neighbour)
    wait_for_position(page, "Forward · 2 maxpool2d")
    assert requests.count("xhr") == 0
    assert not page_errors, page_errors


def test_an_edit_since_the_step_was_asked_for_sends_the_keys_own_request(page, live_server, page_errors):
    requests = Requests(page, STEP)
    open_lab(page, live_server)
    step_view_in_view(page)
    wait_asked(page, requests, 1)
    # a value of the form changed behind the page's back (no request): the answer asked for no longer fits it
    page.evaluate("() => { document.querySelector('#net-step input[name=chain]').value = 'x'; }")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(200)
    assert requests.count("xhr") == 1  # the key's own request, with the form as it is now
    page.wait_for_selector("#form-message:not([hidden])")  # and the server's answer to it: 'x' is no chain
    assert "chain" in page.text_content("#form-message")


def test_with_prefetch_off_every_key_sends_its_own_request(page, live_server, page_errors):
    requests = Requests(page, STEP)
    open_lab(page, live_server)
    page.evaluate("() => { Lens.prefetch = false; }")
    step_view_in_view(page)
    for title in ("Forward · 1 relu", "Forward · 2 maxpool2d"):
        page.wait_for_timeout(300)
        page.keyboard.press("ArrowRight")
        wait_for_position(page, title)
    assert requests.count("xhr") == 2
    assert not page_errors, page_errors


def test_a_labs_window_stepper_is_asked_ahead_too(page, live_server, page_errors):
    requests = Requests(page, "/conv/window")
    page.goto(live_server + "/conv")
    page.wait_for_load_state("networkidle")
    page.click("h1")
    page.evaluate("() => document.querySelector('[data-stepper]').scrollIntoView({block: 'center'})")
    wait_asked(page, requests, 1)
    # twice: its Next button is replaced on its own by each step (its hx-vals name the next position), and the next
    # steps are asked for all the same
    for _ in range(2):
        asked = requests.count("fetch")
        before = page.get_attribute("[data-stepper]", "data-position")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(b) => document.querySelector('[data-stepper]').getAttribute('data-position') !== b",
                               arg=before)
        wait_asked(page, requests, asked + 1)
    assert requests.count("xhr") == 0
    assert not page_errors, page_errors


PARSES = """{
  const own = Document.parseHTMLUnsafe;
  window.__parses = [];
  Document.parseHTMLUnsafe = function (html) {
    window.__parses.push({at: performance.now(), size: String(html).length,
                          step: String(html).includes('id="net-step"')});
    return own.apply(Document, arguments);
  };
  document.addEventListener('keydown', () => { window.__key = performance.now(); }, true);
  document.addEventListener('htmx:afterSwap', (e) => {
    if (e.detail.target && e.detail.target.id === 'net-step') window.__swapped = performance.now();
  });
}"""


def test_the_step_the_key_asks_for_was_parsed_before_the_key(page, live_server, page_errors):
    """htmx parses an answer into a document between the key and the frame; the one asked for ahead in the direction of
    travel was parsed while the page was idle, and htmx's parse of the same text hands that document over."""
    page.add_init_script(PARSES)  # under prefetch.js, which keeps the browser's parse as the one it calls
    open_lab(page, live_server)
    step_view_in_view(page)
    for title in ("Forward · 1 relu", "Forward · 2 maxpool2d"):
        # idle: the next step asked for and parsed (on a loaded machine that takes longer than a person's pause)
        page.wait_for_function("() => window.__parses.some((p) => p.at > (window.__key || 0) && p.step)",
                               timeout=10000)
        page.keyboard.press("ArrowRight")
        wait_for_position(page, title)
        # what htmx parsed between the key and the step's swap (the next step's parse ahead comes after it)
        parsed_for_key = page.evaluate("() => window.__parses.filter((p) => p.at > window.__key && "
                                       "p.at < window.__swapped && p.step)")
        assert parsed_for_key == [], parsed_for_key
    assert page.evaluate("() => window.__parses.filter((p) => p.step).length") >= 2  # parsed ahead, in idle
    assert not page_errors, page_errors
