"""Record what every lab page shows today: tests/app/golden/links.json.gz.

    .venv/bin/python scripts/record_golden.py            # every lab
    .venv/bin/python scripts/record_golden.py optim      # only /optim's links; the others' records stay

Collects links (every preset of every lab at seeds 0 and 7, the tabs of /conv and /norm, a
stepped conv window, /optim's selected step and surface frame, training steps of /network),
GETs each page through a TestClient (no server, no htmx headers) and records its status code,
the multiset of numbers it shows (tests/app/golden/extract.py) and the preset requests that
redirect to it. tests/app/test_golden_links.py checks that every page still shows every recorded
number and that every preset still redirects to its recorded link. Naming labs re-records only
their links (a deliberate change of one lab's numbers), keeping every other record as it was.
"""

from __future__ import annotations

import gzip
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app.main import create_app  # noqa: E402
from app.web.kit.link import from_query, to_query  # noqa: E402
from app.web.labs.conv.state import TABS as CONV_TABS  # noqa: E402
from app.web.labs.norm.state import TABS as NORM_TABS  # noqa: E402
from tests.app.golden.extract import page_numbers  # noqa: E402

LABS = ("conv", "pool", "norm", "softmax", "optim", "network")
SEEDS = (0, 7)
OUT = ROOT / "tests" / "app" / "golden" / "links.json.gz"


def preset_link(client: TestClient, lab: str, key: str, seed: int) -> str:
    response = client.get(f"/{lab}/preset/{key}", params={"seed": seed}, follow_redirects=False)
    if response.status_code != 303:
        raise SystemExit(f"/{lab}/preset/{key}?seed={seed} answered {response.status_code}, not 303")
    return response.headers["location"]


def vary(link: str, before: str | None = None, **changes: str) -> str:
    """``link`` with some fields set (a new field goes before ``before`` when given), as the app writes links."""
    path, _, query = link.partition("?")
    fields = from_query(query)
    new = {k: v for k, v in changes.items() if k not in fields}
    fields.update({k: v for k, v in changes.items() if k in fields})
    if before in fields:
        ordered: dict[str, str] = {}
        for k, v in fields.items():
            if k == before:
                ordered.update(new)
            ordered[k] = v
        fields = ordered
    else:
        fields.update(new)
    return f"{path}?{to_query(fields)}"


def collect(client: TestClient) -> tuple[list[str], dict[str, list[str]]]:
    """The links, and for each the preset requests (``/<lab>/preset/<key>?seed=S``) that redirect to it."""
    links: list[str] = []
    presets_of: dict[str, list[str]] = {}

    def add(link: str, preset: str | None = None) -> None:
        if link not in links:
            links.append(link)
        if preset:
            presets_of.setdefault(link, []).append(preset)

    defaults = {}
    for lab in LABS:
        presets = importlib.import_module(f"app.web.labs.{lab}.presets")
        for key in presets.PRESETS:
            for seed in SEEDS:
                add(preset_link(client, lab, key, seed), f"/{lab}/preset/{key}?seed={seed}")
        defaults[lab] = preset_link(client, lab, presets.DEFAULT, 0)

    for tab in CONV_TABS:
        if tab != "window":
            add(vary(defaults["conv"], tab=tab))
    add(vary(defaults["conv"], step="3"))
    for tab in NORM_TABS:
        add(vary(defaults["norm"], tab=tab))
    # /optim and /softmax have no tabs; /optim's table selects a step and a parameter, its surface a frame
    steps = preset_link(client, "optim", "notes-001-steps", 0)
    add(vary(steps, k="7", j="3"))
    add(vary(defaults["optim"], t="40"))
    # /network: LeNet on the digits mid-training, and the default preset at steps 0 and 3
    lenet = preset_link(client, "network", "lenet", 0)
    add(vary(lenet, before="op", step="20"))
    add(defaults["network"])
    add(vary(defaults["network"], before="op", step="3"))
    return links, presets_of


def record(client: TestClient, links: list[str], presets_of: dict[str, list[str]]) -> list[dict]:
    records = []
    for link in links:
        response = client.get(link, follow_redirects=False)
        numbers = page_numbers(response.text)
        records.append({"link": link, "status": response.status_code, "numbers": dict(sorted(numbers.items())),
                        "presets": presets_of.get(link, [])})
    return records


def lab_of(link: str) -> str:
    return link.lstrip("/").split("?")[0].split("/")[0]


def main(only: list[str]) -> None:
    unknown = set(only) - set(LABS)
    if unknown:
        raise SystemExit(f"unknown labs {sorted(unknown)}; the labs are {', '.join(LABS)}")
    with TestClient(create_app()) as client:
        links, presets_of = collect(client)
        if only:
            links = [link for link in links if lab_of(link) in only]
        records = record(client, links, presets_of)
    if only:  # keep every other lab's records as recorded
        kept = [r for r in json.loads(gzip.decompress(OUT.read_bytes()))["links"] if lab_of(r["link"]) not in only]
        records = kept + records
    text = json.dumps({"links": records}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    OUT.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    total = sum(sum(r["numbers"].values()) for r in records)
    distinct = sum(len(r["numbers"]) for r in records)
    statuses = sorted({r["status"] for r in records})
    print(f"{len(records)} links, {total} numbers ({distinct} distinct per page, summed), statuses {statuses}")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
