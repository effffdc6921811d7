"""Backward, explained, in real Chromium: the conv lab's dx stepper walked with the keys, the terms
panel read after hovering and after focusing a dx cell (and moving with the arrow keys).

Expected numbers are worked by hand from the notes' 5×5 edge filter (x = 1…25, w = [1, 0, −1] in
every row, dout all ones): dx = [[1, 1, 0, −1, −1], [2, 2, 0, −2, −2], [3, 3, 0, −3, −3], …].
"""

from __future__ import annotations

import pytest

from tests.browser.grids import seen

pytestmark = pytest.mark.browser

EDGE = ("/conv?v=1&x=1x1x5x5:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25"
        "&w=1x1x3x3:1,0,-1,1,0,-1,1,0,-1&b=1:0&stride=1&pad=0&dout=ones&tab=backward")


def open_backward(page, base: str, extra: str = "") -> None:
    page.goto(base + EDGE + extra)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#walk .window__sum.is-rendered")


def walk_pos(page) -> str:
    return page.inner_text("#walk .window__pos")


def test_the_dx_stepper_steps_with_the_keys_and_keeps_its_place_in_the_link(page, live_server, page_errors):
    open_backward(page, live_server)
    assert "dx[0, 0, 0, 0]" in walk_pos(page)
    page.click('#walk [data-step="next"]')
    page.wait_for_function("() => document.querySelector('#walk .window__pos').textContent.includes('dx[0, 0, 0, 1]')")
    for _ in range(5):  # → five times more, quicker than the server answers: each press is a step
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#walk .window__pos').textContent.includes('dx[0, 0, 1, 1]')")
    page.wait_for_function("() => location.search.includes('walk_step=6')")
    agree = page.inner_text("#walk .agree")
    assert "sum to 2" in agree and "col2im gives dx[0, 0, 1, 1] = 2" in agree
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('#walk .window__pos').textContent.includes('dx[0, 0, 1, 0]')")
    assert "col2im gives dx[0, 0, 1, 0] = 2" in page.inner_text("#walk .agree")
    assert not page_errors


def test_hovering_a_dx_cell_pairs_weights_with_douts_and_lists_the_terms(page, live_server):
    open_backward(page, live_server)
    page.hover('.side-by-side table[data-arr="dx"] td[data-idx="0,0,1,0"]')
    page.wait_for_selector("#terms-panel:not([hidden])")
    assert page.inner_text("#terms-panel .terms-panel__title") == "dx[0,0,1,0] = 2"
    rows = page.locator("#terms-panel .terms-panel__term").all_inner_texts()
    assert len(rows) == 2  # windows (0, 0) and (1, 0) cover x[1, 0]
    assert "w[0,0,1,0] = 1" in rows[0] and "dout[0,0,0,0] = 1" in rows[0]
    assert "w[0,0,0,0] = 1" in rows[1] and "dout[0,0,1,0] = 1" in rows[1]
    assert "Σ of 2 terms = 2" in page.inner_text("#terms-panel .terms-panel__sum")
    # each pair: the weight and the upstream cell carry the same number and the same colour
    pairs = page.evaluate(
        "() => [...document.querySelectorAll('td.prov-pair')].map(td => [td.closest('table').dataset.arr,"
        " td.dataset.idx, td.dataset.term, td.style.getPropertyValue('--pair')])")
    by_term = {}
    for arr, idx, term, colour in pairs:
        by_term.setdefault(term, set()).add((arr, idx, colour))
    first = {(a, i) for a, i, _ in by_term["1"]}
    assert ("w", "0,0,1,0") in first and ("dout", "0,0,0,0") in first
    assert len({c for *_, c in by_term["1"]}) == 1 and by_term["1"] != by_term["2"]
    # the screen reader's sentence
    live = page.inner_text("#terms-panel .terms-panel__live")
    assert live.startswith("dx[0,0,1,0] = 2, the sum of 2 terms: w[0,0,1,0] (1) times dout[0,0,0,0] (1) is 1")


def test_focusing_a_dx_cell_shows_its_terms_and_arrows_move_between_cells(page, live_server):
    open_backward(page, live_server)
    cell = page.locator('.side-by-side table[data-arr="dx"] td[data-idx="0,0,0,0"]')
    assert cell.get_attribute("tabindex") == "0"  # one tab stop per result table
    cell.focus()
    page.wait_for_function("() => document.querySelector('#terms-panel .terms-panel__title')?.textContent"
                           " === 'dx[0,0,0,0] = 1'")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement.dataset.idx === '0,0,1,1'")
    page.wait_for_function("() => document.querySelector('#terms-panel .terms-panel__title').textContent"
                           " === 'dx[0,0,1,1] = 2'")
    assert page.locator("#terms-panel .terms-panel__term").count() == 4
    assert "dx[0, 0, 0, 0]" in walk_pos(page)  # arrows on a cell move the focus, not the stepper
    page.keyboard.press("Escape")
    page.wait_for_selector("#terms-panel", state="hidden")


