"""The convolution lab's whole state, and its two ways in: a link and the page's form.

Both are validated as strictly as each other; problems are collected as
:class:`FieldError` values naming the field (``x[0, 1, 2, 3]``, ``stride``), never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, MissingField, check_elements, parse_choice, parse_int, setting_bound
from app.web.kit.form import Form, choice_field, collect, grid_cells, int_field, resize, shape_field
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
from engine.ops.im2col import conv_output_size

STRIDE_BOUND = setting_bound("conv_max_stride", "a longer stride skips most of a lecture-sized input")
PAD_BOUND = setting_bound("conv_max_pad", "pad 3 keeps a 7×7 kernel's output as large as its input; more is zeros")

TABS = ("window", "im2col", "backward")
WALKS = ("dx", "dw")  # the backward stepper walks dx cell by cell, or dw
DOUT_STREAM = 0xD0  # random dout draws from its own stream of the seed


@dataclass(frozen=True)
class ConvState:
    x: np.ndarray  # (N, C, H, W)
    w: np.ndarray  # (F, C, KH, KW)
    b: np.ndarray  # (F,)
    stride: int = 1
    pad: int = 0
    dout_mode: str = "ones"  # "ones" | "random" (seeded) | "typed"
    dout_seed: int = 0
    dout_typed: np.ndarray | None = None  # (N, F, OH, OW) when dout_mode == "typed"
    step: int = 0  # the sliding window's position: flat index into out (n, f, oh, ow)
    tab: str = "window"  # the open section: "window" | "im2col" | "backward"
    walk: str = "dx"  # what the backward stepper walks: "dx" (the full convolution) | "dw"
    walk_step: int = 0  # its position: flat index into dx (n, c, h, w) or dw (f, c, kh, kw)

    def to_query(self) -> str:
        fields = {"x": encode_array(self.x), "w": encode_array(self.w), "b": encode_array(self.b),
                  "stride": str(self.stride), "pad": str(self.pad),
                  "dout": dout_text(self.dout_mode, self.dout_seed, self.dout_typed)}
        if self.step:
            fields["step"] = str(self.step)
        if self.tab != "window":
            fields["tab"] = self.tab
        if self.walk != "dx":
            fields["walk"] = self.walk
        if self.walk_step:
            fields["walk_step"] = str(self.walk_step)
        return to_query(fields)

    def inputs(self, out_shape: tuple[int, ...] | None) -> dict[str, np.ndarray]:
        """The op's inputs; ``dout`` made for ``out_shape`` (None: let the op default to ones)."""
        arrays = {"x": self.x, "w": self.w, "b": self.b}
        if out_shape is not None and self.dout_mode == "random":
            arrays["dout"] = seeded_dout(self.dout_seed, DOUT_STREAM, out_shape)
        elif self.dout_mode == "typed" and self.dout_typed is not None:
            arrays["dout"] = self.dout_typed
        return arrays


def form_limits(settings: Settings) -> dict[str, int]:
    """The form's bounds: each dimension of x (N, C, H, W) and w (F, KH, KW), stride and pad; ``elements``, the
    numbers x (and a typed dout) may hold in all; ``image_over``, the plane size drawn as an image."""
    return {"N": settings.max_batch, "C": settings.max_channels, "H": settings.conv_max_spatial,
            "W": settings.conv_max_spatial, "F": settings.max_filters, "KH": settings.max_kernel,
            "KW": settings.max_kernel, "stride": settings.conv_max_stride, "pad": settings.conv_max_pad,
            "elements": settings.max_elements, "image_over": settings.plane_image_cells}


def limits(settings: Settings) -> dict[str, tuple[int, ...]]:
    """The largest shape of each array a link may hold (dout: the output of a 1×1 kernel on padded x); each
    array also holds at most ``Settings.max_elements`` numbers (:func:`app.web.kit.fields.check_elements`)."""
    n, c, s = settings.max_batch, settings.max_channels, settings.conv_max_spatial
    f, k, side = settings.max_filters, settings.max_kernel, settings.conv_max_spatial + 2 * settings.conv_max_pad
    return {"x": (n, c, s, s), "w": (f, c, k, k), "b": (f,), "dout": (n, f, side, side)}


