"""What the softmax lab shows beside the registry's ``softmax_cross_entropy`` arrays.

- :func:`naive_trace`: the textbook formula exp(z)/Σexp(z) *without* the shift, step by step
  (exp, sum, p, and −log p of the label), with where it overflows to inf, underflows to 0
  and turns into nan: the numbers the stable computation avoids.
- :func:`row_max`: the maximum each row is shifted by (z̃ = z − max z).
- :func:`naive_provenance`: which numbers each naive value was computed from.
- :func:`routes_agree`: how far the Jacobian route Jᵀ·dL/dp is from the fused p − y route,
  over the rows where dL/dp is representable.
- :func:`gradcheck_logits`: the numeric gradient check of dlogits with a step that is a power
  of two (so x ± h is exact for every logit the lab accepts), scaled with the temperature,
  scored by :func:`engine.gradcheck.gradient_error` with the rounding of the logits themselves
  counted in the noise (a loss near 0 can come from logits of 1000).

NumPy only; pure functions; nothing here modifies its inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.gradcheck import GradCheck, check_op, gradient_error
from engine.records import Index, OpInputError
from engine.registry import prepare

EPS = float(np.finfo(np.float64).eps)
EXP_OVERFLOW = float(np.log(np.finfo(np.float64).max))  # 709.78: exp(z) is inf for larger z
# −745.13: exp(z) rounds to 0 below (half the smallest subnormal)
EXP_UNDERFLOW = math.log(float(np.finfo(np.float64).smallest_subnormal)) - math.log(2)

GRADCHECK_STEP_Z = 2.0**-17  # central-difference step in units of z = logits / T (≈ 7.6e-6)
GRADCHECK_TOL = 1e-7  # relative error; entries below the rounding floor are compared absolutely


@dataclass(frozen=True)
class NaiveSoftmax:
    z: np.ndarray  # (N, K) the logits the formula is applied to (already divided by T), unshifted
    exp: np.ndarray  # (N, K) exp(z): inf where z > 709.78, 0 where z < −745.13
    sum_exp: np.ndarray  # (N,) Σ_k exp(z): inf when any term is inf, 0 when every term underflowed
    probs: np.ndarray  # (N, K) exp / sum_exp: nan for inf/inf and for 0/0
    nll: np.ndarray  # (N,) −log p[n, y_n] from those probs: inf when p_y underflowed to 0, nan when p_y is nan
    overflow: np.ndarray  # (N, K) bool: exp(z) is inf
    underflow: np.ndarray  # (N, K) bool: exp(z) is exactly 0
    nan: np.ndarray  # (N, K) bool: p is nan
    broken_rows: np.ndarray  # (N,) bool: the row's p or loss is not a finite number


def naive_trace(z: np.ndarray, labels: Any) -> NaiveSoftmax:
    """exp(z)/Σexp(z) without subtracting the max, keeping each intermediate (for display).

    Overflow and 0/0 are not errors here: they are what the page shows.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise OpInputError("inputs.logits", f"must be (N, K), got shape {list(z.shape)}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (z.shape[0],):
        raise OpInputError("inputs.labels", f"must hold one label per row ({z.shape[0]}), got {list(labels.shape)}")
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        exp = np.exp(z)
        sum_exp = exp.sum(axis=1)
        probs = exp / sum_exp[:, None]
        p_label = probs[np.arange(z.shape[0]), labels]
        nll = -np.log(p_label)
    nan = np.isnan(probs)
    broken = nan.any(axis=1) | ~np.isfinite(nll)
    return NaiveSoftmax(z=z.copy(), exp=exp, sum_exp=sum_exp, probs=probs, nll=nll, overflow=np.isinf(exp),
                        underflow=exp == 0, nan=nan, broken_rows=broken)


def row_max(z: np.ndarray) -> np.ndarray:
    """(N,) the maximum of each row: the stable softmax subtracts it (z̃ = z − max z)."""
    return np.asarray(z).max(axis=1)


NAIVE_ARRAYS = ("naive_exp", "naive_sum", "naive_probs", "naive_nll", "row_max")


def naive_provenance(name: str, index: Index, shape: tuple[int, int], labels: Any) -> dict[str, list[Index]]:
    """For an element of a naive-route array (or of ``row_max``), the elements it was computed from.

    Names are the page's: naive_exp (N, K), naive_sum (N,), naive_probs (N, K), naive_nll (N,), row_max (N,);
    sources are ``scaled``/``logits`` and the other naive arrays.
    """
    n_rows, k_count = shape
    if name not in NAIVE_ARRAYS:
        raise OpInputError("array", f"no naive array {name!r} (arrays: {', '.join(NAIVE_ARRAYS)})")
    ndim = 2 if name in ("naive_exp", "naive_probs") else 1
    want = (n_rows, k_count)[:ndim]
    if len(index) != ndim or any(not 0 <= i < s for i, s in zip(index, want, strict=True)):
        raise OpInputError("index", f"{list(index)} is outside {name}, whose shape is {list(want)}")
    n = int(index[0])
    row = [(n, k) for k in range(k_count)]
    if name == "naive_exp":
        return {"scaled": [tuple(index)], "logits": [tuple(index)]}
    if name == "naive_sum":
        return {"naive_exp": row, "logits": row}
    if name == "naive_probs":
        return {"naive_exp": [tuple(index)], "naive_sum": [(n,)], "logits": row}
    if name == "naive_nll":
        y = int(np.asarray(labels)[n])
        return {"naive_probs": [(n, y)], "labels": [(n,)]}
    return {"scaled": row, "logits": row}  # row_max


@dataclass(frozen=True)
class RoutesAgree:
    max_diff: float  # max |dlogits − dlogits_via_jacobian| over the rows where dL/dp is representable
    scale: float  # max |dlogits| over the same rows (what the difference is small against)
    agree: bool  # max_diff ≤ 1e-12 · max(scale, 1e-300) + a few ulps
    undefined_rows: tuple[int, ...]  # rows where p_y underflowed: dL/dp = −1/(N·p_y) is not representable


def routes_agree(dlogits: np.ndarray, via_jacobian: np.ndarray, dprobs_defined: np.ndarray) -> RoutesAgree:
    """Compare the fused gradient (p − y)/(N·T) with Jᵀ·dL/dp / T, row by row."""
    defined = np.asarray(dprobs_defined) != 0
    undefined = tuple(int(i) for i in np.flatnonzero(~defined))
    if not defined.any():
        return RoutesAgree(0.0, 0.0, True, undefined)
    a, b = np.asarray(dlogits)[defined], np.asarray(via_jacobian)[defined]
    diff = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(a)))
    return RoutesAgree(diff, scale, diff <= 1e-12 * scale + 8 * EPS * scale, undefined)


