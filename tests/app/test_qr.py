"""GET /qr.svg: a QR code (segno, SVG) of a link of this site only — a known page path and a query — drawn
absolute on the origin asked, without present/embed, in its shorter form; anything else is the named 422."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from app.settings import Settings
from app.web.kit.link import from_query
from app.web.pages.qr import same_origin_link
from tests.app.conftest import assert_error


def qr_get(client, link: str):
    return client.get("/qr.svg?link=" + quote(link, safe=""))


def test_a_lab_link_is_drawn_as_svg(client):
    link = client.get("/pool", follow_redirects=False).headers["location"]
    answer = qr_get(client, link + "&present=1")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    svg = answer.text
    assert svg.startswith("<svg") and 'class="qr-code"' in svg and re.search(r'viewBox="0 0 (\d+) \1"', svg)
    assert "<script" not in svg


def test_the_code_holds_the_absolute_link_without_display():
    settings = Settings()
    query = "v=1&x=1x1x2x2:1,2,3,4&present=1&embed=1"
    checked = same_origin_link("/pool?" + query, settings)
    assert checked == "/pool?v=1&x=1x1x2x2:1,2,3,4"  # short: readable is shorter than z=
    long_query = "v=1&x=1x1x16x16:" + ",".join("0.5" for _ in range(256))
    compact = same_origin_link("/conv?" + long_query, settings)
    assert compact.startswith("/conv?v=1&z=") and len(compact) < len(long_query)
    assert from_query(compact.partition("?")[2]) == from_query(long_query)  # the same computation


@pytest.mark.parametrize("link", [
    "", "https://evil.example/conv?v=1", "//evil.example/conv?v=1", "/admin?v=1", "/conv", "/conv?",
    "/conv?v=1 x", "/conv?v=1#frag", "javascript:alert(1)", "/conv/../x?v=1", "/conv?v=1\n",
])
def test_anything_but_a_lab_link_is_refused(client, link):
    assert_error(qr_get(client, link), 422, ["query", "link"])


def test_the_link_length_is_capped(client):
    answer = qr_get(client, "/conv?v=1&x=" + "1" * 3000)
    assert_error(answer, 422, ["query", "link"], "qr_max_link")


def test_a_bad_display_value_is_named(client):
    assert_error(qr_get(client, "/conv?v=1&present=2"), 422, ["query", "present"])
