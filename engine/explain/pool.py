"""What the pooling lab shows beyond the ops' own arrays, read from what the ops returned.

- :func:`pool_window`: one pooling window term by term (its values, the winner, ties, the
  formula with the numbers plugged in);
- :func:`routes`: for every dx cell of a plane, the dout cells that were added into it (the
  same cells as the op's provenance; tested), with the sum written out; :func:`route_counts`: how many
  cells receive gradient and how many add up more than one, over every plane;
- :func:`routing_step`: the plane's upstream values routed one at a time (row-major): where one
  goes, and dx before and after it (after the last, the op's dx; tested);
- :func:`tie_counts`: how many cells of each window equal its maximum;
- :func:`kinks`, :func:`check_away_from_kinks`: where a central difference crosses a point
  where the op has no derivative (a tie in a max window, ReLU at 0), and a gradient check
  of every other entry, so a page can say "not differentiable here" instead of reporting a
  misleading error;
- :func:`bmatrix`: an array plane as KaTeX.

Everything is computed from the arrays ``maxpool2d`` / ``avgpool2d`` / ``relu`` return (their
``run``): nothing of the forward or backward pass is recomputed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from engine.gradcheck import GradCheck, Wrt, compare
from engine.records import Arrays, Index, OpInputError
from engine.registry import get_spec
from engine.tex import plain_number, tex_number

POOL_OPS = ("maxpool2d", "avgpool2d")


_term = partial(tex_number, digits=4, parens=True)  # a term of a formula: a cell's 4 digits


def _idx(index: Index) -> str:
    return ",".join(str(int(i)) for i in index)


def bmatrix(plane: np.ndarray) -> str:
    """A 2-D array as a KaTeX bmatrix (numbers to 4 significant digits)."""
    rows = [" & ".join(tex_number(v, 4) for v in row) for row in np.asarray(plane, np.float64)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


# ---------------------------------------------------------------- one window


@dataclass(frozen=True)
class PoolWindow:
    op: str
    index: Index  # (n, c, oh, ow) of the output cell
    rows: tuple[int, int]  # first and last input row the window covers
    cols: tuple[int, int]  # first and last input column
    values: np.ndarray  # (k, k): the window as the op cut it (``windows[n, c, oh, ow]``)
    out: float  # out[n, c, oh, ow]
    winner: tuple[int, int] | None  # (kh, kw) of the max inside the window (max pooling only)
    winner_x: Index | None  # the winner's cell (n, c, h, w) in x
    argmax: int | None  # flat h·W + w of the winner in its plane (the op's argmax)
    tied: tuple[tuple[int, int], ...]  # every (kh, kw) equal to the max: two or more means a tie
    dout: float  # dout[n, c, oh, ow]
    latex: str  # the forward formula with the numbers plugged in
    backward_latex: str  # where dout goes, with its number


def pool_window(op: str, result: Arrays, size: int, stride: int, index: Index) -> PoolWindow:
    """The window of output cell ``index`` = (n, c, oh, ow), from the arrays ``op`` returned."""
    if op not in POOL_OPS:
        raise OpInputError("op", f"{op!r} is not a pooling op ({', '.join(POOL_OPS)})")
    out = result["out"]
    if len(index) != 4 or any(not 0 <= int(i) < s for i, s in zip(index, out.shape, strict=True)):
        raise OpInputError("step", f"no window at out[{_idx(index)}]; out has shape {list(out.shape)}")
    n, c, oh, ow = (int(i) for i in index)
    values = np.array(result["windows"][n, c, oh, ow], copy=True)
    top, left = oh * stride, ow * stride
    y = float(out[n, c, oh, ow])
    g = float(result["dout"][n, c, oh, ow])
    lhs = rf"\text{{out}}[{n}, {c}, {oh}, {ow}]"
    terms = [_term(v) for v in values.ravel()]
    if len(terms) > 9:
        terms = [*terms[:6], r"\ldots", *terms[-2:]]
    if op == "avgpool2d":
        latex = rf"{lhs} = \frac{{{' + '.join(terms)}}}{{{size}^2}} = {tex_number(y)}"
        backward = (rf"\text{{dx}}[{n}, {c}, {top}{{:}}{top + size}, {left}{{:}}{left + size}] \mathrel{{+}}= "
                    rf"\frac{{\text{{dout}}[{n}, {c}, {oh}, {ow}]}}{{{size}^2}} = \frac{{{_term(g)}}}{{{size * size}}}"
                    rf" = {tex_number(g / (size * size))}\ \text{{each}}")
        return PoolWindow(op, (n, c, oh, ow), (top, top + size - 1), (left, left + size - 1), values, y,
                          None, None, None, (), g, latex, backward)
    kh, kw = divmod(int(result["window_argmax"][n, c, oh, ow]), size)
    flat = int(result["argmax"][n, c, oh, ow])
    width = result["x"].shape[3]
    h, w = divmod(flat, width)
    tied = tuple((int(i), int(j)) for i, j in np.argwhere(values == values[kh, kw]))
    listed = [tex_number(v, 4) for v in values.ravel()]  # in a max, commas separate: no parentheses
    if len(listed) > 9:
        listed = [*listed[:6], r"\ldots", *listed[-2:]]
    latex = (rf"\begin{{gathered}}{lhs} = \max({', '.join(listed)}) = {tex_number(y)} \\ "
             rf"\text{{argmax}} = h^{{*}} W + w^{{*}} = {h}\cdot {width} + {w} = {flat}"
             rf"\quad (\text{{window cell }} ({kh}, {kw}),\ \text{{index }} {kh * size + kw})\end{{gathered}}")
    backward = rf"\text{{dx}}[{n}, {c}, {h}, {w}] \mathrel{{+}}= \text{{dout}}[{n}, {c}, {oh}, {ow}] = {tex_number(g)}"
    return PoolWindow(op, (n, c, oh, ow), (top, top + size - 1), (left, left + size - 1), values, y,
                      (kh, kw), (n, c, h, w), flat, tied, g, latex, backward)


def tie_counts(result: Arrays) -> np.ndarray:
    """(N, C, OH, OW): how many cells of each max-pooling window equal its maximum (≥ 2: a tie)."""
    windows, out = result["windows"], result["out"]
    return np.sum(windows == out[..., None, None], axis=(-2, -1))


# ---------------------------------------------------------------- routing dout into dx


@dataclass(frozen=True)
class Route:
    dx_index: Index  # (n, c, h, w)
    sources: tuple[Index, ...]  # the dout cells added into it, row-major
    values: tuple[float, ...]  # their dout values
    share: int  # 1 for max pooling; k² for average pooling (each source adds dout/k²)
    dx: float  # the op's dx at the cell
    text: str  # "dx[0,0,1,1] = dout[0,0,0,0] + dout[0,0,0,1] = 1 + 1 = 2"


def _covering(pos: int, size: int, stride: int, n_out: int) -> range:
    first = max(0, -(-(pos - size + 1) // stride))
    return range(first, min(n_out - 1, pos // stride) + 1)


def _sources(op: str, result: Arrays, size: int, stride: int, plane: tuple[int, int]
             ) -> Iterator[tuple[Index, list[Index]]]:
    """(dx cell, [dout cells added into it]) of one (n, c) plane in row-major order of the dx cells, each cell's
    sources row-major too; lazily, so that a caller listing the first few pays for those (cells that get nothing
    are left out)."""
    n, c = plane
    out_h, out_w = result["out"].shape[2:]
    height, width = result["x"].shape[2:]
    if op == "maxpool2d":  # each dout cell goes to its window's winner: the winners sorted, ties kept row-major
        targets = np.asarray(result["argmax"][n, c]).reshape(-1)
        order = np.argsort(targets, kind="stable")
        ranked = targets[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        ends = np.r_[starts[1:], ranked.size]
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            h, w = divmod(int(ranked[start]), width)
            yield (n, c, h, w), [(n, c, *divmod(int(j), out_w)) for j in order[start:end]]
        return
    for h in range(height):
        for w in range(width):
            src = [(n, c, r, q) for r in _covering(h, size, stride, out_h) for q in _covering(w, size, stride, out_w)]
            if src:
                yield (n, c, h, w), src


def route_sources(op: str, result: Arrays, size: int, stride: int, plane: tuple[int, int]) -> dict[Index, list[Index]]:
    """{dx cell: [dout cells added into it]} for one (n, c) plane, row-major; cells that get nothing are left out."""
    return dict(_sources(op, result, size, stride, plane))


def route_counts(op: str, result: Arrays, size: int, stride: int) -> tuple[int, int]:
    """(dx cells that receive gradient, of them those where more than one dout cell adds up), over every plane:
    what :func:`route_sources` says of each plane, counted without listing the sources (a CIFAR input's three
    32×32 planes listed 1.4 ms of dictionaries to be counted)."""
    n, c, height, width = result["x"].shape
    out_h, out_w = result["out"].shape[2:]
    if op == "maxpool2d":
        planes = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * (height * width)
        counts = np.bincount((planes + result["argmax"]).ravel(), minlength=n * c * height * width)
    else:  # a cell's sources: the windows covering its row times those covering its column, the same on every plane
        rows = np.array([len(_covering(h, size, stride, out_h)) for h in range(height)])
        cols = np.array([len(_covering(w, size, stride, out_w)) for w in range(width)])
        counts = np.broadcast_to(np.outer(rows, cols), (n * c, height, width))
    return int(np.count_nonzero(counts)), int(np.count_nonzero(counts > 1))


def routes(op: str, result: Arrays, size: int, stride: int, plane: tuple[int, int],
           limit: int | None = None) -> list[Route]:
    """Every dx cell of ``plane`` that receives gradient (the first ``limit``), with the dout cells that add into it."""
    if op not in POOL_OPS:
        raise OpInputError("op", f"{op!r} is not a pooling op ({', '.join(POOL_OPS)})")
    dout, dx = result["dout"], result["dx"]
    share = 1 if op == "maxpool2d" else size * size
    found = []
    for target, sources in _sources(op, result, size, stride, plane):
        if limit is not None and len(found) >= limit:
            break
        values = tuple(float(dout[s]) for s in sources)
        names = " + ".join(f"dout[{_idx(s)}]" for s in sources)
        numbers = " + ".join(plain_number(v, 4, parens=True) for v in values)
        total = float(dx[target])
        lhs = f"dx[{_idx(target)}]"
        if share == 1:
            text = f"{lhs} = {names} = {numbers} = {plain_number(total)}" if len(sources) > 1 else \
                f"{lhs} = {names} = {plain_number(total)}"
        elif len(sources) > 1:
            text = f"{lhs} = ({names}) / {share} = ({numbers}) / {share} = {plain_number(total)}"
        else:
            text = f"{lhs} = {names} / {share} = {numbers} / {share} = {plain_number(total)}"
        found.append(Route(target, tuple(sources), values, share, total, text.replace("(-", "(−").replace(" -", " −")))
    return found


@dataclass(frozen=True)
class RoutingStep:
    """One upstream value routed into dx: where it goes, and the plane's dx before and after it."""

    index: Index  # (n, c, oh, ow): the dout cell routed at this step
    dout: float
    targets: tuple[Index, ...]  # the dx cells it is added into (max: the window's winner; average: its cells)
    share: float  # what each target receives: dout (max) or dout/k² (average)
    before: np.ndarray  # (H, W): the plane's dx from the upstream values before this one (row-major)
    after: np.ndarray  # (H, W): ... and this one
    routed: int  # upstream values of the plane routed so far, this one included
    total: int  # upstream values of the plane: OH·OW
    lines: tuple[str, ...]  # per target: "dx[0,0,1,1]: 1 + 2 = 3"

    @property
    def complete(self) -> bool:
        return self.routed == self.total


