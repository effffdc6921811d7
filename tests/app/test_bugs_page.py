"""/bugs lists every planted bug by lab with its difficulty; what each is sits in a folded spoiler."""

from __future__ import annotations

from markupsafe import escape

from engine.bugs import BUGS, by_lab


def test_the_bugs_page_lists_every_bug_by_lab(client):
    page = client.get("/bugs")
    assert page.status_code == 200
    text = page.text
    listed = [bug for bugs in by_lab().values() for bug in bugs]
    assert len(listed) == len(BUGS)
    for number, bug in enumerate(listed, start=1):
        entry = text[text.index(f'id="bug-{number}"'):]
        assert str(escape(bug.title)) in entry[:entry.index("</li>")]
        assert bug.difficulty in entry[:entry.index("<details")]  # shown; the title only inside the spoiler
    for lab in ("/conv", "/pool", "/norm", "/softmax", "/optim", "/network"):
        assert f'href="{lab}"' in text
    assert text.count('<details class="bug__spoiler">') == len(BUGS)
