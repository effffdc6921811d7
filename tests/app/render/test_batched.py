"""A lab's view writes all its tables in one pass (render.heatmap.batched): the bytes are the ones writing each table
at once gives, on every preset of every lab, on each tab of the labs with tabs, and with a quiz's hidden cells."""

from __future__ import annotations

import importlib
import re

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.render import heatmap
from app.web.render.memo import WRITTEN

LABS = ("conv", "pool", "norm", "softmax", "optim", "network")
TABS = {"conv": ("window", "im2col", "backward"), "norm": ("bn", "running", "ln", "dropout")}
QUIZZES = ("/conv/preset/edge?seed=3", "/norm/preset/notes-002?seed=3", "/pool/preset/notes-4x4?seed=3",
           "/softmax/preset/notes?seed=3")


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(page_cache_entries=0)), raise_server_exceptions=False) as c:
        yield c


def _both(client: TestClient, link: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setattr(heatmap, "DEFER", True)
    WRITTEN.clear()  # each written anew, not taken from what the writer kept (app.web.render.memo)
    batched = client.get(link)
    monkeypatch.setattr(heatmap, "DEFER", False)
    WRITTEN.clear()
    each = client.get(link)
    monkeypatch.setattr(heatmap, "DEFER", True)
    assert batched.status_code == each.status_code, link
    return batched.text, each.text


def _links(client: TestClient) -> list[str]:
    links = []
    for lab in LABS:
        for key in importlib.import_module(f"app.web.labs.{lab}.presets").PRESETS:
            link = client.get(f"/{lab}/preset/{key}?seed=3", follow_redirects=False).headers["location"]
            links.append(link)
            for tab in TABS.get(lab, ()):
                if "tab=" in link and f"tab={tab}" not in link:
                    links.append(re.sub(r"tab=[a-z0-9]+", f"tab={tab}", link))
    return links


def test_every_preset_and_tab_is_written_the_same(client, monkeypatch):
    links = _links(client)
    assert len(links) > 40
    differ = []
    for link in links:
        batched, each = _both(client, link, monkeypatch)
        if batched != each:
            differ.append(link)
    assert not differ, f"{len(differ)} pages differ when their tables are written in one pass: {differ[:5]}"


@pytest.mark.parametrize("preset", QUIZZES)
def test_a_quiz_page_is_written_the_same(client, monkeypatch, preset):
    link = client.get(preset, follow_redirects=False).headers["location"]
    page = client.get(link).text
    largest = {}  # each table's cell of the largest |value|: its magnitude is the legend's, which is then hidden
    for array, body in re.findall(r'<table class="heatmap[^"]*" data-arr="([a-z_]+)"[^>]*>(.*?)</table>', page):
        for index, text in re.findall(r'<td data-idx="([0-9,]+)"[^>]*>([-0-9.e]+)<', body):
            if abs(float(text)) > largest.get(array, ("", -1.0))[1]:
                largest[array] = (index, abs(float(text)))
    assert largest
    quiz = ";".join(f"{a}:{i}" for a, (i, _) in list(largest.items())[:8])
    batched, each = _both(client, f"{link}&quiz={quiz}", monkeypatch)
    assert "quiz-masked" in batched
    assert batched == each