def routing_step(op: str, result: Arrays, size: int, stride: int, index: Index) -> RoutingStep:
    """Route the plane's upstream values in row-major order up to and including dout[``index``]."""
    if op not in POOL_OPS:
        raise OpInputError("op", f"{op!r} is not a pooling op ({', '.join(POOL_OPS)})")
    n, c, oh, ow = (int(i) for i in index)
    out_h, out_w = result["out"].shape[2:]
    height, width = result["x"].shape[2:]
    dout = result["dout"][n, c]

    def targets(r: int, q: int) -> list[tuple[int, int]]:
        if op == "maxpool2d":
            return [divmod(int(result["argmax"][n, c, r, q]), width)]
        return [(h, w) for h in range(r * stride, r * stride + size) for w in range(q * stride, q * stride + size)
                if h < height and w < width]

    share = 1.0 if op == "maxpool2d" else 1.0 / (size * size)
    before = np.zeros((height, width), dtype=np.result_type(dout, np.float64))
    for r in range(out_h):
        for q in range(out_w):
            if (r, q) == (oh, ow):
                break
            for h, w in targets(r, q):
                before[h, w] += share * dout[r, q]
        else:
            continue
        break
    after = before.copy()
    mine = targets(oh, ow)
    g = float(dout[oh, ow])
    for h, w in mine:
        after[h, w] += share * g
    lines = tuple(f"dx[{n},{c},{h},{w}]: {plain_number(float(before[h, w]), 4)} + "
                  f"{plain_number(share * g, 4, parens=True)} = {plain_number(float(after[h, w]), 4)}"
                  for h, w in mine)
    return RoutingStep((n, c, oh, ow), g, tuple((n, c, h, w) for h, w in mine), share * g, before, after,
                       oh * out_w + ow + 1, out_h * out_w, lines)


