"""``python -m bench.costs``: the CPU one request costs at the limits, for every lab's page and fragment routes.

Each lab's form is set to its limits (every input with a ``max=`` at its max: the network lab's step 3000
and batch 64 included), posted to ``/<lab>/lab`` to get the canonical link of that state, then the page at
that link and every fragment route the page posts to are timed, in process (``time.process_time`` around
one request, on a fresh app, so nothing is cached). A request answered 503 with ``Retry-After`` (a replay
in progress) is asked again until it is answered, as the page does; each try is one request. Also the
network lab's ``step=3000`` with a new seed, and the trace API at its limits. Issue 13's bound: no request
over 0.5 CPU-s, or it is refused by a named limit.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from bench.pageforms import LABS, as_data, parse, replaced

BOUND = 0.5  # CPU-s


def tries(call: Callable[[], Any]) -> tuple[float, int, Any]:
    """(the most CPU one try took, how many tries, the last response): asked again while it answers 503."""
    worst, count = 0.0, 0
    while True:
        started = time.process_time()
        response = call()
        worst, count = max(worst, time.process_time() - started), count + 1
        if response.status_code != 503 or count >= 200:
            return worst, count, response


def link_of(response: Any, fallback: str) -> str:
    return response.headers.get("hx-replace-url") or response.headers.get("hx-redirect") or fallback


SHAPE = ("N", "C", "H", "W")  # an image batch's sizes in the conv and pool labs' forms


def shapes_at_limits(bounds: dict[str, tuple[str, str]], max_elements: int) -> list[dict[str, str]]:
    """The form's sizes at their limits, or (when N·C·H·W at every max is over ``max_elements``, a 422) the largest
    ALLOWED shapes two ways: planes at their largest (H, W at max, N then C made smaller), and batch and channels at
    their largest (N, C at max, H and W halved in turn). Each is ≤ max_elements with no size that could grow."""
    top = {k: int(v[1]) for k, v in bounds.items() if k in SHAPE}
    if len(top) < 4 or top["N"] * top["C"] * top["H"] * top["W"] <= max_elements:
        return [{}]
    out = []
    for order in (("N", "C"), ("H", "W")):  # shrink these first: the planes' side, then the batch's
        size = dict(top)
        while size["N"] * size["C"] * size["H"] * size["W"] > max_elements:
            k = max(order, key=lambda k: size[k]) if order == ("H", "W") else next(k for k in order if size[k] > 1)
            size[k] = max(1, size[k] // 2) if order == ("H", "W") else size[k] - 1
        for k in SHAPE:  # grow back what still fits
            while size[k] < top[k] and (size["N"] * size["C"] * size["H"] * size["W"]) // size[k] * (size[k] + 1) \
                    <= max_elements:
                size[k] += 1
        out.append({k: str(v) for k, v in size.items()})
    return out


def at_limits(client: TestClient, lab: str, settings: Settings | None = None
              ) -> list[tuple[str, dict[str, list[str]], list[str]]]:
    """[(the canonical link of a lab's state at its limits, that form, the fragment routes)]: one state, or one per
    largest allowed shape (:func:`shapes_at_limits`) where every size at its max would be refused."""
    page = parse(lab, client.get(f"/{lab}").text)
    fields = page.fields
    for name, (_, top) in page.bounds.items():
        fields = replaced(fields, name, top)
    out = []
    for shape in shapes_at_limits(page.bounds, (settings or Settings()).max_elements):
        shaped = fields
        for name, value in shape.items():
            shaped = replaced(shaped, name, value)
        posted = client.post(f"/{lab}/lab", data=as_data(shaped), headers={"HX-Request": "true"})
        if 400 <= posted.status_code < 500:  # (a 503 is a replay in progress: its link is the one)
            raise SystemExit(f"{lab} at its limits {shape or ''}: answered {posted.status_code}, not a link")
        link = link_of(posted, f"/{lab}")
        _, _, r = tries(lambda link=link: client.get(link))
        limits = parse(lab, r.text)
        out.append((link, as_data(limits.fields), sorted(limits.posts)))
    return out


def new_seed_link(client: TestClient, settings: Settings, seed: int) -> str:
    """The default network's link with another seed at the last step a link may replay to."""
    fields = parse("network", client.get("/network").text).fields
    fields = replaced(replaced(fields, "seed", str(seed)), "step", str(settings.network_max_step))
    return link_of(client.post("/network/results", data=as_data(fields), headers={"HX-Request": "true"}), "")


def shape_of(form: dict[str, list[str]]) -> str:
    return f", x {form['x_shape'][0]}" if "x_shape" in form else ""


def row(rows: list, what: str, measured: tuple[float, int, Any]) -> None:
    seconds, count, r = measured
    rows.append((seconds, f"{what}{f' ({count} tries)' if count > 1 else ''}", r.status_code))


def measure(settings: Settings, only: tuple[str, ...] = LABS) -> list[tuple[float, str, int]]:
    rows: list[tuple[float, str, int]] = []
    for lab in only:
        with TestClient(create_app(settings)) as warm:
            states = at_limits(warm, lab, settings)
        for link, form, posts in states:
            with TestClient(create_app(settings)) as client:  # a fresh app: nothing cached, no checkpoints kept
                row(rows, f"GET {link[:80]}", tries(lambda client=client, link=link: client.get(link)))
                for url in posts:
                    row(rows, f"POST {url} (at the limits{shape_of(form)})",
                        tries(lambda client=client, url=url, form=form: client.post(url, data=form)))
    if "network" in only:
        with TestClient(create_app(settings)) as client:
            far = new_seed_link(client, settings, 4242)
            row(rows, f"GET /network?…&seed=4242&step={settings.network_max_step} (a replay)",
                tries(lambda: client.get(far)))
        for preset in ("lenet", "resnet"):  # the largest presets, at the largest batch and step, a new seed
            rows.extend(preset_at_limits(settings, preset))
        rows.extend(deep_network(settings))
    return rows


def deep_network(settings: Settings) -> list[tuple[float, str, int]]:
    """A network as deep as the builder allows (11 × conv 8@3×3 + relu, flatten, linear: 24 layers) at the
    largest batch its traced step may hold (Settings.network_max_step_numbers), step 0: the page and its fragments."""
    layers = [{"type": "conv2d", "filters": 8, "kernel": 3, "pad": 1}, {"type": "relu"}] * 11
    model = {"input_shape": [1, 8, 8], "layers": [*layers, {"type": "flatten"}, {"type": "linear", "units": 10}]}
    batch = min(settings.network_max_batch, settings.network_max_step_numbers // 11_786)  # 11,786 numbers an example
    query = urlencode({"v": "1", "model": json.dumps(model, separators=(",", ":")), "data": "digits",
                       "batch": str(batch), "seed": "0", "opt": "sgd", "lr": "0.1", "step": "0"})
    rows: list[tuple[float, str, int]] = []
    what = f"24-layer network at batch {batch}"
    with TestClient(create_app(settings)) as client:
        row(rows, f"GET a {what}", tries(lambda: client.get("/network?" + query)))
        page = parse("network", client.get("/network?" + query).text)
        for url in sorted(page.posts):
            row(rows, f"POST {url} ({what})", tries(lambda url=url: client.post(url, data=as_data(page.fields))))
    return rows


def preset_at_limits(settings: Settings, preset: str) -> list[tuple[float, str, int]]:
    rows: list[tuple[float, str, int]] = []
    with TestClient(create_app(settings)) as client:
        _, _, r = tries(lambda: client.get(f"/network/preset/{preset}"))
        fields = parse("network", r.text).fields
        for name, value in (("batch", settings.network_max_batch), ("step", settings.network_max_step),
                            ("until", settings.network_max_step), ("seed", 5000 + len(preset))):
            fields = replaced(fields, name, str(value))
        far = link_of(client.post("/network/results", data=as_data(fields), headers={"HX-Request": "true"}), "")
        row(rows, f"GET the {preset} preset at batch {settings.network_max_batch}, step {settings.network_max_step}, "
                  "a new seed", tries(lambda: client.get(far)))
        page = parse("network", client.get(far).text)
        for url in sorted(page.posts):
            row(rows, f"POST {url} ({preset} at the limits)",
                tries(lambda url=url: client.post(url, data=as_data(page.fields))))
    return rows


def api_at_limits(settings: Settings) -> list[tuple[float, str, int]]:
    """The JSON API at its limits: ops at the API's sizes (the largest answers allowed), an optimizer run as long as
    it may be, and the network trace of a 24-layer network at its largest batch."""
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> list:
        return rng.normal(size=shape).round(3).tolist()

    n = settings.api_max_elements // 500
    steps = settings.max_optimizer_values // 100
    layers = [{"type": "conv2d", "filters": 8, "kernel": 3, "pad": 1}, {"type": "relu"}] * 11
    model = {"input_shape": [1, 8, 8], "layers": [*layers, {"type": "flatten"}, {"type": "linear", "units": 10}]}
    cases = [
        ("POST /api/v1/ops/conv2d (x 2×64×32×32, 64 filters 3×3)", "/api/v1/ops/conv2d",
         {"inputs": {"x": arr(2, 64, 32, 32), "w": arr(64, 64, 3, 3), "b": [0.0] * 64}}),
        (f"POST /api/v1/ops/batchnorm (x 500×{n})", "/api/v1/ops/batchnorm",
         {"inputs": {"x": arr(500, n), "gamma": [1.0] * n, "beta": [0.0] * n}}),
        (f"POST /api/v1/optimizers/adam ({steps} steps of 100 numbers)", "/api/v1/optimizers/adam",
         {"params": {"w": arr(100)}, "grads": [{"w": arr(100)} for _ in range(steps)]}),
        (f"POST /api/v1/networks/trace (24 layers, batch {settings.max_batch})", "/api/v1/networks/trace",
         {"model": model, "x": arr(settings.max_batch, 1, 8, 8), "labels": [1] * settings.max_batch}),
    ]
    rows: list[tuple[float, str, int]] = []
    with TestClient(create_app(settings)) as client:
        for what, url, body in cases:
            data = json.dumps(body)  # encoded outside the timing: the client's work, not the server's
            row(rows, what, tries(lambda url=url, data=data: client.post(
                url, content=data, headers={"content-type": "application/json"})))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__.splitlines()[0])
    p.add_argument("--lab", action="append", choices=LABS, help="only these labs (repeatable)")
    p.add_argument("--api", action="store_true", help="only the JSON API")
    args = p.parse_args(argv)
    rows = api_at_limits(Settings()) if args.api else measure(Settings(), tuple(args.lab or LABS))
    for seconds, what, status in sorted(rows, reverse=True):
        flag = "  OVER" if seconds > BOUND and status < 400 else ""
        print(f"{seconds * 1000:8.1f} ms CPU  {status}  {what}{flag}")
    worst = max(rows)
    print(f"worst: {worst[0]:.3f} CPU-s ({worst[1]}); bound {BOUND} CPU-s")


if __name__ == "__main__":
    main()
