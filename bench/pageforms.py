"""A lab page as a person's browser sees it: its form's fields, and the routes its buttons post to.

Used by the load and cost benchmarks (forms at their limits), by the tests that post a valid form with one
field changed, and by the link/form fuzzer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

LABS = ("conv", "pool", "norm", "softmax", "optim", "network")


@dataclass
class Page:
    fields: list[tuple[str, str]] = field(default_factory=list)  # the lab form's fields, in order, as posted
    posts: dict[str, list[dict]] = field(default_factory=dict)  # hx-post URL -> the hx-vals seen with it
    gets: set[str] = field(default_factory=set)  # hx-get and href URLs under the lab's own path
    bounds: dict[str, tuple[str, str]] = field(default_factory=dict)  # an input's (min, max) attributes


class _Parser(HTMLParser):
    def __init__(self, slug: str) -> None:
        super().__init__(convert_charrefs=True)
        self.slug = slug
        self.page = Page()
        self.depth = 0  # > 0 inside the lab's <form data-lab>
        self.select: str | None = None
        self.select_value: str | None = None
        self.option_first: str | None = None
        self.textarea: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form" and "data-lab" in attrs:
            self.depth = 1
        elif tag == "form" and self.depth:
            self.depth += 1
        for key in ("hx-post", "hx-get", "href", "action"):
            url = attrs.get(key, "")
            if not url.startswith(f"/{self.slug}"):
                continue
            if key == "hx-post":
                vals = {}
                if attrs.get("hx-vals"):
                    try:
                        vals = json.loads(attrs["hx-vals"])
                    except ValueError:
                        vals = {}
                self.page.posts.setdefault(url, []).append(vals)
            else:
                self.page.gets.add(url)
        if not self.depth or "name" not in attrs or "disabled" in attrs:
            return
        name = attrs["name"]
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in attrs:
                    self.page.fields.append((name, attrs.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.page.fields.append((name, attrs.get("value", "")))
                if "max" in attrs:
                    self.page.bounds[name] = (attrs.get("min", ""), attrs["max"])
        elif tag == "select":
            self.select, self.select_value, self.option_first = name, None, None
        elif tag == "textarea":
            self.textarea, self.text = name, []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.depth:
            self.depth -= 1
        elif tag == "select" and self.select is not None:
            value = self.select_value if self.select_value is not None else self.option_first
            if value is not None:
                self.page.fields.append((self.select, value))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.page.fields.append((self.textarea, "".join(self.text)))
            self.textarea = None


class _OptionParser(_Parser):
    """Options of a select: the selected one's value (its text when it has no value attribute)."""

    option: list | None = None  # [value or None, selected, text parts]

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        if tag == "option" and self.select is not None:
            attrs = dict(attrs_list)
            self.option = [attrs.get("value"), "selected" in attrs, []]
            return
        super().handle_starttag(tag, attrs_list)

    def handle_data(self, data: str) -> None:
        if self.option is not None:
            self.option[2].append(data)
        super().handle_data(data)

    def handle_endtag(self, tag: str) -> None:
        if self.option is not None and tag in ("option", "select"):
            value, selected, text = self.option
            value = "".join(text).strip() if value is None else value
            self.option = None
            if self.option_first is None:
                self.option_first = value
            if selected:
                self.select_value = value
        super().handle_endtag(tag)


def parse(slug: str, html: str) -> Page:
    parser = _OptionParser(slug)
    parser.feed(html)
    return parser.page


def as_data(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The fields as httpx posts a form: ``{name: [values in order]}``."""
    data: dict[str, list[str]] = {}
    for key, value in fields:
        data.setdefault(key, []).append(value)
    return data


def replaced(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """The fields with the first ``name`` set to ``value`` (added when the form has none)."""
    out, done = [], False
    for key, old in fields:
        if key == name and not done:
            out.append((key, value))
            done = True
        else:
            out.append((key, old))
    return out if done else [*out, (name, value)]
