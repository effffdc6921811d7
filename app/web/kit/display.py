"""How a lab page is displayed, apart from what it computes: ``present=1`` (presenter mode) and ``embed=1``
(no site chrome, may be framed by ``Settings.embed_frame_ancestors``).

Both ride along in any lab link (``/conv?v=1&…&present=1``, also after a compact ``z=``) but are not part of
the lab's state: the page route takes them out with :func:`split_display` before the lab reads its link, so the
canonical link stays the lab's own and every route that reads a link from the address bar (the exports, the
network's stream and jump) can ignore them the same way. ``1`` is on, ``0`` or absent off; anything else is a
:class:`~app.web.kit.fields.FieldError` naming the parameter, like any bad link field.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from app.web.kit.fields import FieldError
from app.web.kit.link import split_query

DISPLAY_FIELDS = ("present", "embed")
_VALUES = {"1": True, "0": False}


@dataclass(frozen=True)
class Display:
    """The display parameters of a page: both off by default."""

    present: bool = False  # presenter mode: projector type, inputs collapsed, slim header
    embed: bool = False  # no site chrome; the document may be framed (its own CSP frame-ancestors)

    @property
    def classes(self) -> str:
        """The classes base.html puts on <html>: ``is-present``, ``is-embed``."""
        return " ".join(name for name, on in (("is-present", self.present), ("is-embed", self.embed)) if on)

    def query(self) -> str:
        """What a link carries of it, ``present=1&embed=1`` ('' when both are off): appended to a lab's link."""
        return urlencode({name: "1" for name in DISPLAY_FIELDS if getattr(self, name)})

    def link(self, url: str) -> str:
        """``url`` (a lab's canonical link) with the display parameters appended."""
        extra = self.query()
        if not extra:
            return url
        return f"{url}{'&' if '?' in url else '?'}{extra}"

    def context(self) -> dict[str, bool]:
        """What templates get as ``display``."""
        return {"present": self.present, "embed": self.embed}


OFF = Display()


def parse_display(values: dict[str, str]) -> Display:
    """The display of the parameters ``split_query`` took out; FieldError names a bad one."""
    flags = {}
    for name in DISPLAY_FIELDS:
        text = values.get(name, "0")
        if text not in _VALUES:
            raise FieldError(name, f"must be 1 (on) or 0 (off), got {text!r}")
        flags[name] = _VALUES[text]
    return Display(**flags)


def split_display(query: str) -> tuple[str, Display]:
    """A link's query as (the lab's own link, as it came, and its display); raises FieldError naming a bad
    ``present``/``embed`` (a bad value, or given twice)."""
    rest, values = split_query(query, DISPLAY_FIELDS)
    return rest, parse_display(values)
