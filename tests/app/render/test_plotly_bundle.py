"""The plotly.js the pages load is its cartesian bundle (static/vendor/plotly-cartesian-*, a third of the full
plotly.min.js): it must draw every figure the app writes. Every data-figure on every preset page is checked
against plotly's own schema (the plotly package's validators: no misspelt property passes) and its trace types
against the ones the bundle registers; and the bundle is the plotly.js of the installed plotly package."""

from __future__ import annotations

import html
import json
import re
from importlib.util import find_spec
from pathlib import Path

import plotly.graph_objects as go
import pytest

from app.web.labs.conv.presets import PRESETS as CONV
from app.web.labs.conv.state import TABS as CONV_TABS
from app.web.labs.network.presets import PRESETS as NETWORK
from app.web.labs.norm.presets import PRESETS as NORM
from app.web.labs.norm.state import TABS as NORM_TABS
from app.web.labs.optim.presets import PRESETS as OPTIM
from app.web.labs.pool.presets import PRESETS as POOL
from app.web.labs.softmax.presets import PRESETS as SOFTMAX
from app.web.render import templating

PRESETS = {"conv": CONV, "pool": POOL, "norm": NORM, "softmax": SOFTMAX, "optim": OPTIM, "network": NETWORK}
FIGURE = re.compile(r"data-figure='([^']*)'")


def bundle_traces() -> set[str]:
    text = templating.plotly_js_path().read_text()
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', text))


def test_the_bundle_is_the_plotly_js_of_the_installed_plotly_package():
    head = templating.plotly_js_path().read_text()[:200]
    assert f"v{templating.PLOTLY_VERSION}" in head
    spec = find_spec("plotly")
    full = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    version = re.search(r"plotly\.js v([\d.]+)", full.read_text()[:200]).group(1)
    assert version == templating.PLOTLY_VERSION, "re-vendor plotly.js (package.json, scripts/vendor.sh)"


def test_the_bundle_registers_the_2d_traces():
    assert {"scatter", "bar", "heatmap", "contour"} <= bundle_traces()


def page_urls(client) -> list[str]:
    urls = [client.get(f"/{lab}/preset/{key}", follow_redirects=False).headers["location"]
            for lab, presets in PRESETS.items() for key in presets]
    urls += [f"/conv/preset/edge?tab={tab}" for tab in CONV_TABS]
    urls += [f"/norm/preset/two-sample?tab={tab}" for tab in NORM_TABS]
    return urls


def test_every_figure_on_every_preset_is_valid_plotly_the_bundle_draws(client):
    traces, seen = bundle_traces(), 0
    for url in page_urls(client):
        r = client.get(url, follow_redirects=True)
        for attr in FIGURE.findall(r.text):
            spec = json.loads(html.unescape(attr))
            try:
                go.Figure({"data": spec.get("data", []), "layout": spec.get("layout", {})})
            except ValueError as exc:
                pytest.fail(f"{url[:60]}: not plotly's schema: {str(exc)[:400]}")
            for trace in spec.get("data", []):
                assert trace.get("type", "scatter") in traces, (url[:60], trace.get("type"))
            seen += 1
    assert seen >= 20  # the presets' figures were found (a changed attribute quoting would make this vacuous)
