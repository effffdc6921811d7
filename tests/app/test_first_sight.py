"""What a visitor meets first, checked without a browser: links that leave fields out, the page head, the
gradient-check badge's note on rounding. (The real-browser side is tests/browser/test_first_sight.py.)"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app.web.kit.fields import FieldError, MissingField
from app.web.kit.link import from_query, read_filled, to_query
from app.web.labs.conv.presets import DEFAULT as CONV_DEFAULT
from app.web.labs.conv.presets import PRESETS as CONV_PRESETS
from tests.app.labs.test_conv_page import form_for

LABS = ("conv", "pool", "norm", "softmax", "optim", "network")


@pytest.mark.parametrize("lab", LABS)
def test_a_bare_versioned_link_opens_the_default_example(client, lab):
    default = client.get(f"/{lab}", follow_redirects=False).headers["location"]
    r = client.get(f"/{lab}?v=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == default
    assert client.get(r.headers["location"]).status_code == 200


def test_what_the_link_gives_is_kept_and_the_rest_is_the_default(client):
    r = client.get("/norm?v=1&tab=ln", follow_redirects=False)
    assert r.status_code == 303
    fields = from_query(urlsplit(r.headers["location"]).query)
    default = from_query(urlsplit(client.get("/norm", follow_redirects=False).headers["location"]).query)
    assert fields == {**default, "tab": "ln"}
    r = client.get("/network?v=1&seed=3", follow_redirects=False)
    fields = from_query(urlsplit(r.headers["location"]).query)
    assert r.status_code == 303 and fields["seed"] == "3" and "model" in fields


def test_the_network_link_is_compact_and_old_readable_links_still_open(client):
    link = client.get("/network", follow_redirects=False).headers["location"]
    query = urlsplit(link).query
    assert query.startswith("v=1&z=") and len(link) < 300  # was 465 characters of percent-encoded JSON
    readable = "/network?" + to_query(from_query(query))  # the same state written out in full
    assert len(readable) > len(link)
    page = client.get(readable)
    assert page.status_code == 200 and "Watch it train" in page.text



def test_a_bad_field_is_still_named_not_replaced(client):
    r = client.get("/norm?v=1&tab=zz")  # x is filled in from the default; the bad tab is still refused by name
    assert r.status_code == 422 and "<b>tab</b>" in r.text


def test_read_filled_fills_only_when_a_needed_field_is_missing():
    def read(query: str) -> dict[str, str]:
        fields = from_query(query)
        if "x" not in fields:
            raise MissingField("x")
        if fields.get("y") == "bad":
            raise FieldError("y", "is bad")
        return fields

    default = to_query({"x": "1", "y": "2", "w": "3"})
    assert read_filled(to_query({"x": "5"}), read, default) == ({"x": "5"}, [])  # complete: nothing added
    assert read_filled(to_query({"w": "9"}), read, default) == ({"x": "1", "y": "2", "w": "9"}, ["x", "y"])
    with pytest.raises(FieldError, match="y: is bad"):
        read_filled(to_query({"y": "bad"}), read, default)
    with pytest.raises(MissingField):
        read_filled(to_query({"w": "9"}), read, to_query({"w": "1"}))  # the default has no x either


def test_the_favicon_is_an_inline_png_so_an_edit_never_fetches_or_builds_it_again(client):
    html = client.get("/pool", follow_redirects=True).text
    assert '<link rel="icon" href="data:image/png;base64,' in html
    assert 'rel="icon" href="data:image/svg' not in html


@pytest.mark.parametrize("lab", ("pool", "softmax"))
def test_lab_headings_are_not_double_escaped(client, lab):
    html = client.get(f"/{lab}", follow_redirects=True).text
    assert "&amp;amp;" not in html
    assert "<h1>Pooling &amp; ReLU lab</h1>" in html or "<h1>Softmax &amp; cross-entropy lab</h1>" in html


def test_a_passing_gradient_check_says_why_it_is_not_zero(client):
    form = form_for(CONV_PRESETS[CONV_DEFAULT].make(0))
    r = client.post("/conv/gradcheck", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "badge--ok" in r.text
    assert "Why not 0: float64 keeps about 16 significant digits" in r.text and "below 10⁻⁷" in r.text


def test_a_limit_message_says_what_sets_the_limit(client):
    r = client.get("/network?v=1&seed=0&batch=99")  # the rest from the default example
    r = client.get(r.headers.get("location", "/network?v=1&batch=99"), follow_redirects=True)
    assert r.status_code == 422
    text = r.text.replace("&#39;", "'")
    assert "must be between 1 and 64, got 99 (64: Settings.network_max_batch in app/settings.py" in text


@pytest.mark.parametrize(("lab", "field", "value", "setting"), [
    ("conv", "stride", "9", "conv_max_stride"), ("conv", "pad", "9", "conv_max_pad"),
    ("pool", "size", "9", "pool_max_size"), ("pool", "stride", "9", "pool_max_stride"),
    ("norm", "batches", "99999", "norm_max_batches"), ("norm", "draws", "99999", "norm_max_draws"),
    ("optim", "N", "99999", "optim_max_path"), ("optim", "speed", "99999", "optim_max_speed"),
])
def test_every_lab_limit_message_says_what_sets_it_and_why(client, lab, field, value, setting):
    default = urlsplit(client.get(f"/{lab}", follow_redirects=False).headers["location"])
    fields = from_query(default.query)
    fields[field] = value
    r = client.get(f"/{lab}?{to_query(fields)}")
    assert r.status_code == 422
    text = r.text.replace("&#39;", "'")
    assert f"Settings.{setting} in app/settings.py — " in text, text[:2000]
