"""What one keystroke costs the server (issue 12): the results fragment holds no input cells (what the user
typed is never sent back), its gradient check is a slot asked once typing pauses (not on load), the cells
patch it in place, and every routed answer says the server's time (Server-Timing)."""

from __future__ import annotations

import importlib
import re

import pytest

from bench.pageforms import as_data, parse
from tests.app import replay

CELL_LABS = {"conv": "random", "pool": "notes-4x4", "norm": "two-sample", "softmax": "notes", "optim": "notes-001",
             "network": "notes"}
CELL = re.compile(r"<input\b[^>]*\bclass=\"cell\"")


def opened(client, lab: str, preset: str) -> tuple[str, list[tuple[str, str]]]:
    r = replay.get(client, f"/{lab}/preset/{preset}?seed=3", follow_redirects=True)
    assert r.status_code == 200, r.text[:300]
    return r.text, parse(lab, r.text).fields


@pytest.mark.parametrize("lab", sorted(CELL_LABS))
def test_the_results_of_an_edit_carry_no_input_cell(client, lab):
    page, fields = opened(client, lab, CELL_LABS[lab])
    assert CELL.search(page)  # the page has cells…
    r = client.post(f"/{lab}/results", data=as_data(fields), headers={"HX-Request": "true"})
    assert r.status_code == 200, r.text[:300]
    assert 'id="results"' in r.text
    assert not CELL.search(r.text), f"/{lab}/results sends input cells back"  # …the edit's answer has none
    assert re.fullmatch(r"app;dur=\d+\.\d\d", r.headers["server-timing"])


@pytest.mark.parametrize("lab", sorted(CELL_LABS))
def test_the_cells_patch_the_results_and_nothing_checks_on_load(client, lab):
    page, fields = opened(client, lab, CELL_LABS[lab])
    cells = re.findall(r'<div class="cells"[^>]*>', page)
    assert cells and all('hx-swap="patch"' in c for c in cells if "/results" in c), cells
    r = client.post(f"/{lab}/results", data=as_data(fields), headers={"HX-Request": "true"})
    assert 'hx-trigger="load' not in r.text  # no request of its own when it arrives
    for slot in re.findall(r"<div [^>]*data-gradcheck[^>]*>", r.text):
        assert 'hx-trigger="lens:gradcheck' in slot and f'hx-post="/{lab}/gradcheck"' in slot, slot


def test_every_lab_with_a_check_has_its_slot_in_the_results():
    for lab in CELL_LABS:
        spec = importlib.import_module(f"app.web.labs.{lab}.routes").LAB
        assert spec.gradcheck is not None, lab


def test_the_page_loads_the_scripts_that_pace_the_check_and_patch_the_results(client):
    page = client.get("/conv/preset/edge", follow_redirects=True).text
    for script in ("js/gradcheck.js", "js/patch.js", "js/lens.js"):
        assert f"/static/{script}?v=" in page
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'', page).group(1)
    assert '"defaultSettleDelay": 0' in config and '"historyCacheSize": 0' in config
    assert '<body hx-history="false" hx-ext="lens-patch">' in page  # the patch swap, for any element that asks


@pytest.mark.parametrize(("lab", "module", "extra"), [("conv", "engine.ops.conv", "conv2d_full_conv"),
                                                      ("softmax", "engine.ops.softmax", "softmax_jacobian")])
def test_the_gradient_check_computes_no_display_only_extra(client, monkeypatch, lab, module, extra):
    """The check differentiates the op alone: the full-convolution dx and the softmax Jacobian are for the page."""
    _, fields = opened(client, lab, CELL_LABS[lab])
    calls = []
    target = importlib.import_module(module)
    real = getattr(target, extra)
    monkeypatch.setattr(target, extra, lambda *a, **k: calls.append(1) or real(*a, **k))
    r = client.post(f"/{lab}/gradcheck", data=as_data(fields), headers={"HX-Request": "true"})
    assert r.status_code == 200 and "badge--ok" in r.text, r.text[:300]
    assert not calls, f"the {lab} gradient check computed {extra} {len(calls)} times"
    client.post(f"/{lab}/results", data=as_data(fields), headers={"HX-Request": "true"})
    assert calls  # the page's own answer does (the patch reaches it)
