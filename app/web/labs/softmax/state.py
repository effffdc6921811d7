"""The softmax lab's whole state, and its two ways in: a link and the page's form.

A state is logits (N, K), one label per row and a temperature. Links read
``?v=1&logits=1x3:3,-2,-100&labels=1:0&temperature=1``; both ways in are validated as
strictly as each other, and every problem is a :class:`LinkError` naming the field
(``logits[0, 2]``, ``labels[1]``, ``temperature``) — nothing is clamped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from app.settings import Settings
from app.web.kit.link import LinkError, decode_array, encode_array, format_number, from_query, parse_int, parse_number
from app.web.kit.link import to_query as link_query
from engine.registry import get_spec

OP = "softmax_cross_entropy"
MAX_ROWS, MAX_CLASSES, MIN_CLASSES = 4, 10, 2  # the page's own limits (within the settings' max_batch, max_classes)
LOGIT_LIMIT = 1e6  # |logit| above this is refused: logits/T must stay finite for every T the page allows


def temperature_range() -> tuple[float, float]:
    """The engine's limits of the temperature parameter."""
    spec = next(p for p in get_spec(OP).params if p.name == "temperature")
    return float(spec.lo), float(spec.hi)


@dataclass(frozen=True)
class SoftmaxState:
    logits: np.ndarray  # (N, K) float64
    labels: np.ndarray  # (N,) int64 in 0..K−1
    temperature: float = 1.0

    def to_query(self) -> str:
        return link_query({"logits": encode_array(self.logits),
                           "labels": f"{self.labels.size}:" + ",".join(str(int(v)) for v in self.labels),
                           "temperature": format_number(self.temperature)})

    def inputs(self) -> dict[str, np.ndarray]:
        return {"logits": self.logits, "labels": self.labels}

    def params(self) -> dict[str, float]:
        return {"temperature": self.temperature}


def limits(settings: Settings) -> tuple[int, int]:
    """(max rows N, max classes K) of the page."""
    return min(MAX_ROWS, settings.max_batch), min(MAX_CLASSES, settings.max_classes)


def check_logit(field: str, value: float) -> float:
    if abs(value) > LOGIT_LIMIT:
        raise LinkError(field, f"{format_number(value)} is too large: this page takes logits between −1e6 and 1e6 "
                               "(exp overflows above 709.78 already, so 1000 is enough to see it)")
    return value


def check_label(field: str, text: str, k: int) -> int:
    value = parse_number(field, text)
    if not value.is_integer():
        raise LinkError(field, f"must be a whole number (a class index), got {text.strip()}")
    if not 0 <= value < k:
        raise LinkError(field, f"class {format_number(value)} is out of range: there are {k} classes, "
                               f"so a label must be between 0 and {k - 1}")
    return int(value)


def check_temperature(field: str, text: str) -> float:
    lo, hi = temperature_range()
    value = parse_number(field, text)
    if not lo <= value <= hi:
        raise LinkError(field, f"must be between {format_number(lo)} and {format_number(hi)}, got {text.strip()}")
    return value


KNOWN = ("logits", "labels", "temperature")


def from_link(query: str, settings: Settings) -> SoftmaxState:
    """A state from a link's query string; raises LinkError naming the bad parameter."""
    fields = from_query(query)
    max_n, max_k = limits(settings)
    for key in fields:
        if key not in KNOWN:
            raise LinkError(key, f"is not a setting of the softmax lab (known: {', '.join(KNOWN)})")
    for key in ("logits", "labels"):
        if key not in fields:
            raise LinkError(key, "is missing from the link")
    logits = decode_array("logits", fields["logits"], 2, (max_n, max_k))
    n, k = logits.shape
    if k < MIN_CLASSES:
        raise LinkError("logits", f"has {k} class; softmax needs at least {MIN_CLASSES}")
    for (i, j), v in np.ndenumerate(logits):
        check_logit(f"logits[{i}, {j}]", float(v))
    shape_text, sep, values = fields["labels"].partition(":")
    parts = values.split(",") if values else []
    if not sep or shape_text != str(len(parts)):
        raise LinkError("labels", "must look like COUNT:LABELS, e.g. 2:0,1")
    if len(parts) != n:
        raise LinkError("labels", f"has {len(parts)} labels but logits has {n} rows: one label per row")
    labels = np.array([check_label(f"labels[{i}]", p, k) for i, p in enumerate(parts)], dtype=np.int64)
    temperature = check_temperature("temperature", fields.get("temperature", "1"))
    return SoftmaxState(logits, labels, temperature)


