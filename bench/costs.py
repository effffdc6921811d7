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


def at_limits(client: TestClient, lab: str) -> tuple[str, dict[str, list[str]], list[str]]:
    """(the canonical link of the lab's state at its limits, that form, the fragment routes)."""
    page = parse(lab, client.get(f"/{lab}").text)
    fields = page.fields
    for name, (_, top) in page.bounds.items():
        fields = replaced(fields, name, top)
    link = link_of(client.post(f"/{lab}/lab", data=as_data(fields), headers={"HX-Request": "true"}), f"/{lab}")
    _, _, r = tries(lambda: client.get(link))
    limits = parse(lab, r.text)
    return link, as_data(limits.fields), sorted(limits.posts)


def new_seed_link(client: TestClient, settings: Settings, seed: int) -> str:
    """The default network's link with another seed at the last step a link may replay to."""
    fields = parse("network", client.get("/network").text).fields
    fields = replaced(replaced(fields, "seed", str(seed)), "step", str(settings.network_max_step))
    return link_of(client.post("/network/results", data=as_data(fields), headers={"HX-Request": "true"}), "")


def row(rows: list, what: str, measured: tuple[float, int, Any]) -> None:
    seconds, count, r = measured
    rows.append((seconds, f"{what}{f' ({count} tries)' if count > 1 else ''}", r.status_code))


def measure(settings: Settings, only: tuple[str, ...] = LABS) -> list[tuple[float, str, int]]:
    rows: list[tuple[float, str, int]] = []
    for lab in only:
        with TestClient(create_app(settings)) as warm:
            link, form, posts = at_limits(warm, lab)
        with TestClient(create_app(settings)) as client:  # a fresh app: nothing cached, no checkpoints kept
            row(rows, f"GET {link[:80]}", tries(lambda client=client, link=link: client.get(link)))
            for url in posts:
                row(rows, f"POST {url} (at the limits)",
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
    largest batch, step 0: the page and its fragments."""
    layers = [{"type": "conv2d", "filters": 8, "kernel": 3, "pad": 1}, {"type": "relu"}] * 11
    model = {"input_shape": [1, 8, 8], "layers": [*layers, {"type": "flatten"}, {"type": "linear", "units": 10}]}
    query = urlencode({"v": "1", "model": json.dumps(model, separators=(",", ":")), "data": "digits",
                       "batch": str(settings.network_max_batch), "seed": "0", "opt": "sgd", "lr": "0.1", "step": "0"})
    rows: list[tuple[float, str, int]] = []
    what = f"24-layer network at batch {settings.network_max_batch}"
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__.splitlines()[0])
    p.add_argument("--lab", action="append", choices=LABS, help="only these labs (repeatable)")
    args = p.parse_args(argv)
    rows = measure(Settings(), tuple(args.lab or LABS))
    for seconds, what, status in sorted(rows, reverse=True):
        flag = "  OVER" if seconds > BOUND and status < 400 else ""
        print(f"{seconds * 1000:8.1f} ms CPU  {status}  {what}{flag}")
    worst = max(rows)
    print(f"worst: {worst[0]:.3f} CPU-s ({worst[1]}); bound {BOUND} CPU-s")


if __name__ == "__main__":
    main()
