"""An array posted as image planes: the form side of app.web.render.plane.

A plane drawn as an image (more cells than ``Settings.plane_image_cells``) posts its values as ONE hidden
field, ``<array>_plane``, holding the plane's H·W numbers row-major, separated by single spaces — one field
per (a, b) plane of an (A, B, H, W) array, in row-major order of (a, b). A 4×1×28×28 x is 4 fields, not 3,136,
so no form comes near a field limit. Every number is read as strictly as a cell; a bad one is named by its
cell (``x[0, 0, 3, 4]``), as a table's cell would be.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from app.web.kit.fields import FieldError, parse_number
from app.web.render.memo import Memo

PLANE_SUFFIX = "_plane"
# the common case, read in one go: only these characters, so float() takes nothing the strict parser refuses
# (no "_", "inf", "nan", no other digits or spaces); anything else is read number by number
_PLAIN = frozenset("0123456789eE+-. ")
# A plane's values by its posted text: an edit posts every plane of an input and changes one (a CIFAR x's three
# planes of 1,024 numbers are ~0.3 ms each to read). Only planes read in one go are kept; values read-only.
_READ = Memo(limit=8 << 20)


def posted_as_planes(form, name: str) -> bool:
    """Whether the form holds ``name`` as image planes (``<name>_plane`` fields) rather than as cells."""
    return bool(form.get(name + PLANE_SUFFIX)) and not form.get(name)


def plane_cells(form, name: str, shape: tuple[int, ...], errors: list[FieldError],
                parse: Callable[[str, str], float] = parse_number) -> np.ndarray:
    """The array ``name`` of ``shape`` (..., H, W) from its posted planes; each bad number named by its cell."""
    texts = form.get(name + PLANE_SUFFIX, [])
    lead, (rows, cols) = shape[:-2], shape[-2:]
    count = math.prod(lead)
    if len(texts) != count:
        errors.append(FieldError(name, f"expected {count} planes for shape {list(shape)}, got {len(texts)}"))
        return np.zeros(shape)
    out = np.zeros((count, rows * cols))
    for k, (text, at) in enumerate(zip(texts, np.ndindex(*lead), strict=True)):
        if parse is parse_number:
            kept = _READ.get((rows, cols, text))
            if kept is not None:
                out[k] = kept
                continue
        tokens = text.split(" ")
        if parse is parse_number and len(tokens) == rows * cols and _PLAIN.issuperset(text):
            try:
                out[k] = np.array(tokens, dtype=np.float64)
            except ValueError:
                pass  # "1.2.3", "", "+-1": each number is read and named below
            else:
                if np.isfinite(out[k]).all():
                    values = out[k].copy()
                    values.flags.writeable = False
                    _READ.put((rows, cols, text), values, 2 * len(text) + values.nbytes)
                    continue  # else (an overflow such as 1e999) each number is read and named below
        if len(tokens) != rows * cols:
            label = f"{name}[{', '.join(str(i) for i in at)}]"
            errors.append(FieldError(label, f"expected {rows * cols} numbers for a {rows} × {cols} plane, "
                                            f"got {len(tokens)}"))
            continue
        for p, token in enumerate(tokens):
            try:
                out[k, p] = parse(f"{name}[{', '.join(str(i) for i in (*at, *divmod(p, cols)))}]", token)
            except FieldError as exc:
                errors.append(exc)
    return out.reshape(shape)
