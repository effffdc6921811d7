"""The lecture notes' slips, as data: what each note prints, the right value the engine computes, and the
example of a lab that opens it.

One list (:data:`SLIPS`) feeds both the /errata page and every lab: a lab shows, on the page, the slips of
the example it has open (:func:`slips_shown`). Nothing here is copied from the notes but their text: every
right value is computed by the engine when first asked (and kept, they never change).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

import numpy as np

from app.web.kit.link import from_query, to_query
from app.web.render.numbers import cell_text, power_text
from engine import registry
from engine.optim import runs as optim_runs

NOTES = {  # the file of each note, in ../shared/seeds/
    "001": "CNN end to end: im2col, softmax, conv backward, one Adam step",
    "002": "optimizers, batch norm, dropout, a naive conv forward",
    "003": "batch norm on a two-sample batch (slides)",
}


@dataclass(frozen=True)
class Slip:
    """One slip of the notes (or, ``kind="convention"``, a convention that differs from PyTorch's; ``"demo"``:
    a result that looks like a slip and is not)."""

    key: str  # its anchor on /errata
    notes: str  # which note: "001"
    where: str  # the section of the note
    title: str  # the slip in a few words
    printed: str  # the notes' text, as printed
    right: Callable[[], str]  # the right value, computed by the engine
    lab: str  # the lab that opens it
    preset: str | None  # ... at this example (/<lab>/preset/<preset>), or
    same: tuple[str, ...]  # the link fields that make a page "this example" (the lab shows the slip there)
    extra: Mapping[str, str] = field(default_factory=dict)  # link fields the errata's link sets besides
    kind: str = "slip"  # "slip" | "convention" | "demo"
    example: Mapping[str, str] = field(default_factory=dict)  # without a preset: the example's link fields


def _conv(x: Any, w: Any, dout: Any = None, pad: int = 0) -> dict[str, np.ndarray]:
    inputs = {"x": np.asarray(x, float), "w": np.asarray(w, float), "b": np.zeros(np.shape(w)[0])}
    if dout is not None:
        inputs["dout"] = np.asarray(dout, float)
    return registry.run_op("conv2d", inputs, {"stride": 1, "pad": pad})


def num(value: float) -> str:
    """A number in a sentence: the cells' 4 significant digits, a true minus."""
    return cell_text(float(value)).replace("-", "−")


def _rows(a: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(num(v) for v in row) + "]" for row in a) + "]"


def _adam(beta2: float, **form: Any) -> Any:
    """One Adam step of notes 001's five parameters (lr 0.01, β₁ 0.9, ε 1e−7)."""
    names = ("w1", "w2", "b0", "b1", "conv1")
    params = dict(zip(names, (0.5, 0.3, 0.2, -0.1, 0.8), strict=True))
    grads = dict(zip(names, (0.02, 0.01, 0.01, -0.03, 0.05), strict=True))
    hp = {"lr": 0.01, "beta1": 0.9, "beta2": beta2, "eps": 1e-7, **form}
    return optim_runs.run_steps("adam", params, hp, grads_seq=[grads])[0]


def _adam_moments() -> str:
    record = _adam(0.995).record
    m, v = record.slots["m"]["w2"], record.slots["v"]["w2"]
    return (f"from dw2 = 0.01: momentum_w2 = 0.1 · 0.01 = {num(m)} and velocity_w2 = 0.005 · 0.01² = "
            f"{power_text(float(v))} (−0.004 and 0.000008 would need dw2 = −0.04)")


def _edge_filter() -> str:
    x = np.arange(1, 26, dtype=float).reshape(1, 1, 5, 5)
    printed = _conv(x, [[[[1, 0, 1], [1, 0, -1], [1, 0, -1]]]])["out"][0, 0]
    fixed = _conv(x, [[[[1, 0, -1]] * 3]])["out"][0, 0]
    return (f"F as printed gives {_rows(printed)}, not all −6; every output is {num(fixed[0, 0])} "
            "with the first row [1, 0, −1], like the other two")