# ---------------------------------------------------------------- where derivatives do not exist


def kinks(op: str, result: Arrays, size: int, stride: int, h: float) -> np.ndarray:
    """Boolean mask over x: entries whose ±h central difference crosses a point with no derivative.

    maxpool2d: every cell within h of its window's maximum when two or more are (a tie, or
    nearly one: moving one of them by h changes which cell wins). relu: |x| ≤ h (the kink at 0).
    avgpool2d is linear: none. ``result`` is what the op's run returned (``windows`` for max).
    """
    x = result["x"]
    if op == "relu":
        return np.abs(x) <= h
    mask = np.zeros(x.shape, dtype=bool)
    if op != "maxpool2d":
        return mask
    windows = result["windows"]
    near = windows >= windows.max(axis=(-2, -1), keepdims=True) - h
    contested = near & (near.sum(axis=(-2, -1), keepdims=True) >= 2)
    for i, j, r, q, kh, kw in np.argwhere(contested):
        mask[i, j, r * stride + kh, q * stride + kw] = True
    return mask


def check_away_from_kinks(op: str, arrays: Arrays, params: dict[str, Any], skip: np.ndarray, h: float,
                          max_per_input: int | None = None, seed: int = 0) -> GradCheck | None:
    """check_op's measure on dx, at the entries of x not in ``skip`` (None when every entry is skipped).

    ``arrays`` and ``params`` are what ``registry.prepare`` returned (dout filled in).
    """
    spec = get_spec(op)
    arrays = {k: np.asarray(v, np.float64) for k, v in arrays.items()}
    dout = arrays["dout"]
    candidates = np.flatnonzero(~skip.reshape(-1))
    if candidates.size == 0:
        return None

    def f(value: np.ndarray) -> float:
        return float(np.sum(spec.run({**arrays, "x": value}, params, extras=False)[spec.objective] * dout))

    dx = spec.run(arrays, params, extras=False)["dx"]
    return compare({"x": Wrt(f, arrays["x"], dx, allowed=candidates)}, h, max_per_input, seed)


