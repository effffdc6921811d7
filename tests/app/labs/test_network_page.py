"""The network lab's page: full page vs fragment, presets, links (strict, stored, shared), the builder,
stepping through the operations, the gradient-check badge, the drawing pad's prediction."""

from __future__ import annotations

import math
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest

from app.web.kit.link import from_query
from tests.app import replay


# --- what a browser would post from the lab's form: every named input, select and checked box ---
class _Form(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.depth, self.fields = form_id, 0, []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "form":
            self.depth += 1
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            elif kind not in ("button", "submit"):
                self.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value"), "selected" in a))
            self._pending = a.get("value")

    def handle_data(self, data):
        if self._select is not None and self._options and self._options[-1][0] is None:
            value, selected = self._options[-1]
            self._options[-1] = (data.strip(), selected)

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "select" and self._select is not None:
            chosen = next((v for v, s in self._options if s), self._options[0][0] if self._options else "")
            self.fields.append((self._select, chosen))
            self._select = None
        if tag == "form":
            self.depth -= 1


def form_fields(html: str, form_id: str = "network-form") -> list[tuple[str, str]]:
    """(name, value) pairs in document order, as the browser would send them."""
    parser = _Form(form_id)
    parser.feed(html)
    return parser.fields


def replace_field(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    assert any(k == name for k, _ in fields), f"no field {name!r} in the form"
    return [(k, value if k == name else v) for k, v in fields]


HX = {"HX-Request": "true"}

# Stored links: literal strings that must keep opening with the same numbers.
NOTES_LINK = (
    "/network?v=1&model=%7B%22input_shape%22:%5B1,4,4%5D,%22layers%22:%5B%7B%22type%22:%22conv2d%22,"
    "%22filters%22:2,%22kernel%22:3%7D,%7B%22type%22:%22relu%22%7D,%7B%22type%22:%22maxpool2d%22,%22size%22:2%7D,"
    "%7B%22type%22:%22flatten%22%7D%5D%7D&data=typed&x=1x1x4x4:3,1,0,2,2,0,1,3,1,2,0,1,0,3,2,1&labels=1:1"
    "&p.0.w=2x1x3x3:1,0,-1,1,0,-1,1,0,-1,1,1,1,0,0,0,-1,-1,-1&p.0.b=2:0,0&seed=0&opt=sgd&lr=0.1&op=loss&until=100")
# the LeNet-like preset 40 steps into training (Adam, lr 0.01, seed 0), opened on the loss
LENET_STEP_40 = (
    "/network?v=1&model=%7B%22input_shape%22:%5B1,8,8%5D,%22layers%22:%5B%7B%22type%22:%22conv2d%22,"
    "%22filters%22:6,%22kernel%22:3%7D,%7B%22type%22:%22relu%22%7D,%7B%22type%22:%22maxpool2d%22,%22size%22:2%7D,"
    "%7B%22type%22:%22conv2d%22,%22filters%22:12,%22kernel%22:2%7D,%7B%22type%22:%22relu%22%7D,"
    "%7B%22type%22:%22flatten%22%7D,%7B%22type%22:%22linear%22,%22units%22:10%7D%5D%7D&data=digits&batch=32"
    "&seed=0&opt=adam&lr=0.01&step=40&op=loss&until=600")


def link_fields(url: str) -> dict[str, str]:
    """The fields a lab link holds (the network's links are compact: ``v=1&z=…``)."""
    return from_query(urlsplit(url).query)


def post(client, url: str, fields: list[tuple[str, str]], **extra: str):
    body = urlencode(fields + list(extra.items()))
    return client.post(url, content=body, headers={**HX, "Content-Type": "application/x-www-form-urlencoded"})


def loss_shown(html: str) -> str:
    return re.search(r'data-value="loss"[^>]*>([^<]+)<', html).group(1)


def position(html: str) -> tuple[int, int, str]:
    m = re.search(r"operation <b>(\d+)</b> of (\d+): <b>([^<]+)</b>", html)
    return int(m.group(1)), int(m.group(2)), unescape(m.group(3))


def layer_errors(html: str) -> list[str]:
    return [unescape(e) for e in re.findall(r'class="net-layer__error"[^>]*>⚠ ([^<]+)<', html)]


@pytest.fixture
def lenet(client):
    r = client.get("/network/preset/lenet")
    assert r.status_code == 200
    return r


def test_network_without_a_link_redirects_to_the_default_preset(client):
    r = client.get("/network", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/network?v=1&z=")  # compact
    assert link_fields(r.headers["location"])["model"].startswith('{"input_shape":[1,8,8]')
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "<html" in page.text and "Network lab" in page.text
    assert 'id="network-form"' in page.text and 'data-lab="network"' in page.text


def test_an_htmx_request_gets_the_lab_fragment_only(client):
    r = client.get(NOTES_LINK, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith("{#") is False and 'id="lab"' in r.text
    assert "HX-Request" in r.headers.get("vary", "")


@pytest.mark.parametrize("key", ["notes", "lenet", "resnet"])
def test_each_preset_redirects_to_a_link_that_opens(client, key):
    r = client.get(f"/network/preset/{key}", follow_redirects=False)
    assert r.status_code == 303
    page = replay.get(client, r.headers["location"])
    assert page.status_code == 200 and 'id="net-step"' in page.text and 'id="net-train"' in page.text


def test_unknown_preset_and_bad_seed(client):
    r = client.get("/network/preset/nope", follow_redirects=False)
    assert r.status_code == 404 and "lenet" in r.json()["detail"][0]["msg"]
    r = client.get("/network/preset/lenet?seed=x", follow_redirects=False)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "seed"]


def test_resnet_preset_opens_on_the_last_batch_norms_gradient_and_its_adam_update(client):
    page = client.get("/network/preset/resnet").text
    assert position(page)[2] == "Backward · 4.7 batchnorm"
    assert "conv5_block3_3_bn" in page
    assert 'data-update-of="u:4.7"' in page and "the Adam update of this layer (t = 51)" in page
    for row in ("m before", "v before", "m̂", "v̂", "Δθ"):
        assert f">{row}</th>" in page


def test_stored_notes_link_opens_with_the_hand_worked_loss(client):
    r = client.get(NOTES_LINK)
    assert r.status_code == 200
    # the pooled maxima 5 and 1 are the logits; the label is 1: L = −log(e¹/(e⁵ + e¹)) = log(1 + e⁴)
    assert loss_shown(r.text) == "4.018"
    assert f"{math.log(1 + math.exp(4)):.4g}" == "4.018"
    assert position(r.text)[2] == "Loss"


def test_stored_link_to_a_step_in_the_middle_of_training_reproduces_its_numbers(client):
    first = client.get(LENET_STEP_40)
    assert first.status_code == 200
    assert loss_shown(first.text) == "0.6634"  # recorded when the link was made: replayed from the seed
    assert "after 40 steps" in first.text and "digits batch 41" in first.text
    again = client.get(LENET_STEP_40)
    assert loss_shown(again.text) == "0.6634"


@pytest.mark.parametrize("query, field", [
    ("v=1&model=%7Bnot-json", "model"),
    ("v=1&model=%7B%22input_shape%22:%5B1,8,8%5D,%22layers%22:%5B%7B%22type%22:%22conv2d%22,%22filters%22:4,"
     "%22kernel%22:9%7D%5D%7D", "model"),
    ("v=1&model=%7B%22input_shape%22:%5B1,8,8%5D,%22layers%22:%5B%7B%22type%22:%22flatten%22%7D,%7B%22type%22:"
     "%22linear%22,%22units%22:10%7D%5D%7D&op=b:7", "op"),
    ("v=1&model=%7B%22input_shape%22:%5B1,8,8%5D,%22layers%22:%5B%7B%22type%22:%22flatten%22%7D,%7B%22type%22:"
     "%22linear%22,%22units%22:10%7D%5D%7D&colour=red", "colour"),
    ("v=1&model=%7B%22input_shape%22:%5B1,8,8%5D,%22layers%22:%5B%7B%22type%22:%22flatten%22%7D,%7B%22type%22:"
     "%22linear%22,%22units%22:10%7D%5D%7D&step=99999", "step"),
])
def test_a_bad_link_answers_422_naming_the_parameter(client, query, field):
    r = client.get(f"/network?{query}")
    assert r.status_code == 422
    assert f"<b>{field}</b>" in r.text and "does not open" in r.text


def test_a_link_with_a_stack_that_cannot_work_still_opens_with_the_message_at_the_layer(client):
    model = ('{"input_shape":[1,8,8],"layers":[{"type":"conv2d","filters":4,"kernel":3},{"type":"linear","units":10},'
             '{"type":"flatten"}]}')
    r = client.get("/network?" + urlencode({"v": "1", "model": model}))
    assert r.status_code == 200
    errors = layer_errors(r.text)
    assert len(errors) == 1 and "linear needs a flat input" in errors[0] and "4×6×6" in errors[0]
    assert "Nothing to step through yet" in r.text
    assert "→ 4×6×6" in r.text  # the layer before it still shows its shape


def test_builder_add_remove_and_reorder(client, lenet):
    fields = replace_field(form_fields(lenet.text), "add_type", "dropout")
    r = post(client, "/network/lab", fields, action="add")
    assert r.status_code == 200 and r.headers["HX-Replace-Url"].startswith("/network?v=1&")
    assert '{"type":"dropout","p":0.25}' in unescape(r.text)
    assert layer_errors(r.text) == []  # dropout keeps the shape: the network still works
    fields = form_fields(r.text)
    r = post(client, "/network/lab", fields, action="up:7")  # dropout above the last linear
    assert '{"type":"dropout","p":0.25},{"type":"linear","units":10}' in unescape(r.text)
    r = post(client, "/network/lab", form_fields(r.text), action="remove:6")  # the dropout, now at 6
    assert "dropout" not in form_fields(r.text)[0][1]
    r = post(client, "/network/lab", form_fields(r.text), action="down:0")  # conv below relu: still works
    assert layer_errors(r.text) == []


def test_builder_removing_flatten_breaks_the_stack_at_the_next_layer_and_keeps_the_rest(client, lenet):
    r = post(client, "/network/lab", form_fields(lenet.text), action="remove:5")
    assert r.status_code == 200
    assert layer_errors(r.text) == ["linear needs a flat input (N, D), but layer 4 outputs 12×2×2: add a flatten "
                                    "layer before it"]
    assert "→ 12×2×2" in r.text and "Nothing to step through yet" in r.text
    assert "model.layers[5]" in r.text


def test_builder_adds_a_residual_block_that_keeps_the_shape(client):
    page = client.get("/network/preset/notes").text
    r = post(client, "/network/lab", replace_field(form_fields(page), "add_type", "residual"), action="add")
    model = unescape(r.text)
    assert '{"type":"residual","layers":[{"type":"linear","units":2},{"type":"relu"}]}' in model
    assert layer_errors(r.text) == []


def test_a_setting_typed_wrong_answers_422_naming_the_field_and_swaps_nothing(client, lenet):
    fields = replace_field(form_fields(lenet.text), "model.layers[0].kernel", "three")
    r = post(client, "/network/lab", fields)
    assert r.status_code == 422 and r.headers["HX-Reswap"] == "none"
    assert 'data-invalid=\'["model.layers[0].kernel"]\'' in r.text and "is not a number" in r.text
    fields = replace_field(form_fields(lenet.text), "model.layers[0].kernel", "9")
    r = post(client, "/network/lab", fields)
    assert r.status_code == 422
    assert "must be between 1 and 7, got 9 (7: the network engine's MAX_KERNEL" in unescape(r.text)


def test_a_setting_that_breaks_the_shapes_is_shown_at_its_layer(client):
    page = client.get("/network/preset/notes").text
    r = post(client, "/network/lab", replace_field(form_fields(page), "model.layers[0].kernel", "5"))
    assert r.status_code == 200
    assert layer_errors(r.text) == ["conv2d 5×5 kernel needs an input at least 5×5, but the input is 4×4"]
    assert 'value="5"' in r.text  # what was typed stays


def test_stepping_through_every_operation(client):
    page = client.get("/network/preset/notes").text
    fields = form_fields(page)
    assert position(page) == (1, 10, "Forward · 0 conv2d")
    titles = []
    for _ in range(10):
        titles.append(position(page)[2])
        r = post(client, "/network/step", fields, op_delta="1")
        assert r.status_code == 200 and r.headers["HX-Replace-Url"].startswith("/network?")
        page = r.text
        fields = replace_field(fields, "op", re.search(r'name="op" value="([^"]+)"', page).group(1))
    assert titles == ["Forward · 0 conv2d", "Forward · 1 relu", "Forward · 2 maxpool2d", "Forward · 3 flatten", "Loss",
                      "Backward · 3 flatten", "Backward · 2 maxpool2d", "Backward · 1 relu", "Backward · 0 conv2d",
                      "Update · 0 conv2d"]
    assert position(page)[0] == 10  # Next stops at the last operation: no silent wrap to the first
    r = post(client, "/network/step", replace_field(fields, "op", "f:0"), op_delta="-1")
    assert position(r.text)[0] == 1  # nor does Prev wrap from the first to the last
    assert re.search(r'data-step="prev"[^>]*disabled', client.get("/network/preset/notes").text)
    r = post(client, "/network/step", fields, op_goto="u:0")
    assert position(r.text)[2] == "Update · 0 conv2d" and link_fields(r.headers["HX-Replace-Url"])["op"] == "u:0"
    r = post(client, "/network/step", replace_field(fields, "op_index", "4"))
    assert position(r.text)[2] == "Loss"
    r = post(client, "/network/step", fields, op_goto="b:9")
    assert r.status_code == 422 and "op_goto" in r.text


def test_the_update_panel_shows_the_sgd_step_on_the_kernel(client):
    page = client.get(NOTES_LINK.replace("op=loss", "op=u:0")).text
    # K ← K − 0.1·δK; δK[0] = σ(4)·(the top-left window), so K[0,0,0,0] = 1 − 0.1·σ(4)·3
    s4 = 1 / (1 + math.exp(-4))
    assert f"{1 - 0.1 * s4 * 3:.4g}" == "0.7054"
    assert ">0.7054<" in page
    assert "Step against the gradient" in page


def test_open_in_the_convolution_lab_carries_the_exact_tensors(client):
    page = client.get(NOTES_LINK.replace("op=loss", "op=b:0")).text
    href = unescape(re.search(r'href="(/conv\?[^"]+)" data-open-lab="convolution"', page).group(1))
    assert "x=1x1x4x4:3,1,0,2,2,0,1,3,1,2,0,1,0,3,2,1" in href and "w=2x1x3x3:1,0,-1," in href
    assert "dout=1x2x2x2:0.9820137900379085,0,0,0,-0.9820137900379085,0,0,0" in href
    assert client.get(href).status_code == 200


def test_open_in_the_convolution_lab_cuts_a_big_batch_to_what_it_accepts(client, lenet):
    href = unescape(re.search(r'href="(/conv\?[^"]+)" data-open-lab', lenet.text).group(1))
    fields = from_query(href.split("?", 1)[1])  # long: deflated into z=
    assert fields["x"].startswith("4x1x8x8:") and fields["w"].startswith("4x1x3x3:")
    assert fields["dout"].startswith("4x4x6x6:")
    assert "the first 4 of 32 examples; the first 4 of 6 filters" in lenet.text
    assert client.get(href).status_code == 200


def test_gradcheck_badge(client):
    page = client.get(NOTES_LINK).text
    r = post(client, "/network/gradcheck", form_fields(page))
    assert r.status_code == 200 and "badge--ok" in r.text and "and from x" in r.text
    worst = float(re.search(r'data-worst="([^"]+)"', r.text).group(1))
    assert worst < 1e-6


def test_typed_cell_edit_recomputes_the_results(client):
    page = client.get(NOTES_LINK).text
    fields = form_fields(page)
    # x[0, 0, 0, 0]: 3 -> 13: the vertical-edge maximum becomes 15, the horizontal one 11; L = log(1 + e⁴) again
    cells = [i for i, (k, _) in enumerate(fields) if k == "x"]
    fields[cells[0]] = ("x", "13")
    r = post(client, "/network/results", fields)
    assert r.status_code == 200 and 'id="results"' in r.text
    assert link_fields(r.headers["HX-Replace-Url"])["x"].startswith("1x1x4x4:13,1,0,2")
    assert loss_shown(r.text) == "4.018"
    fields[cells[1]] = ("x", "one")
    r = post(client, "/network/results", fields)
    assert r.status_code == 422 and "x[0, 0, 0, 1]" in r.text


def test_the_drawing_pad_feeds_your_own_digit(client, lenet):
    fields = [(k, v) for k, v in form_fields(lenet.text) if k != "pad"]
    pixels = ["0"] * 64
    for i in (3, 11, 19, 27, 35, 43, 51, 59):  # a vertical stroke: a "1"
        pixels[i] = "16"
    r = post(client, "/network/predict", fields + [("pad", p) for p in pixels])
    assert r.status_code == 200 and re.search(r'data-predicted="\d"', r.text)
    best = re.search(r'data-predicted="(\d)"', r.text).group(1)
    said = re.search(r'data-predicted="\d">\d</b> \(([^)]+)\)', r.text).group(1)
    marked = re.findall(r'<rect class="barchart__bar( is-marked)?"', r.text)  # THE probability bars, the answer marked
    assert len(marked) == 10 and [i for i, m in enumerate(marked) if m] == [int(best)]
    values = re.findall(r"<title>class \d: p = ([^<]*)</title>", r.text)  # in the bars' tooltips: a narrow column
    assert "barchart__value" not in r.text  # … not written above ten bars
    assert float(values[int(best)]) == pytest.approx(float(said), rel=1e-3)  # every digit in the tooltip, 4 said
    assert max(values, key=float) == values[int(best)] and sum(float(v) for v in values) == pytest.approx(1)
    r = post(client, "/network/predict", fields + [("pad", "0")] * 64)
    assert "the pad is empty" in r.text
    fields = replace_field(fields, "pad_label", "1")
    r = post(client, "/network/lab", fields + [("pad", p) for p in pixels], action="pad")
    fields = link_fields(r.headers["HX-Replace-Url"])
    assert r.status_code == 200 and fields["on"] == "own" and fields["labels"] == "1:1"
    assert "your own example" in r.text


def test_the_first_screen_holds_the_model_the_training_and_the_pad(client, lenet):
    html = lenet.text
    first = html[html.index('<div class="net-first">'):html.index('<div class="lab__grid net-lower">')]
    assert [m for m in re.findall(r'<h2 id="(builder-h|train-h|pad-h)"', first)] == ["builder-h", "train-h", "pad-h"]
    assert 'data-train-action="start"' in first and "data-pad" in first
    assert html.index('id="net-train"') < html.index('id="step-h"')  # above the step-through, not 3,750 px down


def test_the_pad_predicts_with_the_latest_trained_weights_or_any_step(client, lenet):
    fields = [(k, v) for k, v in form_fields(lenet.text) if k not in ("pad", "pad_trained", "pad_weights", "pad_step")]
    pixels = [("pad", "16" if i % 8 == 3 else "0") for i in range(64)]  # a "1"
    r = post(client, "/network/predict", fields + pixels + [("pad_weights", "latest"), ("pad_trained", "")])
    assert 'data-weights="untrained" data-t="0"' in r.text and "Untrained" in r.text  # no training run yet
    r = post(client, "/network/predict", fields + pixels + [("pad_weights", "latest"), ("pad_trained", "60")])
    assert 'data-weights="latest" data-t="60"' in r.text and "training step <b>60</b> (the latest trained)" in r.text
    r = post(client, "/network/predict", fields + pixels + [("pad_weights", "step"), ("pad_trained", "60"),
                                                           ("pad_step", "7")])
    assert 'data-weights="step" data-t="7"' in r.text
    # an answer empties the message out of band: a refused pad_step said before is gone once a valid one is answered
    assert re.search(r'<div id="form-message" hx-swap-oob="true"[^>]*hidden></div>', r.text)
    r = post(client, "/network/predict", fields + pixels + [("pad_weights", "step"), ("pad_step", "-1")])
    assert r.status_code == 422 and "pad_step" in r.text


def test_a_typed_edit_patches_the_training_cards_too(client):
    """Typed data is the training set: its cards come out of band, patched in place (static/js/patch.js) so that
    their charts are not drawn again from nothing on every keystroke."""
    page = client.get(NOTES_LINK).text
    r = post(client, "/network/results", form_fields(page))
    assert r.status_code == 200
    assert '<section class="card net-train" id="net-train" aria-labelledby="train-h" hx-swap-oob="patch"' in r.text
    assert '<section class="card net-inside" id="net-inside" aria-labelledby="inside-h" hx-swap-oob="patch"' in r.text


def test_jump_opens_the_same_network_at_another_step(client):
    r = client.get("/network/jump?" + LENET_STEP_40.split("?", 1)[1] + "&to=7", follow_redirects=False)
    assert r.status_code == 303 and link_fields(r.headers["location"])["step"] == "7"
    r = client.get("/network/jump?" + LENET_STEP_40.split("?", 1)[1] + "&to=-1", follow_redirects=False)
    assert r.status_code == 422


def test_the_page_has_no_inline_script(client):
    html = client.get(NOTES_LINK).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " hx-on" not in html and "js:" not in html


@pytest.mark.parametrize("op, lab, module", [
    ("f:1", "pooling &amp; ReLU", "app.web.labs.pool.state"), ("f:2", "pooling", "app.web.labs.pool.state"),
    ("loss", "softmax", "app.web.labs.softmax.state"), ("u:0", "optimizer", "app.web.labs.optim.state")])
def test_open_in_the_other_labs_carries_the_steps_tensors(client, op, lab, module):
    pytest.importorskip(module)
    page = client.get(NOTES_LINK.replace("op=loss", f"op={op}")).text
    hrefs = re.findall(rf'href="([^"]+)" data-open-lab="{re.escape(lab)}"', page)
    assert hrefs, f"no link into the {lab} lab"
    for href in hrefs:
        assert client.get(unescape(href)).status_code == 200
    if op == "f:2":  # the pooling lab gets this layer's x (the ReLU's output) exactly
        assert "x=1x2x2x2:5,0,0,0,1,0,0,0" in unescape(hrefs[0])
    if op == "loss":
        assert "logits=1x2:5,1&labels=1:1" in unescape(hrefs[0])


def test_open_in_the_normalization_lab(client):
    pytest.importorskip("app.web.labs.norm.state")
    page = client.get("/network/preset/resnet").text  # opens on the backward of batch norm 4.7
    href = unescape(re.search(r'href="(/norm\?[^"]+)" data-open-lab="normalization"', page).group(1))
    assert client.get(href).status_code == 200
    assert "batch statistics there are those of what it carries" in page


@pytest.mark.parametrize("op", ["f:0", "b:4.7", "u:4.7"])
def test_a_step_draws_what_the_lab_draws_of_it_without_building_the_training_section(op):
    """POST /network/step builds the view without the training section (view.step_build), which network/step.html
    never reads: the step it draws is the whole view's, byte for byte."""
    from dataclasses import replace

    from app.web.labs.network import presets
    from app.web.labs.network import view as network_view
    from app.web.render.templating import templates

    state = replace(presets.resnet(3), op=op)
    whole, step = network_view.build(state), network_view.step_build(state)
    assert "train" in whole and "train" not in step and step["step"]["index"] == whole["step"]["index"]
    template = templates.env.get_template("network/step.html")
    assert template.render(view=step) == template.render(view=whole)


def test_an_operation_stepped_to_again_comes_from_the_page_cache_the_same(client):
    cache = client.app.state.page_cache
    fields = form_fields(client.get("/network/preset/lenet").text)
    first = post(client, "/network/step", fields, op_delta="1")
    away = post(client, "/network/step", fields, op_delta="2")
    hits = cache.hits
    again = post(client, "/network/step", fields, op_delta="1")
    assert again.status_code == first.status_code == 200 and again.text == first.text != away.text
    assert again.headers["HX-Replace-Url"] == first.headers["HX-Replace-Url"] and cache.hits == hits + 1
    hidden = post(client, "/network/step", fields + [("quiz", "dx:0,0")], op_delta="1")  # a quiz's: its own answer
    assert hidden.text != first.text and cache.hits == hits + 1
    misses = cache.misses  # Cache-Control: no-cache (a benchmark timing the work): built anew, the same bytes
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-cache"}
    fresh = client.post("/network/step", content=urlencode(fields + [("op_delta", "1")]), headers={**HX, **form})
    assert fresh.text == first.text and (cache.hits, cache.misses) == (hits + 1, misses + 1)


def test_a_layers_open_in_its_lab_link_is_made_once_for_its_forward_and_backward_panels(client):
    from app.web.labs.network import step

    step.LINKS.clear()
    forward = client.get(NOTES_LINK.replace("op=loss", "op=f:0")).text
    made = len(step.LINKS)
    backward = client.get(NOTES_LINK.replace("op=loss", "op=b:0")).text
    assert made >= 1 and len(step.LINKS) == made  # the backward panel's is the forward's, kept

    def href(html: str) -> str:
        return unescape(re.search(r'href="(/conv\?[^"]+)" data-open-lab="convolution"', html).group(1))
    assert href(forward) == href(backward) and "dout=1x2x2x2:0.9820137900379085," in href(forward)
    later = client.get(NOTES_LINK.replace("op=loss", "op=b:0") + "&step=1").text
    assert href(later) != href(backward) and len(step.LINKS) == made + 1  # another step's tensors: its own link
