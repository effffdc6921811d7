"""``python -m bench.costs``: the CPU one request costs at the limits, for every lab's page and fragment routes.

Each lab's form is set to its limits (every input with a ``max=`` at its max), posted to ``/<lab>/lab``
to get the canonical link of that state, then the page at that link and every fragment route the
page posts to are timed, in process (``time.process_time`` around one request on a fresh app, so
nothing is cached). Also the network lab's replay of ``step=network_max_step`` with a new seed, and
the trace API at its limits. Issue 13's bound: no request over 0.5 CPU-s, or it is refused by a
named limit.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from bench.pageforms import LABS, as_data, parse, replaced

BOUND = 0.5  # CPU-s


def cpu(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.process_time()
    result = call()
    return time.process_time() - started, result


def at_limits(client: TestClient, lab: str) -> tuple[str, dict[str, list[str]], list[str]]:
    """(the canonical link of the lab's state at its limits, that form, the fragment routes)."""
    page = parse(lab, client.get(f"/{lab}").text)
    fields = page.fields
    for name, (_, top) in page.bounds.items():
        fields = replaced(fields, name, top)
    r = client.post(f"/{lab}/lab", data=as_data(fields))
    link = r.headers.get("hx-replace-url") or f"/{lab}"
    limits = parse(lab, client.get(link).text)
    return link, as_data(limits.fields), sorted(limits.posts)


def measure(settings: Settings, only: tuple[str, ...] = LABS) -> list[tuple[float, str, int]]:
    rows = []
    for lab in only:
        with TestClient(create_app(settings)) as warm:
            link, form, posts = at_limits(warm, lab)
        with TestClient(create_app(settings)) as client:  # a fresh app: nothing cached
            seconds, r = cpu(lambda client=client, link=link: client.get(link))
            rows.append((seconds, f"GET {link[:90]}", r.status_code))
            for url in posts:
                seconds, r = cpu(lambda client=client, url=url, form=form: client.post(url, data=form))
                rows.append((seconds, f"POST {url} (at the limits)", r.status_code))
    with TestClient(create_app(settings)) as client:
        link = client.get("/network", follow_redirects=False).headers["location"]
        far = re.sub(r"&step=\d+", "", re.sub(r"&seed=\d+", "", link)) + f"&seed=4242&step={settings.network_max_step}"
        seconds, r = cpu(lambda: client.get(far))
        rows.append((seconds, f"GET /network?…&seed=4242&step={settings.network_max_step} (a replay)", r.status_code))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__.splitlines()[0])
    p.add_argument("--lab", action="append", choices=LABS, help="only these labs (repeatable)")
    args = p.parse_args(argv)
    rows = measure(Settings(), tuple(args.lab or LABS))
    worst = max(rows)
    for seconds, what, status in sorted(rows, reverse=True):
        flag = "  OVER" if seconds > BOUND and status < 400 else ""
        print(f"{seconds * 1000:8.1f} ms CPU  {status}  {what}{flag}")
    print(f"worst: {worst[0]:.3f} CPU-s ({worst[1]}); bound {BOUND} CPU-s")


if __name__ == "__main__":
    main()
