"""An edit's fragment without the tables the page holds (issue 12, target 2: app/web/kit/changed.py): a request
that names the hashes it holds (Lens-Have) gets exactly those tables as stubs and the rest whole; a wrong or
unknown hash gets the whole table; without the header, or on a page, an export, the JSON API, every answer is the
same bytes as before; an answer cut for one request is never kept for another."""

from __future__ import annotations

import importlib
import re

import pytest

from app.web.kit.changed import MAX_HASHES, have, kept
from bench.pageforms import as_data, parse
from tests.app import replay

LABS = {"conv": "random", "pool": "notes-4x4", "norm": "two-sample", "softmax": "notes", "optim": "notes-001",
        "network": "notes"}
SIGNED = re.compile(r'<(table|div) [^>]*? data-h="([0-9a-f]{12})">.*?</\1>', re.S)
STUB = re.compile(r'<(table|tr|div) data-h="([0-9a-f]{12})" data-keep></\1>')
ROW = re.compile(r'<tr data-h="([0-9a-f]{12})">.*?</tr>', re.S)
HX = {"HX-Request": "true"}


def opened(client, lab: str, preset: str = "") -> tuple[str, list[tuple[str, str]]]:
    r = replay.get(client, f"/{lab}/preset/{preset or LABS[lab]}?seed=3", follow_redirects=True)
    assert r.status_code == 200, r.text[:300]
    return r.text, parse(lab, r.text).fields


def signed(html: str) -> dict[str, str]:
    """{hash: the element} of every signed element."""
    return {m.group(2): m.group(0) for m in SIGNED.finditer(html)}


def results(client, lab: str, fields, held: list[str] | None = None, extra: dict | None = None):
    headers = {**HX, **({"Lens-Have": " ".join(held)} if held is not None else {}), **(extra or {})}
    return client.post(f"/{lab}/results", data=as_data(fields), headers=headers)


def filled(cut: str, elements: dict[str, str]) -> str:
    return STUB.sub(lambda m: elements[m.group(2)], cut)


@pytest.mark.parametrize("lab", sorted(LABS))
def test_a_request_gets_stubs_exactly_for_the_tables_it_holds(client, lab):
    page, fields = opened(client, lab)
    full = results(client, lab, fields)
    tables = signed(full.text)
    assert len(tables) >= 4, f"/{lab}: the results sign {len(tables)} elements"
    assert set(tables) <= set(signed(page)), "the page holds every table the results bring"
    held = sorted(tables)[::2] + ["0123456789ab", "not-a-hash", "ABCDEF012345"]  # half, and wrong ones
    cut = results(client, lab, fields, held)
    assert cut.status_code == 200
    every = [m.group(2) for m in SIGNED.finditer(full.text)]  # an identical table may be drawn twice
    assert sorted(m.group(2) for m in STUB.finditer(cut.text)) == sorted(h for h in every if h in held)
    assert set(signed(cut.text)) == set(tables) - set(held)  # the rest come whole
    assert filled(cut.text, tables) == full.text  # and nothing else differs
    assert len(cut.content) < len(full.content)
    assert cut.headers["hx-replace-url"] == full.headers["hx-replace-url"]
    assert "Lens-Have" in cut.headers["vary"] and "Lens-Have" in full.headers["vary"]
    assert cut.headers["cache-control"] == "no-store" and "etag" not in cut.headers


@pytest.mark.parametrize("lab", sorted(LABS))
def test_an_edit_sends_again_only_the_rows_and_tables_that_changed(client, lab):
    page, fields = opened(client, lab)
    before = results(client, lab, fields).text
    name = next(n for n in ("x", "logits", "g", "gc") if any(k == n for k, _ in fields))
    at = next(i for i, (k, _) in enumerate(fields) if k == name)
    fields = [(k, "0.4321" if i == at else v) for i, (k, v) in enumerate(fields)]  # one cell edited
    after = results(client, lab, fields)
    held = re.findall(r'data-h="([0-9a-f]{12})"', before)  # every table and row the page holds
    cut = results(client, lab, fields, held)
    assert len(cut.content) < len(after.content)
    elements = {**signed(before), **{m.group(1): m.group(0) for m in ROW.finditer(before)}}
    assert STUB.sub(lambda m: elements[m.group(2)], cut.text) == after.text  # the page's rows fill the stubs
    rows = [m.group(2) for m in STUB.finditer(cut.text) if m.group(1) == "tr"]
    assert all(h in held for h in rows)