def _im2col_size() -> str:
    x = np.arange(1, 33, dtype=float).reshape(1, 2, 4, 4)
    a = _conv(x, np.ones((3, 2, 2, 2)))  # three filters, as in the note
    rows, cols = a["x_col"].shape
    return (f"(C·KH·KW, N·OH·OW): the 2-channel 4×4 example with three 2×2 filters has x_col {rows} × {cols} "
            f"— the filters are w_row's rows ({a['w_row'].shape[0]} × {a['w_row'].shape[1]}), not x_col's columns")


def _symbolic_k() -> np.ndarray:
    return np.array([[[[11.0, 12.0], [21.0, 22.0]]]])  # K_mn holds the number mn: the sums say which K they use


def _dx12() -> str:
    dout = np.array([[[[1000.0, 100.0], [10.0, 1.0]]]])  # dL/dω11 … dL/dω22 as 1000, 100, 10, 1
    dx = _conv(np.zeros((1, 1, 3, 3)), _symbolic_k(), dout)["dx"][0, 0]
    return (f"dL/dx12 = dL/dω11·K12 + dL/dω12·K11: with K_mn = mn and dL/dω = [[1000, 100], [10, 1]] the engine "
            f"gives dx12 = {float(dx[0, 1]):,.0f} = 1000·12 + 100·11 (as the note's own line above has it)")


def _dk_matrix() -> str:
    x = np.array([[[[11.0, 12.0, 13.0], [21.0, 22.0, 23.0], [31.0, 32.0, 33.0]]]])  # x_ij holds ij
    dw = _conv(x, np.zeros((1, 1, 2, 2)), [[[[1.0, 0.0], [0.0, 0.0]]]])["dw"][0, 0]
    return (f"[[dK11, dK12], [dK21, dK22]]: with x_ij = ij and dL/dt = [[1, 0], [0, 0]] the engine gives dK = "
            f"{_rows(dw)} — dK12 = x12 = {num(dw[0, 1])} sits top right, dK21 = x21 below it")


def _softmax_values() -> str:
    probs = registry.run_op("softmax_cross_entropy", {"logits": np.array([[3.0, -2.0, -100.0]]),
                                                      "labels": np.array([0])})["probs"][0]
    return (f"softmax([3, −2, −100]) = [{num(probs[0])}, {num(probs[1])}, "
            f"{power_text(float(probs[2]))}]: e⁻¹⁰⁰/20.22 is {power_text(float(probs[2]))}, and e⁻²/20.22 rounds to "
            f"{num(round(float(probs[1]), 4))}")


def _beta2() -> str:
    v_notes, v_paper = (float(_adam(b2).record.slots["v"]["w1"]) for b2 in (0.995, 0.999))
    return (f"Kingma & Ba and PyTorch use β₂ = 0.999: velocity_w1 after one step is {power_text(v_paper)}, "
            f"not the {power_text(v_notes)} of β₂ = 0.995 (the lab opens with the notes' 0.995, "
            "so its numbers match theirs)")


def _eps_inside() -> str:
    inside = float(_adam(0.995, eps_placement="inside", bias_correction=False).record.update["w2"])
    outside = float(_adam(0.995, eps_placement="outside", bias_correction=True).record.update["w2"])
    return (f"PyTorch and the Adam paper: lr·m̂/(√v̂ + ε), with bias correction. On notes 001's step Δw2 is "
            f"{num(outside)} that way and {num(inside)} in the notes' form (ε inside, no m̂, v̂)")


def _v_next() -> str:
    step = _adam(0.995, eps_placement="inside", bias_correction=True)
    return ("θ_{t+1} = θ_t − α·v′_{t+1}/√(E[g²]′_{t+1} + ε), with the moments just updated: with v_t (still 0 at "
            f"t = 1) the first step would not move θ; the engine's first Δw2 is {num(step.record.update['w2'])}")


