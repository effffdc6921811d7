"""The residual-block bug in the network lab (engine.bugs: "residual-overwrite", dx = dx_branch where the fork must
add dout): it opens from /bugs (12 of 12 bugs open in their lab), the step view shows the wrong dx, the whole-network
gradient check catches it, marking dx finds it, "show me" puts the page's tables beside the true engine's — and the
replay's checkpoints are keyed by the planted bug (app.web.labs.network.run.run_key), so a bugged run and the true one
never share them, whichever is opened first.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from app.web.kit.bug_sites import SITES
from tests.app.kit.test_bugs_in_labs import form_of

TRUE = "/network?" + SITES["network"]["residual-overwrite"].link


def opened(client, link: str):
    for _ in range(200):  # a replay answers its progress (503) until its checkpoints are in
        r = client.get(link)
        if r.status_code != 503:
            return r
        time.sleep(0.2)
    return r


def table(html: str, array: str) -> np.ndarray:
    """The exact values of the step view's table ``array`` (its cells' tooltips, else their text)."""
    body = re.search(rf'<table class="heatmap[^"]*" data-arr="{array}"[^>]*>(.*?)</table>', html, re.S).group(1)
    cells = re.findall(r'<td data-idx="[^"]*"[^>]*?(?: title="([^"]*)")?>([^<]*)</td>', body)
    return np.array([float(title or text) for title, text in cells])


@pytest.fixture
def bug_link(client):
    page = client.get("/bugs")
    assert page.status_code == 200
    links = re.findall(r'href="(/[a-z]+\?[^"]*bug=[^"]+)"', page.text)
    assert len(links) == 12, links  # every bug of the catalogue opens in its lab
    (link,) = [link.replace("&amp;", "&") for link in links if link.startswith("/network?")]
    return link


def test_the_residual_bug_opens_in_the_network_lab_with_the_wrong_dx(client, bug_link):
    true_first = opened(client, TRUE)  # the true run's checkpoints are cached first
    bugged = opened(client, bug_link)
    assert bugged.status_code == 200 and "bug-panel" in bugged.text
    assert "residual" not in bug_link and "overwrite" not in bug_link  # the link does not say which
    skip, branch, dx = (table(bugged.text, a) for a in ("dx_skip", "dx_branch", "dx"))
    assert np.array_equal(dx, branch) and not np.allclose(dx, skip + branch)  # the skip path is dropped
    t_skip, t_branch, t_dx = (table(true_first.text, a) for a in ("dx_skip", "dx_branch", "dx"))
    assert np.allclose(t_dx, t_skip + t_branch, rtol=1e-3)
    assert not np.allclose(skip, t_skip)  # two bugged training steps: not the true run's parameters
    again = opened(client, TRUE)  # ... and the bugged checkpoints did not replace the true ones
    assert np.array_equal(table(again.text, "dx_skip"), t_skip)


def test_the_gradient_check_catches_it_and_marking_dx_finds_it(client, bug_link):
    page = opened(client, bug_link)
    form = form_of(page.text, "network")
    assert form.get("bug")
    check = client.post("/network/gradcheck", data=form)
    assert check.status_code == 200 and "badge--bad" in check.text, check.text[:400]
    true = client.post("/network/gradcheck", data={k: v for k, v in form.items() if k != "bug"})
    assert true.status_code == 200 and "badge--ok" in true.text
    found = client.post("/network/bug/mark", data={**form, "marked": "dx"})
    assert found.status_code == 200 and "Found it" in found.text
    wrong = client.post("/network/bug/mark", data={**form, "marked": "dx_skip"})
    assert "is right here" in wrong.text
    shown = client.post("/network/bug/reveal", data=form)
    assert shown.status_code == 200 and "overwrites the gradient" in shown.text and "<code>dx</code>" in shown.text


def test_a_residual_block_card_answers_hover_provenance(client):
    form = form_of(opened(client, TRUE).text, "network")
    answers = {a: client.post("/network/provenance", data={**form, "array": a, "index": "1,3"})
               for a in ("dx", "dx_skip", "dx_branch", "dout")}
    assert {a: r.status_code for a, r in answers.items()} == dict.fromkeys(answers, 200)
    assert answers["dx"].json()["cells"] == {"dx_skip": ["1,3"], "dx_branch": ["1,3"]}
    assert answers["dx_skip"].json()["cells"] == {"dout": ["1,3"]}
    bad = client.post("/network/provenance", data={**form, "array": "dx", "index": "99,0"})
    assert bad.status_code == 422
