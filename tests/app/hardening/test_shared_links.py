"""A lab link that came back from being shared (``&fbclid=…``, ``&utm_source=…``) opens the same computation.

Before app/tracking.py each of these answered the broken-link page (422: "fbclid: is not a setting of the
convolution lab").
"""

from __future__ import annotations

import asyncio

import pytest

from app.tracking import SharedLinkMiddleware, without_tracking


def lab_link(client, lab: str) -> str:
    """The lab's default link, as its page is redirected to."""
    response = client.get(f"/{lab}", follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"]


@pytest.mark.parametrize("lab", ["conv", "pool", "norm", "softmax", "optim", "network"])
@pytest.mark.parametrize("extra", ["fbclid=IwAR0x_Y-z", "utm_source=twitter&utm_medium=social", "gclid=Cj0KCQ"])
def test_a_shared_lab_link_redirects_to_the_link_as_made(client, lab, extra):
    link = lab_link(client, lab)
    assert client.get(link).status_code == 200
    response = client.get(f"{link}&{extra}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == link  # byte for byte: order and encoding kept
    assert client.get(f"{link}&{extra}").status_code == 200


def test_the_parameters_are_taken_off_wherever_they_stand(client):
    link = lab_link(client, "conv")
    path, query = link.split("?", 1)
    first, rest = query.split("&", 1)
    response = client.get(f"{path}?utm_campaign=week3&{first}&fbclid=a&{rest}", follow_redirects=False)
    assert response.headers["location"] == link


def test_a_page_with_nothing_else_redirects_to_its_bare_path(client):
    for path in ("/", "/bugs", "/errata"):
        response = client.get(f"{path}?fbclid=abc", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, path)


def test_any_other_unknown_parameter_is_still_the_labs_422(client):
    link = lab_link(client, "conv")
    response = client.get(f"{link}&utm=1&fbclid2=x")  # near misses are not a sharer's: named, as before
    assert response.status_code == 422
    assert "utm" in response.text and "fbclid2" in response.text


def test_the_api_static_files_and_posts_are_left_alone(client):
    assert client.get("/api/v1/ops?utm_source=x", follow_redirects=False).status_code != 303
    assert client.get("/static/css/base.css?utm_source=x", follow_redirects=False).status_code == 200
    assert client.post("/conv/results?fbclid=x", data={}, follow_redirects=False).status_code != 303


def test_a_path_that_names_another_host_is_never_redirected():
    """``GET //evil.example/?fbclid=1``: a Location of //evil.example/ would send the browser to that host."""
    reached, sent = [], []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    async def send(message):
        sent.append(message)

    middleware = SharedLinkMiddleware(app)
    for raw in (b"//evil.example/", b"/conv"):
        scope = {"type": "http", "method": "GET", "path": raw.decode(), "raw_path": raw, "query_string": b"fbclid=1"}
        asyncio.run(middleware(scope, None, send))
    assert reached == ["//evil.example/"]  # the app answers it (a 404), not the middleware
    assert sent[0]["status"] == 303 and dict(sent[0]["headers"])[b"location"] == b"/conv"


def test_without_tracking_keeps_every_other_part_as_it_was():
    assert without_tracking(b"x=1%2C2&utm_source=a&w=3+4&") == b"x=1%2C2&w=3+4&"
    assert without_tracking(b"fbclid=1") == b""
    assert without_tracking(b"x=1&y") is None
    assert without_tracking(b"utm%5Fsource=a&x=1") == b"x=1"  # a percent-encoded name is read as its name