def _dropout_p() -> str:
    params = {"p": 0.8, "p_means": "keep", "seed": 0, "mode": "train"}
    a = registry.run_op("dropout", {"x": np.ones((100, 100))}, params)
    kept = float(a["mask"].mean())
    return (f"its code keeps a value with probability p and divides by p (engine, p = 0.8 over 10,000 values: "
            f"{num(kept)} kept, each × {num(a['scale'])}); in PyTorch p is the probability "
            "of dropping and kept values are × 1/(1 − p)")


def _naive_pad() -> str:
    out = _conv([[[[1, 2, 4], [3, 2, 1], [5, 2, 1]]]], [[[[1, -1], [2, 1]]]])["out"][0, 0]
    empty = np.zeros((3, 3))[0:-0, 0:-0].shape
    return (f"with pad = 0 the slice pad:−pad is 0:−0, empty (shape {empty}), so the copy fails; "
            f"x_pad[:, :, pad:pad + H, pad:pad + W] works for every pad, and the engine gives {_rows(out)}")


def _two_sample() -> str:
    a = registry.run_op("batchnorm", {"x": np.array([[1.0, 10.0], [3.0, 4.0]]),
                                      "dout": np.array([[0.3, 1.0], [-1.2, 2.0]])}, {"eps": 1e-5})
    return (f"not a slip: with two samples x̂ = ±1/√(1 + ε/σ²) whatever x is, so dL/dx is of order ε — the engine's "
            f"largest |dx| on two features is {power_text(float(np.abs(a['dx']).max()))}")


# The notes' symbolic 3×3 ⊛ 2×2 (x_ij, K_mn, dL/dω_ij) with numbers that name them: x_ij = ij, K_mn = mn and
# dL/dω = 1000, 100, 10, 1, so a sum in the conv lab reads back which symbols it used.
SYMBOLIC = {"x": "1x1x3x3:11,12,13,21,22,23,31,32,33", "w": "1x1x2x2:11,12,21,22", "b": "1:0", "stride": "1",
            "pad": "0", "dout": "1x1x2x2:1000,100,10,1"}

