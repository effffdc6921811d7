"""The fields of one ``<form id=...>`` as a browser posts them (used by bench.streams and the tests)."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormFields(HTMLParser):
    """The fields of one <form id=...> as a browser posts them: inputs (radios and checkboxes when
    checked), each select's selected option (else its first), textareas."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.depth, self.fields = form_id, 0, {}
        self.select: str | None = None
        self.first_option: str | None = None
        self.selected = False
        self.textarea: str | None = None

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if self.depth or a.get("id") == self.form_id:
                self.depth += 1
            return
        if not self.depth or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "reset", "file"):
            if a.get("type") not in ("radio", "checkbox") or "checked" in a:
                self.add(name, a.get("value", "on" if a.get("type") in ("radio", "checkbox") else ""))
        elif tag == "select" and name:
            self.select, self.first_option, self.selected = name, None, False
        elif tag == "option" and self.select:
            value = a.get("value", "")
            if self.first_option is None:
                self.first_option = value
            if "selected" in a and not self.selected:
                self.add(self.select, value)
                self.selected = True
        elif tag == "textarea" and name:
            self.textarea = name
            self.add(name, "")

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.depth:
            self.depth -= 1
        elif tag == "select" and self.select:
            if not self.selected and self.first_option is not None:
                self.add(self.select, self.first_option)
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(page: str, form_id: str) -> dict[str, list[str]]:
    """The fields of ``<form id=form_id>`` in ``page`` as a browser would post them."""
    parser = _FormFields(form_id)
    parser.feed(page)
    return parser.fields
