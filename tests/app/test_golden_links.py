"""Every recorded link still opens with the same status and still shows every number it showed.

The record is tests/app/golden/links.json.gz, written by scripts/record_golden.py before a
refactor. A page may gain numbers but never lose or change one (multiset inclusion, 6
significant digits), and every preset (``/<lab>/preset/<key>?seed=S``) still redirects to the
link recorded for it. Re-record only when a change of numbers is intended.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.web.kit.link import from_query
from tests.app.golden.extract import missing, page_numbers

GOLDEN = Path(__file__).parent / "golden" / "links.json.gz"
LABS = {"conv", "pool", "norm", "softmax", "optim", "network"}
RECORDS: list[dict] = json.loads(gzip.decompress(GOLDEN.read_bytes()))["links"]


def lab_of(link: str) -> str:
    return urlsplit(link).path.strip("/").split("/")[0]


def _ids() -> list[str]:
    seen: Counter[str] = Counter()
    ids = []
    for record in RECORDS:
        lab = lab_of(record["link"])
        ids.append(f"{lab}-{seen[lab]}")
        seen[lab] += 1
    return ids


@pytest.fixture(scope="module")
def golden_client():
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def test_the_record_covers_every_lab():
    assert RECORDS, f"{GOLDEN} holds no links"
    assert {lab_of(r["link"]) for r in RECORDS} == LABS
    assert {lab_of(p) for r in RECORDS for p in r["presets"]} == LABS
    for record in RECORDS:
        assert record["numbers"], f"no numbers recorded for {record['link']}"


def same_state(link: str, recorded: str) -> bool:
    """Whether two links hold the same state: the same path and the same fields, a z= link read as its fields (its
    deflated bytes may differ: zlib's level is not part of a link)."""
    (path, _, query), (was, _, then) = link.partition("?"), recorded.partition("?")
    return path == was and from_query(query) == from_query(then)


def test_every_preset_still_opens_its_recorded_link(golden_client):
    wrong = []
    for record in RECORDS:
        for preset in record["presets"]:
            response = golden_client.get(preset, follow_redirects=False)
            if response.status_code != 303 or not same_state(response.headers.get("location", ""), record["link"]):
                wrong.append(f"{preset} → {response.status_code} {response.headers.get('location')}\n"
                             f"    recorded {record['link']}")
    assert not wrong, f"{len(wrong)} presets no longer open their recorded link:\n" + "\n".join(wrong[:10])


@pytest.mark.parametrize("record", RECORDS, ids=_ids())
def test_the_page_shows_the_recorded_numbers(golden_client, record):
    link = record["link"]
    response = golden_client.get(link, follow_redirects=False)
    for _ in range(40):  # a replay over one request's CPU budget answers its progress (503) and goes on when
        if response.status_code != 503 or record["status"] == 503:  # asked again, as the page does; a loaded
            break  # machine gets there in more requests than a quiet one
        response = golden_client.get(link, follow_redirects=False)
    status = response.status_code
    assert status == record["status"], f"{link}\nanswered {status}, recorded {record['status']}"
    lost = missing(record["numbers"], page_numbers(response.text))
    if lost:
        shown = ", ".join(f"{k} (×{n})" if n > 1 else k for k, n in list(lost.items())[:10])
        more = f" and {len(lost) - 10} more" if len(lost) > 10 else ""
        pytest.fail(f"{link}\n{len(lost)} recorded numbers missing (×n: n copies missing): {shown}{more}")
