"""Issue 13, pages as cacheable documents: strong ETag, Cache-Control for shared caches, 304, and an
in-process LRU keyed by the canonical link that renders each link once."""

from __future__ import annotations

import gzip

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.security import SECURITY_HEADERS
from app.settings import Settings
from app.web.kit import routes as kit_routes
from app.web.kit.cache import Entry, PageCache

HX = {"HX-Request": "true"}


def default_link(client: TestClient, lab: str) -> str:
    return client.get(f"/{lab}", follow_redirects=False).headers["location"]


@pytest.mark.parametrize("lab", ["conv", "pool", "norm", "softmax", "optim", "network"])
def test_a_lab_page_is_a_cacheable_document(client, lab):
    link = default_link(client, lab)
    first = client.get(link)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert first.headers["cache-control"] == "public, max-age=0, s-maxage=3600, must-revalidate"
    assert "HX-Request" in first.headers["vary"] and "Accept-Encoding" in first.headers["vary"]
    again = client.get(link)  # from the cache, before any middleware: the same headers all the same
    assert again.content == first.content and again.headers["etag"] == etag
    for name, value in SECURITY_HEADERS.items():
        assert first.headers[name] == value and again.headers[name] == value, name
    not_modified = client.get(link, headers={"if-none-match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert client.get(link, headers={"if-none-match": '"other"'}).status_code == 200
    partial = client.get(link, headers=HX)  # htmx's partial: another document, another ETag
    assert partial.status_code == 200 and partial.headers["etag"] != etag and len(partial.content) < len(first.content)


def test_the_gzipped_and_plain_answers_are_the_same_document(client):
    link = default_link(client, "conv")
    with httpx.Client(transport=client._transport, base_url="http://testserver") as raw:
        zipped = raw.get(link, headers={"accept-encoding": "gzip"})
        plain = raw.get(link, headers={"accept-encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.headers["etag"] == plain.headers["etag"]
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.content == plain.content  # httpx unzipped it


def test_a_link_and_its_canonical_form_share_one_entry(app, client):
    link = default_link(client, "softmax")  # /softmax?v=1&logits=...&labels=...&temperature=1
    client.get(link)
    cache = app.state.page_cache
    entries = len(cache.entries)
    reordered = "/softmax?" + "&".join(reversed(link.split("?", 1)[1].split("&")))
    assert client.get(reordered).content == client.get(link).content
    assert len(cache.entries) == entries  # the reordered link is the same canonical link


def test_concurrent_requests_for_one_link_render_it_once(monkeypatch):
    renders = []
    render = kit_routes.render

    def counting_render(request, template, *args, **kwargs):
        renders.append(template)
        return render(request, template, *args, **kwargs)

    monkeypatch.setattr(kit_routes, "render", counting_render)
    app = create_app()
    with TestClient(app) as c:
        link = default_link(c, "conv")

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
            statuses: list[int] = []

            async def one() -> None:
                statuses.append((await ac.get(link)).status_code)

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
            return statuses

    assert anyio.run(burst) == [200] * 20
    assert renders == ["conv/page.html"]


def test_fragments_are_kept_by_their_canonical_link_too(app, client):
    link = default_link(client, "pool")
    form = client.get(link)
    from bench.pageforms import as_data, parse

    data = as_data(parse("pool", form.text).fields)
    a = client.post("/pool/results", data=data, headers=HX)
    b = client.post("/pool/results", data=data, headers=HX)
    assert a.status_code == b.status_code == 200 and a.content == b.content
    assert a.headers["hx-replace-url"] == b.headers["hx-replace-url"]
    assert b.headers["cache-control"] == "no-cache"  # a POST: kept here, not by shared caches
    assert app.state.page_cache.hits >= 1


def test_the_cache_is_bounded_in_entries_and_bytes():
    cache = PageCache(max_entries=3, max_bytes=10_000)
    for i in range(5):
        cache.put(i, Entry(200, b"x" * 1000, None, ()))
    assert list(cache.entries) == [2, 3, 4]
    cache.put("big", Entry(200, b"x" * 4000, None, ()))
    assert cache.bytes <= 10_000 and "big" in cache.entries
    cache.put("huge", Entry(200, b"x" * 20_000, None, ()))
    assert "huge" not in cache.entries


def test_settings_bound_the_cache_and_zero_turns_it_off():
    with TestClient(create_app(Settings(page_cache_entries=0))) as c:
        link = default_link(c, "conv")
        assert c.get(link).status_code == 200 and c.get(link).status_code == 200
        assert len(c.app.state.page_cache.entries) == 0


def test_a_kept_page_is_gzipped_at_the_page_level_and_a_large_fragment_at_the_large_level():
    from starlette.responses import Response as Plain

    from app.compression import gzip_bytes
    from app.web.kit.cache import make_entry

    settings = Settings()
    big = ("".join(f"<td>{k * 0.37:.4g}</td>" for k in range(20000))).encode()  # > gzip_large_bytes
    assert len(big) >= settings.gzip_large_bytes
    page = make_entry(Plain(big), settings, shared=True)
    step = make_entry(Plain(big), settings, shared=False)
    assert page.gzipped == gzip_bytes(big, settings.gzip_level)
    assert step.gzipped == gzip_bytes(big, settings.gzip_large_level)
    small = make_entry(Plain(big[:4000]), settings, shared=False)  # a small fragment: the page level, as before
    assert small.gzipped == gzip_bytes(big[:4000], settings.gzip_level)
    assert gzip.decompress(page.gzipped) == gzip.decompress(step.gzipped) == big  # any gzip reader takes them