def test_a_wrong_or_unknown_hash_or_too_many_get_everything(client):
    page, fields = opened(client, "pool")
    full = results(client, "pool", fields)
    for held in (["0123456789ab"], ["zz"], [], ["0123456789ab"] * (MAX_HASHES + 1),
                 sorted(signed(full.text)) + ["0123456789ab"] * MAX_HASHES):
        assert results(client, "pool", fields, held).content == full.content


def test_an_answer_cut_for_one_request_is_never_served_to_another(client):
    page, fields = opened(client, "conv")
    fields = [(k, "7" if k == "x" and i == 0 else v) for i, (k, v) in enumerate(fields)]  # a state not seen yet
    first = results(client, "conv", fields, sorted(signed(page)))
    assert "data-keep" in first.text
    again = results(client, "conv", fields)  # the same state, from the page cache: whole
    assert "data-keep" not in again.text and signed(again.text)
    assert results(client, "conv", fields, sorted(signed(page))).content == first.content  # the cut, again


def test_a_quiz_fragment_is_never_cut_and_its_hashes_are_others(client):
    page, fields = opened(client, "conv", "notes-7-3-13-6")
    plain = signed(results(client, "conv", fields).text)
    quizzed = [*fields, ("quiz", "out:0,0,0,0")]
    full = results(client, "conv", quizzed)
    assert full.status_code == 200
    assert not set(signed(full.text)) & set(plain)  # a quiz's table is never taken for the plain one
    assert results(client, "conv", quizzed, sorted(signed(full.text))).content == full.content


def test_pages_exports_and_the_api_never_read_the_header(client):
    held = {"Lens-Have": " ".join(sorted(signed(opened(client, "conv")[0])))}
    for url in ("/conv/preset/random?seed=3", "/pool/preset/notes-4x4?seed=3"):
        link = client.get(url, follow_redirects=False).headers["location"]
        for headers in ({}, HX):
            plain, told = client.get(link, headers=headers), client.get(link, headers={**headers, **held})
            assert plain.content == told.content and "data-keep" not in told.text
        path, _, query = link.partition("?")
        export = f"{path}/export/arrays.json?{query}"
        assert client.get(export).content == client.get(export, headers=held).content
    body = {"inputs": {"x": [[[[1, 2], [3, 4]]]]}, "params": {"pool": 2, "stride": 2}}
    assert client.post("/api/v1/ops/maxpool2d", json=body).content == \
        client.post("/api/v1/ops/maxpool2d", json=body, headers=held).content


def test_every_preset_without_the_header_is_the_whole_fragment_and_with_it_only_the_cut(client):
    """Every preset of every lab: the results without the header hold no stub; with every hash the page holds,
    every signed element is a stub and filling them back gives the whole fragment byte for byte."""
    for lab in LABS:
        for key in importlib.import_module(f"app.web.labs.{lab}.presets").PRESETS:
            page, fields = opened(client, lab, key)
            full = results(client, lab, fields)
            assert full.status_code == 200, (lab, key)
            assert "data-keep" not in full.text
            tables = signed(full.text)
            cut = results(client, lab, fields, sorted(signed(page)))
            assert not signed(cut.text), f"{lab}/{key}: a table the page holds was sent again"
            assert filled(cut.text, tables) == full.text, (lab, key)


def test_the_header_is_read_strictly():
    from starlette.datastructures import Headers

    assert have(Headers({})) == frozenset()
    assert have(Headers({"lens-have": "0123456789ab  abcdefabcdef x"})) == {"0123456789ab", "abcdefabcdef"}
    assert kept(b"<p>1</p>", frozenset({"0123456789ab"})) == b"<p>1</p>"
    body = b'<table class="heatmap" data-arr="x" data-h="0123456789ab"><tr><td>1</td></tr></table><p>2</p>'
    assert kept(body, frozenset({"0123456789ab"})) == b'<table data-h="0123456789ab" data-keep></table><p>2</p>'
    assert kept(body, frozenset({"abcdefabcdef"})) is body


def test_a_fragment_first_asked_cut_is_kept_without_its_gzip_and_still_goes_out_gzipped_whole(client, app):
    page, fields = opened(client, "conv", "cifar")  # its results not asked yet
    cache = app.state.page_cache
    before = set(cache.entries)
    first = results(client, "conv", fields, sorted(signed(page)))
    assert "data-keep" in first.text
    (key,) = set(cache.entries) - before
    assert cache.entries[key].gzipped is None  # the cut request never sends the whole body: not gzipped for it
    whole = results(client, "conv", fields, extra={"Accept-Encoding": "gzip"})
    assert whole.headers["content-encoding"] == "gzip" and "data-keep" not in whole.text  # gzipped on its way out
    assert filled(first.text, signed(whole.text)) == whole.text
