"""Issue 13, "no 5xx from any input": each 500 the issue measured, and every error in the one shape.

Each case here answered 500 (or an error outside ``{"detail": [...]}``) before the fix.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.security import SECURITY_HEADERS
from app.settings import Settings
from bench.pageforms import as_data, parse, replaced
from tests.app.conftest import assert_error

HUGE = "99999999999999999999"


def form_message(response, *words: str) -> None:
    """A lab's 422: only the out-of-band message naming the bad field (nothing else swapped)."""
    assert response.status_code == 422, response.text[:300]
    assert 'id="form-message"' in response.text
    for word in words:
        assert word in response.text, (word, response.text[:600])


def lab_form(client, lab: str, **changed: str) -> dict[str, list[str]]:
    """The lab's default form as its page posts it, with ``changed`` fields set."""
    fields = parse(lab, client.get(f"/{lab}").text).fields
    for name, value in changed.items():
        fields = replaced(fields, name, value)
    return as_data(fields)


@pytest.mark.parametrize("lab,field", [("pool", "x_shape"), ("conv", "b_shape"), ("conv", "x_shape"),
                                       ("norm", "x_shape"), ("norm", "c_shape"), ("norm", "dout_shape"),
                                       ("pool", "dout_shape"), ("softmax", "logits_shape")])
def test_a_huge_shape_field_is_named_not_a_500(client, lab, field):
    sizes = {("conv", "x_shape"): 4, ("softmax", "logits_shape"): 2}.get((lab, field), 1)
    data = lab_form(client, lab, **{field: "x".join(["1"] * (sizes - 1) + [HUGE]), "dout_mode": "typed"})
    for part in ("results", "lab"):
        form_message(client.post(f"/{lab}/{part}", data=data), field, "the limit is 4,096")


def test_a_shape_field_bound_follows_the_settings():
    with TestClient(create_app(Settings(max_elements=8))) as c:
        form_message(c.post("/pool/results", data=lab_form(c, "pool", x_shape="1x1x3x3")), "x_shape",
                     "the limit is 8")


@pytest.mark.parametrize("text,words", [("1_000", "without separators"), ("١", "digits 0-9"), ("９", "digits 0-9"),
                                        ("２", "digits 0-9")])
def test_numbers_are_ascii_decimal_only(client, text, words):
    form_message(client.post("/pool/results", data=lab_form(client, "pool", size=text)), "size", words)
    form_message(client.post("/conv/results", data=lab_form(client, "conv", x=text)), "x[0, 0, 0, 0]", words)
    r = client.get("/pool", params={"v": "1", "x": "1x1x2x2:1,2,3,4", "size": text})
    assert r.status_code == 422 and words in r.text
    r = client.get("/pool", params={"v": "1", "x": f"1x1x2x2:1,2,{text},4"})
    assert r.status_code == 422 and words in r.text


@pytest.mark.parametrize("labels,words", [([[1, 2], [3]], "ragged"), ([1.5], "whole numbers"),
                                          (["a"], "whole numbers"), ([[1]], "one label per row")])
def test_trace_names_ragged_and_mistyped_labels(client, labels, words):
    body = {"model": {"input_shape": [1, 2, 2], "layers": [{"type": "flatten"}, {"type": "linear", "units": 3}],
                      "loss": "softmax_cross_entropy"},
            "x": [[[[1, 2], [3, 4]]]], "labels": labels}
    assert_error(client.post("/api/v1/networks/trace", json=body), 422, ["body", "labels"], words)


def test_softmax_op_names_ragged_labels(client):
    body = {"inputs": {"logits": [[1, 2, 3], [1, 2, 3]], "labels": [[1, 2], [3]]}}
    assert_error(client.post("/api/v1/ops/softmax_cross_entropy", json=body), 422, ["body", "inputs", "labels"])


def test_a_500_closes_the_connection_and_carries_the_headers(caplog):
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a planted bug")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.ERROR):
        r = c.get("/boom")
    item = assert_error(r, 500, [], "RuntimeError", "bug in Backprop Lens")
    assert "planted" not in item["msg"]  # never the exception's text or a traceback
    assert r.headers["connection"] == "close"
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, name
    assert r.headers["cache-control"] == "no-store"


def test_malformed_json_is_a_422_in_the_one_shape(client):
    r = client.post("/api/v1/ops/relu", content=b'{"inputs": {', headers={"content-type": "application/json"})
    assert_error(r, 422, ["body", 12], "not valid JSON")


@pytest.mark.parametrize("depth", [1_100, 5_000, 100_000])
def test_deep_nesting_is_refused_in_the_one_shape(client, depth):
    body = b'{"inputs": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    r = client.post("/api/v1/ops/relu", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text[:200]
    assert_error(r, r.status_code, r.json()["detail"][0]["loc"])
    assert r.json()["detail"][0]["loc"][0] == "body"


def test_a_form_part_over_1_mib_is_a_400_in_the_one_shape(client):
    r = client.post("/conv/results", files={"x": (None, b"1" * (1024 * 1024 + 10))})  # a field, not a file
    assert_error(r, 400, ["body"], "too large")
    r = client.post("/conv/results", content=b"x=" + b"1" * (1024 * 1024 + 10),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 422), r.status_code
    assert_error(r, r.status_code, r.json()["detail"][0]["loc"]) if r.status_code == 400 else None


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/ops/relu", "/api/"])
def test_an_unknown_api_path_is_a_json_404(client, path):
    for accept in ("application/json", "text/html"):
        r = client.get(path, headers={"accept": accept})
        assert r.headers["content-type"] == "application/json"
        assert_error(r, 404, ["path"], path, "/openapi.json")


def test_a_wrong_method_is_a_405_in_the_one_shape(client):
    assert_error(client.get("/api/v1/ops/relu"), 405, ["method"], "GET")


def test_a_body_over_the_limit_is_a_413_in_the_one_shape():
    with TestClient(create_app(Settings(max_body_bytes=100))) as c:
        assert_error(c.post("/api/v1/ops/relu", content=b"{" + b" " * 200 + b"}",
                            headers={"content-type": "application/json"}), 413, ["body"], "100 bytes")


def test_a_url_too_long_is_a_414_with_a_message(client):
    long = "/conv?v=1&x=" + "1," * 20_000
    item = assert_error(client.get(long, headers={"accept": "application/json"}), 414, ["url"], "the limit is 32,768")
    assert item["type"] == "url_too_long"
    page = client.get(long, headers={"accept": "text/html"})
    assert page.status_code == 414 and "This link is too long" in page.text and "32,768" in page.text
    assert page.headers["content-security-policy"]


async def _disconnecting_post(app: FastAPI) -> list[dict]:
    """A form POST whose client goes away after the first bytes of its body."""
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"x_shape=1x", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/conv/results", "raw_path": b"/conv/results", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test"), (b"content-type", b"application/x-www-form-urlencoded"),
                         (b"content-length", b"5000")], "client": ("127.0.0.1", 1), "server": ("test", 80)}
    await app(scope, receive, send)
    return sent


def test_a_client_disconnect_is_not_logged_as_an_error(caplog):
    app = create_app()
    with caplog.at_level(logging.INFO):
        asyncio.run(_disconnecting_post(app))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
