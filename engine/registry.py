"""One op registry: run any op by name from plain arrays and params.

Every caller — the JSON API, the pages, the tests, the benchmark — goes through
:func:`prepare` (strict validation, defaults filled in) and then :func:`run_op` (the
arrays), :func:`trace_op` (the arrays and the step records made from them, one
computation) or :func:`op_provenance`. Validation never clamps: anything out of range
raises :class:`OpInputError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import numpy as np

from engine.ops import (
    activations,
    batchnorm,
    conv,
    conv_transpose,
    dropout,
    groupnorm,
    layernorm,
    linear,
    pool_specs,
    softmax,
    svm,
)
from engine.records import Arrays, Index, OpInputError, OpSpec, Step

_MODULES = (conv, conv_transpose, pool_specs, activations, linear, softmax, svm, batchnorm, layernorm, groupnorm,
            dropout)
OPS: dict[str, OpSpec] = {spec.name: spec for module in _MODULES for spec in module.SPECS}

DTYPES = {"float64": np.float64, "float32": np.float32}

# Ops swapped for the current context only (spot the bug: a planted variant of one op for one request). A
# ContextVar, so a request's swap is seen by nothing else — not another request, not another thread; the
# registry itself (OPS) never changes.
_SWAPPED: ContextVar[Mapping[str, OpSpec]] = ContextVar("engine_registry_swapped", default=MappingProxyType({}))


def swapped_names() -> frozenset[str]:
    """The ops swapped in this context (none outside a planted bug)."""
    return frozenset(_SWAPPED.get())


@contextmanager
def swapped(specs: Mapping[str, OpSpec]) -> Iterator[None]:
    """Within the block (in this context only), :func:`get_spec` — and so :func:`prepare`, :func:`run_op`,
    the gradient check and the terms — answers ``specs[name]`` instead of the registry's op ``name``."""
    token = _SWAPPED.set({**_SWAPPED.get(), **specs})
    try:
        yield
    finally:
        _SWAPPED.reset(token)


