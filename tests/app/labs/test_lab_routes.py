"""Every lab's shared routes come from the one factory, and every lab reads its limits from Settings through
the get_settings dependency (so an override reaches the links, the forms and the forms' max= alike)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute

from app.settings import Settings, get_settings
from app.web.kit import routes as kit_routes
from app.web.kit.link import from_query
from app.web.labs.conv import routes as conv
from app.web.labs.network import routes as network
from app.web.labs.norm import routes as norm
from app.web.labs.optim import routes as optim
from app.web.labs.pool import routes as pool
from app.web.labs.softmax import routes as softmax

LABS = {"conv": conv, "pool": pool, "norm": norm, "softmax": softmax, "optim": optim, "network": network}
SHARED = ["", "/preset/{key}", "/results", "/lab", "/gradcheck"]
PROVENANCE = {"conv", "pool", "norm", "softmax", "optim"}
WINDOW = {"conv", "pool"}
HX = {"HX-Request": "true"}


def _routes(router):
    """Every API route under ``router``, through the routers it includes."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router, kept whole by this FastAPI
            yield from _routes(route.original_router)


@pytest.mark.parametrize("slug", LABS)
def test_each_labs_shared_routes_are_made_by_the_factory(app, slug):
    shared = SHARED + (["/provenance"] if slug in PROVENANCE else []) + (["/window"] if slug in WINDOW else [])
    made = {route.path: route.endpoint.__module__ for route in _routes(app.router)}
    for tail in shared:
        assert made.get(f"/{slug}{tail}") == kit_routes.__name__, f"/{slug}{tail} is not made by lab_router"
    assert LABS[slug].LAB.slug == slug
    own = {path for path, module in made.items() if path.startswith(f"/{slug}/") and module == LABS[slug].__name__}
    assert own <= {"/optim/step", "/optim/surface", "/optim/link", "/optim/continue", "/norm/expectation",
                   "/network/jump", "/network/step", "/network/predict", "/network/train/stream"}, own


def _default_link(client, slug: str) -> str:
    r = client.get(f"/{slug}", follow_redirects=False)
    assert r.status_code == 303
    return r.headers["location"]


def _max_of(html: str, input_id: str) -> str:
    match = re.search(rf'id="{input_id}"[^>]*\bmax="([^"]*)"', html)
    assert match, f"no max= on #{input_id}"
    return match.group(1)


def test_the_optimizer_lab_reads_its_limits_from_the_settings_dependency(app, client):
    link = _default_link(client, "optim")  # five parameters, one typed step
    page = client.get(link)
    assert page.status_code == 200
    assert (_max_of(page.text, "dim-P"), _max_of(page.text, "dim-T"), _max_of(page.text, "path-N")) == \
        ("8", "20", "1000")
    app.dependency_overrides[get_settings] = lambda: Settings(optim_max_params=6, optim_max_steps=3,
                                                              optim_max_path=300)
    page = client.get(link)
    assert page.status_code == 200
    assert (_max_of(page.text, "dim-P"), _max_of(page.text, "dim-T"), _max_of(page.text, "path-N")) == \
        ("6", "3", "300")
    app.dependency_overrides[get_settings] = lambda: Settings(optim_max_params=4)
    broken = client.get(link)
    assert broken.status_code == 422 and "<b>names</b>: at most 4 parameters" in broken.text
    fragment = client.post("/optim/lab", data={"optimizer": "adam", "gmode": "constant", "P": "5", "T": "1"},
                           headers=HX)
    assert fragment.status_code == 422 and "<b>P</b>: must be between 1 and 4, got 5" in fragment.text
    stream = client.get("/optim/stream?" + urlsplit(link).query)
    assert stream.status_code == 422 and stream.json()["detail"][0]["loc"] == ["query", "names"]


def test_the_network_lab_reads_its_limits_from_the_settings_dependency(app, client):
    link = _default_link(client, "network")  # 32 digits per step
    assert from_query(urlsplit(link).query)["batch"] == "32"
    page = client.get(link, headers=HX)
    assert page.status_code == 200 and _max_of(page.text, "batch") == "64" and _max_of(page.text, "step") == "3000"
    app.dependency_overrides[get_settings] = lambda: Settings(network_max_batch=40, network_max_step=2000)
    page = client.get(link, headers=HX)
    assert page.status_code == 200 and _max_of(page.text, "batch") == "40" and _max_of(page.text, "step") == "2000"
    app.dependency_overrides[get_settings] = lambda: Settings(network_max_batch=16)
    broken = client.get(link)
    assert broken.status_code == 422 and "<b>batch</b>: must be between 1 and 16, got 32" in broken.text
    jump = client.get(link.replace("/network?", "/network/jump?") + "&to=5", follow_redirects=False)
    assert jump.status_code == 422 and jump.json()["detail"][0]["loc"] == ["query", "batch"]


@pytest.mark.parametrize("slug,override,input_id,value", [
    ("conv", {"conv_max_stride": 2}, "dim-stride", "2"), ("pool", {"pool_max_size": 3}, "dim-size", "3"),
    ("norm", {"max_batch": 3}, "dim-N", "3"), ("softmax", {"softmax_max_classes": 6}, "dim-K", "6")])
def test_the_other_labs_forms_show_the_settings_bounds(app, client, slug, override, input_id, value):
    link = _default_link(client, slug)
    app.dependency_overrides[get_settings] = lambda: Settings(**override)
    page = client.get(link, headers=HX)
    assert page.status_code == 200 and _max_of(page.text, input_id) == value