SLIPS: tuple[Slip, ...] = (
    Slip("adam-moments", "001", "Adam, the worked example", "momentum_w2 and velocity_w2",
         "similarly, momentum_w2 = −0.004 … velocity_w2 = 0.000008", _adam_moments,
         "optim", "notes-001", ("names", "theta", "g")),
    Slip("edge-filter", "001", "Conv forward, the 5×5 input", "the 3×3 filter's first row",
         "F = [[1, 0, +1], [1, 0, −1], [1, 0, −1]]; o/p feature map = all −6", _edge_filter,
         "conv", "edge", ("x",)),
    Slip("im2col-size", "001", "im2col, the general shapes", "im2col's size", "im2col size = (channels * filter(ht) * "
         "filter(wd)), (new ht * new wd * filters)", _im2col_size, "conv", "im2col", ("x",), {"tab": "im2col"}),
    Slip("dx12-k21", "001", "Conv backward, dL/dx", "dL/dx12 paired with K21",
         "dL/dx12 = dL/dω11 * K12 + dL/dω12 * K21", _dx12, "conv", None, ("x", "w"),
         {"tab": "backward", "walk_step": "1"}, example=SYMBOLIC),
    Slip("dk-matrix", "001", "Conv backward, dL/dK as a convolution", "dK21 printed twice",
         "X ⊗ dL/dt = [[dL/dK11, dL/dK21], [dL/dK21, dL/dK22]]", _dk_matrix, "conv", None, ("x", "w"),
         {"tab": "backward", "walk": "dw", "walk_step": "1"}, example=SYMBOLIC),
    Slip("softmax-values", "001", "Softmax of [3, −2, −100]", "the printed probabilities",
         "softmax(−2) = 0.0066 … softmax(−100) = 1.88 × 10⁻⁴⁵", _softmax_values, "softmax", "notes", ("logits",)),
    Slip("beta2", "001", "Adam, the hyperparameters", "β₂ = 0.995", "β2 → Controls velocity decay (e.g., 0.995)",
         _beta2, "optim", "notes-001", ("names", "theta", "g"), kind="convention"),
    Slip("eps-inside", "002", "RMSprop and Adam", "ε inside the square root",
         "θ_{t+1} = θ_t − α/√(E[g²]_t + ε) · v_t", _eps_inside, "optim", "notes-001-form",
         ("names", "theta", "g", "opt"), kind="convention"),
    Slip("v-next", "002", "Adam, the update line", "v_t where v_{t+1} is meant",
         "v_{t+1} = β1·v_t + (1 − β1)·∇J(θ_t);  θ_{t+1} = θ_t − α/√(E[g²]_t + ε) · v_t", _v_next,
         "optim", "notes-001-form", ("names", "theta", "g", "opt")),  # shown where the notes' form is open
    Slip("dropout-p", "002", "Dropout", "p keeps, not drops", "Determine a constant p as the probability of setting "
         "each value to zero … mask = (np.random.rand(*x.shape) < p) / p", _dropout_p, "norm", "notes-002", ("x",),
         {"tab": "dropout"}),
    Slip("naive-pad", "002", "conv_forward_naive", "the naive conv with pad 0",
         "x_pad[i, j, pad: -pad, pad: -pad] = x[i, j]", _naive_pad, "conv", "notes-7-3-13-6", ("x", "w")),
    Slip("two-sample", "003", "Batch norm backward, two samples", "dL/dx ≈ 0 is right",
         "a two-sample batch: x̂ = ±1/√(1 + ε), dL/dx nearly zero", _two_sample, "norm", "two-sample", ("x",),
         kind="demo"),
)
BY_KEY = {s.key: s for s in SLIPS}
LABS = frozenset(s.lab for s in SLIPS)  # the labs that may show a slip


@cache
def right_value(key: str) -> str:
    """The slip's right value, computed by the engine (once: it never changes)."""
    return BY_KEY[key].right()


def link(slip: Slip) -> str:
    """The link that opens the slip's example in its lab: the preset (or the example's fields), with the errata's
    extra fields."""
    if slip.preset is None:
        return f"/{slip.lab}?{to_query({**slip.example, **slip.extra})}"
    return f"/{slip.lab}/preset/{slip.preset}?{urlencode({'seed': '0', **slip.extra})}"


def entries(slips: tuple[Slip, ...] = SLIPS) -> list[dict[str, Any]]:
    """What a template shows of each slip: its fields, the right value and the link."""
    return [{"slip": s, "right": right_value(s.key), "href": link(s), "notes_title": NOTES[s.notes]} for s in slips]


def slips_shown(lab: str, query: str, presets: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The slips of the example a lab page has open: those of ``lab`` whose preset's link agrees with the page's
    link ``query`` on the fields that make the example (an edited example no longer shows them)."""
    fields = from_query(query)
    shown = []
    for slip in SLIPS:
        if slip.lab != lab or (slip.preset is not None and slip.preset not in presets):
            continue
        example = slip.example if slip.preset is None else _preset_fields(lab, slip.preset, presets)
        if all(fields.get(k) == example.get(k) for k in slip.same):
            shown.append(slip)
    return entries(tuple(shown))


_PRESET_FIELDS: dict[tuple[str, str], dict[str, str]] = {}  # a preset's link fields at seed 0 (they never change)


def _preset_fields(lab: str, key: str, presets: Mapping[str, Any]) -> dict[str, str]:
    if (lab, key) not in _PRESET_FIELDS:
        _PRESET_FIELDS[(lab, key)] = from_query(presets[key].make(0).to_query())
    return _PRESET_FIELDS[(lab, key)]
