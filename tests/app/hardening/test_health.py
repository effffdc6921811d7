"""/healthz and /readyz answer from the event loop (``async def``), so page renders never queue them."""

from __future__ import annotations

import asyncio

from app.health import healthz, readyz
from app.security import SECURITY_HEADERS


def test_healthz_and_readyz(client):
    r = client.get("/healthz")
    assert r.json() == {"status": "ok"} and r.headers["cache-control"] == "no-cache"
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, name
    assert client.head("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert client.head("/readyz").status_code == 200


def test_health_checks_run_on_the_event_loop(app):
    assert asyncio.iscoroutinefunction(healthz) and asyncio.iscoroutinefunction(readyz)
    for route in app.routes:
        if getattr(route, "path", None) in ("/healthz", "/readyz"):
            assert asyncio.iscoroutinefunction(route.endpoint), route.path


def test_readyz_says_when_the_engine_fails(client, monkeypatch):
    from engine import registry

    def broken(*args, **kwargs):
        raise RuntimeError("no engine")

    monkeypatch.setattr(registry, "run_op", broken)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["detail"][0]["loc"] == ["engine"] and "RuntimeError" in r.json()["detail"][0]["msg"]
