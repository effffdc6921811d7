"""Stepping through one training step's operations traces that step once (network/run.traced_step keeps the
last few by run, step and example, issue 12); another step or another example is traced anew."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.web.labs.network import run as network_run
from engine.network import runs as nl
from tests.app.labs.test_network_page import NOTES_LINK, form_fields, post


@pytest.fixture
def traced(monkeypatch):
    calls = []
    real = nl.step_trace

    def counted(*args, **kwargs):
        calls.append(args[1].t)
        return real(*args, **kwargs)

    monkeypatch.setattr(nl, "step_trace", counted)
    network_run._traced.clear()
    return calls


def test_every_operation_of_a_step_is_drawn_from_one_trace(traced):
    client = TestClient(create_app())
    fields = form_fields(client.get(NOTES_LINK).text)
    for delta in ("-1", "-2", "-3"):
        r = post(client, "/network/step", fields, op_delta=delta)
        assert r.status_code == 200
    assert len(traced) == 1


def test_another_example_is_traced_anew(traced):
    client = TestClient(create_app())
    fields = form_fields(client.get(NOTES_LINK).text)
    assert post(client, "/network/step", fields, op_delta="-1").status_code == 200
    at = [k for k, _ in fields].index("x")  # the first cell of the typed example
    changed = [*fields[:at], ("x", "0.5" if fields[at][1] != "0.5" else "0.25"), *fields[at + 1:]]
    assert post(client, "/network/step", changed, op_delta="-1").status_code == 200
    assert len(traced) == 2