@dataclass(frozen=True)
class LogitsCheck:
    report: GradCheck  # engine.gradcheck.check_op's report (its ``worst`` is this check's)
    h: float  # the step used on the logits: a power of two near GRADCHECK_STEP_Z · T
    noise: float  # the largest rounding error one central difference may carry here, in dlogits units
    floor: float  # noise / tol: entries with |analytic| + |numeric| below it are compared absolutely
    worst: float  # the worst gradient error
    where: str  # "dlogits[n, k]" of the worst entry
    below_floor: int  # how many checked entries are below the floor
    ok: bool  # worst < tol


def gradcheck_step(temperature: float) -> float:
    """A power of two near GRADCHECK_STEP_Z · T: x ± h is then exact for every |x| < 2**36."""
    return 2.0 ** round(math.log2(GRADCHECK_STEP_Z * temperature))


def verdict(analytic: np.ndarray, numeric: np.ndarray, noise: float,
            tol: float = GRADCHECK_TOL) -> tuple[float, int, int]:
    """(worst gradient error, its flat position, entries below the floor noise/tol)."""
    err = gradient_error(analytic, numeric, noise, tol)
    below = int(np.sum(np.abs(analytic) + np.abs(numeric) < max(noise / tol, 1e-8)))
    return float(err.max()) if err.size else 0.0, int(err.argmax()) if err.size else 0, below


def gradcheck_logits(logits: Any, labels: Any, temperature: float = 1.0, tol: float = GRADCHECK_TOL) -> LogitsCheck:
    """The numeric gradient check of softmax_cross_entropy's dlogits at these exact inputs, every entry.

    Rounding in the loss happens at the scale of the largest |z| = |logits|/T as well as of the
    loss itself, so that scale is added to the noise of each central difference.
    """
    h = gradcheck_step(float(temperature))
    inputs, params = {"logits": logits, "labels": labels}, {"temperature": temperature}
    _, arrays, _ = prepare("softmax_cross_entropy", inputs, params)
    z_max = float(np.max(np.abs(arrays["logits"]))) / temperature
    report = check_op("softmax_cross_entropy", inputs, params, h=h, tol=tol, scale=z_max + 1.0)
    noise = float(report.noise["dlogits"].max())
    _, _, below = verdict(report.analytic["dlogits"], report.numeric["dlogits"], noise, tol)
    return LogitsCheck(report=report, h=h, noise=noise, floor=max(noise / tol, 1e-8), worst=report.worst,
                       where=report.where, below_floor=below, ok=report.worst < tol)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| over every entry; nan when either side holds a nan or an inf (they cannot be compared)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.nan
    return float(np.max(np.abs(a - b))) if a.size else 0.0
