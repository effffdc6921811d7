"""The templates' environment reads ``d.key`` on a dict as Jinja does, without raising first."""

from __future__ import annotations

import jinja2
import pytest

from app.web.render.templating import LensEnvironment, templates


class Node:
    x = 3


class Record(dict):
    def __getattr__(self, name):  # a dict subclass may answer names itself: Jinja's own rule applies
        return f"attr {name}"


CASES = [
    ("{{ d.x }}", {"d": {"x": 1}}),  # a key
    ("{{ d.x is undefined }}", {"d": {}}),  # a missing key: undefined, as Jinja's
    ("{{ d.items is callable }}", {"d": {"items": 5}}),  # dict's own attribute first, as Jinja's
    ("{{ d.get('x', 9) }}", {"d": {}}),
    ("{{ n.x }} {{ n.y is undefined }}", {"n": Node()}),  # an object: unchanged
    ("{{ r.x }}", {"r": Record(x=1)}),
    ("{{ d['x'] }} {{ d.x.y }}", {"d": {"x": {"y": 2}}}),
]


@pytest.mark.parametrize(("source", "context"), CASES)
def test_a_dotted_name_reads_as_jinjas_own_rule(source, context):
    ours = LensEnvironment(autoescape=True).from_string(source).render(context)
    theirs = jinja2.Environment(autoescape=True).from_string(source).render(context)
    assert ours == theirs


def test_the_lab_templates_use_it():
    assert isinstance(templates.env, LensEnvironment)
    assert templates.env.autoescape is not False and templates.env.autoescape("page.html")
