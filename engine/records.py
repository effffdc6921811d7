"""The named records every op shares: its specification, its step records, its errors.

An op is a pure forward/backward pair living in one module of this package. The
registry (``engine.registry``) describes each op with an :class:`OpSpec` so that the
JSON API, the pages and the tests run it through one path and get back the named
arrays of CONVENTIONS.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]
Index = tuple[int, ...]


class OpInputError(ValueError):
    """Bad input to an op: names the field (``inputs.x``, ``params.stride``) and the problem."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Param:
    """One scalar parameter of an op (stride, eps, mode, ...)."""

    name: str
    kind: type  # int, float, str or bool
    default: Any
    lo: float | None = None  # inclusive bounds for numbers
    hi: float | None = None
    choices: tuple[str, ...] | None = None  # allowed values for strings
    doc: str = ""
    pair: bool = False  # an int param that also takes a (height, width) pair: stride, pad, size, dilation


@dataclass(frozen=True)
class Input:
    """One array input of an op."""

    name: str
    ndims: tuple[int, ...]  # allowed numbers of dimensions
    required: bool = True  # a missing optional input gets a default from the op
    grad: bool = True  # the op returns d<name>, so it is gradient-checked
    integer: bool = False  # labels: whole numbers only
    doc: str = ""


@dataclass(frozen=True)
class Step:
    """One named sub-step of a forward, backward or update pass, for step-by-step views.

    ``arrays`` are exactly the arrays the math produced at this step (copies of what the
    forward/backward records hold, never recomputed); ``latex`` is the formula.
    """

    phase: str  # "forward" | "backward" | "update"
    name: str  # short machine name: "pad", "im2col", "dx_hat", ...
    title: str  # what a person reads: "Pad the input with zeros"
    latex: str
    arrays: Arrays = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """What the registry knows of one op.

    run(inputs, params, extras=True) -> every named array of CONVENTIONS.md for this op
        (inputs echoed), forward and backward computed once. ``extras=False`` leaves out the
        display-only arrays named in ``extras`` (the full-convolution dx, the softmax
        Jacobian, ...): what the gradient check and the training loops run.
    check(shapes, params) -> None, or raises OpInputError for shapes that do not fit
        (called before run, with every input's shape, defaults already filled in).
    defaults(shapes, params, dtype) -> arrays for optional inputs that are missing
        (``dout`` of ones, running statistics, ...).
    steps(arrays, params) -> the ordered Step records of forward then backward, made from
        the arrays ``run`` returned (with its extras): nothing is computed a second time.
    provenance(inputs, params, array, index) -> {array name: [index, ...]}: the elements
        of other arrays that element ``index`` of ``array`` was computed from.
    example(rng) -> (inputs, params): a small random call, for generic tests and defaults.
    objective: the output whose upstream gradient is ``dout`` (or the scalar loss);
        the gradient check differentiates sum(objective * dout).
    extras: the arrays ``run`` computes only when asked (``extras=True``, the default).
    shapes(shapes, params) -> the shape of every array ``run`` answers (extras included), from
        the inputs' shapes alone (defaults filled in, ``check`` passed): what an answer will
        hold, known before anything is computed (the JSON API refuses an oversized answer first).
    """

    name: str
    title: str
    inputs: tuple[Input, ...]
    params: tuple[Param, ...]
    arrays: tuple[str, ...]
    run: Callable[..., Arrays]
    check: Callable[[dict[str, tuple[int, ...]], dict[str, Any]], None]
    defaults: Callable[[dict[str, tuple[int, ...]], dict[str, Any], Any], Arrays]
    objective: str = "out"
    steps: Callable[[Arrays, dict[str, Any]], list[Step]] | None = None
    provenance: Callable[[Arrays, dict[str, Any], str, Index], dict[str, list[Index]]] | None = None
    example: Callable[[np.random.Generator], tuple[dict[str, Any], dict[str, Any]]] | None = None
    extras: tuple[str, ...] = ()
    shapes: Callable[[dict[str, tuple[int, ...]], dict[str, Any]], dict[str, tuple[int, ...]]] | None = None

    def input(self, name: str) -> Input:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def trace(self, inputs: Arrays, params: dict[str, Any]) -> tuple[Arrays, list[Step]]:
        """(every named array, the step records made from them): one forward and one backward."""
        if self.steps is None:
            raise OpInputError("op", f"{self.name} has no step records")
        arrays = self.run(inputs, params)
        return arrays, self.steps(arrays, params)


def numbers_in(shapes: dict[str, tuple[int, ...]]) -> int:
    """How many numbers arrays of these shapes hold (a 0-d array: one)."""
    return sum(math.prod(shape) for shape in shapes.values())


def copied(**arrays: Any) -> Arrays:
    """Copies of ``arrays`` by name, for a Step record: what it keeps never changes under it."""
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def pick(arrays: Arrays, *names: str) -> Arrays:
    """Copies of the arrays ``names`` of ``arrays`` (an op's run() answer), for a Step record."""
    return {k: np.array(arrays[k], copy=True) for k in names}


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as messages write it: [2, 3, 4]."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def check_index(shape: tuple[int, ...], array: str, index: Index) -> None:
    """OpInputError("index", ...) unless ``index`` is an element of an array of ``shape`` (provenance)."""
    if len(index) != len(shape):
        raise OpInputError("index", f"{array} has {len(shape)} dimensions (shape {shape_text(shape)}); "
                           f"got an index with {len(index)}: {list(index)}")
    for axis, (i, s) in enumerate(zip(index, shape, strict=True)):
        if not 0 <= i < s:
            raise OpInputError("index", f"{array} index {list(index)} is out of range on axis {axis} "
                               f"(shape {shape_text(shape)})")


def check_element(arrays: Arrays, op: str, name: str, index: Index) -> None:
    """OpInputError unless ``arrays`` (an op's run() answer) has ``name`` and ``index`` is one of its elements."""
    if name not in arrays:
        raise OpInputError("array", f"{op} has no array {name!r} (arrays: {', '.join(arrays)})")
    shape = arrays[name].shape
    if len(index) != len(shape) or any(not 0 <= i < s for i, s in zip(index, shape, strict=True)):
        raise OpInputError("index", f"{list(index)} is outside {name}, whose shape is {list(shape)}")
