"""The pooling lab's whole state, and its two ways in: a link and the page's form.

Both are validated as strictly as each other; problems are collected as :class:`FieldError`
values naming the field (``x[0, 1, 2, 3]``, ``stride``), never clamped. A link is
``/pool?v=1&x=1x1x4x4:2,1,…&pool=max&size=2&stride=2&dout=ones`` (``dout`` may be
``random:SEED`` or a typed array; with a typed dout, ``relu_dout`` holds ReLU's typed upstream
gradient, the shape of x).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, MissingField, check_elements, parse_int, setting_bound
from app.web.kit.form import Form, choice_field, collect, first, grid_cells, int_field, resize, shape_field
from app.web.kit.link import (
    DOUT_MODES,
    decode_array,
    dout_text,
    encode_array,
    from_query,
    parse_dout,
    seeded_dout,
    to_query,
)
from engine.ops.pool import pool_output_size

SIZE_BOUND = setting_bound("pool_max_size", "a window is drawn cell by cell in the routing figure")
STRIDE_BOUND = setting_bound("pool_max_stride", "a stride past the window only skips cells")

POOLS = ("max", "avg")
OPS = {"max": "maxpool2d", "avg": "avgpool2d"}
DOUT_STREAM = 0xD0  # random dout of the pooling draws from its own stream of the seed
RELU_DOUT_STREAM = 0xD1  # and ReLU's from another
KNOWN = ("x", "pool", "size", "stride", "dout", "relu_dout", "step")


@dataclass(frozen=True)
class PoolState:
    x: np.ndarray  # (N, C, H, W)
    pool: str = "max"  # "max" | "avg"
    size: int = 2  # window side k
    stride: int = 2
    dout_mode: str = "ones"  # "ones" | "random" (seeded) | "typed"
    dout_seed: int = 0
    dout_typed: np.ndarray | None = None  # (N, C, OH, OW): the pooling's typed dout
    relu_dout_typed: np.ndarray | None = None  # (N, C, H, W): ReLU's typed dout
    step: int = 0  # the window stepper's position: flat index into out (n, c, oh, ow)

    @property
    def op(self) -> str:
        return OPS[self.pool]

    @property
    def params(self) -> dict[str, int]:
        return {"size": self.size, "stride": self.stride}

    def out_shape(self) -> tuple[int, int, int, int] | None:
        """The pooling's output shape, or None when the window does not fit (the engine then says why)."""
        n, c, h, w = self.x.shape
        if self.size > h or self.size > w:
            return None
        return n, c, pool_output_size(h, self.size, self.stride), pool_output_size(w, self.size, self.stride)

    def to_query(self) -> str:
        fields = {"x": encode_array(self.x), "pool": self.pool, "size": str(self.size), "stride": str(self.stride),
                  "dout": dout_text(self.dout_mode, self.dout_seed, self.dout_typed)}
        if self.dout_mode == "typed" and self.relu_dout_typed is not None:
            fields["relu_dout"] = encode_array(self.relu_dout_typed)
        if self.step:
            fields["step"] = str(self.step)
        return to_query(fields)

    def pool_inputs(self) -> dict[str, np.ndarray]:
        """The pooling op's inputs; without dout (ones) when there is no output shape or dout is all ones."""
        arrays = {"x": self.x}
        shape = self.out_shape()
        if shape is not None and self.dout_mode == "random":
            arrays["dout"] = seeded_dout(self.dout_seed, DOUT_STREAM, shape)
        elif self.dout_mode == "typed" and self.dout_typed is not None:
            arrays["dout"] = self.dout_typed
        return arrays

    def relu_inputs(self) -> dict[str, np.ndarray]:
        arrays = {"x": self.x}
        if self.dout_mode == "random":
            arrays["dout"] = seeded_dout(self.dout_seed, RELU_DOUT_STREAM, self.x.shape)
        elif self.dout_mode == "typed" and self.relu_dout_typed is not None:
            arrays["dout"] = self.relu_dout_typed
        return arrays


def limits(settings: Settings) -> tuple[int, int, int, int]:
    """The largest x a link or the form may hold: (N, C, H, W) — and at most ``max_elements`` numbers in all."""
    return settings.max_batch, settings.max_channels, settings.pool_max_spatial, settings.pool_max_spatial


def form_limits(settings: Settings) -> dict[str, int]:
    """The form's bounds: each dimension of x, the window side and the stride; ``elements``, the numbers x may
    hold in all; ``image_over``, the plane size drawn as an image."""
    return {**dict(zip("NCHW", limits(settings), strict=True)), "size": settings.pool_max_size,
            "stride": settings.pool_max_stride, "elements": settings.max_elements,
            "image_over": settings.plane_image_cells}


