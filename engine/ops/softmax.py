"""Softmax and the mean softmax cross-entropy loss, with both routes of its gradient.

Forward, per row n of logits (N, K) with label yₙ and temperature T:
    z = logits / T;  z̃ = z − max z (stable shift);  e = exp z̃;  S = Σ e;  p = e / S;
    log p = z̃ − log S (never log of an underflowed p);  ℓₙ = −log p[n, yₙ];  L = mean ℓ.
Backward (the objective is the scalar ``loss``; dL/dloss = 1 unless ``dloss`` is given):
    fused:     dlogits = (p − onehot) / (N·T)
    Jacobian:  dprobs = −onehot / (N·p),  J = diag(p) − p·pᵀ,  dlogits = Jᵀ·dprobs / T.
Both routes give the same dlogits. Where the label's probability underflows to 0 (or so
close that 1/p overflows), dL/dp is not representable: ``dprobs`` is left at 0 in that row,
``dprobs_defined`` is 0 there, and that row of ``dlogits_via_jacobian`` is 0 instead of
the true gradient — the reason frameworks fuse softmax with cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_element
from engine.tex import tex_number


def softmax(logits: np.ndarray) -> np.ndarray:
    """Stable softmax along the last axis: subtract the max before exp."""
    logits = np.asarray(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_naive(logits: np.ndarray) -> np.ndarray:
    """The textbook formula exp(x)/Σexp(x) without the shift: overflows (inf/inf = nan) for
    large logits and underflows (0/0 = nan) for very negative ones, silently (for display)."""
    logits = np.asarray(logits)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits)
        return e / e.sum(axis=-1, keepdims=True)


def softmax_jacobian(probs: np.ndarray) -> np.ndarray:
    """dp_i/dz_j = p_i (δ_ij − p_j), i.e. diag(p) − p·pᵀ, of each row: (..., K) -> (..., K, K)."""
    probs = np.asarray(probs)
    k = probs.shape[-1]
    jac = np.multiply(probs[..., :, None], -probs[..., None, :])  # −p·pᵀ, a new C-order array
    jac.reshape(-1, k * k)[:, :: k + 1] += probs.reshape(-1, k)  # then p along each diagonal (a view)
    return jac


@dataclass(frozen=True)
class SoftmaxCECache:
    logits: np.ndarray  # (N, K) as given, copied
    labels: np.ndarray  # (N,) int64 class indices in [0, K)
    temperature: float  # T: logits are divided by it before the softmax
    scaled: np.ndarray  # (N, K) z = logits / T
    shifted: np.ndarray  # (N, K) z − max over the row (the stable shift)
    exp: np.ndarray  # (N, K) exp(shifted)
    sum_exp: np.ndarray  # (N,) Σ_k exp
    probs: np.ndarray  # (N, K) exp / sum_exp
    log_probs: np.ndarray  # (N, K) shifted − log sum_exp
    onehot: np.ndarray  # (N, K) 1 at each row's label
    nll: np.ndarray  # (N,) −log p[n, y_n], each sample's loss
    loss: np.ndarray  # 0-d: mean of nll


@dataclass(frozen=True)
class SoftmaxCEGrads:
    p_minus_y: np.ndarray  # (N, K) probs − onehot
    dlogits: np.ndarray  # (N, K) fused: dloss·(p − y)/(N·T)
    # the display-only Jacobian route: None when backward ran with jacobian=False (the lean path)
    dprobs: np.ndarray | None  # (N, K) dL/dp = −onehot/(N·p); 0 where that is not representable
    dprobs_defined: np.ndarray | None  # (N,) 1 where the row's dL/dp could be represented, else 0
    jacobian: np.ndarray | None  # (N, K, K) diag(p) − p·pᵀ per row
    dlogits_via_jacobian: np.ndarray | None  # (N, K) Jᵀ·dprobs / T per row; equals dlogits where dprobs_defined


def clean_labels(labels: Any, n: int, k: int) -> np.ndarray:
    """Labels as int64 class indices (a new array), or OpInputError naming ``inputs.labels``."""
    if (isinstance(labels, np.ndarray) and labels.dtype == np.int64 and labels.shape == (n,) and n
            and np.minimum.reduce(labels) >= 0 and np.maximum.reduce(labels) < k):
        return labels.copy()  # already class indices (a training loop's own labels): two reductions check them
    try:
        labels = np.asarray(labels)
    except ValueError:  # ragged: [[1, 2], [3]]
        raise OpInputError("inputs.labels", f"must hold one whole number per row of logits ({n}), "
                                            "got a ragged list") from None
    if labels.shape != (n,):
        raise OpInputError("inputs.labels",
                           f"must hold one label per row of logits ({n}), got shape {list(labels.shape)}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise OpInputError("inputs.labels", "must hold whole numbers (class indices)")
    elif labels.dtype.kind not in "iu":
        raise OpInputError("inputs.labels", "must hold whole numbers (class indices)")
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        i = int(bad[0])
        raise OpInputError(
            "inputs.labels",
            f"label {labels[i]:g} at position {i} is out of range: logits has {k} classes, "
            f"so a label must be between 0 and {k - 1}",
        )
    return labels.astype(np.int64)


def _mean(a: np.ndarray) -> np.ndarray:
    """``a.mean()`` bit for bit — NumPy's sum of all of ``a``, divided by the count as an intp — without its
    Python wrapper (float32 and float64; other dtypes through it)."""
    if a.dtype not in (np.float64, np.float32):
        return a.mean()
    total = np.add.reduce(a, axis=None)
    return total.dtype.type(total / np.intp(a.size))


def softmax_cross_entropy_forward(logits: np.ndarray, labels: Any,
                                  temperature: float = 1.0) -> tuple[np.ndarray, SoftmaxCECache]:
    """Mean cross-entropy of softmax(logits / T) against integer labels; the loss is 0-d."""
    if logits.ndim != 2:
        raise OpInputError("inputs.logits", f"must be (N, K), got shape {list(logits.shape)}")
    if not temperature > 0:
        raise OpInputError("params.temperature", f"must be positive, got {temperature!r}")
    n, k = logits.shape
    labels = clean_labels(labels, n, k)
    at_label = np.arange(0, n * k, k) + labels  # flat index of each row's label: faster than [rows, labels]
    if temperature >= 1:  # |logits/T| ≤ |logits|: nothing can overflow
        scaled = logits / temperature
    else:
        with np.errstate(over="ignore"):
            scaled = logits / temperature
    if not np.isfinite(scaled).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(scaled))[0])
        raise OpInputError("inputs.logits", f"logit {logits[bad]:g} at {list(bad)} divided by the temperature "
                           f"{temperature:g} overflows {logits.dtype}; use smaller logits or a higher temperature")
    # the reductions as ufunc methods: what ndarray.max / ndarray.sum call, without their Python wrappers
    shifted = scaled - np.maximum.reduce(scaled, axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = np.add.reduce(exp, axis=1)
    probs = exp / sum_exp[:, None]
    log_probs = shifted - np.log(sum_exp)[:, None]
    onehot = np.zeros(logits.shape, logits.dtype)
    onehot.put(at_label, 1)  # put and take index the array flattened in C order
    nll = -log_probs.take(at_label)
    loss = np.asarray(_mean(nll), dtype=logits.dtype)
    cache = SoftmaxCECache(
        logits=logits.copy(), labels=labels, temperature=float(temperature), scaled=scaled, shifted=shifted,
        exp=exp, sum_exp=sum_exp, probs=probs, log_probs=log_probs, onehot=onehot, nll=nll, loss=loss,
    )
    return loss, cache


def softmax_cross_entropy_backward(cache: SoftmaxCECache, dloss: float = 1.0,
                                   jacobian: bool = True) -> SoftmaxCEGrads:
    """dL/dlogits by the fused formula and, for display, through the full softmax Jacobian.

    ``jacobian=False`` (the lean path) skips the display route: ``dprobs``, ``dprobs_defined``,
    ``jacobian`` and ``dlogits_via_jacobian`` are then None.
    """
    probs, onehot, t = cache.probs, cache.onehot, cache.temperature
    n, k = probs.shape
    p_minus_y = probs - onehot
    dlogits = p_minus_y * (dloss / (n * t))
    if not jacobian:
        return SoftmaxCEGrads(p_minus_y=p_minus_y, dlogits=dlogits, dprobs=None, dprobs_defined=None,
                              jacobian=None, dlogits_via_jacobian=None)
    # dL/dp: only the label's entry of each row is nonzero; 1/p must be representable.
    rows = np.arange(n)
    p_label = probs[rows, cache.labels]
    defined = p_label >= np.finfo(probs.dtype).tiny
    dprobs = np.zeros_like(probs)
    dprobs[rows[defined], cache.labels[defined]] = -dloss / (n * p_label[defined])
    jac = softmax_jacobian(probs)
    dlogits_via_jacobian = np.matmul(dprobs[:, None, :], jac)[:, 0, :]  # Jᵀ·dprobs, row by row
    dlogits_via_jacobian /= t
    return SoftmaxCEGrads(
        p_minus_y=p_minus_y, dlogits=dlogits, dprobs=dprobs, dprobs_defined=defined.astype(probs.dtype),
        jacobian=jac, dlogits_via_jacobian=dlogits_via_jacobian,
    )


# ---------------------------------------------------------------- registry glue


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    n = shapes["logits"][0]
    if shapes["labels"] != (n,):
        raise OpInputError(
            "inputs.labels", f"has {shapes['labels'][0]} labels but logits has {n} rows: one label per row"
        )


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    return {}


EXTRAS = ("dprobs", "dprobs_defined", "jacobian", "dlogits_via_jacobian")  # the Jacobian route, display only


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    n, k = shapes["logits"]
    per_class = ("logits", "scaled", "shifted", "exp", "probs", "log_probs", "onehot", "p_minus_y", "dlogits",
                 "dprobs", "dlogits_via_jacobian")
    return {**dict.fromkeys(per_class, (n, k)), **dict.fromkeys(("labels", "sum_exp", "nll", "dprobs_defined"), (n,)),
            "loss": (), "jacobian": (n, k, k)}


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    """Forward and the fused backward; ``extras``: also the Jacobian route."""
    _, c = softmax_cross_entropy_forward(arrays["logits"], arrays["labels"], params["temperature"])
    g = softmax_cross_entropy_backward(c, jacobian=extras)
    result = {
        "logits": arrays["logits"], "labels": c.labels, "scaled": c.scaled, "shifted": c.shifted, "exp": c.exp,
        "sum_exp": c.sum_exp, "probs": c.probs, "log_probs": c.log_probs, "onehot": c.onehot, "nll": c.nll,
        "loss": c.loss, "p_minus_y": g.p_minus_y, "dlogits": g.dlogits,
    }
    if extras:
        result.update(dprobs=g.dprobs, dprobs_defined=g.dprobs_defined, jacobian=g.jacobian,
                      dlogits_via_jacobian=g.dlogits_via_jacobian)
    return result


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_run` computed (with its extras), from its arrays."""
    t = float(params["temperature"])
    return [
        Step("forward", "scale", "Divide the logits by the temperature",
             rf"z = \frac{{\text{{logits}}}}{{T}},\quad T = {tex_number(t)}",
             {"logits": a["logits"], "scaled": a["scaled"]}),
        Step("forward", "shift", "Subtract each row's maximum (same softmax, no overflow)",
             r"\tilde z_{n,k} = z_{n,k} - \max_j z_{n,j}", {"scaled": a["scaled"], "shifted": a["shifted"]}),
        Step("forward", "exp", "Exponentiate and sum each row",
             r"e_{n,k} = \exp(\tilde z_{n,k}),\quad S_n = \sum_k e_{n,k}",
             {"shifted": a["shifted"], "exp": a["exp"], "sum_exp": a["sum_exp"]}),
        Step("forward", "normalise", "Normalise each row into probabilities",
             r"p_{n,k} = \frac{e_{n,k}}{S_n}", {"exp": a["exp"], "sum_exp": a["sum_exp"], "probs": a["probs"]}),
        Step("forward", "log", "Log-probabilities, computed without taking log of p",
             r"\log p_{n,k} = \tilde z_{n,k} - \log S_n",
             {"shifted": a["shifted"], "sum_exp": a["sum_exp"], "log_probs": a["log_probs"]}),
        Step("forward", "nll", "Each sample's loss: minus the log-probability of its label",
             r"\ell_n = -\log p_{n,y_n} = -\sum_k y_{n,k} \log p_{n,k}",
             {"labels": a["labels"], "onehot": a["onehot"], "log_probs": a["log_probs"], "nll": a["nll"]}),
        Step("forward", "mean", "Average over the batch", r"L = \frac{1}{N} \sum_{n} \ell_n",
             {"nll": a["nll"], "loss": a["loss"]}),
        Step("backward", "p_minus_y", "Fused softmax + cross-entropy gradient: probabilities minus one-hot",
             r"p - y", {"probs": a["probs"], "onehot": a["onehot"], "p_minus_y": a["p_minus_y"]}),
        Step("backward", "divide", "Divide by the batch size (the mean) and the temperature",
             r"\frac{\partial L}{\partial \text{logits}} = \frac{p - y}{N\,T}",
             {"p_minus_y": a["p_minus_y"], "dlogits": a["dlogits"]}),
        Step("backward", "dprobs", "The long way: gradient with respect to the probabilities",
             r"\frac{\partial L}{\partial p_{n,k}} = -\frac{y_{n,k}}{N\,p_{n,k}}",
             {"probs": a["probs"], "onehot": a["onehot"], "dprobs": a["dprobs"],
              "dprobs_defined": a["dprobs_defined"]}),
        Step("backward", "jacobian", "The softmax Jacobian of each row",
             r"J_n = \operatorname{diag}(p_n) - p_n p_n^{\top},\quad"
             r" \frac{\partial p_{n,i}}{\partial z_{n,j}} = p_{n,i}(\delta_{ij} - p_{n,j})",
             {"probs": a["probs"], "jacobian": a["jacobian"]}),
        Step("backward", "via_jacobian", "Chain through the Jacobian: the same gradient as the fused route",
             r"\frac{\partial L}{\partial \text{logits}_n} = \frac{1}{T}\, J_n^{\top} \frac{\partial L}{\partial p_n}",
             {"jacobian": a["jacobian"], "dprobs": a["dprobs"], "dlogits_via_jacobian": a["dlogits_via_jacobian"],
              "dlogits": a["dlogits"]}),
    ]


