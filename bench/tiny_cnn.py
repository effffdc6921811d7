"""The tiny CNN's training step: steps per second of ``engine.network.trace.train_step`` with Adam.

batch 32 of 1×8×8 → conv 1→8 3×3 pad 1 → relu → maxpool 2 → flatten → linear → 10 →
softmax-CE, float64. ``train_step`` runs the ops the labs teach (``conv2d_forward``,
``maxpool2d_backward``, ...) on their lean pass: the same functions, without the records only a
page displays (max pooling's windows, batch norm's staged intermediates, the softmax Jacobian,
the first layer's dx). References, timed interleaved: the same step in PyTorch (when it is
installed), and the record-keeping pass the app traces with (``network.forward`` +
``network.backward`` + ``optim.optimizer_step``), to show what the lean pass saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import Row, Table, ratio_row
from bench.timing import Settings, interleaved
from engine.network import trace as network
from engine.network.model import parse_model
from engine.network.params import init_params
from engine.optim import rules as optim

MODEL = {
    "input_shape": [1, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 8, "kernel": 3, "stride": 1, "pad": 1},
        {"type": "relu"},
        {"type": "maxpool2d", "size": 2, "stride": 2},
        {"type": "flatten"},
        {"type": "linear", "units": 10},
    ],
    "loss": "softmax_cross_entropy",
}
BATCH = 32
HYPER = {"lr": 1e-3}
TARGET_STEPS_PER_S = 800.0
TORCH_SPEEDUP = 2.0  # issue 12, target 6: at least 2× PyTorch's steps/s (time per step ≤ 0.5× PyTorch's)


def _batch(model: Any, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *model.input_shape)), rng.integers(0, 10, n)


def lean_step_fn(model_json: dict = MODEL, batch: int = BATCH) -> Callable[[], float]:
    """A closure that runs one more Adam step of the lean path each call (the state carries over)."""
    model = parse_model(model_json)
    x, labels = _batch(model, batch)
    st: dict[str, Any] = {"params": init_params(model, 0), "state": None, "seed": 0}

    def step() -> float:
        st["seed"] += 1
        st["params"], st["state"], loss, _ = network.train_step(
            model, st["params"], st["state"], x, labels, "adam", HYPER, seed=st["seed"])
        return loss

    return step


def traced_step_fn(model_json: dict = MODEL, batch: int = BATCH) -> Callable[[], float]:
    """The same step through the record-keeping path (every cache and step record kept)."""
    model = parse_model(model_json)
    x, labels = _batch(model, batch)
    st: dict[str, Any] = {"params": init_params(model, 0), "state": None}

    def step() -> float:
        fwd = network.forward(model, st["params"], x, labels, "train", 0)
        bwd = network.backward(fwd)
        learnable = {k: st["params"][k] for k in bwd.grads}
        state = st["state"] or optim.init_state("adam", learnable)
        new, st["state"], _ = optim.optimizer_step("adam", learnable, bwd.grads, state, HYPER)
        st["params"] = {**st["params"], **new}
        return fwd.loss

    return step


def torch_step_fn(torch: Any, model_json: dict = MODEL, batch: int = BATCH) -> Callable[[], float]:
    """The same model and step in PyTorch (float64, Adam with the same lr)."""
    model = parse_model(model_json)
    x, labels = _batch(model, batch)
    c = model.input_shape[0]
    conv = model.layers[0]
    side = model.input_shape[1] // model.layers[2].size
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(c, conv.filters, conv.kernel, stride=conv.stride, padding=conv.pad), nn.ReLU(),
        nn.MaxPool2d(model.layers[2].size, model.layers[2].stride), nn.Flatten(),
        nn.Linear(conv.filters * side * side, model.layers[4].units),
    ).double()
    opt = torch.optim.Adam(net.parameters(), lr=HYPER["lr"])
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    cross_entropy = torch.nn.functional.cross_entropy

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def run(table: Table, settings: Settings, torch: Any = None, model_json: dict = MODEL, batch: int = BATCH) -> list[Row]:
    lean = lean_step_fn(model_json, batch)
    fns: dict[str, Callable[[], object]] = {"candidate": lean, "traced path": traced_step_fn(model_json, batch)}
    if torch is not None:
        fns["torch"] = torch_step_fn(torch, model_json, batch)
    timings = interleaved(fns, settings)
    cand = timings["candidate"]
    name = f"tiny CNN train_step adam batch {batch} float64"
    rows = []
    target = Row(name, "target", cand.median, None, f">= {TARGET_STEPS_PER_S:g} steps/s",
                 "PASS" if 1.0 / cand.median >= TARGET_STEPS_PER_S else "MISS", unit="steps/s",
                 spread={"candidate": cand.spread})
    rows.append(table.add(target))
    for label in fns:
        if label == "candidate":
            continue
        limit = 1.0 / TORCH_SPEEDUP if label == "torch" else None
        row = ratio_row(name, label, cand.median, timings[label].median, limit,
                        spread={"candidate": cand.spread, "reference": timings[label].spread},
                        note="ratio = time per step (lower is better)")
        row.unit = "steps/s"
        rows.append(table.add(row))
    if torch is None:
        rows.append(table.add(Row(name, "torch", cand.median, None, "", "skip", unit="steps/s",
                                  note="torch not installed")))
    return rows