def _dims(form: Mapping[str, list[str]], settings: Settings, errors: list[LinkError]) -> tuple[int, int] | None:
    max_n, max_k = limits(settings)
    dims = []
    for key, lo, hi in (("N", 1, max_n), ("K", MIN_CLASSES, max_k)):
        try:
            dims.append(parse_int(key, (form.get(key) or [""])[0], lo, hi))
        except LinkError as exc:
            errors.append(exc)
    return (dims[0], dims[1]) if len(dims) == 2 else None


def _posted_shape(form: Mapping[str, list[str]], settings: Settings, errors: list[LinkError]) -> tuple[int, int] | None:
    text = (form.get("logits_shape") or [""])[0]
    max_n, max_k = limits(settings)
    try:
        n, k = (int(s) for s in text.split("x"))
    except ValueError:
        errors.append(LinkError("logits_shape", f"is not a shape N x K: {text!r}"))
        return None
    if not (1 <= n <= max_n and MIN_CLASSES <= k <= max_k):
        errors.append(LinkError("logits_shape", f"{text} is outside 1–{max_n} × {MIN_CLASSES}–{max_k}"))
        return None
    return n, k


def from_form(form: Mapping[str, list[str]], settings: Settings) -> tuple[SoftmaxState | None, list[LinkError]]:
    """A state from the lab's form: the posted cells and labels, resized to the requested N × K.

    Returns (state, []) or (None, every problem found), so the page can flag each bad field.
    Resizing keeps the logits that still fit (new cells 0) and the labels of rows that remain;
    a label beyond the new last class moves to the last class, new rows get label 0.
    """
    errors: list[LinkError] = []
    dims = _dims(form, settings, errors)
    shape = _posted_shape(form, settings, errors)
    try:
        temperature = check_temperature("temperature", (form.get("temperature") or [""])[0])
    except LinkError as exc:
        errors.append(exc)
    logits = labels = None
    if shape is not None:
        n, k = shape
        cells = form.get("logits", [])
        if len(cells) != n * k:
            errors.append(LinkError("logits", f"expected {n * k} cells for shape {n} × {k}, got {len(cells)}"))
        else:
            logits = np.zeros(n * k)
            for flat, text in enumerate(cells):
                field = f"logits[{flat // k}, {flat % k}]"
                try:
                    logits[flat] = check_logit(field, parse_number(field, text))
                except LinkError as exc:
                    errors.append(exc)
            logits = logits.reshape(n, k)
        texts = form.get("labels", [])
        if len(texts) != n:
            errors.append(LinkError("labels", f"expected {n} labels, one per row, got {len(texts)}"))
        else:
            labels = np.zeros(n, dtype=np.int64)
            for i, text in enumerate(texts):
                try:
                    labels[i] = check_label(f"labels[{i}]", text, k)
                except LinkError as exc:
                    errors.append(exc)
    if errors:
        return None, errors
    assert dims is not None and logits is not None and labels is not None
    return SoftmaxState(*resize(logits, labels, dims), temperature), []


def resize(logits: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels for ``shape``: what fits is kept, new logits 0, new labels 0, labels ≥ K become K − 1."""
    n, k = shape
    out = np.zeros(shape)
    rows, cols = min(n, logits.shape[0]), min(k, logits.shape[1])
    out[:rows, :cols] = logits[:rows, :cols]
    new_labels = np.zeros(n, dtype=np.int64)
    new_labels[:rows] = np.minimum(labels[:rows], k - 1)
    return out, new_labels
