"""The softmax lab's whole state, and its two ways in: a link and the page's form.

A state is logits (N, K), one label per row and a temperature. Links read
``?v=1&logits=1x3:3,-2,-100&labels=1:0&temperature=1``; both ways in are validated as
strictly as each other, and every problem is a :class:`FieldError` naming the field
(``logits[0, 2]``, ``labels[1]``, ``temperature``) — nothing is clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, MissingField, parse_int, parse_number
from app.web.kit.form import Form, collect, first, grid_cells, int_field, number_cells, resize, shape_field
from app.web.kit.link import decode_array, encode_array, from_query
from app.web.kit.link import to_query as link_query
from app.web.labs.softmax.stages import STAGES
from app.web.render.numbers import link_text
from engine.registry import get_spec

OP = "softmax_cross_entropy"
MIN_CLASSES = 2  # a softmax over one class is always 1


def temperature_range() -> tuple[float, float]:
    """The engine's limits of the temperature parameter."""
    spec = next(p for p in get_spec(OP).params if p.name == "temperature")
    return float(spec.lo), float(spec.hi)


@dataclass(frozen=True)
class SoftmaxState:
    logits: np.ndarray  # (N, K) float64
    labels: np.ndarray  # (N,) int64 in 0..K−1
    temperature: float = 1.0
    stage: int = 0  # the stable-vs-naive reveal's stage 1..5 (0: every stage at once; left out of the link)

    def to_query(self) -> str:
        fields = {"logits": encode_array(self.logits),
                  "labels": f"{self.labels.size}:" + ",".join(str(int(v)) for v in self.labels),
                  "temperature": link_text(self.temperature)}
        if self.stage:
            fields["stage"] = str(self.stage)
        return link_query(fields)

    def inputs(self) -> dict[str, np.ndarray]:
        return {"logits": self.logits, "labels": self.labels}

    def params(self) -> dict[str, float]:
        return {"temperature": self.temperature}


def limits(settings: Settings) -> tuple[int, int]:
    """(max rows N, max classes K) of the page."""
    return min(settings.softmax_max_rows, settings.max_batch), min(settings.softmax_max_classes, settings.max_classes)


def form_limits(settings: Settings) -> dict[str, int]:
    """The form's bounds: N and K."""
    n, k = limits(settings)
    return {"N": n, "K": k}


def check_logit(field: str, value: float, limit: float) -> float:
    if abs(value) > limit:
        bound = f"{limit:g}".replace("e+0", "e").replace("e+", "e")  # 1e6, as the notes write it
        raise FieldError(field, f"{link_text(value)} is too large: this page takes logits between −{bound} and "
                                f"{bound} (exp overflows above 709.78 already, so 1000 is enough to see it)")
    return value


def check_label(field: str, text: str, k: int) -> int:
    value = parse_number(field, text)
    if not value.is_integer():
        raise FieldError(field, f"must be a whole number (a class index), got {text.strip()}")
    if not 0 <= value < k:
        raise FieldError(field, f"class {link_text(value)} is out of range: there are {k} classes, "
                               f"so a label must be between 0 and {k - 1}")
    return int(value)


def check_temperature(field: str, text: str) -> float:
    lo, hi = temperature_range()
    value = parse_number(field, text)
    if not lo <= value <= hi:
        raise FieldError(field, f"must be between {link_text(lo)} and {link_text(hi)}, got {text.strip()}")
    return value


KNOWN = ("logits", "labels", "temperature", "stage")


def from_link(query: str, settings: Settings) -> SoftmaxState:
    """A state from a link's query string; raises FieldError naming the bad parameter."""
    fields = from_query(query)
    max_n, max_k = limits(settings)
    for key in fields:
        if key not in KNOWN:
            raise FieldError(key, f"is not a setting of the softmax lab (known: {', '.join(KNOWN)})")
    for key in ("logits", "labels"):
        if key not in fields:
            raise MissingField(key)
    logits = decode_array("logits", fields["logits"], 2, (max_n, max_k))
    n, k = logits.shape
    if k < MIN_CLASSES:
        raise FieldError("logits", f"has {k} class; softmax needs at least {MIN_CLASSES}")
    for (i, j), v in np.ndenumerate(logits):
        check_logit(f"logits[{i}, {j}]", float(v), settings.softmax_max_logit)
    shape_text, sep, values = fields["labels"].partition(":")
    parts = values.split(",") if values else []
    if not sep or shape_text != str(len(parts)):
        raise FieldError("labels", "must look like COUNT:LABELS, e.g. 2:0,1")
    if len(parts) != n:
        raise FieldError("labels", f"has {len(parts)} labels but logits has {n} rows: one label per row")
    labels = np.array([check_label(f"labels[{i}]", p, k) for i, p in enumerate(parts)], dtype=np.int64)
    temperature = check_temperature("temperature", fields.get("temperature", "1"))
    stage = parse_int("stage", fields.get("stage", "0"), 0, len(STAGES))
    return SoftmaxState(logits, labels, temperature, stage)


def _posted_shape(form: Form, settings: Settings, errors: list[FieldError]) -> tuple[int, int] | None:
    """The shape the posted cells have (N × K within the page's limits)."""
    shape = shape_field(form, "logits_shape", errors, ndim=2, max_cells=settings.max_elements)
    if shape is None:
        return None
    max_n, max_k = limits(settings)
    n, k = shape
    if not (n <= max_n and MIN_CLASSES <= k <= max_k):
        errors.append(FieldError("logits_shape", f"{n}x{k} is outside 1–{max_n} × {MIN_CLASSES}–{max_k}"))
        return None
    return n, k


def from_form(form: Form, settings: Settings) -> tuple[SoftmaxState | None, list[FieldError]]:
    """A state from the lab's form: the posted cells and labels, resized to the requested N × K.

    Returns (state, []) or (None, every problem found), so the page can flag each bad field.
    Resizing keeps the logits that still fit (new cells 0) and the labels of rows that remain;
    a label beyond the new last class moves to the last class, new rows get label 0.
    """
    errors: list[FieldError] = []
    max_n, max_k = limits(settings)
    dims = (int_field(form, "N", 1, max_n, errors, default=""),
            int_field(form, "K", MIN_CLASSES, max_k, errors, default=""))
    shape = _posted_shape(form, settings, errors)
    temperature = collect(errors, check_temperature, "temperature", first(form, "temperature"))
    stage = collect(errors, parse_int, "stage", first(form, "stage", "0"), 0, len(STAGES))
    logits = labels = None
    if shape is not None:
        n, k = shape
        limit = settings.softmax_max_logit
        logits = grid_cells(form, "logits", shape, errors,
                            parse=lambda field, text: check_logit(field, parse_number(field, text), limit))
        count = len(form.get("labels", []))
        if count != n:
            errors.append(FieldError("labels", f"expected {n} labels, one per row, got {count}"))
        else:
            labels = number_cells(form, "labels", [f"labels[{i}]" for i in range(n)], errors,
                                  parse=lambda field, text: check_label(field, text, k))
    if errors:
        return None, errors
    assert logits is not None and labels is not None
    return SoftmaxState(*resize_rows(logits, labels.astype(np.int64), dims), temperature, stage), []


def resize_rows(logits: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels for ``shape``: what fits is kept, new logits 0, new labels 0, labels ≥ K become K − 1."""
    n, k = shape
    rows = min(n, logits.shape[0])
    new_labels = np.zeros(n, dtype=np.int64)
    new_labels[:rows] = np.minimum(labels[:rows], k - 1)
    return resize(logits, shape), new_labels
