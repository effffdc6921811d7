"""Fuzzing the JSON API from its own OpenAPI schema (hypothesis; seeded, bounded): any 5xx fails.

Bodies drawn from each operation's request schema must answer 200 or 422 (a 422 for what a schema cannot
say: shapes that do not fit, a model whose layers do not chain), never 400; bodies of any JSON at all, and
path names of any text, answer an error in the one shape, never a 5xx.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.app.hardening.schema_strategies import ANY_JSON, from_schema

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

_client = TestClient(create_app(), raise_server_exceptions=False)
SCHEMA = _client.get("/openapi.json").json()
COMPONENTS = SCHEMA["components"]["schemas"]


def operations() -> list[tuple[str, list[str], dict]]:
    """(path template, the path parameter's values, the request body schema) of every JSON operation."""
    out = []
    for path, ops in SCHEMA["paths"].items():
        op = ops.get("post")
        if op is None:
            continue
        names = [p["schema"].get("enum", ["x"]) for p in op.get("parameters", []) if p["in"] == "path"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        out.append((path, names[0] if names else [""], body))
    return out


OPERATIONS = operations()


def check_answer(r, conforming: bool) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"detail"} and isinstance(body["detail"], list) and body["detail"], body
        for item in body["detail"]:
            assert set(item) == {"loc", "msg", "type"}, item
    if conforming:
        assert r.status_code in (200, 422), (r.status_code, r.text[:500])


def test_the_schema_lists_only_the_json_api():
    assert {p for p in SCHEMA["paths"]} == {"/healthz", "/readyz", "/api/v1/ops/{op}", "/api/v1/optimizers/{name}",
                                            "/api/v1/networks/trace"}
    assert len(OPERATIONS) == 3


@pytest.mark.parametrize("path,names,body_schema", OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_bodies_drawn_from_the_schema(path, names, body_schema):
    @FUZZ
    @given(name=st.sampled_from(names), body=from_schema(body_schema, COMPONENTS))
    def run(name, body):
        url = path.replace("{op}", name).replace("{name}", name)
        check_answer(_client.post(url, json=body), conforming=True)

    run()


@pytest.mark.parametrize("path,names,body_schema", OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_any_json_and_any_name(path, names, body_schema):
    @FUZZ
    @given(name=st.sampled_from(names) | st.text(min_size=1, max_size=12), body=ANY_JSON)
    def run(name, body):
        name = quote(name, safe="")
        url = path.replace("{op}", name).replace("{name}", name)
        check_answer(_client.post(url, json=body), conforming=False)

    run()