def from_link(query: str, settings: Settings) -> PoolState:
    """A state from a link's query string; raises FieldError naming the bad parameter."""
    fields = from_query(query)
    for key in fields:
        if key not in KNOWN:
            raise FieldError(key, f"is not a setting of the pooling lab (known: {', '.join(sorted(KNOWN))})")
    if "x" not in fields:
        raise MissingField("x")
    x = decode_array("x", fields["x"], 4, limits(settings))
    check_elements("x", x.shape, settings)
    pool = fields.get("pool", "max")
    if pool not in POOLS:
        raise FieldError("pool", f"must be max or avg, got {pool!r}")
    size = parse_int("size", fields.get("size", "2"), 1, settings.pool_max_size, SIZE_BOUND)
    stride = parse_int("stride", fields.get("stride", str(size)), 1, settings.pool_max_stride, STRIDE_BOUND)
    step = parse_int("step", fields.get("step", "0"), 0, settings.max_window_step)
    state = PoolState(x, pool, size, stride, step=step)
    shape = state.out_shape()
    count = output_count(state)
    if state.step and state.step >= count:
        raise FieldError("step", f"is {state.step}, but there are only {count} windows (0 to {count - 1})"
                        if count else f"is {state.step}, but no window fits")
    dout = fields.get("dout", "ones")
    mode, seed = parse_dout(dout, settings.max_seed)
    if mode != "typed":
        if "relu_dout" in fields:
            raise FieldError("relu_dout", "is only read with a typed dout")
        return replace(state, dout_mode=mode, dout_seed=seed)
    typed = decode_array("dout", dout, 4, limits(settings))  # the output is never larger than x
    if shape is not None and typed.shape != shape:
        raise FieldError("dout", f"has shape {_dims(typed.shape)} but the output has shape {_dims(shape)}")
    relu_dout = np.ones(x.shape)
    if "relu_dout" in fields:
        relu_dout = decode_array("relu_dout", fields["relu_dout"], 4, limits(settings))
        if relu_dout.shape != x.shape:
            raise FieldError("relu_dout", f"has shape {_dims(relu_dout.shape)} but x has shape {_dims(x.shape)}")
    return replace(state, dout_mode="typed", dout_typed=typed, relu_dout_typed=relu_dout)


def output_count(state: PoolState) -> int:
    """N·C·OH·OW: how many windows the stepper walks through (0 when none fits)."""
    shape = state.out_shape()
    return int(np.prod(shape)) if shape is not None else 0


def _dims(shape) -> str:
    return " × ".join(str(int(s)) for s in shape)


# ---------------------------------------------------------------- the form


def from_form(form: Form, settings: Settings) -> tuple[PoolState | None, list[FieldError]]:
    """A state from the lab's form: the posted cells, resized to the requested dimensions.

    Returns (state, []) or (None, every problem found), so the page can flag each bad cell.
    """
    errors: list[FieldError] = []
    lim = form_limits(settings)
    dims = tuple(int_field(form, key, 1, lim[key], errors, "1") for key in "NCHW")
    pool = first(form, "pool", "max")
    if pool not in POOLS:
        errors.append(FieldError("pool", "must be max or avg"))
    size = int_field(form, "size", 1, lim["size"], errors, "2")
    stride = int_field(form, "stride", 1, lim["stride"], errors, "2")
    seed = int_field(form, "dout_seed", 0, settings.max_seed, errors, "0")
    step = int_field(form, "step", 0, settings.max_window_step, errors, "0")
    mode = choice_field(form, "dout_mode", DOUT_MODES, errors, "ones")
    x_shape = shape_field(form, "x_shape", errors, max_cells=settings.max_elements)
    x_posted = grid_cells(form, "x", x_shape, errors) if x_shape else None
    dout_posted = relu_posted = None
    if mode == "typed":
        if form.get("dout_shape"):
            shape = shape_field(form, "dout_shape", errors, max_cells=settings.max_elements)
            dout_posted = grid_cells(form, "dout", shape, errors) if shape else None
        if form.get("relu_dout_shape"):
            shape = shape_field(form, "relu_dout_shape", errors, max_cells=settings.max_elements)
            relu_posted = grid_cells(form, "relu_dout", shape, errors) if shape else None
    if not errors:
        collect(errors, check_elements, "x", dims, settings)
    if errors:
        return None, errors
    x = resize(x_posted, dims)
    state = PoolState(x, pool, size, stride, dout_mode=mode, dout_seed=seed, step=step)
    if mode == "typed":
        state = fit_typed(replace(state, dout_typed=dout_posted, relu_dout_typed=relu_posted))
    return state, []


def fit_typed(state: PoolState) -> PoolState:
    """Typed douts resized to the current shapes (new cells 1), so resizing keeps what fits."""
    if state.dout_mode != "typed":
        return state
    shape = state.out_shape()
    dout = state.dout_typed
    if shape is not None:
        dout = np.ones(shape) if dout is None else (dout if dout.shape == shape else resize(dout, shape, 1.0))
    relu = state.relu_dout_typed
    relu = np.ones(state.x.shape) if relu is None else (
        relu if relu.shape == state.x.shape else resize(relu, state.x.shape, 1.0))
    return replace(state, dout_typed=dout, relu_dout_typed=relu)