# ---------------------------------------------------------------- provenance the other way round


def consumers(op: str, result: Arrays, size: int, stride: int, name: str, index: Index) -> dict[str, list[Index]]:
    """The elements computed FROM element ``index`` of input ``name`` (the op's provenance runs the other way).

    x[n, c, h, w] → the out cells whose window holds it; dout[n, c, oh, ow] → the dx cells it
    is added into (max: the window's winner; avg: every cell of the window).
    """
    if op not in POOL_OPS:
        raise OpInputError("op", f"{op!r} is not a pooling op ({', '.join(POOL_OPS)})")
    if name not in ("x", "dout"):
        raise OpInputError("array", f"{name!r} is not an input of {op} (x, dout)")
    shape = result[name].shape
    if len(index) != 4 or any(not 0 <= int(i) < s for i, s in zip(index, shape, strict=True)):
        raise OpInputError("index", f"{list(index)} is outside {name}, whose shape is {list(shape)}")
    n, c, a, b = (int(i) for i in index)
    out_h, out_w = result["out"].shape[2:]
    if name == "x":
        rows, cols = _covering(a, size, stride, out_h), _covering(b, size, stride, out_w)
        return {"out": [(n, c, r, q) for r in rows for q in cols]}
    if op == "maxpool2d":
        h, w = divmod(int(result["argmax"][n, c, a, b]), result["x"].shape[3])
        return {"dx": [(n, c, h, w)], "argmax": [(n, c, a, b)]}
    cells = [(n, c, a * stride + i, b * stride + j) for i in range(size) for j in range(size)]
    return {"dx": cells}
