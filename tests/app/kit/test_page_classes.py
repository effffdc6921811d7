"""A page's modes are classes on <html> (templates/base.html), never a body:has(…) rule in a stylesheet.

A rule whose :has() hangs on body (or html) makes Chromium restyle the whole page after every DOM change: Plotly
measures each label's text with one element put in and taken out, and each of those cost ~10 ms on /softmax (346
elements restyled each time, 4 without the rule; issue 12's Chromium trace). So the quiz, a planted bug and the deck
pages say what they are on <html>, and the rules ask for that class.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.settings import get_settings
from app.web.kit.bugs import seal

CSS = Path(__file__).resolve().parents[3] / "static" / "css"
ON_THE_PAGE = re.compile(r"(?:^|[\s,{}>~+(])(?:body|html|:root)\s*:has\(", re.M)


def html_classes(text: str) -> set[str]:
    tag = re.search(r"<html\b[^>]*>", text).group(0)
    found = re.search(r'class="([^"]*)"', tag)
    return set(found.group(1).split()) if found else set()


@pytest.mark.parametrize("sheet", sorted(CSS.rglob("*.css")), ids=lambda p: p.name)
def test_no_stylesheet_asks_body_has(sheet):
    assert not ON_THE_PAGE.search(sheet.read_text()), f"{sheet.name}: a class on <html> instead (base.html)"


def test_the_rule_is_caught():  # the check above can fail: it knows the rule when it sees one
    assert ON_THE_PAGE.search(".x{}\nbody:has(.quiz-panel.is-active) .lab-export { display: none; }")
    assert not ON_THE_PAGE.search(".lab-actions:has(> .display-buttons) { gap: 0; }")


def test_a_lab_says_no_mode(client):
    assert html_classes(client.get("/conv", follow_redirects=True).text) == set()


def test_a_quiz_says_quiz_on(client):
    page = client.get("/conv", follow_redirects=True)
    link = str(page.url).replace("http://testserver", "")
    assert "quiz-on" in html_classes(client.get(link + "&quiz=out:0,0,0,0").text)


def test_a_planted_bug_says_has_bug_panel(client):
    token = seal("conv-flip", get_settings().bug_secret)
    page = client.get("/conv", follow_redirects=True)
    link = str(page.url).replace("http://testserver", "")
    assert html_classes(client.get(f"{link}&bug={token}").text) == {"has-bug-panel"}


def test_the_projected_and_speaker_decks_say_deck_page(client):
    for path in ("/deck", "/deck/speaker"):
        assert "deck-page" in html_classes(client.get(path).text), path
    assert "deck-page" not in html_classes(client.get("/deck/edit").text)  # the editor keeps the site's header


def test_present_and_a_quiz_together(client):
    page = client.get("/conv", follow_redirects=True)
    link = str(page.url).replace("http://testserver", "")
    assert html_classes(client.get(link + "&present=1&quiz=out:0,0,0,0").text) == {"is-present", "quiz-on"}