def get_spec(name: str) -> OpSpec:
    swapped_spec = _SWAPPED.get().get(name)
    if swapped_spec is not None:
        return swapped_spec
    try:
        return OPS[name]
    except KeyError:
        raise OpInputError("op", f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


def _clean_param(spec, value: Any) -> Any:
    field = f"params.{spec.name}"
    if getattr(spec, "pair", False) and isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise OpInputError(field, f"must be a whole number or a pair [height, width], got {value!r}")
        cleaned = []
        for axis, v in zip(("height", "width"), value, strict=True):
            try:
                cleaned.append(_clean_number(spec, field, v))
            except OpInputError as err:
                raise OpInputError(field, f"{axis} (entry {len(cleaned)} of the pair) {err.message}") from None
        return tuple(cleaned)
    return _clean_number(spec, field, value)


def _clean_number(spec, field: str, value: Any) -> Any:
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise OpInputError(field, f"must be true or false, got {value!r}")
        return value
    if spec.kind is str:
        if not isinstance(value, str):
            raise OpInputError(field, f"must be a string, got {value!r}")
        if spec.choices is not None and value not in spec.choices:
            raise OpInputError(field, f"must be one of {', '.join(spec.choices)}; got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OpInputError(field, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise OpInputError(field, f"must be a finite number, got {value!r}")
    if spec.kind is int:
        if value != int(value):
            raise OpInputError(field, f"must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if spec.lo is not None and value < spec.lo or spec.hi is not None and value > spec.hi:
        raise OpInputError(field, f"must be between {spec.lo:g} and {spec.hi:g}, got {value:g}")
    return value


def clean_params(op: OpSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    params = dict(params or {})
    known = {p.name for p in op.params}
    for name in params:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise OpInputError(f"params.{name}", f"{op.name} has no parameter {name!r} (allowed: {allowed})")
    return {p.name: _clean_param(p, params[p.name]) if p.name in params else p.default for p in op.params}


def as_array(field: str, value: Any, dtype=np.float64, integer: bool = False,
             max_elements: int | None = None) -> np.ndarray:
    """A JSON value (nested lists of numbers, or a bare number) as a finite ndarray."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        _reject_non_numbers(field, value)
        try:
            arr = np.array(value, dtype=np.float64)
        except ValueError:
            raise OpInputError(field, "is ragged: every row must have the same length") from None
    if arr.dtype.kind not in "fiu":
        raise OpInputError(field, "must hold numbers only")
    if max_elements is not None and arr.size > max_elements:
        raise OpInputError(field, f"has {arr.size} numbers; the limit is {max_elements}")
    if arr.size == 0:
        raise OpInputError(field, "is empty")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise OpInputError(field, f"must be finite; element {list(bad)} is {arr[bad]}")
    if integer:
        if not np.all(arr == np.round(arr)):
            raise OpInputError(field, "must hold whole numbers")
        if np.any(np.abs(arr) > 2**53):  # beyond exact integers in float64; also keeps the int64 cast honest
            raise OpInputError(field, f"holds {float(np.max(np.abs(arr))):g}, too large for an index")
        return arr.astype(np.int64)
    return arr.astype(dtype, copy=True)


def _reject_non_numbers(field: str, value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float, np.number)):
            raise OpInputError(field, f"must hold numbers only; found {item!r}")


def prepare(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None,
            dtype: str = "float64", max_elements: int | None = None) -> tuple[OpSpec, Arrays, dict[str, Any]]:
    """Validate and complete an op call: (spec, arrays with defaults filled, params)."""
    op = get_spec(name)
    if dtype not in DTYPES:
        raise OpInputError("dtype", f"must be one of {', '.join(DTYPES)}; got {dtype!r}")
    np_dtype = DTYPES[dtype]
    clean = clean_params(op, params)
    known = {i.name for i in op.inputs}
    for key in inputs:
        if key not in known:
            raise OpInputError(f"inputs.{key}", f"{op.name} has no input {key!r} (inputs: {', '.join(sorted(known))})")
    arrays: Arrays = {}
    for spec in op.inputs:
        field = f"inputs.{spec.name}"
        if spec.name not in inputs or inputs[spec.name] is None:
            if spec.required:
                raise OpInputError(field, "is required")
            continue
        arr = as_array(field, inputs[spec.name], np_dtype, spec.integer, max_elements)
        if arr.ndim not in spec.ndims:
            want = " or ".join(str(n) for n in spec.ndims)
            raise OpInputError(field, f"must have {want} dimensions, got shape {list(arr.shape)}")
        arrays[spec.name] = arr
    shapes = {k: v.shape for k, v in arrays.items()}
    missing = op.defaults(shapes, clean, np_dtype)
    arrays.update({k: v for k, v in missing.items() if k not in arrays})
    op.check({k: v.shape for k, v in arrays.items()}, clean)
    return op, arrays, clean


def run_op(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None, *, extras: bool = True,
           **kw) -> Arrays:
    """Every named array of CONVENTIONS.md for op ``name`` (``extras=False``: without the display-only ones)."""
    op, arrays, clean = prepare(name, inputs, params, **kw)
    return op.run(arrays, clean, extras=extras)


def trace_op(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None,
             **kw) -> tuple[Arrays, list[Step]]:
    """(every named array, the step records made from them): the op computed once."""
    op, arrays, clean = prepare(name, inputs, params, **kw)
    return op.trace(arrays, clean)


def op_steps(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None, **kw) -> list[Step]:
    """The step records of op ``name`` on these inputs (its formulas with the numbers in force)."""
    return trace_op(name, inputs, params, **kw)[1]


def op_provenance(name: str, inputs: dict[str, Any], params: dict[str, Any] | None,
                  array: str, index: Index, **kw) -> dict[str, list[Index]]:
    op, arrays, clean = prepare(name, inputs, params, **kw)
    if op.provenance is None:
        raise OpInputError("op", f"{name} has no provenance")
    return op.provenance(arrays, clean, array, tuple(int(i) for i in index))
