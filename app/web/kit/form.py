"""Reading a lab's form: every field strictly, every problem collected as a :class:`FieldError`.

A lab's form posts on every edit as ``{name: [values in order]}`` (grid cells repeat their
name). A state module reads it with these helpers and returns ``(state, [])`` or
``(None, every problem found)``, so the page can mark each bad field at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from fastapi import Request

from app.web.kit.fields import FieldError, parse_choice, parse_int, parse_number, parse_shape
from app.web.kit.plane import plane_cells, posted_as_planes

Form = Mapping[str, list[str]]
T = TypeVar("T")


async def form_fields(request: Request, max_fields: int = 1000) -> dict[str, list[str]]:
    """The posted form as {name: [values in order]} (grid cells repeat their name); more than ``max_fields``
    fields answer 400 (Starlette's default of 1000 is below a lab's own limits: one field per cell)."""
    form = await request.form(max_fields=max_fields)
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        fields.setdefault(key, []).append(value if isinstance(value, str) else "")
    return fields


def first(form: Form, name: str, default: str = "") -> str:
    """The first value posted as ``name`` (``default`` when there is none)."""
    values = form.get(name)
    return values[0] if values else default


def collect(errors: list[FieldError], parse: Callable[..., T], *args: Any, fallback: Any = None) -> T:
    """``parse(*args)``; a FieldError is appended to ``errors`` and ``fallback`` returned instead."""
    try:
        return parse(*args)
    except FieldError as exc:
        errors.append(exc)
        return fallback


def int_field(form: Form, name: str, lo: int, hi: int, errors: list[FieldError], default: str = "0") -> int:
    """An integer form field in lo..hi; a problem is appended to ``errors`` and ``lo`` returned."""
    return collect(errors, parse_int, name, first(form, name, default), lo, hi, fallback=lo)


def choice_field(form: Form, name: str, choices: tuple[str, ...], errors: list[FieldError], default: str) -> str:
    """One of ``choices``; a problem is appended to ``errors`` and ``default`` returned."""
    return collect(errors, parse_choice, name, first(form, name, default), choices, fallback=default)


def cell_label(name: str, index) -> str:
    """How a page names one cell, e.g. ``x[0, 1, 2, 3]`` (the cell's ``data-label``)."""
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def number_cells(form: Form, name: str, labels: Sequence[str], errors: list[FieldError],
                 parse: Callable[[str, str], float] = parse_number) -> np.ndarray | None:
    """The cells posted as ``name``, one per label, each read by ``parse(label, text)`` (a bad one is named
    by its label); None when none were posted or their count is not the labels'."""
    texts = form.get(name)
    if texts is None:
        return None
    if len(texts) != len(labels):
        errors.append(FieldError(name, f"expected {len(labels)} cells, got {len(texts)}"))
        return None
    values = np.zeros(len(labels))
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        values[i] = collect(errors, parse, label, text, fallback=0.0)
    return values


def grid_cells(form: Form, name: str, shape: tuple[int, ...], errors: list[FieldError],
               parse: Callable[[str, str], float] = parse_number) -> np.ndarray:
    """The grid cells ``name`` posted in row-major order, as an array of ``shape``; each bad cell named."""
    if posted_as_planes(form, name):  # drawn as images: one field per plane (app.web.kit.plane)
        return plane_cells(form, name, shape, errors, parse)
    size = math.prod(shape)
    count = len(form.get(name, []))
    if count != size:
        errors.append(FieldError(name, f"expected {size} cells for shape {list(shape)}, got {count}"))
        return np.zeros(shape)
    labels = [cell_label(name, index) for index in np.ndindex(*shape)]
    return number_cells(form, name, labels, errors, parse).reshape(shape)


def shape_field(form: Form, name: str, errors: list[FieldError], ndim: int | None = None, *,
                max_cells: int) -> tuple[int, ...] | None:
    """A posted shape like ``1x2x5x5`` (``ndim`` sizes when given, else 1 to 4) of at most ``max_cells`` numbers
    (``Settings.max_elements``), or None with the error noted."""
    return collect(errors, parse_shape, name, first(form, name), ndim, max_cells)


def resize(values: np.ndarray, shape: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """An array of ``shape`` holding the values of ``values`` that still fit; new cells ``fill``
    (nothing fits when the number of axes differs)."""
    out = np.full(shape, fill, dtype=np.float64)
    if values.ndim == len(shape):
        common = tuple(slice(0, min(a, b)) for a, b in zip(values.shape, shape, strict=True))
        out[common] = values[common]
    return out
