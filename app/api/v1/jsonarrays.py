"""Engine arrays to JSON values, the way the API contract says they travel.

* an n-d array becomes nested lists; a 0-d array or NumPy scalar a bare number;
* integer arrays stay integers, booleans become 0/1;
* any value that is not finite (NaN, ±inf) becomes ``null``: JSON has no such numbers, and
  an output can overflow even when every input is finite (inputs never can be: they are
  rejected with a 422).

:func:`to_json` makes those JSON values (nested Python lists); :class:`ArraysResponse` writes an answer
holding arrays straight to JSON bytes with orjson, arrays serialized by NumPy's buffer
(``OPT_SERIALIZE_NUMPY``) rather than through millions of Python floats: the same JSON values — float64
numbers round-trip exactly (a shortest repr, as Python's), float32 ones are widened to float64 first so
they read as before — in a fraction of the time (``python -m bench.trace``). A client that asks for it
(the trace's ``"arrays": "base64"``) gets each array packed: dtype, shape and its bytes in base64, exact to
the bit, 10.7 bytes a number (a number written out takes 3 to 24).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

Json = Any


def to_json(value: Any) -> Json:
    """One engine value (ndarray, NumPy scalar, Python number, nested dict/list) as JSON."""
    if isinstance(value, np.ndarray):
        return _array(value)
    if isinstance(value, np.generic):
        return _array(np.asarray(value))
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _array(arr: np.ndarray) -> Json:
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.int64).tolist()
    if kind in "iu":
        return arr.tolist()
    if kind == "f":
        finite = np.isfinite(arr)
        if finite.all():
            return arr.tolist()
        # object array: finite entries as Python floats, the rest None
        return np.where(finite, arr.astype(object), None).tolist()
    if kind == "c":
        raise TypeError("complex arrays have no JSON form")
    return to_json(arr.tolist())


def _for_orjson(value: Any, packed: bool = False) -> Any:
    """``value`` with every array in a form orjson serializes as :func:`to_json` would: C-contiguous, booleans
    as 0/1, float32 widened, 0-d arrays as scalars (orjson writes NaN and ±inf as null itself). ``packed``:
    every array of one dimension or more as :func:`packed` instead."""
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "c":
            raise TypeError("complex arrays have no JSON form")
        if value.ndim == 0 or kind not in "biuf":
            return to_json(value)
        if packed:
            return pack(value)
        if kind == "b":
            return np.ascontiguousarray(value, dtype=np.int64)
        if kind == "f" and value.dtype != np.float64:
            return np.ascontiguousarray(value, dtype=np.float64)
        return value if value.flags.c_contiguous else np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return to_json(value)
    if isinstance(value, Mapping):
        return {str(k): _for_orjson(v, packed) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_for_orjson(v, packed) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


PACKED_DTYPES = {"b": "uint8", "i": "int64", "u": "int64"}  # booleans as 0/1 bytes; every integer as int64


def pack(arr: np.ndarray) -> dict[str, Any]:
    """An array as ``{"dtype", "shape", "base64"}``: its numbers little-endian in row-major order, base64-encoded
    (float64 stays float64, float32 float32; NaN and ±inf are kept as IEEE values, not null). In NumPy:
    ``np.frombuffer(base64.b64decode(a["base64"]), dtype="<" + np.dtype(a["dtype"]).str[1:]).reshape(a["shape"])``;
    in JavaScript: ``new Float64Array(Uint8Array.from(atob(s), c => c.charCodeAt(0)).buffer)``."""
    name = PACKED_DTYPES.get(arr.dtype.kind, arr.dtype.name)
    data = np.ascontiguousarray(arr, dtype=np.dtype(name).newbyteorder("<"))
    return {"dtype": name, "shape": list(arr.shape), "base64": base64.b64encode(data.tobytes()).decode("ascii")}


def encode(value: Any, arrays: str = "lists") -> bytes:
    """One engine value as JSON bytes, written by orjson: arrays as nested lists (the JSON of :func:`to_json`),
    or with ``arrays="base64"`` each array of one dimension or more :func:`pack`-ed."""
    return orjson.dumps(_for_orjson(value, arrays == "base64"), option=orjson.OPT_SERIALIZE_NUMPY)


class ArraysResponse(Response):
    """A JSON answer whose content may hold engine arrays (:func:`encode`; ``arrays="base64"``: packed)."""

    media_type = "application/json"

    def __init__(self, content: Any, arrays: str = "lists", **kwargs: Any) -> None:
        self.arrays = arrays
        super().__init__(content, **kwargs)

    def render(self, content: Any) -> bytes:
        return encode(content, self.arrays)
