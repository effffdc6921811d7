"""Export a lab's current state: the engine's arrays as JSON, and a NumPy script that recomputes them.

A lab switches export on with :class:`Export` in its spec: ``calls(state)`` lists the registry ops the
page makes for that state (:class:`OpCall`: the op, its inputs and params, the result arrays the page
shows). The factory (:mod:`app.web.kit.routes`) then answers

- ``GET /<slug>/export/arrays.json?<link>``: ``{array name: nested list}`` from the engine (the same
  ``prepare`` → ``run`` the page uses);
- ``GET /<slug>/export/numpy.py?<link>``: a script using NumPy alone (no import of this project) that
  recomputes those arrays in the notes' style — one function per op, from ``templates/export/numpy/<op>.py``
  — and prints the same JSON object;
- ``GET /<slug>/export/torch.py?<link>``: the same with PyTorch autograd (:mod:`app.web.kit.export_torch`).

Names in the JSON are the engine's result names, with the call's ``prefix`` when a page makes more
than one call (the pooling lab's ReLU: ``relu.out``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import numpy as np

from app.paths import TEMPLATES
from engine.registry import prepare

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / "export")), autoescape=False,
                          keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                          undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class OpCall:
    """One registry call a page makes, and which of its result arrays the page shows."""

    op: str  # the registry's op name; templates/export/numpy/<op>.py holds its NumPy function
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    shown: Sequence[str]  # result arrays exported, in the page's order
    prefix: str = ""  # put before each name in the JSON ("relu.")
    engine: Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]] | None = None  # not a registry
    # op (the optimizer's steps): the engine's arrays from (inputs, params); the script gets both as written


@dataclass(frozen=True)
class Export:
    """A lab's export: the calls its page makes for a state."""

    calls: Callable[[Any], list[OpCall]]  # may raise OpInputError (the page's 422)
    title: str = "Backprop Lens"  # the script's first line
    formats: tuple[str, ...] = field(default=("arrays.json", "numpy.py", "torch.py"))
    # a lab's own script writer for a format, (state, link, json link) → text, in place of the kit's per-op one
    # (the network lab: its scripts replay the training)
    writers: Mapping[str, Callable[[Any, str, str], str]] = field(default_factory=dict)


def _prepared(call: OpCall) -> tuple[list[str], Mapping[str, Any], Mapping[str, Any]]:
    """(input names in order, arrays with the registry's defaults filled, params with theirs)."""
    if call.engine is not None:
        return list(call.inputs), call.inputs, call.params
    op, arrays, params = prepare(call.op, dict(call.inputs), dict(call.params))
    return [spec.name for spec in op.inputs if arrays.get(spec.name) is not None], arrays, params


def engine_arrays(calls: Sequence[OpCall]) -> dict[str, np.ndarray]:
    """Each call's shown arrays, computed by the engine as the page computes them."""
    found: dict[str, np.ndarray] = {}
    for call in calls:
        if call.engine is not None:
            result = call.engine(call.inputs, call.params)
        else:
            op, arrays, params = prepare(call.op, dict(call.inputs), dict(call.params))
            result = op.run(arrays, params)
        for name in call.shown:
            found[call.prefix + name] = np.asarray(result[name])
    return found


def as_json(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    return {name: np.asarray(value).tolist() for name, value in arrays.items()}


def literal(value: np.ndarray) -> str:
    """A Python expression for ``value`` that reads back exactly (floats by their shortest repr)."""
    value = np.asarray(value)
    if value.dtype == bool:
        return f"np.array({json.dumps(value.tolist())}, dtype=bool)".replace("true", "True").replace("false", "False")
    if value.dtype.kind in "iu":
        return f"np.array({json.dumps(value.tolist())})"
    return f"np.array({json.dumps(value.astype(np.float64).tolist())}, dtype=float)"


def script(template: str, literal_of: Callable[[np.ndarray], str], export: Export, calls: Sequence[OpCall],
           link: str, json_link: str, **extra: Any) -> str:
    """A self-contained script of ``calls`` from ``templates/export/<template>``: one function per op, each input
    written out by ``literal_of``, and a print of the JSON (the NumPy and the PyTorch scripts alike)."""
    rendered = []
    for call in calls:
        names, arrays, params = _prepared(call)
        literals = [(name, literal_of(arrays[name])) for name in names]
        arguments = ", ".join([f"{name}={name}" for name in names] + [f"{k}={v!r}" for k, v in params.items()])
        rendered.append({"op": call.op, "prefix": call.prefix, "literals": literals, "arguments": arguments,
                         "shown": repr(tuple(call.shown))})
    ops = list(dict.fromkeys(call.op for call in calls))
    return _ENV.get_template(template).render(title=export.title, link=link, json_link=json_link, ops=ops,
                                              calls=rendered, **extra)


def numpy_script(export: Export, calls: Sequence[OpCall], link: str, json_link: str) -> str:
    """The self-contained NumPy script of ``calls``: one function per op, the inputs written out, and a print."""
    return script("numpy.py.j2", literal, export, calls, link, json_link)
