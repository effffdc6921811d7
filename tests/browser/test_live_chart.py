"""static/js/live-chart.js in Chromium: the min/max decimation keeps every spike and caps a trace's points; a long
run's charts say so, and hand plotly every kept point when the run ends."""

from __future__ import annotations

import httpx

from app.web.kit.link import from_query, to_query
from app.web.labs.network.train import bucket_steps

DECIMATE = """([width, width400]) => {
  const D = window.LiveChart.Decimator;
  const d = new D(width), ys = [];
  for (let t = 1; t <= 3000; t++) {
    const y = t === 1234 ? 50 : t === 2222 ? -7 : t === 1700 ? NaN : Math.sin(t / 40);
    ys.push(y); d.push(t, y);
  }
  d.points();
  const every = new D(width400);
  for (let t = 1; t <= 400; t++) every.push(t, t * t);
  every.points();
  return { width, x: d.x, y: d.y, every: every.x };
}"""


def test_decimation_keeps_the_spikes_and_caps_the_points(page, live_server):
    page.goto(live_server + "/network")
    page.wait_for_function("() => window.LiveChart")
    got = page.evaluate(DECIMATE, [bucket_steps(3000), bucket_steps(400)])  # the server's buckets (data-bucket-steps)
    assert got["width"] == 6
    assert len(got["x"]) <= 2 * (3000 // 6 + 1)
    assert got["x"] == sorted(got["x"])  # in step order
    assert max(v for v in got["y"] if v is not None) == 50 and got["x"][got["y"].index(50)] == 1234
    assert min(v for v in got["y"] if v is not None) == -7 and got["x"][got["y"].index(-7)] == 2222
    assert got["every"] == list(range(1, 401))  # a run of ≤ 500 steps keeps every step


def test_a_long_run_says_how_it_is_drawn_and_plotly_gets_the_points(page, live_server, page_errors):
    link = httpx.get(live_server + "/network/preset/lenet", follow_redirects=False).headers["location"]
    fields = from_query(link.split("?", 1)[1])  # the network's links are compact (v=1&z=…)
    page.goto(live_server + "/network?" + to_query({**fields, "until": "1200"}))
    page.wait_for_load_state("networkidle")
    assert "for every 3 steps, their lowest and highest value" in page.inner_text("#net-train")
    page.select_option("[data-train-speed]", "0")
    page.click("[data-train-action=start]")
    page.wait_for_function("() => document.querySelector('#net-train').dataset.done", timeout=90000)
    xs = page.evaluate("() => document.querySelector('[data-chart=loss]').data[0].x")
    assert xs == sorted(xs) and xs[-1] == 1200 and 400 <= len(xs) <= 2 * (1200 // 3 + 1) + 2
    assert page.locator("canvas.live-chart").count() >= 1
    assert not page_errors, page_errors
