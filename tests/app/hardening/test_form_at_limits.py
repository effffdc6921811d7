"""No form-size cliff (issue 12): at every lab's largest state its whole form, as the page holds it, posts and is
answered 200 — never 400 "Too many fields" (Starlette's default max_fields is 1,000) nor 413.

The conv and pool labs' largest inputs are bounded by the number of values one array may hold
(Settings.max_elements = 4,096), not by each size alone: 4×1×28×28 (MNIST), 1×3×32×32 (CIFAR), 4×1×32×32 and
4×4×16×16 (the old largest) are each posted; 4×4×32×32 (every size at its own bound) is a 422 naming x. The
network lab's largest form is typed data at its bounds: four 4×16×16 examples, one input per cell; at the typed
side's bound (28×28, within max_elements) x's planes are editable images. The other labs post their default
page's form with every bounded input at its max.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pytest

from app.settings import Settings
from app.web.labs.conv.state import ConvState
from app.web.labs.pool.state import PoolState
from bench.pageforms import as_data, parse, replaced

HX = {"HX-Request": "true"}
S = Settings()
IMAGE_SHAPES = ((4, 1, 28, 28), (1, 3, 32, 32), (4, 1, 32, 32), (4, 4, 16, 16))


def posts_whole_form(client, lab: str, link: str, routes: tuple[str, ...]) -> int:
    """Open ``link``, post its whole form to each route; every answer must be 200 (204: nothing to check).
    Returns how many fields the form posted."""
    r = client.get(link)
    assert r.status_code == 200, (link[:120], r.status_code, r.text[:300])
    fields = parse(lab, r.text).fields
    for route in routes:
        answer = client.post(f"/{lab}/{route}", data=as_data(fields), headers=HX)
        assert answer.status_code in (200, 204), (lab, route, answer.status_code, answer.text[:300])
    return len(fields)


def _x(shape: tuple[int, ...]) -> np.ndarray:
    return np.round(np.random.default_rng(0).standard_normal(shape), 3)


@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv_at_its_largest_inputs_posts_its_whole_form(client, shape):
    n, c, h, w = shape
    state = ConvState(_x(shape), _x((S.max_filters, c, S.max_kernel, S.max_kernel)), _x((S.max_filters,)),
                      stride=1, pad=S.conv_max_pad, dout_mode="random", dout_seed=1)
    count = posts_whole_form(client, "conv", f"/conv?{state.to_query()}", ("results", "lab", "gradcheck", "window"))
    if h * w > S.plane_image_cells:  # drawn as images: one field per plane, not one per cell
        assert count < 1000, count  # below Starlette's default, though x alone has thousands of cells
    else:  # 16×16 planes stay grids of inputs: 4,096 of them, posted whole
        assert count > n * c * h * w, count


@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_pool_at_its_largest_inputs_posts_its_whole_form(client, shape):
    state = PoolState(_x(shape), "max", S.pool_max_size, 1, dout_mode="random", dout_seed=1)
    posts_whole_form(client, "pool", f"/pool?{state.to_query()}", ("results", "lab", "gradcheck", "window"))


@pytest.mark.parametrize("lab", ["conv", "pool"])
def test_every_size_at_its_own_bound_is_refused_by_name_not_by_the_form_parser(client, lab):
    page = parse(lab, client.get(f"/{lab}").text)
    fields = page.fields
    for name, (_, top) in page.bounds.items():
        fields = replaced(fields, name, top)
    r = client.post(f"/{lab}/lab", data=as_data(fields), headers=HX)
    assert r.status_code == 422 and "<b>x</b>: would hold 4 × 4 × 32 × 32 = 16384 numbers" in r.text, r.text[:400]


@pytest.mark.parametrize("lab", ["norm", "softmax", "optim"])
def test_a_lab_with_every_bound_at_its_max_posts_its_whole_form(client, lab):
    page = parse(lab, client.get(f"/{lab}").text)
    fields = page.fields
    for name, (_, top) in page.bounds.items():
        fields = replaced(fields, name, top)
    r = client.post(f"/{lab}/lab", data=as_data(fields), headers=HX)
    assert r.status_code == 200, (lab, r.status_code, r.text[:300])
    posts_whole_form(client, lab, r.headers["HX-Replace-Url"], ("results", "lab"))


def _network_link(shape: tuple[int, int, int, int], values: str | None = None) -> str:
    n, c, h, w = shape
    model = {"input_shape": [c, h, w], "layers": [{"type": "flatten"}, {"type": "linear", "units": 10}]}
    x = values if values is not None else ",".join(str(v) for v in np.round(_x((n * c * h * w,)), 2))
    return (f"/network?v=1&model={quote(json.dumps(model, separators=(',', ':')))}&data=typed"
            f"&x={n}x{c}x{h}x{w}:{x}&labels={n}:" + ",".join(str(i) for i in range(n)) + "&seed=0&opt=sgd&lr=0.1")


def test_the_network_lab_with_the_most_typed_cells_posts_its_whole_form(client):
    """Four 4×16×16 examples: planes of 256 cells stay grids, one input per typed cell."""
    n, c, side = S.network_max_examples, S.network_max_typed_channels, 16
    count = posts_whole_form(client, "network", _network_link((n, c, side, side)), ("results",))
    assert count > n * c * side * side  # one input per typed cell: 4,096 of them, far above Starlette's 1,000


@pytest.mark.parametrize("shape", [(S.network_max_examples, 1, S.network_max_typed_side, S.network_max_typed_side),
                                   (1, S.network_max_typed_channels, S.network_max_typed_side,
                                    S.network_max_typed_side)], ids=lambda s: "x".join(map(str, s)))
def test_the_network_lab_takes_mnist_sized_typed_data_as_images(client, shape):
    """At the typed side's bound (28: four MNIST digits, or one 4-channel 28×28 example) x's planes are editable
    images (the kit's image plane): the whole form is a few dozen fields, posted to every edit route."""
    r = client.get(_network_link(shape))
    assert r.status_code == 200 and 'data-edit="x"' in r.text and "data-inspector" in r.text, r.text[:300]
    count = posts_whole_form(client, "network", _network_link(shape), ("results", "lab"))
    assert count < 200, count  # one hidden field per plane, not 3,136 inputs
    fields = parse("network", r.text).fields
    at = next(i for i, (k, _) in enumerate(fields) if k == "x_plane")
    tokens = fields[at][1].split(" ")
    assert len(tokens) == shape[2] * shape[3]
    tokens[5] = "abc"  # a bad pixel is named by its cell
    fields[at] = ("x_plane", " ".join(tokens))
    bad = client.post("/network/results", data=as_data(fields), headers=HX)
    assert bad.status_code == 422 and "x[0, 0, 0, 5]" in bad.text, bad.text[:300]


def test_typed_network_data_beyond_max_elements_is_refused_by_name(client):
    """Each size within its bound is not enough: 4×4×28×28 is 12,544 numbers, over Settings.max_elements."""
    n, c, side = S.network_max_examples, S.network_max_typed_channels, S.network_max_typed_side
    r = client.get(_network_link((n, c, side, side), ",".join("0" for _ in range(n * c * side * side))))
    assert r.status_code == 422 and "would hold 4 × 4 × 28 × 28 = 12544 numbers" in r.text, r.text[:400]
    assert "Settings.max_elements" in r.text


@pytest.mark.parametrize("lab", ["conv", "pool"])
@pytest.mark.parametrize("preset", ["mnist", "cifar"])
def test_the_real_sized_presets_pass_their_gradient_check(client, lab, preset):
    """At 28×28 an edge map sums to ~0 over thousands of terms: the check's rounding floor counts the terms, so
    a right gradient is not failed by the noise of the sum (engine.gradcheck.check_op)."""
    link = client.get(f"/{lab}/preset/{preset}", follow_redirects=False).headers["location"]
    fields = parse(lab, client.get(link).text).fields
    r = client.post(f"/{lab}/gradcheck", data=as_data(fields), headers=HX)
    assert r.status_code == 200 and "badge--bad" not in r.text, r.text[:400]
    if lab == "conv":  # pooling's digit has tied windows (its zero background) and ReLU kinks: a warning, not ✗
        assert "badge--ok" in r.text, r.text[:400]

