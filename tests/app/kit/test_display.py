"""Display parameters of every lab page (app.web.kit.display): present=1 and embed=1 change how a page is shown,
never what it computes; a bad value is the named 422; an embed page may be framed, every other page may not."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.security import CSP, embed_csp
from app.settings import Settings
from app.web.kit.display import OFF, Display, split_display
from app.web.kit.fields import FieldError

LABS = ("conv", "pool", "norm", "softmax", "optim", "network")


def html_classes(text: str) -> set[str]:
    match = re.search(r'<html lang="en"(?: class="([^"]*)")?>', text)
    assert match, text[:300]
    return set((match.group(1) or "").split())


@pytest.fixture(scope="module")
def links() -> dict[str, str]:
    """Each lab's default link (the 303 of a bare /<lab>)."""
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        return {lab: c.get(f"/{lab}", follow_redirects=False).headers["location"] for lab in LABS}


# --- parsing ---

@pytest.mark.parametrize(("query", "rest", "display"), [
    ("v=1&x=1", "v=1&x=1", OFF),
    ("v=1&x=1&present=1", "v=1&x=1", Display(present=True)),
    ("present=1&v=1&embed=1&x=1", "v=1&x=1", Display(present=True, embed=True)),
    ("v=1&z=eJxL&embed=1", "v=1&z=eJxL", Display(embed=True)),  # after a compact link, left as it came
    ("v=1&present=0&embed=0", "v=1", OFF),
    ("v=1&present=%31", "v=1", Display(present=True)),
    ("", "", OFF),
])
def test_split_display(query, rest, display):
    assert split_display(query) == (rest, display)


@pytest.mark.parametrize(("query", "field"), [
    ("v=1&present=2", "present"), ("v=1&present=", "present"), ("v=1&embed=yes", "embed"),
    ("v=1&embed=true", "embed"), ("v=1&present=1&present=1", "present"),
])
def test_bad_display_names_its_field(query, field):
    with pytest.raises(FieldError) as exc:
        split_display(query)
    assert exc.value.field == field


def test_display_link():
    assert Display(present=True).link("/conv?v=1&x=2") == "/conv?v=1&x=2&present=1"
    assert Display(present=True, embed=True).link("/conv") == "/conv?present=1&embed=1"
    assert OFF.link("/conv?v=1") == "/conv?v=1"
    assert Display(embed=True).classes == "is-embed"


# --- pages ---

@pytest.mark.parametrize("lab", LABS)
def test_present_and_embed_on_every_lab(client, links, lab):
    link = links[lab]
    plain = client.get(link)
    assert plain.status_code == 200 and html_classes(plain.text) == set()
    assert 'class="site-header"' in plain.text and 'class="site-footer"' in plain.text
    assert plain.headers["content-security-policy"] == CSP and "frame-ancestors 'none'" in CSP

    present = client.get(link + "&present=1")
    assert present.status_code == 200 and html_classes(present.text) == {"is-present"}
    assert present.headers["content-security-policy"] == CSP  # presenter mode may not be framed either
    assert "x-frame-options" not in present.headers or present.headers["x-frame-options"] != "ALLOWALL"

    embed = client.get(link + "&embed=1&present=1")
    assert embed.status_code == 200 and html_classes(embed.text) == {"is-present", "is-embed"}
    assert 'class="site-header"' not in embed.text and 'class="site-footer"' not in embed.text
    assert embed.headers["content-security-policy"] == embed_csp("*")
    assert embed.headers["content-security-policy"].endswith("frame-ancestors *")
    assert len(embed.headers.get_list("content-security-policy")) == 1


@pytest.mark.parametrize("lab", LABS)
def test_bad_display_value_is_the_named_422(client, links, lab):
    answer = client.get(links[lab] + "&present=2")
    assert answer.status_code == 422
    assert "<b>present</b>" in answer.text and "must be 1 (on) or 0 (off)" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert client.get(links[lab] + "&embed=on").status_code == 422


def test_display_does_not_change_the_computation(client, links):
    """The lab's part of the page is the same bytes with and without the display parameters."""
    headers = {"HX-Request": "true"}  # htmx's partial: the lab itself, without the page around it
    plain = client.get(links["conv"], headers=headers)
    present = client.get(links["conv"] + "&present=1&embed=1", headers=headers)
    assert plain.status_code == present.status_code == 200
    assert plain.text == present.text


def test_cache_keeps_each_display_apart(client, links):
    """The page cache keys on the display too: a cached present page never answers the plain link, and a cached
    embed page keeps its own CSP (also on a 304: a 304's headers update the browser's stored ones)."""
    link = links["pool"]
    for _ in range(2):  # the second round is answered from the page cache, before the app
        plain, present = client.get(link), client.get(link + "&present=1")
        embed = client.get(link + "&embed=1")
        assert html_classes(plain.text) == set() and plain.headers["content-security-policy"] == CSP
        assert html_classes(present.text) == {"is-present"}
        assert html_classes(embed.text) == {"is-embed"} and embed.headers["content-security-policy"] == embed_csp("*")
    assert client.app.state.page_cache.hits >= 3
    again = client.get(link + "&embed=1", headers={"If-None-Match": embed.headers["etag"]})
    assert again.status_code == 304 and again.headers["content-security-policy"] == embed_csp("*")
    assert plain.headers["etag"] != embed.headers["etag"]


def test_bare_lab_with_display_opens_the_default_in_that_display(client, links):
    answer = client.get("/norm?present=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == links["norm"] + "&present=1"


def test_preset_keeps_the_display(client):
    answer = client.get("/conv/preset/random?seed=2&present=1&embed=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].endswith("&present=1&embed=1")
    assert client.get("/conv/preset/random?seed=2&present=3").status_code == 422


def test_exports_and_network_routes_ignore_the_display(client, links):
    assert client.get("/conv/export/arrays.json?" + links["conv"].partition("?")[2] + "&present=1").status_code == 200
    query = links["network"].partition("?")[2]
    jump = client.get(f"/network/jump?{query}&present=1&to=3", follow_redirects=False)
    assert jump.status_code == 303 and jump.headers["location"].endswith("&present=1")


def test_embed_origins_come_from_the_setting(links):
    settings = Settings(embed_frame_ancestors="https://course.example.edu  https://*.lms.example.org:8443")
    with TestClient(create_app(settings)) as c:
        embed = c.get(links["softmax"] + "&embed=1")
        csp = embed.headers["content-security-policy"]
        assert csp.endswith("frame-ancestors https://course.example.edu https://*.lms.example.org:8443")
        assert c.get(links["softmax"]).headers["content-security-policy"] == CSP


@pytest.mark.parametrize("bad", ["", "https://a.example; script-src *", "https://a.example\r\nX: y", "'unsafe-inline'"])
def test_embed_setting_is_a_source_list(bad):
    with pytest.raises(ValueError):
        embed_csp(bad)


def test_a_bad_embed_setting_stops_the_start():
    with pytest.raises(ValueError, match="embed_frame_ancestors"):
        create_app(Settings(embed_frame_ancestors="https://a.example; script-src *"))
