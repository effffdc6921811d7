"""Engine arrays to JSON values, the way the API contract says they travel.

* an n-d array becomes nested lists; a 0-d array or NumPy scalar a bare number;
* integer arrays stay integers, booleans become 0/1;
* any value that is not finite (NaN, ±inf) becomes ``null``: JSON has no such numbers, and
  an output can overflow even when every input is finite (inputs never can be: they are
  rejected with a 422).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

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
