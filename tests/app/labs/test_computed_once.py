"""Each op computes once per page render: the step records are made from the arrays run() returned.

Every op's forward is wrapped with a counter, then each lab page (and each of its tabs) is opened.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

import pytest

from app.web.kit import errata
from engine.ops import activations, batchnorm, conv, dropout, layernorm, pool_specs, softmax
from engine.registry import prepare

FORWARDS = {
    conv: ("conv2d_forward", "conv2d_full_conv"),
    pool_specs: ("maxpool2d_forward", "avgpool2d_forward"),  # the registry calls the ops through pool_specs
    activations: ("relu_forward",),
    batchnorm: ("batchnorm_forward",),
    layernorm: ("layernorm_forward",),
    softmax: ("softmax_cross_entropy_forward",),
    dropout: ("dropout_forward",),
}

# (lab, the open section, forward calls the page makes). The running-statistics tab traces batch norm once
# per convention (the two update formulas); the dropout tab also shows the other reading of p.
PAGES = [
    ("conv", None, {"conv2d_forward": 1, "conv2d_full_conv": 1}),
    ("conv", "view=im2col", {"conv2d_forward": 1, "conv2d_full_conv": 1}),
    ("conv", "view=backward", {"conv2d_forward": 1, "conv2d_full_conv": 1}),
    ("pool", None, {"maxpool2d_forward": 1, "relu_forward": 1}),
    ("norm", "tab=bn", {"batchnorm_forward": 1}),
    ("norm", "tab=ln", {"layernorm_forward": 1, "batchnorm_forward": 1}),
    ("norm", "tab=running", {"batchnorm_forward": 2}),
    ("norm", "tab=dropout", {"dropout_forward": 2}),
    ("softmax", None, {"softmax_cross_entropy_forward": 1}),
]


def _counting(f, name: str, counts: Counter):
    def counted(*args, **kw):
        counts[name] += 1
        return f(*args, **kw)

    return counted


@pytest.fixture
def calls(monkeypatch):
    errata.entries()  # the notes' slips' right values: computed once per process, before any page counts
    counts: Counter[str] = Counter()
    for module, names in FORWARDS.items():
        for name in names:
            monkeypatch.setattr(module, name, _counting(getattr(module, name), name, counts))
    return counts


def _link(client, lab: str, section: str | None) -> str:
    """The lab's default link, with ``section`` ("tab=ln") set in place of the one it names."""
    r = client.get(f"/{lab}", follow_redirects=False)
    assert r.status_code in (302, 303, 307), r.status_code
    target = urlsplit(r.headers["location"])
    query = target.query
    if section:
        key = section.split("=")[0]
        query = re.sub(rf"(^|&){key}=[^&]*", "", query).lstrip("&") + "&" + section
    return f"{target.path}?{query}"


@pytest.mark.parametrize("lab,section,expected", PAGES, ids=[f"{lab}-{section}" for lab, section, _ in PAGES])
def test_a_page_render_runs_each_op_once(client, calls, lab, section, expected):
    link = _link(client, lab, section)
    calls.clear()
    r = client.get(link)
    assert r.status_code == 200, r.text[:300]
    # the running-statistics tab also feeds every batch of its sequence through the op's forward (bound
    # in engine.explain.norm, so not counted here): that is the plot's data, not a second computation
    assert dict(calls) == expected, f"{link}: forward calls {dict(calls)}"


def test_the_counter_sees_a_second_computation(client, calls):
    """A page that ran its op twice would be caught: two runs of conv2d count two."""
    op, arrays, params = prepare("conv2d", {"x": [[[[1.0, 2.0], [3.0, 4.0]]]], "w": [[[[1.0]]]], "b": [0.0]})
    calls.clear()
    op.steps(op.run(arrays, params), params)
    op.run(arrays, params)
    assert calls["conv2d_forward"] == 2
