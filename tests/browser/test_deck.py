"""Decks in real Chromium: a deck of four slides across three labs walks forward and back with PageDown/PageUp
(the stepper in view first, then the next slide), opens from its link at any slide, a broken slide names itself
while the others open, the speaker view follows the projected window (and the other way round), and the editor
builds a deck from "Add to deck" on lab pages."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app.main import LABS
from app.web.pages.deck_link import Deck, Slide, edit_slide

pytestmark = pytest.mark.browser

SPECS = {lab.LAB.slug: lab.LAB for lab in LABS}
MAX_PRESSES = 40  # more than the steppers of the four slides hold


def preset(slug: str, key: str, anchor: str, **fields: str) -> str:
    link = SPECS[slug].canonical(SPECS[slug].presets[key].make(0))
    return (edit_slide(link, fields) if fields else link) + f"#{anchor}"


FOUR = Deck((
    Slide(preset("conv", "edge", "section-window"), "Convolution: the sliding window", "one window at a time"),
    Slide(preset("pool", "notes-4x4", "window"), "Max pooling forward"),
    Slide(preset("norm", "two-sample", "bn-graph", stage="1"), "Batch norm backward", "walk the stages"),
    Slide(preset("pool", "notes-routing", "backward"), "Max pooling backward"),
))


@pytest.fixture
def viewport(page):
    page.set_viewport_size({"width": 1280, "height": 720})
    return page


def open_deck(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.Deck !== undefined")
    settle(page)


def settle(page) -> None:
    page.evaluate("() => Deck.settled()")


def where(page) -> tuple[int, str | None]:
    """(slide shown, the position of the stepper in view inside its frame, or None)."""
    return page.evaluate("""() => {
        const frame = document.querySelector('[data-deck-frame]');
        let s = null;
        try { const lens = frame.contentWindow.Lens; s = lens && lens.stepperInView ? lens.stepperInView() : null; }
        catch (e) { s = null; }
        return [Deck.at(), s ? s.key + ':' + s.position : null];
    }""")


def press(page, key: str) -> tuple[int, str | None]:
    page.keyboard.press(key)
    settle(page)
    return tuple(where(page))


def test_four_slides_across_three_labs_walk_forward_and_back(viewport, live_server, page_errors):
    page = viewport
    open_deck(page, live_server + FOUR.link())
    assert where(page)[0] == 1
    assert page.inner_text("[data-deck-title]") == "Convolution: the sliding window"
    src = page.get_attribute("[data-deck-frame]", "src")
    assert src.startswith("/conv?v=1&") and "&embed=1&present=1#section-window" in src
    seen = [tuple(where(page))]
    for _ in range(MAX_PRESSES):  # forward: each press steps the stepper in view, or opens the next slide
        now = press(page, "PageDown")
        before = seen[-1]
        assert now[0] in (before[0], before[0] + 1), seen + [now]
        if now[0] == before[0]:
            if now == before:
                break  # the last stage of the last slide: nothing more
            assert now[1] != before[1], seen + [now]  # same slide: its stepper moved
        seen.append(now)
    slides_seen = [s for s, _ in seen]
    assert slides_seen[-1] == 4 and sorted(set(slides_seen)) == [1, 2, 3, 4], seen
    assert len(seen) > 5, seen  # stages were walked, not only slides
    assert "at=4" in page.url
    assert page.inner_text("[data-deck-count]") == "slide 4 of 4"
    for _ in range(MAX_PRESSES):  # and back
        if press(page, "PageUp")[0] == 1 and where(page) == press(page, "PageUp"):
            break
    assert where(page)[0] == 1 and "at=" not in page.url
    assert page.inner_text("[data-deck-title]") == "Convolution: the sliding window"
    assert not page_errors, page_errors


def test_keys_pressed_inside_the_slide_move_the_deck(viewport, live_server, page_errors):
    page = viewport
    open_deck(page, live_server + FOUR.link(at=2))
    page.frame_locator("[data-deck-frame]").locator("h1").first.click()  # the focus is in the frame now
    before = where(page)
    after = press(page, "PageDown")
    assert after != before, (before, after)  # a stage of slide 2, or slide 3
    assert not page_errors, page_errors


def test_a_deck_opens_from_its_link_at_any_slide(viewport, live_server, page_errors):
    page = viewport
    open_deck(page, live_server + FOUR.link(at=3))
    assert where(page)[0] == 3 and page.inner_text("[data-deck-title]") == "Batch norm backward"
    assert page.get_attribute("[data-deck-frame]", "src").startswith("/norm?v=1&")
    frame = page.frame_locator("[data-deck-frame]")
    assert frame.locator("html.is-embed.is-present").count() == 1  # the lab, framed, in presenter mode
    page.click("[data-deck-go='-1']")
    settle(page)
    assert where(page)[0] == 2 and "at=2" in page.url
    assert not page_errors, page_errors


def test_a_broken_slide_names_itself_and_the_rest_open(viewport, live_server):
    page = viewport
    deck = Deck((FOUR.slides[1], Slide("/pool?v=1&x=1x1:3", "Cut short"), FOUR.slides[3]))
    open_deck(page, live_server + deck.link(at=2))
    assert page.is_hidden("[data-deck-frame]")
    problem = page.inner_text("[data-deck-problem]")
    assert "Slide 2 “Cut short” does not open" in problem and "pooling link does not open: x:" in problem
    assert "slide 2 “Cut short”" in page.inner_text(".deck-broken")
    press(page, "PageDown")
    assert where(page)[0] == 3 and page.is_visible("[data-deck-frame]")
    page.frame_locator("[data-deck-frame]").locator("h1").first.wait_for()


def test_the_speaker_view_follows_the_projected_one_and_leads_it(viewport, live_server, page_errors):
    page = viewport
    open_deck(page, live_server + FOUR.link(at=3))
    speaker = page.context.new_page()
    speaker.set_viewport_size({"width": 1280, "height": 720})
    speaker.goto(live_server + FOUR.link("/deck/speaker"))  # opened at slide 1: the projector brings it to 3
    speaker.wait_for_function("() => window.Deck && Deck.at() === 3")
    speaker.wait_for_selector("[data-deck-peer].is-live")
    assert "walk the stages" in speaker.inner_text("[data-deck-notes]")
    assert "4. Max pooling backward" in speaker.inner_text("[data-deck-next]")
    assert speaker.inner_text("[data-deck-clock]") != "--:--"
    speaker.evaluate("() => Deck.settled()")
    page.bring_to_front()
    assert press(page, "PageDown") == (3, "#stage:2")  # a stage of the batch-norm graph: the speaker's too
    speaker.wait_for_function("() => document.querySelector('[data-deck-frame]').contentWindow.Lens"
                              ".stepperInView().position === 2")
    page.click("[data-deck-go='1']")  # the projector moves: the speaker follows
    speaker.wait_for_function("() => Deck.at() === 4")
    assert speaker.inner_text("[data-deck-next]") == "End of the deck"
    speaker.bring_to_front()
    speaker.click("[data-deck-go='-1']")  # the speaker moves: the projector follows
    page.wait_for_function("() => Deck.at() === 3")
    speaker.keyboard.press("PageUp")  # a key in the speaker view is the projector's to decide
    page.wait_for_function("() => Deck.at() === 2 || (Deck.at() === 3 && document.querySelector('[data-deck-frame]')"
                           ".contentWindow.Lens.stepperInView() !== null)")
    settle(page)
    speaker.wait_for_function(f"() => Deck.at() === {where(page)[0]}")
    assert not page_errors, page_errors


def test_add_to_deck_then_edit_reorder_and_present(viewport, live_server, page_errors):
    page = viewport
    page.goto(live_server + "/pool/preset/notes-routing")
    page.evaluate("() => localStorage.removeItem('lens-deck')")
    page.click("[data-deck-add]")
    assert page.inner_text("[data-deck-add]") == "Added: slide 1"
    page.goto(live_server + "/norm")
    page.click("[data-deck-add]")
    assert "Added as slide 2" in page.inner_text("[data-copy-status]")
    page.click("[data-copy-status] a")
    # the editor itself (asked on the lab page the predicate below has no link to read), with or
    # without the query its first save writes into the address: that can come before this wait
    page.wait_for_url(lambda url: urlsplit(url).path == "/deck/edit")
    page.wait_for_function("() => document.querySelector('[data-editor-link]').value.includes('/deck?v=1')")
    titles = page.locator("[data-slide-title]")
    assert titles.count() == 2
    titles.nth(1).fill("Batch norm")
    titles.nth(1).focus()
    page.keyboard.press("Alt+ArrowUp")  # the focused slide moves up, the focus with it
    assert page.evaluate("() => document.activeElement.value") == "Batch norm"
    assert page.locator("[data-slide-open]").nth(0).inner_text() == "/norm"
    page.wait_for_selector("[data-deck-editor][data-synced='true']", state="attached")  # the server has the order
    assert page.evaluate("() => location.pathname") == "/deck/edit"
    edit_link = page.url
    page.locator("[data-slide-remove]").nth(1).click()
    assert page.locator("[data-slide-title]").count() == 1
    page.goto(edit_link)  # the editor's own address edits that deck (both slides)
    assert page.locator("[data-slide-title]").count() == 2
    page.wait_for_selector("[data-deck-editor][data-synced='true']", state="attached")
    page.click("[data-editor-open]")
    page.wait_for_function("() => window.Deck !== undefined")
    assert page.inner_text("[data-deck-title]") == "Batch norm"
    assert page.inner_text("[data-deck-count]") == "slide 1 of 2"
    assert not page_errors, page_errors