def _provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _run(arrays, params)
    check_element(result, "softmax_cross_entropy", name, index)
    n_rows, k_count = result["logits"].shape
    labels = result["labels"]

    def row(n: int) -> list[Index]:
        return [(n, k) for k in range(k_count)]

    if name == "scaled":
        return {"logits": [index]}
    if name == "shifted":
        return {"scaled": row(index[0]), "logits": row(index[0])}
    if name == "exp":
        return {"shifted": [index], "logits": row(index[0])}
    if name == "sum_exp":
        return {"exp": row(index[0]), "logits": row(index[0])}
    if name == "probs":
        n = index[0]
        return {"exp": [index], "sum_exp": [(n,)], "logits": row(n)}
    if name == "log_probs":
        n = index[0]
        return {"shifted": [index], "sum_exp": [(n,)], "logits": row(n)}
    if name == "onehot":
        return {"labels": [(index[0],)]}
    if name == "nll":
        n = index[0]
        return {"log_probs": [(n, int(labels[n]))], "labels": [(n,)]}
    if name == "loss":
        return {"nll": [(n,) for n in range(n_rows)]}
    if name in ("p_minus_y", "dlogits"):
        n = index[0]
        return {"probs": [index], "onehot": [index], "labels": [(n,)]}
    if name == "dprobs":
        return {"probs": [index], "onehot": [index], "labels": [(index[0],)]}
    if name == "dprobs_defined":
        n = index[0]
        return {"probs": [(n, int(labels[n]))], "labels": [(n,)]}
    if name == "jacobian":
        n, i, j = index
        return {"probs": sorted({(n, i), (n, j)})}
    if name == "dlogits_via_jacobian":
        n, k = index
        return {"jacobian": [(n, i, k) for i in range(k_count)], "dprobs": row(n)}
    return {}  # logits and labels are inputs


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    n, k = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    logits = np.round(rng.normal(size=(n, k)) * 2, 2)
    labels = rng.integers(0, k, size=n)
    return {"logits": logits.tolist(), "labels": labels.tolist()}, {"temperature": 1.0}


SPECS = (
    OpSpec(
        name="softmax_cross_entropy",
        title="Softmax cross-entropy loss",
        inputs=(
            Input("logits", (2,), doc="scores (N, K): one row per sample, one column per class"),
            Input("labels", (1,), grad=False, integer=True, doc="the true class of each sample (N,), in 0..K−1"),
        ),
        params=(
            Param("temperature", float, 1.0, 0.05, 20.0,
                  doc="T: softmax(logits / T); the gradient with respect to the logits carries the 1/T"),
        ),
        arrays=("logits", "labels", "scaled", "shifted", "exp", "sum_exp", "probs", "log_probs", "onehot", "nll",
                "loss", "p_minus_y", "dlogits", "dprobs", "dprobs_defined", "jacobian", "dlogits_via_jacobian"),
        run=_run,
        check=_check,
        defaults=_defaults,
        objective="loss",
        steps=_steps,
        provenance=_provenance,
        example=_example,
        extras=EXTRAS,
        shapes=_shapes,
    ),
)
