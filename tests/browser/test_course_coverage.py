"""Issue 14 in real Chromium: the network builder with the course's layers and losses, and the optimizer lab's
"start from a state" and "continue from here", driven the way a person does (select, type, Tab, click)."""

from __future__ import annotations

import pytest

from tests.browser.test_network import link_fields, open_lab, type_into, wait_for_link

pytestmark = pytest.mark.browser
# the bad values typed on purpose answer 422 (and a request a newer edit replaced is aborted): nothing else may fail
EXPECTED = ("HTTP 422: ", "status of 422", "net::ERR_ABORTED", "htmx:sendAbort")


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(a in e for a in EXPECTED)]


def test_build_with_leaky_relu_groupnorm_and_the_svm_loss(page, live_server, page_errors):
    open_lab(page, live_server, "/network/preset/lenet")
    # a group norm after the first conv (6 channels): add it at the end, move it up to sit after layer 0
    page.select_option('select[name="add_type"]', "groupnorm")
    page.click("text=Add layer")
    page.wait_for_function("() => document.querySelectorAll('.net-layer').length === 9")
    wait_for_link(page, lambda f: '"groupnorm"' in f["model"])
    for _ in range(6):
        last = page.locator(".net-layer[data-path] .net-layer__type", has_text="groupnorm").first
        path = last.locator("xpath=ancestor::li[1]").get_attribute("data-path")
        if path == "1":
            break
        page.click(f'[aria-label="Move layer {path} up"]')
        page.wait_for_selector(f'.net-layer[data-path="{int(path) - 1}"] >> text=groupnorm')
    # a leaky ReLU at the end: elementwise, so the logits keep their shape
    page.select_option('select[name="add_type"]', "leaky_relu")
    page.click("text=Add layer")
    page.wait_for_selector('input[name="model.layers[8].slope"]')
    type_into(page, 'input[name="model.layers[8].slope"]', "0.2")
    wait_for_link(page, lambda f: '{"type":"leaky_relu","slope":0.2}' in f["model"])
    # groups that do not divide the 6 channels: the message at the layer, what was typed stays
    type_into(page, 'input[name="model.layers[1].groups"]', "4")
    page.wait_for_selector(".net-layer__error")
    assert "groupnorm's 4 groups must divide the 6 channels" in page.text_content(".net-layer__error")
    assert page.input_value('input[name="model.layers[1].groups"]') == "4"
    type_into(page, 'input[name="model.layers[1].groups"]', "3")
    page.wait_for_function("() => !document.querySelector('.net-layer__error')")
    # the SVM loss with an L2 penalty
    page.select_option('select[name="model.loss"]', "svm_loss")
    wait_for_link(page, lambda f: '"loss":"svm_loss"' in f["model"])
    type_into(page, 'input[name="model.reg"]', "0.05")
    wait_for_link(page, lambda f: '"reg":0.05' in f["model"])
    # a bad strength: named, nothing swapped
    type_into(page, 'input[name="model.reg"]', "-1")
    page.wait_for_selector('input[name="model.reg"][aria-invalid="true"]')
    type_into(page, 'input[name="model.reg"]', "0.05")
    page.wait_for_function("() => !document.querySelector('input[name=\"model.reg\"][aria-invalid=\"true\"]')")
    # the whole-network gradient check passes with them
    page.wait_for_selector("#gradcheck .badge--ok", timeout=60000)
    fields = link_fields(page)
    assert '{"type":"groupnorm","groups":3}' in fields["model"]
    assert not unexpected(page_errors), page_errors


def test_optim_start_from_a_state_and_continue_from_here(page, live_server, page_errors):
    page.goto(live_server + "/optim/preset/cs231n-adam-t5")
    page.wait_for_load_state("networkidle")
    assert "Step t = 6" in page.text_content("#formulas h2")
    assert page.input_value("#t0") == "5"
    # the first row of cs231n's expected_next_w: −0.40094747
    theta = page.locator('#step-rows table[data-arr="theta"] td').first.text_content()
    assert theta.strip() == "-0.4009"
    page.click("#continue-from")
    page.wait_for_function("() => document.querySelector('#t0') && document.querySelector('#t0').value === '6'")
    page.wait_for_function("() => document.querySelector('#formulas h2').textContent.includes('Step t = 7')")
    # the address follows the edit once the page is idle after the frame that shows it (address.js)
    page.wait_for_function("() => location.search.includes('t0=6')")
    # typing a starting state by hand: v0 may not be negative, the cell is named
    type_into(page, "#v0-1", "-1")
    page.wait_for_selector('#v0-1[aria-invalid="true"]')
    assert "v0[w1]" in page.text_content("#form-message")
    type_into(page, "#v0-1", "0.5")
    page.wait_for_function("() => !document.querySelector('#v0-1[aria-invalid=\"true\"]')")
    assert not unexpected(page_errors), page_errors


def test_hovering_an_activations_dx_outlines_its_slope_and_dout(page, live_server, page_errors):
    page.goto(live_server + "/pool?v=1&x=1x1x2x2:-2,0,1,3&pool=max&size=2&stride=2&dout=ones")
    page.wait_for_load_state("networkidle")
    page.hover('table[data-arr="leaky_relu_dx"] td[data-idx="0,0,0,0"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'act_dout')")
    outlined = page.evaluate("() => [...document.querySelectorAll('td.prov')].map(td => "
                             "td.closest('table').dataset.arr + '[' + td.dataset.idx + ']')")
    assert {"act_dout[0,0,0,0]", "leaky_relu_local_grad[0,0,0,0]"} <= set(outlined), outlined
    # and a softmax SVM margin outlines the two logits it compares
    page.goto(live_server + "/softmax?v=1&logits=2x3:3,-2,-100,1,2.5,0.2&labels=2:0,2&temperature=1")
    page.wait_for_load_state("networkidle")
    page.hover('table[data-arr="svm_margins"] td[data-idx="1,1"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'logits')")
    outlined = page.evaluate("() => [...document.querySelectorAll('td.prov')].map(td => "
                             "td.closest('table').dataset.arr + '[' + td.dataset.idx + ']')")
    assert {"logits[1,1]", "logits[1,2]"} <= set(outlined), outlined
    assert not unexpected(page_errors), page_errors
