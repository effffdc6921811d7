"""Issue 13, part 5: every answer — a page, a cached page's 304, an API error, /healthz, a static file — says
Permissions-Policy (every browser feature the app does not use switched off) and Cross-Origin-Opener-Policy:
same-origin, spelled out here rather than read back from app.security."""

from __future__ import annotations

import pytest

PERMISSIONS = ("accelerometer=()", "camera=()", "geolocation=()", "gyroscope=()", "magnetometer=()",
               "microphone=()", "payment=()", "usb=()")


@pytest.mark.parametrize("path", ["/", "/conv?v=1", "/network", "/api/v1/nothing", "/healthz", "/openapi.json",
                                  "/no/such/page"])
def test_permissions_policy_and_coop_on_every_answer(client, path):
    r = client.get(path)
    assert r.headers["cross-origin-opener-policy"] == "same-origin", path
    assert all(p in r.headers["permissions-policy"].split(", ") for p in PERMISSIONS), path


def test_a_304_carries_them_too(client):
    link = client.get("/conv/preset/random?seed=3", follow_redirects=False).headers["location"]
    etag = client.get(link).headers["etag"]
    r = client.get(link, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.headers["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in r.headers["permissions-policy"]
