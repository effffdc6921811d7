"""Links that hold a lab's whole state: a versioned, strictly validated query string.

Short states stay readable (``?v=1&x=1x1x3x3:1,0,0,0,1,0,0,0,1&stride=1``); long ones are
the same query string deflated into one ``z`` parameter (base64url), so a link never
outgrows what a server accepts. Decoding is as strict as a form: every problem raises
:class:`~app.web.kit.fields.FieldError` naming the parameter, and nothing is clamped.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

import numpy as np

from app.web.kit.fields import SIZE, FieldError, MissingField, parse_int, parse_number
from app.web.render.numbers import link_texts

VERSION = "1"
DOUT_MODES = ("ones", "random", "typed")  # how a lab's upstream gradient dout is given: all ones, seeded, typed
READABLE_LIMIT = 1800  # characters of query string kept readable; longer ones are deflated
DEFLATE_LEVEL = 6  # a z= link's zlib level: a CIFAR input's link (14 KB of decimals) deflates in 0.7 ms at 6,
# 2.2 ms at 9 for 2 % fewer characters, and an edit writes its link every keystroke
MAX_LINK_BYTES = 200_000  # inflated size we accept from a compact link


def dout_text(mode: str, seed: int, typed: np.ndarray | None) -> str:
    """How a link holds an upstream gradient: ``ones``, ``random:SEED``, or the typed array."""
    if mode == "random":
        return f"random:{seed}"
    if mode == "typed" and typed is not None:
        return encode_array(typed)
    return "ones"


def parse_dout(text: str, max_seed: int) -> tuple[str, int]:
    """(mode, seed) of a link's ``dout``; anything but ``ones`` and ``random:SEED`` is ``typed`` (the lab
    decodes that array: it knows the shape it must have)."""
    if text == "ones":
        return "ones", 0
    if text.startswith("random:"):
        return "random", parse_int("dout", text[7:], 0, max_seed)
    return "typed", 0


def seeded_dout(seed: int, stream: int, shape: tuple[int, ...]) -> np.ndarray:
    """A random upstream gradient of ``shape``, to one decimal, drawn from its own ``stream`` of ``seed`` (not
    the stream presets draw x from). Read-only, and drawn once per (seed, stream, shape): every edit of a lab
    asks for the same one again (~85 µs to draw at a CIFAR conv's size)."""
    return _seeded_dout(int(seed), int(stream), tuple(int(n) for n in shape))


@functools.lru_cache(maxsize=32)
def _seeded_dout(seed: int, stream: int, shape: tuple[int, ...]) -> np.ndarray:
    dout = np.round(np.random.default_rng([seed, stream]).standard_normal(shape), 1)
    dout.flags.writeable = False
    return dout


_DECIMAL = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"  # what parse_number reads, but inf and nan (refused there)
_PLAIN_VALUES = re.compile(rf"{_DECIMAL}(?:,{_DECIMAL})*", re.ASCII)


def encode_array(arr: np.ndarray) -> str:
    """``1x2x3:1,2,3,4,5,6`` — the shape, then the values in row-major order."""
    shape = "x".join(str(d) for d in arr.shape)
    return shape + ":" + ",".join(link_texts(arr))


def decode_array(field: str, text: str, ndim: int, max_dims: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`encode_array`; the shape must have ``ndim`` sizes within ``max_dims``."""
    shape_text, sep, values_text = text.partition(":")
    if not sep:
        raise FieldError(field, "must look like SHAPE:VALUES, e.g. 1x1x3x3:1,2,3,…")
    if not all(SIZE.fullmatch(s) for s in shape_text.split("x")):
        raise FieldError(field, f"shape {shape_text!r} must be sizes (digits 0-9) joined by x, e.g. 1x1x3x3")
    shape = tuple(int(s) for s in shape_text.split("x"))
    if len(shape) != ndim:
        raise FieldError(field, f"shape {shape_text!r} must have {ndim} sizes")
    for size, limit in zip(shape, max_dims, strict=True):
        if not 1 <= size <= limit:
            raise FieldError(field, f"shape {shape_text!r}: each size must be between 1 and its limit {list(max_dims)}")
    parts = values_text.split(",") if values_text else []
    expected = math.prod(shape)
    if len(parts) != expected:
        raise FieldError(field, f"shape {shape_text} needs {expected} values, the link has {len(parts)}")
    if _PLAIN_VALUES.fullmatch(values_text):  # the common case in one go: plain ASCII decimals, as links write them
        values = np.array(parts, dtype=np.float64)
        if np.isfinite(values).all():
            return values.reshape(shape)  # else (an overflow such as 1e999) each number is read and named below
    values = [parse_number(f"{field}[{i}]", p) for i, p in enumerate(parts)]
    return np.array(values, dtype=np.float64).reshape(shape)


def to_query(fields: Mapping[str, str], readable_limit: int = READABLE_LIMIT) -> str:
    """The link's query string: readable when short, deflated into ``z`` when longer than ``readable_limit``
    (0: always deflated, for a lab whose link would be mostly percent-encoded JSON)."""
    readable = urlencode({"v": VERSION, **fields}, safe=":,x-.", quote_via=quote)
    if len(readable) <= readable_limit:
        return readable
    packed = base64.urlsafe_b64encode(zlib.compress(readable.encode(), DEFLATE_LEVEL)).decode().rstrip("=")
    return urlencode({"v": VERSION, "z": packed})


def from_query(query: str) -> dict[str, str]:
    """Parse a link's query string (either form) into its fields; strict about duplicates and version."""
    fields = _pairs(query)
    if "z" in fields:
        if set(fields) - {"z", "v"}:
            raise FieldError("z", "a compact link carries nothing but v and z")
        fields = _pairs(_inflate(fields["z"]))
    version = fields.pop("v", None)
    if version is None:
        raise FieldError("v", "the link has no version (v=1)")
    if version != VERSION:
        raise FieldError("v", f"links of version {version!r} are not known; this app reads version {VERSION}")
    return fields


def read_filled(query: str, read: Callable[[str], Any], default_query: str) -> tuple[Any, list[str]]:
    """``read(query)``; when the link leaves out a field the lab needs, every field it leaves out is taken from
    ``default_query`` (the default example's link): a bare ``?v=1`` opens the default example, and
    ``?v=1&tab=ln`` the default example at that tab. Returns the state and the fields taken from the default."""
    try:
        return read(query), []
    except MissingField:
        fields, defaults = from_query(query), from_query(default_query)
        filled = [key for key in defaults if key not in fields]
        if not filled:
            raise
        return read(to_query({**defaults, **fields})), filled


def split_query(query: str, own: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """A route's query string as (the lab's link, left as it came so a compact ``z=`` link still reads,
    and the route's ``own`` parameters, e.g. a stream's ``from``); an own parameter given twice is an error."""
    keep, mine = [], {}
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        key = unquote_plus(key)
        if key in own:
            if key in mine:
                raise FieldError(key, "appears twice in the link")
            mine[key] = unquote_plus(value)
        else:
            keep.append(part)
    return "&".join(keep), mine


def _pairs(query: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=64)
    except ValueError as exc:
        raise FieldError("link", f"the query string does not parse ({exc})") from None
    for key, value in pairs:
        if key in fields:
            raise FieldError(key, "appears twice in the link")
        fields[key] = value
    return fields


def _inflate(packed: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, MAX_LINK_BYTES)
        if inflater.unconsumed_tail:
            raise FieldError("z", "the compact link is larger than this app accepts")
        return text.decode("ascii")
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, FieldError):
            raise
        raise FieldError("z", "the compact link is damaged (it does not decode); it may have been cut short") from None
