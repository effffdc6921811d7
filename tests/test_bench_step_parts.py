"""bench.step_parts: the copies of the app it times differ from the shipped one in the step panel's template only."""

from __future__ import annotations

import jinja2
import pytest

from app.paths import TEMPLATES
from bench import step_parts as sp

SHIPPED = (TEMPLATES / "network" / "panel.html").read_text(encoding="utf-8")
PANEL = {"phase": "forward", "title": "Forward through layer 0: conv2d", "lede": "", "links": [], "chain": None,
         "param_update": None, "blocks": [
             {"kind": "formula", "title": "Multiply", "latex": "Z = W X"},
             {"kind": "value", "title": "Loss", "name": "loss", "text": "2.286", "exact": "2.2862"}]}


def panel_html(text: str) -> str:
    """The panel macro of this template text drawn for PANEL (one formula, one value)."""
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([
        jinja2.DictLoader({"network/panel.html": text}), jinja2.FileSystemLoader(str(TEMPLATES))]))
    return env.from_string('{% from "network/panel.html" import panel_body %}{{ panel_body(p) }}').render(p=PANEL)


def test_whole_is_the_shipped_template():
    assert sp.panel_variant(SHIPPED, "whole") == SHIPPED


@pytest.mark.parametrize(("name", "formula", "value"), [("whole", True, True), ("arrays", False, True),
                                                         ("nothing", False, False)])
def test_each_copy_draws_its_part_of_the_panel(name, formula, value):
    text = sp.panel_variant(SHIPPED, name)
    html = panel_html(text)
    assert ("data-latex" in html) is formula
    assert ("2.286" in html) is value
    assert "Forward through layer 0" in html  # the title stays: every copy redraws it
    assert (sp.CHAIN in text) is (name == "whole")


def test_a_template_without_what_it_replaces_is_refused():
    with pytest.raises(SystemExit, match="update bench.step_parts"):
        sp.panel_variant(SHIPPED.replace(sp.CHAIN, ""), "nothing")


def test_a_copy_holds_the_app_with_its_own_panel(tmp_path):
    root = sp.copy_tree(tmp_path, "nothing")
    assert (root / "app" / "main.py").is_file() and (root / "static").is_dir()
    assert (root / sp.PANEL).read_text(encoding="utf-8") == sp.panel_variant(SHIPPED, "nothing")
    assert (TEMPLATES / "network" / "panel.html").read_text(encoding="utf-8") == SHIPPED  # the tree is untouched
