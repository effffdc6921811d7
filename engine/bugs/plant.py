"""Plant a bug: the registry op a bug is a variant of, with the bug's ``run`` in place of the real one.

``swapped_specs(bug, record)`` answers ``{op name: OpSpec}`` for :func:`engine.registry.swapped`, so every
caller that asks the registry for that op — a lab's view, its gradient check, its terms — computes with the
bug, within that block only. ``record`` (optional) receives each call's (arrays, params): what the page
computed with, so "show me" can put the bug's arrays beside the correct engine's for the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from engine import registry
from engine.bugs import layers
from engine.bugs.catalogue import Bug, get_bug
from engine.network import trace
from engine.optim import rules
from engine.records import OpSpec
from engine.registry import OPS

# the registry op each op-level bug replaces (the optimizer's and the residual block's are not registry ops)
OP_OF = {
    "conv-flip": "conv2d", "conv-dx-unrotated": "conv2d", "col2im-assign": "conv2d",
    "maxpool-all-ties": "maxpool2d", "relu-mask-ge": "relu",
    "softmax-no-max": "softmax_cross_entropy", "ce-no-mean": "softmax_cross_entropy",
    "bn-no-mean-path": "batchnorm", "bn-unbiased-train": "batchnorm", "dropout-no-scale": "dropout",
}

# the optimizer bugs: hyperparameters forced whatever the page asks (engine.optim.rules.forced)
FORCED = {"adam-no-bias-correction": {"adam": {"bias_correction": False}, "adamw": {"bias_correction": False}}}

# the network's bugs: a residual block's fork joined by the bug's rule (engine.network.trace.fork_swapped)
FORKS = {"residual-overwrite": layers.overwrite_fork}

Record = Callable[[dict[str, Any], dict[str, Any]], None]


def plantable(key: str) -> bool:
    """Whether bug ``key`` can be planted in a lab (a registry op's, or an optimizer's)."""
    return key in OP_OF or key in FORCED or key in FORKS


@contextmanager
def planted(key: str, record: Record | None = None) -> Iterator[None]:
    """Within the block (this context only), the engine computes with bug ``key``: its registry op swapped
    (``record`` sees each call), its optimizer's hyperparameters forced, or the network's fork swapped."""
    if key in FORCED:
        with rules.forced(FORCED[key]):
            yield
        return
    if key in FORKS:
        with trace.fork_swapped(FORKS[key]):
            yield
        return
    with registry.swapped(swapped_specs(key, record)):
        yield


def swapped_specs(key: str, record: Record | None = None) -> dict[str, OpSpec]:
    bug: Bug = get_bug(key)
    name = OP_OF[key]
    real = OPS[name]

    def run(arrays: dict[str, Any], params: dict[str, Any], extras: bool = True) -> dict[str, Any]:
        params = given(params)
        if record is not None:
            record(arrays, params)
        return bug.run(arrays, params)

    return {name: replace(real, run=run)}


def given(params: dict[str, Any]) -> dict[str, Any]:
    """Cleaned params as a call gives them again: a param that defaults from another (batch norm's momentum from
    its convention) is None once cleaned, and the registry refuses an explicit None."""
    return {k: v for k, v in params.items() if v is not None}


def both(key: str, arrays: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the bug's arrays, the correct engine's arrays) for one call."""
    bug = get_bug(key)
    return bug.run(arrays, params), bug.reference(arrays, params)
