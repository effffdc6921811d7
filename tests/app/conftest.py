"""Fixtures for the web app's tests: a TestClient over a fresh app."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.v1.jsonarrays import to_json
from app.main import create_app
from engine import registry


@pytest.fixture
def app():
    return create_app()


@pytest.fixture
def client(app):
    # raise_server_exceptions=False: a 500 shows up as a response, the way a user would see it
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def example_body(op: str, seed: int = 0) -> dict:
    """The JSON body of OpSpec.example for ``op``."""
    inputs, params = registry.OPS[op].example(np.random.default_rng(seed))
    return {"inputs": to_json(inputs), "params": to_json(params)}


def assert_error(response, status: int, loc: list, *words: str) -> dict:
    """The response is ``status`` with one error item at ``loc`` whose message holds every word."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}, body
    items = body["detail"]
    assert isinstance(items, list) and items, body
    for item in items:
        assert set(item) == {"loc", "msg", "type"}, item
    item = items[0]
    assert item["loc"] == loc, items
    for word in words:
        assert word.lower() in item["msg"].lower(), f"{word!r} not in {item['msg']!r}"
    return item
