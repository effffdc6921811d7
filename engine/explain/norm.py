"""What the normalization lab shows beyond the ops' own records.

- Sequences of batches for the running-statistics plot: seeded random batches drawn around a
  chosen mean and variance, or one batch repeated; and the running statistics over them in
  BOTH conventions at once (the other convention with the equivalent momentum, so the only
  difference left is the variance each one averages).
- The running mean of dropout's output over many seeded draws (the expectation converging to x).
- One feature's (or one sample's) formulas with the numbers plugged in, written from the
  arrays the op returned (never recomputed): the notes' staged backward, term by term.

NumPy only; pure functions; nothing passed in is modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from engine.ops.batchnorm import BN_CONVENTIONS, MOMENTUM_DEFAULTS, batchnorm_forward
from engine.ops.dropout import SEED_MAX, dropout_forward
from engine.records import Arrays, OpInputError, shape_text
from engine.tex import tex_number

SEQ_SOURCES = ("random", "repeat")


# --------------------------------------------------------------------------- running statistics


def random_batches(shape: Sequence[int], count: int, mean: float, var: float, seed: int) -> list[np.ndarray]:
    """``count`` batches of ``shape``, every value drawn from N(mean, var) by ``default_rng(seed)``."""
    _check_count("batches", count, 1, 10_000)
    if not np.isfinite(mean):
        raise OpInputError("true_mean", f"must be a finite number, got {mean!r}")
    if not (np.isfinite(var) and var >= 0):
        raise OpInputError("true_var", f"is a variance and must be ≥ 0, got {var!r}")
    rng = np.random.default_rng(int(seed))
    values = rng.normal(float(mean), float(np.sqrt(var)), size=(int(count), *tuple(shape)))
    return [values[t] for t in range(int(count))]


def repeated_batches(x: np.ndarray, count: int) -> list[np.ndarray]:
    """The same batch ``count`` times (copies): the running statistics then converge to its own."""
    _check_count("batches", count, 1, 10_000)
    return [np.array(x, dtype=np.float64, copy=True) for _ in range(int(count))]


def equivalent_momentum(momentum: float, convention: str) -> float:
    """The momentum of the OTHER convention that averages with the same weights.

    pytorch r ← (1 − m)·r + m·batch equals cs231n r ← m'·r + (1 − m')·batch when m' = 1 − m.
    """
    if convention not in BN_CONVENTIONS:
        raise OpInputError("convention", f"must be one of {', '.join(BN_CONVENTIONS)}; got {convention!r}")
    return 1.0 - float(momentum)


@dataclass(frozen=True)
class RunningRun:
    """The running statistics of one convention over a sequence of batches."""

    convention: str  # "pytorch" | "cs231n"
    momentum: float  # the momentum in force
    arrays: Arrays  # (T, C): running_mean, running_var after each batch; batch_mean, batch_var (biased)


def running_sequence(batches: Sequence[np.ndarray], convention: str = "pytorch", momentum: float | None = None,
                     running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None) -> Arrays:
    """Running statistics after each batch of a sequence (train mode), for a convergence plot.

    Each batch goes through :func:`engine.ops.batchnorm.batchnorm_forward` (its forward only), so
    these are the op's own numbers. Returns (T, C) arrays: ``running_mean``/``running_var`` after
    batch t, and the batch's own ``batch_mean`` and biased ``batch_var``. Pure: nothing passed in
    is modified.
    """
    if len(batches) == 0:
        raise OpInputError("batches", "is empty: give at least one batch")
    rm, rv = running_mean, running_var
    rows: dict[str, list[np.ndarray]] = {"running_mean": [], "running_var": [], "batch_mean": [], "batch_var": []}
    channels = None
    for t, batch in enumerate(batches):
        x = np.asarray(batch)
        if x.ndim not in (2, 4):
            raise OpInputError(f"batches[{t}]", f"must be (N, D) or (N, C, H, W); got shape {shape_text(x.shape)}")
        if channels is None:
            channels = x.shape[1]
        elif x.shape[1] != channels:
            raise OpInputError(f"batches[{t}]", f"has {x.shape[1]} channels; the first batch has {channels}")
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        gamma, beta = np.ones(channels, dtype), np.zeros(channels, dtype)
        try:
            _, cache = batchnorm_forward(x, gamma, beta, rm, rv, momentum=momentum, mode="train",
                                         convention=convention, staged=False)  # only its statistics are read
        except OpInputError as err:
            field = f"batches[{t}]" if err.field == "inputs.x" else err.field
            raise OpInputError(field, err.message) from None
        rm, rv = cache.running_mean, cache.running_var
        rows["running_mean"].append(rm)
        rows["running_var"].append(rv)
        rows["batch_mean"].append(cache.mean)
        rows["batch_var"].append(cache.var)
    return {k: np.stack(v) for k, v in rows.items()}


def running_both_conventions(batches: Sequence[np.ndarray], convention: str, momentum: float | None,
                             running_mean: np.ndarray | None = None,
                             running_var: np.ndarray | None = None) -> tuple[RunningRun, RunningRun]:
    """(chosen convention, the other one) over the same batches from the same starting statistics.

    ``momentum=None`` is the chosen convention's default; the other convention gets the equivalent
    momentum (1 − m), so their running means coincide and their running variances differ only by
    the variance averaged: unbiased n/(n − 1)·σ² (pytorch) against the biased σ² (cs231n).
    """
    if convention not in BN_CONVENTIONS:
        raise OpInputError("convention", f"must be one of {', '.join(BN_CONVENTIONS)}; got {convention!r}")
    m = MOMENTUM_DEFAULTS[convention] if momentum is None else float(momentum)
    if not 0.0 <= m <= 1.0:
        raise OpInputError("momentum", f"must be between 0 and 1, got {m:g}")
    other = next(c for c in BN_CONVENTIONS if c != convention)
    m_other = equivalent_momentum(m, convention)
    runs = []
    for conv, mom in ((convention, m), (other, m_other)):
        arrays = running_sequence(batches, conv, mom, running_mean, running_var)
        runs.append(RunningRun(conv, mom, arrays))
    return runs[0], runs[1]


# --------------------------------------------------------------------------- dropout expectation


def dropout_running_mean(x: np.ndarray, p: float, draws: int, seed: int = 0, p_means: str = "drop") -> np.ndarray:
    """(draws, *x.shape): the mean of the train-mode output over the first k + 1 masks, for each k.

    Mask k is seeded ``seed + k`` (as :func:`engine.ops.dropout.dropout_expectation`), so the last
    row is exactly its answer, and every row is an average of real dropout outputs.
    """
    _check_count("draws", draws, 1, 100_000)
    x = np.asarray(x, dtype=np.float64)
    total = np.zeros(x.shape, np.float64)
    rows = np.empty((int(draws), *x.shape), np.float64)
    for k in range(int(draws)):
        out, _ = dropout_forward(x, p, "train", (int(seed) + k) % (SEED_MAX + 1), p_means)
        total += out
        rows[k] = total / (k + 1)
    return rows


# --------------------------------------------------------------------------- formulas with numbers


@dataclass(frozen=True)
class Term:
    """One formula with the current numbers plugged in."""

    name: str  # the array it ends in: "mean", "dvar", ...
    title: str
    latex: str


_num = partial(tex_number, digits=7, parens=True)  # 7 digits, to see √(1 + ε) = 1.000005
_res = partial(tex_number, digits=7)  # a result at the end of a formula: no parentheses


def _d(symbol: str) -> str:
    """∂L/∂symbol in KaTeX."""
    return rf"\frac{{\partial L}}{{\partial {symbol}}}"


def _sum(parts: list[str], max_terms: int) -> str:
    if len(parts) > max_terms:
        parts = [*parts[:max_terms - 1], r"\cdots", parts[-1]]
    return " + ".join(parts)


def _column(a: np.ndarray, c: int) -> np.ndarray:
    """Channel c of an (N, C) or (N, C, H, W) array, flattened in (n, h, w) order."""
    return np.asarray(a)[:, c].reshape(-1)


def batchnorm_terms(arrays: Mapping[str, np.ndarray], c: int, mode: str, eps: float,
                    max_terms: int = 4) -> list[Term]:
    """Feature/channel ``c``'s forward and backward with numbers, from batchnorm's run() arrays.

    The sample shown term by term is the first of the column, i = 0.
    """
    C = np.asarray(arrays["x"]).shape[1]
    if not 0 <= c < C:
        raise OpInputError("c", f"must be a feature/channel from 0 to {C - 1}, got {c}")
    x, dout = _column(arrays["x"], c), _column(arrays["dout"], c)
    x_mu, x_hat, out = _column(arrays["x_mu"], c), _column(arrays["x_hat"], c), _column(arrays["out"], c)
    dx_hat, dx, dx_compact = (_column(arrays[k], c) for k in ("dx_hat", "dx", "dx_compact"))
    mean, var, std = (float(arrays[k][c]) for k in ("mean", "var", "std"))
    gamma, beta = float(arrays["gamma"][c]), float(arrays["beta"][c])
    dgamma, dbeta = float(arrays["dgamma"][c]), float(arrays["dbeta"][c])
    dvar, dmean = float(arrays["dvar"][c]), float(arrays["dmean"][c])
    n = x.size
    dgamma_pairs = [rf"{_num(d)}\cdot{_num(h)}" for d, h in zip(dout, x_hat, strict=True)]
    dvar_pairs = [rf"{_num(d)}\cdot{_num(m)}" for d, m in zip(dx_hat, x_mu, strict=True)]
    dmean_parts = [rf"-2\cdot{_num(m)}" for m in x_mu]
    mu_c = rf"\mu_{{{c}}}"
    xh0, x0 = rf"\hat{{x}}_{{0,{c}}}", f"x_{{0,{c}}}"
    terms: list[Term] = []
    if mode == "train":
        terms += [
            Term("mean", "Batch mean", rf"\mu_{{{c}}} = \frac{{{_sum([_num(v) for v in x], max_terms)}}}{{{n}}}"
                 rf" = {_res(mean)}"),
            Term("var", "Batch variance (biased)",
                 rf"\sigma^2_{{{c}}} = \frac{{{_sum([f'{_num(v)}^2' for v in x_mu], max_terms)}}}{{{n}}}"
                 rf" = {_res(var)}"),
        ]
    else:
        terms.append(Term("mean", "Eval: the running statistics",
                          rf"\mu_{{{c}}} = \mu^{{\text{{run}}}}_{{{c}}} = {_res(mean)}, \quad "
                          rf"\sigma^2_{{{c}}} = \sigma^{{2,\text{{run}}}}_{{{c}}} = {_res(var)}"))
    terms += [
        Term("std", "Standard deviation with ε",
             rf"\sqrt{{\sigma^2_{{{c}}} + \epsilon}} = \sqrt{{{_num(var)} + {_num(eps)}}} = {_res(std)}"),
        Term("x_hat", "Normalise sample 0",
             rf"\hat{{x}}_{{0,{c}}} = \frac{{{_num(x[0])} - {_num(mean)}}}{{{_num(std)}}} = {_res(x_hat[0])}"),
        Term("out", "Scale and shift",
             rf"y_{{0,{c}}} = {_num(gamma)} \cdot {_num(x_hat[0])} + {_num(beta)} = {_res(out[0])}"),
        Term("dbeta", "∂L/∂β",
             rf"\frac{{\partial L}}{{\partial \beta_{{{c}}}}} = {_sum([_num(v) for v in dout], max_terms)}"
             rf" = {_res(dbeta)}"),
        Term("dgamma", "∂L/∂γ",
             rf"\frac{{\partial L}}{{\partial \gamma_{{{c}}}}} = "
             rf"{_sum(dgamma_pairs, max_terms)}"
             rf" = {_res(dgamma)}"),
        Term("dx_hat", "∂L/∂x̂ of sample 0",
             rf"{_d(xh0)} = {_num(dout[0])} \cdot {_num(gamma)} = {_res(dx_hat[0])}"),
    ]
    if mode == "train":
        terms += [
            Term("dvar", "∂L/∂σ²",
                 rf"\frac{{\partial L}}{{\partial \sigma^2_{{{c}}}}} = \big({_sum(dvar_pairs, max_terms)}\big)"
                 rf"\cdot\frac{{-1}}{{2}}\,({_num(var)} + {_num(eps)})^{{-3/2}} = {_res(dvar)}"),
            Term("dmean", "∂L/∂μ",
                 rf"{_d(mu_c)} = \frac{{-\big({_sum([_num(d) for d in dx_hat], max_terms)}"
                 rf"\big)}}{{{_num(std)}}} + {_num(dvar)}\cdot\frac{{"
                 rf"{_sum(dmean_parts, max_terms)}}}{{{n}}} = {_res(dmean)}"),
            Term("dx", "∂L/∂x of sample 0: three paths",
                 rf"\frac{{\partial L}}{{\partial x_{{0,{c}}}}} = \frac{{{_num(dx_hat[0])}}}{{{_num(std)}}}"
                 rf" + {_num(dvar)}\cdot\frac{{2\cdot{_num(x_mu[0])}}}{{{n}}} + \frac{{{_num(dmean)}}}{{{n}}}"
                 rf" = {_res(dx[0])}"),
            Term("dx_compact", "The compact formula for the same sample",
                 rf"\frac{{\partial L}}{{\partial x_{{0,{c}}}}} = \frac{{{_num(gamma)}}}{{{n}\cdot{_num(std)}}}"
                 rf"\big({n}\cdot{_num(dout[0])} - {_num(dbeta)} - {_num(x_hat[0])}\cdot{_num(dgamma)}\big)"
                 rf" = {_res(dx_compact[0])}"),
        ]
    else:
        terms += [
            Term("dx", "∂L/∂x of sample 0: μ and σ² are constants in eval",
                 rf"{_d(x0)} = \frac{{{_num(dx_hat[0])}}}{{{_num(std)}}} = {_res(dx[0])}"),
            Term("dx_compact", "The compact formula for the same sample",
                 rf"{_d(x0)} = {_num(dout[0])}\cdot\frac{{{_num(gamma)}}}{{{_num(std)}}}"
                 rf" = {_res(dx_compact[0])}"),
        ]
    return terms


def layernorm_terms(arrays: Mapping[str, np.ndarray], n: int, eps: float, max_terms: int = 4) -> list[Term]:
    """Sample ``n``'s layer-norm statistics with numbers, from layernorm's run() arrays."""
    N = np.asarray(arrays["x"]).shape[0]
    if not 0 <= n < N:
        raise OpInputError("n", f"must be a sample from 0 to {N - 1}, got {n}")
    x, x_mu, x_hat = (np.asarray(arrays[k])[n].reshape(-1) for k in ("x", "x_mu", "x_hat"))
    mean, var, std = (float(arrays[k][n]) for k in ("mean", "var", "std"))
    d = x.size
    return [
        Term("mean", f"Mean of sample {n}",
             rf"\mu_{{{n}}} = \frac{{{_sum([_num(v) for v in x], max_terms)}}}{{{d}}} = {_res(mean)}"),
        Term("var", f"Variance of sample {n} (biased)",
             rf"\sigma^2_{{{n}}} = \frac{{{_sum([f'{_num(v)}^2' for v in x_mu], max_terms)}}}{{{d}}} = {_res(var)}"),
        Term("x_hat", "Normalise its first feature",
             rf"\hat{{x}}_{{{n},0}} = \frac{{{_num(x[0])} - {_num(mean)}}}{{\sqrt{{{_num(var)} + {_num(eps)}}}}}"
             rf" = \frac{{{_num(x_mu[0])}}}{{{_num(std)}}} = {_res(x_hat[0])}"),
    ]


def _check_count(field: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or int(value) != value or not lo <= value <= hi:
        raise OpInputError(field, f"must be a whole number from {lo} to {hi}, got {value!r}")


# --------------------------------------------------------------------------- gradient check


def scaled_errors(analytic: Mapping[str, np.ndarray], numeric: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Per gradient: max |analytic − numeric| / max(|analytic|, |numeric|) over its checked entries.

    The error relative to the gradient's own size. Elementwise relative errors blow up where an
    entry is itself rounding-sized — batch norm's dx on a two-sample batch is of order ε — while
    this stays meaningful there. An all-zero gradient that the differences also find zero scores 0.
    """
    out = {}
    for name, a in analytic.items():
        a, n = np.asarray(a, np.float64), np.asarray(numeric[name], np.float64)
        scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(n), initial=0.0)))
        diff = float(np.max(np.abs(a - n), initial=0.0))
        out[name] = diff / scale if scale > 0 else 0.0
    return out
