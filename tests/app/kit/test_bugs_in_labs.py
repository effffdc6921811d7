"""Spot the bug inside a lab (app.web.kit.bugs): every planted bug opens in its lab, changes an array the page
shows and is caught by the page's gradient check or the comparison it names; the token is opaque and a forged one
is a 422 naming ``bug``; edits keep the bug; marking is graded; "show me" puts the bug beside the correct engine;
the swap is seen by the request that asked for it only."""

from __future__ import annotations

import html as html_module
import importlib
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from app.settings import get_settings
from app.web.kit import bugs as kit_bugs
from app.web.kit.bug_sites import SITES
from app.web.kit.bugs import FieldError, seal, unseal
from app.web.kit.quiz import values_of
from engine import registry
from engine.bugs import get_bug
from engine.bugs.plant import FORCED, swapped_specs

ROOT = Path(__file__).resolve().parents[3]
CASES = [(lab, key) for lab, sites in SITES.items() for key in sites]


def token(key: str) -> str:
    return seal(key, get_settings().bug_secret)


def tables(html: str, name: str) -> list[str]:
    """Every table ``data-arr=name`` of ``html`` as its cells' texts."""
    found = re.findall(rf'<table class="heatmap[^"]*" data-arr="{re.escape(name)}"[^>]*>(.*?)</table>', html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", t)).strip() for t in found]


def form_of(html: str, slug: str) -> dict[str, list[str]]:
    """The lab form's fields as a browser posts them, with the inputs that belong to it by form= (the bug)."""
    form = html[html.index(f'<form id="{slug}-form"'):]
    form = form[:form.index("</form>")]
    fields: dict[str, list[str]] = {}
    outside = re.findall(rf'<input[^>]*form="{slug}-form"[^>]*>', html)
    for tag in re.findall(r"<input[^>]*>", form) + outside:
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or (re.search(r'type="(radio|checkbox)"', tag) and " checked" not in tag):
            continue
        fields.setdefault(name.group(1), []).append(html_module.unescape(value.group(1)) if value else "")
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields.setdefault(name, []).append(html_module.unescape(body))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option[^>]*value="([^"]*)"[^>]* selected', body) or \
            re.search(r'<option[^>]*value="([^"]*)"', body)
        if chosen:
            fields.setdefault(name, []).append(chosen.group(1))
    return fields


def pages(client, lab: str, key: str) -> tuple[str, str]:
    site = SITES[lab][key]
    right = client.get(f"/{lab}?{site.link}")
    wrong = client.get(f"/{lab}?{site.link}&bug={token(key)}")
    assert right.status_code == 200, right.text[:400]
    assert wrong.status_code == 200, wrong.text[:400]
    return right.text, wrong.text


@pytest.mark.parametrize(("lab", "key"), CASES, ids=[k for _, k in CASES])
def test_a_planted_bug_changes_an_array_the_page_shows(client, lab, key):
    right, wrong = pages(client, lab, key)
    assert 'id="bug-panel"' in wrong and 'id="bug-panel"' not in right
    site = SITES[lab][key]
    changed = [name for name in site.found if tables(wrong, name) != tables(right, name)]
    assert changed, f"{key}: none of {site.found} differs on {site.link}"
    assert key not in wrong and get_bug(key).title not in wrong  # which bug it is is not on the page


@pytest.mark.parametrize(("lab", "key"), CASES, ids=[k for _, k in CASES])
def test_the_page_catches_it_the_way_the_bug_says(client, lab, key):
    """A gradcheck bug: the page's gradient check fails with it and passes without. A comparison bug: the
    comparison holds on the correct engine's arrays and fails on the page's (engine.bugs.Bug.caught)."""
    bug = get_bug(key)
    right, wrong = pages(client, lab, key)
    if bug.caught_by == "gradcheck":
        planted = client.post(f"/{lab}/gradcheck", data=form_of(wrong, lab))
        clean = client.post(f"/{lab}/gradcheck", data=form_of(right, lab))
        assert planted.status_code == clean.status_code == 200
        assert "badge--bad" in planted.text, planted.text[:600]
        assert "badge--ok" in clean.text, clean.text[:600]
    else:
        spec = importlib.import_module(f"app.web.labs.{lab}.routes").LAB
        state = spec.from_link(SITES[lab][key].link, get_settings())
        plant = kit_bugs.Plant(token(key), key, lab, SITES[lab][key])
        if key in FORCED:  # the optimizer's: PyTorch's first Adam step moves each parameter by ±lr
            wrong = values_of(plant.run(spec.show, state, get_settings(), "page").context)
            right = values_of(spec.show(state, get_settings(), "page").context)
            lr, g = 0.01, [0.02, 0.01, 0.01, -0.03, 0.05]  # OPTIM_LINK's
            first = [("update", f"{j},0") for j in range(len(g))]  # (parameter, step)
            assert [right[c] for c in first] == pytest.approx([-lr * np.sign(v) for v in g], rel=1e-3)
            assert [wrong[c] for c in first] != pytest.approx([-lr * np.sign(v) for v in g], rel=1e-3)
            return
        calls = []
        plant.run(spec.show, state, get_settings(), "page",
                  record=lambda arrays, params: calls.append((arrays, params)))
        assert calls  # the comparison runs on the very inputs the page computed with
        arrays, params = calls[0]
        assert bug.caught(bug.run(arrays, params), arrays, params)
        assert not bug.caught(bug.reference(arrays, params), arrays, params)


def test_the_token_is_opaque_stable_and_unforgeable():
    secret = get_settings().bug_secret
    t = seal("relu-mask-ge", secret)
    assert t == seal("relu-mask-ge", secret) and unseal(t, secret) == "relu-mask-ge"
    assert "relu" not in t and len({seal(k, secret) for _, k in CASES}) == len(CASES)
    assert len({len(seal(k, secret)) for _, k in CASES}) == 1  # the length says nothing either
    with pytest.raises(FieldError):
        unseal(seal("relu-mask-ge", "another secret"), secret)
    flipped = t[:20] + ("A" if t[20] != "A" else "B") + t[21:]
    others = [t[:-1] + c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" if c != t[-1]]
    for bad in (flipped, t[:-2], t + "AA", "", "not a token!", "é" * 10, *others):
        with pytest.raises(FieldError) as err:
            unseal(bad, secret)
        assert err.value.field == "bug"


def test_a_forged_or_misplaced_token_is_a_422_naming_bug(client):
    site = SITES["norm"]["bn-no-mean-path"]
    good = token("bn-no-mean-path")
    last = [good[:-1] + c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" if c != good[-1]]
    for bad in (*last[:4], "x", token("relu-mask-ge")):  # any other last character, base64's unused bits too
        r = client.get(f"/norm?{site.link}&bug={bad}")
        assert r.status_code == 422
        assert "bug" in r.text
    r = client.get(f"/softmax?v=1&logits=1x3:3,-2,-100&labels=1:0&temperature=1&bug={token('ce-no-mean')}x")
    assert r.status_code == 422
    form = form_of(pages(client, "norm", "bn-no-mean-path")[1], "norm")
    form["bug"] = ["forged"]
    r = client.post("/norm/results", data=form)
    assert r.status_code == 422 and "bug" in r.text
    r = client.post("/norm/provenance", data={**form, "array": "dx", "index": "0,0"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "bug"]


def test_a_planted_lab_is_not_exported(client):
    site = SITES["conv"]["conv-flip"]
    r = client.get(f"/conv/export/arrays.json?{site.link}&bug={token('conv-flip')}")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "bug"]
    assert client.get(f"/conv/export/arrays.json?{site.link}").status_code == 200


def test_an_edit_keeps_the_bug_and_its_numbers(client):
    right, wrong = pages(client, "norm", "bn-no-mean-path")
    planted = client.post("/norm/results", data=form_of(wrong, "norm"))
    clean = client.post("/norm/results", data=form_of(right, "norm"))
    assert planted.status_code == clean.status_code == 200
    assert planted.headers["HX-Replace-Url"].endswith("&bug=" + token("bn-no-mean-path"))
    assert "bug=" not in clean.headers["HX-Replace-Url"]
    assert tables(planted.text, "dx") != tables(clean.text, "dx")
    assert tables(planted.text, "dx_compact") == tables(clean.text, "dx_compact")  # the page's own second way
    again = client.get(planted.headers["HX-Replace-Url"])  # the link it leaves in the address bar reopens it
    assert again.status_code == 200 and tables(again.text, "dx") == tables(wrong, "dx")


def test_marking_is_graded(client):
    form = form_of(pages(client, "norm", "bn-unbiased-train")[1], "norm")
    verdicts = {}
    for marked in ("var", "x_hat", "mean"):
        r = client.post("/norm/bug/mark", data={**form, "marked": marked})
        assert r.status_code == 200
        verdicts[marked] = re.search(r'data-verdict="(\w+)"', r.text).group(1)
    assert verdicts == {"var": "found", "x_hat": "follows", "mean": "wrong"}
    r = client.post("/norm/bug/mark", data={**form, "marked": "<script>"})
    assert r.status_code == 422 and "marked" in r.text
    clean = form_of(pages(client, "norm", "bn-unbiased-train")[0], "norm")
    assert client.post("/norm/bug/mark", data={**clean, "marked": "var"}).status_code == 422


def test_show_me_puts_the_bug_beside_the_correct_engine(client):
    form = form_of(pages(client, "pool", "relu-mask-ge")[1], "pool")
    r = client.post("/pool/bug/reveal", data=form)
    assert r.status_code == 200
    assert get_bug("relu-mask-ge").title in html_module.unescape(r.text)
    assert "<code>relu_mask</code>" in r.text and "<code>relu_dx</code>" in r.text
    assert "the correct engine" in r.text and "with the bug" in r.text
    assert r.text.count('class="heatmap') >= 2


def test_the_swap_is_seen_by_its_own_context_only():
    """Threads computing the real op while another thread holds a swap always get the real numbers."""
    inputs, params = get_bug("ce-no-mean").example(np.random.default_rng(0))
    real = registry.run_op("softmax_cross_entropy", inputs, params)["dlogits"]
    stop, wrong = threading.Event(), []

    def planted():
        with registry.swapped(swapped_specs("ce-no-mean")):
            while not stop.is_set():
                assert not np.allclose(registry.run_op("softmax_cross_entropy", inputs, params)["dlogits"], real)

    def normal():
        for _ in range(200):
            if not np.allclose(registry.run_op("softmax_cross_entropy", inputs, params)["dlogits"], real):
                wrong.append(1)

    threads = [threading.Thread(target=planted)] + [threading.Thread(target=normal) for _ in range(3)]
    threads[0].start()
    for t in threads[1:]:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert not wrong
    assert registry.get_spec("softmax_cross_entropy") is registry.OPS["softmax_cross_entropy"]


def test_the_normal_lab_pages_never_import_the_bugs():
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "c = TestClient(create_app())\n"
        "for lab in ('conv', 'pool', 'norm', 'softmax'):\n"
        "    assert c.get('/' + lab).status_code == 200\n"
        "print(sorted(n for n in sys.modules if n.startswith('engine.bugs')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_show_me_on_the_optimizer_puts_the_pages_tables_side_by_side(client):
    form = form_of(pages(client, "optim", "adam-no-bias-correction")[1], "optim")
    r = client.post("/optim/bug/reveal", data=form)
    assert r.status_code == 200
    assert "Adam without bias correction" in r.text
    assert "<code>m_hat</code>" in r.text and "(the same on these inputs)" not in r.text.split("<code>v_hat")[0]
