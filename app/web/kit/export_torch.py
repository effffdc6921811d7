"""Export a lab's current state as a PyTorch script (``GET /<slug>/export/torch.py?<link>``).

The same calls as the NumPy script (:mod:`app.web.kit.export`): one function per op, from
``templates/export/torch/<op>.py`` — forward with torch ops, backward by ``.backward()`` from the page's
upstream gradient, in float64 — the inputs written out as tensors, and a print of the same JSON object as
arrays.json. The JSON's names are written once at the top of the script (``NAMES``), from :func:`names`,
the list arrays.json is made from as well.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from app.web.kit.export import Export, OpCall, script


def names(calls: Sequence[OpCall]) -> list[str]:
    """The JSON's names, in order: each call's shown arrays with its prefix (as :func:`engine_arrays`)."""
    return list(dict.fromkeys(call.prefix + name for call in calls for name in call.shown))


def tensor_literal(value: np.ndarray) -> str:
    """A Python expression for ``value`` as a tensor that reads back exactly (floats by their shortest repr)."""
    value = np.asarray(value)
    if value.dtype == bool:
        return f"torch.tensor({json.dumps(value.tolist())}, dtype=torch.bool)".replace(
            "true", "True").replace("false", "False")
    if value.dtype.kind in "iu":
        return f"torch.tensor({json.dumps(value.tolist())}, dtype=torch.int64)"
    return f"torch.tensor({json.dumps(value.astype(np.float64).tolist())}, dtype=torch.float64)"


def torch_script(export: Export, calls: Sequence[OpCall], link: str, json_link: str) -> str:
    """The self-contained PyTorch script of ``calls``: one function per op, the inputs as tensors, a print."""
    return script("torch.py.j2", tensor_literal, export, calls, link, json_link, names=names(calls))