@pytest.mark.parametrize("path,table,title", [
    ("/pool", "dx", "dx["), ("/pool", "relu_dx", "relu_dx["), ("/softmax", "dlogits", "dlogits["),
    ("/norm", "dx", "dx["), ("/norm", "dgamma", "dgamma["), ("/optim", "m", "m_1["), ("/optim", "theta", "θ_1["),
])
def test_every_lab_pairs_the_terms_of_a_gradient_cell(page, live_server, path, table, title):
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    cell = page.locator(f'table[data-arr="{table}"] td[data-idx]').first
    cell.scroll_into_view_if_needed()
    cell.hover()
    page.wait_for_selector("#terms-panel:not([hidden])")
    assert page.inner_text("#terms-panel .terms-panel__title").startswith(title)
    live = page.inner_text("#terms-panel .terms-panel__live")
    assert ", the sum of " in live


NOTES_003 = ("/norm?v=1&tab=bn&x=2x3:1,10,0.5,3,4,0.502&gamma=3:2,0.5,1&beta=3:0.5,-1,0&running_mean=3:0,0,0"
             "&running_var=3:1,1,1&dout=2x3:0.3,1,1,-1.2,2,-0.5&mode=train&eps=1e-05&convention=pytorch&c=0")


def test_walking_the_batch_norm_graph_stage_by_stage(page, live_server, page_errors):
    """Notes 003, feature 0: dβ = 0.3 − 1.2 = −0.9, dγ = 0.3·(−1) + (−1.2)·1 = −1.5 (x̂ = ∓1), …, dx by three paths."""
    page.goto(live_server + NOTES_003)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#stage .window__pos")
    seen(page.locator("#stage"))
    assert "the whole graph" in page.inner_text("#stage .window__pos")
    expected = [("①", "dbeta", "-0.9"), ("②", "dgamma", "-1.5"), ("③", "dx_hat", "0.6"), ("④", "dvar", "1.5"),
                ("⑤", "dmean", "1.8"), ("⑥", "dx", "1.5e-05")]
    page.click('#stage [data-step="next"]')
    for k, (circle, array, value) in enumerate(expected):
        if k:
            page.keyboard.press("ArrowRight")  # focus stays on the button: the arrows walk on
        page.wait_for_function(f"() => document.querySelector('#stage .window__pos').textContent"
                               f".includes('stage {circle}')")
        assert array in page.inner_text("#stage .window__pos")
        assert page.locator("#stage .norm-node--current").count() == 1
        assert f"{array}[0] = {value}" in page.inner_text("#stage .terms-panel__sum").replace("−", "-") or \
            f"{array}[0,0] = {value}" in page.inner_text("#stage .terms-panel__sum").replace("−", "-")
    page.wait_for_function("() => location.search.includes('stage=6')")
    assert page.locator("#stage .terms-panel__term").count() == 3  # through x̂, σ² and μ
    assert not page_errors


def test_following_the_chain_to_the_deep_gamma_of_the_resnet_block(page, live_server, page_errors):
    """The conv5_block3 preset opens on its last batch norm's backward: the chain runs from the loss to a γ of
    it and ends in its Adam update; the picker follows another element; a dγ cell's terms come on hover."""
    link = page.request.get(live_server + "/network/preset/resnet", max_redirects=0).headers["location"]
    for _ in range(40):  # the preset's replay may run over one request's CPU budget: it then answers its progress
        if page.request.get(live_server + link).status != 503:  # (503, asked again) until its checkpoints are in
            break
    page.goto(live_server + link)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#net-chain .net-chain__hop")
    seen(page.locator("#net-chain"))
    assert "how the loss reached 4.7.gamma[" in page.inner_text("#net-chain h3")
    hops = page.locator("#net-chain .net-chain__where").all_inner_texts()
    assert hops[0].startswith("the loss") and hops[-1].startswith("layer 4.7")
    assert "optimizer's update of this one number" in page.inner_text("#net-chain")
    page.select_option('#net-chain select[name="chain_param"]', "4.7.beta")
    page.fill('#net-chain input[name="chain_index"]', "2")
    page.click("#net-chain button")
    page.wait_for_function("() => document.querySelector('#net-chain h3').textContent.includes('4.7.beta[2]')")
    page.wait_for_function("() => location.search.length > 0")
    cell = page.locator('.net-panel table[data-arr="dgamma"] td[data-idx]').first
    cell.scroll_into_view_if_needed()
    cell.hover()
    page.wait_for_selector("#terms-panel:not([hidden])")
    assert page.inner_text("#terms-panel .terms-panel__title").startswith("dgamma[0] = ")
    assert "512 terms" in page.inner_text("#terms-panel .terms-panel__sum")  # N·H·W = 32·4·4
    assert not page_errors
