"""The JSON API's size limits (``Settings.api_max_*``) applied to op inputs, with clear messages.

The registry already bounds the numbers in each array (``api_max_elements``) and checks that
shapes fit together; this adds the per-axis limits: batch size, channels, height and width,
filters, kernel size. They are course-sized (cs231n's assignment checks fit); the pages keep
their own, smaller ``max_*``. Only the inputs that fix the shapes are
named here; the others (``dout``, running statistics, ...) must match them, which the op's
own ``check`` enforces.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from app.settings import Settings
from engine.records import OpInputError

# input name -> {ndim: axis names}; axis names map to settings below
AXES: dict[str, dict[int, tuple[str, ...]]] = {
    "x": {4: ("batch size N", "channels C", "height H", "width W"), 2: ("batch size N", "features D")},
    "logits": {2: ("batch size N", "classes K")},
    "labels": {1: ("batch size N",)},
    "w": {4: ("filters F", "channels C", "kernel height KH", "kernel width KW"), 2: ("features D", "units M")},
}


def axis_limit(axis: str, settings: Settings) -> int:
    return {
        "batch size N": settings.api_max_batch,
        "channels C": settings.api_max_channels,
        "height H": settings.api_max_spatial,
        "width W": settings.api_max_spatial,
        "filters F": settings.api_max_filters,
        "kernel height KH": settings.api_max_kernel,
        "kernel width KW": settings.api_max_kernel,
        "features D": settings.api_max_features,
        "units M": settings.api_max_features,
        "classes K": settings.api_max_classes,
    }[axis]


def check_op_limits(arrays: Mapping[str, np.ndarray], settings: Settings) -> None:
    """Raise OpInputError("inputs.<name>", ...) for the first axis over its limit."""
    for name, by_ndim in AXES.items():
        arr = arrays.get(name)
        if arr is None or np.ndim(arr) not in by_ndim:
            continue
        for axis, size in zip(by_ndim[arr.ndim], arr.shape, strict=True):
            limit = axis_limit(axis, settings)
            if size > limit:
                raise OpInputError(
                    f"inputs.{name}",
                    f"{axis} = {size} is over the limit of {limit} (shape {list(arr.shape)})",
                )
