"""The residual-block bug in the network lab (engine.bugs: "residual-overwrite", dx = dx_branch where the fork must
add dout): it opens from /bugs (12 of 12 bugs open in their lab), the step view shows the wrong dx, the whole-network
gradient check catches it, marking dx finds it, "show me" puts the page's tables beside the true engine's — and the
replay's checkpoints are keyed by the planted bug (app.web.labs.network.run.run_key), so a bugged run and the true one
never share them, whichever is opened first. The lab's own routes keep the bug too: every operation of the step view,
"Watch it train" (its stream trains with the bug), the jump to a trained step and the drawing pad's prediction.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from app.web.kit.bug_sites import SITES
from tests.app import replay
from tests.app.kit.test_bugs_in_labs import form_of

TRUE = "/network?" + SITES["network"]["residual-overwrite"].link


def opened(client, link: str):
    return replay.get(client, link)


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


def test_the_step_view_keeps_the_bug_through_its_operations(client, bug_link):
    form = form_of(opened(client, bug_link).text, "network")
    away = client.post("/network/step", data={**form, "op_delta": "-1"})  # the operation before, then back
    assert away.status_code == 200 and "bug=" in away.headers["HX-Replace-Url"]
    back = client.post("/network/step", data={**form, "op_goto": form["op"]})
    assert back.status_code == 200 and "bug=" in back.headers["HX-Replace-Url"]
    skip, branch, dx = (table(back.text, a) for a in ("dx_skip", "dx_branch", "dx"))
    assert np.array_equal(dx, branch) and not np.allclose(dx, skip + branch)  # still the bugged engine


def test_the_jump_from_the_training_card_keeps_the_bug(client, bug_link):
    r = client.get("/network/jump?" + bug_link.split("?", 1)[1] + "&to=3", follow_redirects=False)
    assert r.status_code == 303 and "bug=" in r.headers["location"], r.text[:300]


def stream_losses(client, query: str) -> list[float]:
    """The training losses of a stream's first events (as fast as it goes)."""
    losses: list[float] = []
    with client.stream("GET", f"/network/train/stream?{query}&from=0&speed=0") as r:
        event = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
                assert event != "done" or losses, "the stream ended before any step"
            elif line.startswith("data:") and event == "steps":
                losses += json.loads(line.split(":", 1)[1])["loss"]
                if len(losses) >= 6:
                    return losses
    return losses


def test_watch_it_train_on_the_bug_page_trains_with_the_bug(client, bug_link):
    """The bug page's stream trains (it failed: its link carries bug=) and with the bug: the overwritten skip
    gradient changes every step after the first, so the losses part from the true run's."""
    bugged = stream_losses(client, bug_link.split("?", 1)[1])
    true = stream_losses(client, TRUE.split("?", 1)[1])
    assert len(bugged) >= 6 and len(true) >= 6
    assert bugged[0] == pytest.approx(true[0])  # the same first step's loss: the same start
    assert bugged[1:6] != pytest.approx(true[1:6])


def test_the_drawing_pad_predicts_with_the_weights_the_bug_trained(client, bug_link):
    form = form_of(opened(client, bug_link).text, "network")
    pad = {"pad": [str((i * 7) % 17) for i in range(64)], "pad_weights": "latest", "pad_trained": "2"}
    bugged = client.post("/network/predict", data={**form, **pad})
    true = client.post("/network/predict", data={**{k: v for k, v in form.items() if k != "bug"}, **pad})
    assert bugged.status_code == true.status_code == 200
    assert 'data-t="2"' in bugged.text and 'data-t="2"' in true.text  # the weights of training step 2
    assert bugged.text != true.text  # two bugged steps: other weights, other probabilities