def _check_shapes(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> None:
    if w.shape[1] != x.shape[1]:
        raise FieldError("w", f"has {w.shape[1]} channels but x has {x.shape[1]}; they must match")
    if b.shape[0] != w.shape[0]:
        raise FieldError("b", f"has {b.shape[0]} values but there are {w.shape[0]} filters")


def _tab(fields: dict[str, str]) -> str:
    """The open section; links made before it was named ``tab`` call it ``view``."""
    key = "tab" if "tab" in fields or "view" not in fields else "view"
    return parse_choice(key, fields.get(key, "window"), TABS)


def from_link(query: str, settings: Settings) -> ConvState:
    """A state from a link's query string; raises FieldError naming the bad parameter."""
    fields = from_query(query)
    lim = limits(settings)
    known = {"x", "w", "b", "stride", "pad", "dout", "step", "tab", "view",  # view: links older than tab
             "walk", "walk_step"}
    for key in fields:
        if key not in known:
            raise FieldError(key, f"is not a setting of the convolution lab (known: {', '.join(sorted(known))})")
    for key in ("x", "w", "b"):
        if key not in fields:
            raise MissingField(key)
    x = decode_array("x", fields["x"], 4, lim["x"])
    check_elements("x", x.shape, settings)
    w = decode_array("w", fields["w"], 4, lim["w"])
    b = decode_array("b", fields["b"], 1, lim["b"])
    _check_shapes(x, w, b)
    state = ConvState(x, w, b, stride=parse_int("stride", fields.get("stride", "1"), 1, settings.conv_max_stride,
                                                    STRIDE_BOUND),
                      pad=parse_int("pad", fields.get("pad", "0"), 0, settings.conv_max_pad, PAD_BOUND),
                      step=parse_int("step", fields.get("step", "0"), 0, settings.max_window_step),
                      tab=_tab(fields), walk=parse_choice("walk", fields.get("walk", "dx"), WALKS),
                      walk_step=parse_int("walk_step", fields.get("walk_step", "0"), 0, settings.max_window_step))
    state = _with_dout(state, fields.get("dout", "ones"), lim, settings.max_seed)
    if state.dout_typed is not None:
        check_elements("dout", state.dout_typed.shape, settings)
    count = output_count(state)
    if state.step and state.step >= count:
        raise FieldError("step", f"is {state.step}, but there are only {count} output positions (0 to {count - 1})")
    cells = walk_count(state)
    if state.walk_step and state.walk_step >= cells:
        raise FieldError("walk_step", f"is {state.walk_step}, but {state.walk} has only {cells} cells "
                         f"(0 to {cells - 1})")
    return state


def out_shape(state: ConvState) -> tuple[int, int, int, int] | None:
    """The output shape, or None when no window fits (the engine's check then says why)."""
    N, _, H, W = state.x.shape
    F, _, KH, KW = state.w.shape
    oh = conv_output_size(H, KH, state.stride, state.pad)
    ow = conv_output_size(W, KW, state.stride, state.pad)
    return (N, F, oh, ow) if oh >= 1 and ow >= 1 else None


def walk_count(state: ConvState) -> int:
    """How many cells the backward stepper walks: dx's N·C·H·W or dw's F·C·KH·KW (0 when no window fits)."""
    if out_shape(state) is None:
        return 0
    return int(state.x.size if state.walk == "dx" else state.w.size)


def output_count(state: ConvState) -> int:
    """N·F·OH·OW: how many positions the sliding window has (0 when no window fits)."""
    shape = out_shape(state)
    return int(np.prod(shape)) if shape else 0


def _with_dout(state: ConvState, text: str, lim: dict[str, tuple[int, ...]], max_seed: int) -> ConvState:
    mode, seed = parse_dout(text, max_seed)
    typed = decode_array("dout", text, 4, lim["dout"]) if mode == "typed" else None
    return replace(state, dout_mode=mode, dout_seed=seed, dout_typed=typed)


def from_form(form: Form, settings: Settings) -> tuple[ConvState | None, list[FieldError]]:
    """A state from the lab's form: the posted cells, resized to the requested dimensions.

    Returns (state, []) or (None, every problem found), so the page can flag each bad cell.
    """
    errors: list[FieldError] = []
    lim = form_limits(settings)
    dims = {key: int_field(form, key, 1, lim[key], errors, default="") for key in ("N", "C", "H", "W", "F", "KH", "KW")}
    stride = int_field(form, "stride", 1, lim["stride"], errors)
    pad = int_field(form, "pad", 0, lim["pad"], errors)
    dout_seed = int_field(form, "dout_seed", 0, settings.max_seed, errors)
    step = int_field(form, "step", 0, settings.max_window_step, errors)
    # a tab's hx-vals comes after the hidden field: the last value is the one clicked
    tab = collect(errors, parse_choice, "tab", (form.get("tab") or ["window"])[-1], TABS)
    walks = form.get("walk") or ["dx"]  # the hidden field, then (when one was clicked) a button's hx-vals
    walk = collect(errors, parse_choice, "walk", walks[-1], WALKS)
    walk_step = int_field(form, "walk_step", 0, settings.max_window_step, errors) if walks[0] == walks[-1] else 0
    mode = choice_field(form, "dout_mode", DOUT_MODES, errors, "ones")
    shapes = {name: shape_field(form, f"{name}_shape", errors, ndim=nd, max_cells=settings.max_elements)
              for name, nd in (("x", 4), ("w", 4), ("b", 1))}
    posted = {name: grid_cells(form, name, shape, errors) for name, shape in shapes.items() if shape}
    dout_typed = None
    if mode == "typed" and form.get("dout_shape"):  # no shape yet: fit_dout starts from ones
        dshape = shape_field(form, "dout_shape", errors, ndim=4, max_cells=settings.max_elements)
        if dshape:
            dout_typed = grid_cells(form, "dout", dshape, errors)
    if not errors:
        collect(errors, check_elements, "x", (dims["N"], dims["C"], dims["H"], dims["W"]), settings)
    if errors:
        return None, errors
    x = resize(posted["x"], (dims["N"], dims["C"], dims["H"], dims["W"]))
    w = resize(posted["w"], (dims["F"], dims["C"], dims["KH"], dims["KW"]))
    b = resize(posted["b"], (dims["F"],))
    state = ConvState(x, w, b, stride=stride, pad=pad, dout_mode=mode, dout_seed=dout_seed, dout_typed=dout_typed,
                      step=step, tab=tab, walk=walk, walk_step=walk_step)
    shape = out_shape(state)
    if mode == "typed" and shape is not None and int(np.prod(shape)) > settings.max_elements:
        return None, [FieldError("dout_mode", f"a typed dout would hold the output's {' × '.join(map(str, shape))} = "
                                              f"{int(np.prod(shape))} numbers, more than the {settings.max_elements} "
                                              "one array may hold (Settings.max_elements): choose ones or random")]
    if state.step >= output_count(state):  # the shape changed under the window: start it over
        state = replace(state, step=0)
    if state.walk_step >= walk_count(state):  # the shape (or the walk) changed under the stepper
        state = replace(state, walk_step=0)
    return state, []


def fit_dout(state: ConvState, out_shape: tuple[int, ...]) -> ConvState:
    """Typed dout resized to the current output shape (new cells 1), so resizing keeps what fits."""
    if state.dout_mode != "typed" or (state.dout_typed is not None and state.dout_typed.shape == out_shape):
        return state
    if state.dout_typed is None:
        return replace(state, dout_typed=np.ones(out_shape))
    return replace(state, dout_typed=resize(state.dout_typed, out_shape, fill=1.0))
