"""The network lab's engine side: builder shapes, seeded training runs, replay, and what a run reports.

Everything the network page shows is computed here or in the modules this one calls
(:mod:`engine.network.trace`, :mod:`engine.optim.rules`, :mod:`engine.data.digits`):

- :func:`parse_structure` / :func:`shape_report`: a model as the builder edits it. Settings are
  validated strictly (an OpInputError names the field), but a stack whose shapes do not work
  is still a model: :func:`shape_report` answers every layer's shapes up to the one that
  breaks, and that layer's error.
- :class:`RunSpec`: a training run, fully determined by its fields (model, data, seed,
  optimizer, batch size, typed initial parameters). Step ``t`` (0-based) trains on
  :func:`step_batch` with dropout seed :func:`step_seed`, so any step of any run can be
  recomputed from the seed: :func:`replay` (optionally from a checkpoint) gives the same
  parameters bit for bit.
- :func:`run_steps`: the lean path (:func:`engine.network.trace.train_step`) over a range of
  steps, reporting the loss, each layer's gradient norm and update/weight ratio, and
  stopping at the first non-finite loss or parameter; :func:`diagnose` then re-runs that step
  through the traced path to say where the first non-finite number appeared.
- :func:`evaluate` (loss and accuracy in eval mode, on the lean path: :func:`engine.network.trace.eval_logits`),
  :func:`snapshot` (filters and feature maps), :func:`step_trace` (one step's trace plus the
  update from the run's optimizer state), :func:`check_gradients` (the whole-network numeric
  check, floored at the rounding noise of each central difference), :func:`gradient_history`
  (one parameter's gradients over the first steps, for the optimizer lab).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from engine.data import digits
from engine.gradcheck import GradCheck
from engine.network import trace as network
from engine.network.divergence import Divergence, divergence
from engine.network.model import (
    MAX_BATCH,
    LayerInfo,
    Model,
    _infer,
    backward_order,
    check_int,
    error_path,
    forward_order,
    infer_shapes,
    iter_layers,
    layer_groups,
    num_classes,
    parse_structure,
)
from engine.network.params import check_params, check_seed, complete_params
from engine.ops import softmax, svm
from engine.optim import rules as optim
from engine.records import OpInputError, Step

DATA_SOURCES = ("digits", "typed")
DIGITS_SPLIT_SEED = 0  # the lab's one train/test split (stratified, 80/20)
EVAL_SAMPLE = 359  # training images scored for "train accuracy": a fixed sample the size of the test set


# --- the builder's model --------------------------------------------------------------------


@dataclass(frozen=True)
class ShapeReport:
    infos: dict[str, LayerInfo]  # by path, for every layer whose shapes are known (pre-order)
    error: OpInputError | None  # the first thing that breaks the stack (field names the layer), or None
    total_params: int  # learnable numbers of the layers that fit

    @property
    def ok(self) -> bool:
        return self.error is None


def shape_report(model: Model) -> ShapeReport:
    """Every layer's shapes and parameter count up to the layer that breaks the stack."""
    try:
        infos = infer_shapes(model)
        return ShapeReport({i.path: i for i in infos}, None, sum(i.param_count for i in infos))
    except OpInputError as err:
        partial: list[LayerInfo] = []
        try:
            _infer(model.layers, tuple(model.input_shape), "", "model.layers", None, partial, [0])
        except OpInputError:
            pass
        known = {i.path: i for i in partial if i is not None}
        return ShapeReport(known, err, sum(i.param_count for i in known.values()))


# --- runs -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RunSpec:
    """A training run: everything that fixes its numbers."""

    model: Model
    optimizer: str
    hyperparams: tuple[tuple[str, Any], ...]  # cleaned, every hyperparameter, sorted by name
    seed: int  # initial parameters (where not typed), batch order, dropout masks
    data: str = "digits"  # "digits": batches of the training split; "typed": x and labels every step
    batch: int = 32  # digits batch size
    x: np.ndarray | None = None  # typed data (N, *input_shape)
    labels: np.ndarray | None = None  # typed labels (N,)
    init: tuple[tuple[str, np.ndarray], ...] = ()  # typed initial parameters (the rest from the seed)

    @cached_property
    def key(self) -> tuple:
        """A hashable fingerprint of every field (arrays by value)."""
        def arr(a: np.ndarray | None) -> Any:
            return None if a is None else (a.shape, str(a.dtype), a.tobytes())

        return (self.model, self.optimizer, self.hyperparams, self.seed, self.data, self.batch, arr(self.x),
                arr(self.labels), tuple((k, arr(v)) for k, v in self.init))

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self.hyperparams)


def make_spec(model: Model, optimizer: str, hyperparams: dict[str, Any] | None, seed: int, data: str = "digits",
              batch: int = 32, x: Any = None, labels: Any = None,
              init: dict[str, Any] | None = None) -> RunSpec:
    """A validated :class:`RunSpec` (the model's shapes must work)."""
    infer_shapes(model)
    if optimizer not in optim.OPTIMIZERS:
        raise OpInputError("optimizer", f"unknown optimizer {optimizer!r}; known: {', '.join(optim.OPTIMIZERS)}")
    hp = optim.clean_hyperparams(optimizer, hyperparams)
    seed = check_seed(seed)
    if data not in DATA_SOURCES:
        raise OpInputError("data", f"must be one of {', '.join(DATA_SOURCES)}; got {data!r}")
    if data == "digits":
        if tuple(model.input_shape) != (1, digits.SIDE, digits.SIDE):
            raise OpInputError("model.input_shape", f"the digits are 1×8×8 images; this model takes "
                                                    f"{'×'.join(map(str, model.input_shape))}")
        if num_classes(model) < digits.CLASSES:
            raise OpInputError("model.loss", f"the digits have {digits.CLASSES} classes; this model outputs "
                                             f"{num_classes(model)}: make the last layer linear with 10 units")
        n_train = digits.split(DIGITS_SPLIT_SEED).x_train.shape[0]
        batch = check_int("batch", batch, 1, min(MAX_BATCH, n_train))
        x_arr = labels_arr = None
    else:
        if x is None or labels is None:
            raise OpInputError("x", "typed data needs x and labels")
        x_arr, labels_arr = network.check_batch(model, x, labels)
        x_arr = np.array(x_arr, np.float64)
        x_arr.setflags(write=False)
        labels_arr = labels_arr.copy()
        labels_arr.setflags(write=False)
        batch = x_arr.shape[0]
    given = complete_params(model, init or {}, seed) if init else {}
    typed = tuple((k, np.array(given[k], np.float64)) for k in (init or {}))
    for _, a in typed:
        a.setflags(write=False)
    return RunSpec(model, optimizer, tuple(sorted(hp.items())), seed, data, batch, x_arr, labels_arr, typed)


def initial_params(spec: RunSpec) -> dict[str, np.ndarray]:
    """Parameters and buffers before step 0: typed ones as given, the rest from the seed."""
    return complete_params(spec.model, dict(spec.init), spec.seed)


def step_seed(seed: int, t: int) -> int:
    """The dropout seed of step ``t`` (0-based) of a run with ``seed``: fresh masks every step."""
    return int(np.random.SeedSequence([seed, 0xD7, t]).generate_state(1)[0]) & 0x7FFFFFFF


def step_batch(spec: RunSpec, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, labels) that step ``t`` (0-based) trains on."""
    if spec.data == "typed":
        return spec.x, spec.labels
    s = digits.split(DIGITS_SPLIT_SEED)
    pos = digits.batch_positions(s.x_train.shape[0], spec.batch, spec.seed, t)
    return s.x_train[pos], s.y_train[pos]


def batch_indices(spec: RunSpec, t: int) -> np.ndarray | None:
    """Which of the 1,797 digits step ``t`` trains on (None for typed data)."""
    if spec.data == "typed":
        return None
    s = digits.split(DIGITS_SPLIT_SEED)
    return s.train_index[digits.batch_positions(s.x_train.shape[0], spec.batch, spec.seed, t)]


@dataclass(frozen=True)
class Checkpoint:
    t: int  # steps done
    params: dict[str, np.ndarray]  # parameters and buffers after t steps
    state: optim.OptimizerState | None  # optimizer state after t steps (None before the first)


def start(spec: RunSpec) -> Checkpoint:
    return Checkpoint(0, initial_params(spec), None)


@dataclass
class Report:
    """What steps t0 .. t0+n−1 reported (lists in step order)."""

    steps: list[int] = field(default_factory=list)  # 1-based: the number of steps done after each
    loss: list[float] = field(default_factory=list)
    grad_norm: dict[str, list[float]] = field(default_factory=dict)  # layer path -> ‖∇θ‖ per step
    update_ratio: dict[str, list[float]] = field(default_factory=dict)  # layer path -> ‖Δθ‖/‖θ‖ per step
    divergence: Divergence | None = None


def _norm(arrays: Sequence[np.ndarray]) -> float:
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


def run_steps(spec: RunSpec, at: Checkpoint, n: int, report: bool = True) -> tuple[Checkpoint, Report]:
    """Steps at.t … at.t+n−1 on the lean path; stops early (and diagnoses) at the first non-finite value.

    The returned checkpoint is the last finite one (before the step that diverged, if any).
    """
    groups = layer_groups(spec.model) if report else {}
    rep = Report(grad_norm={p: [] for p in groups}, update_ratio={p: [] for p in groups})
    # checked once: every step's output is checked finite below, and the batches are the run's own
    params, state = check_params(spec.model, at.params), at.state
    hp = optim.clean_hyperparams(spec.optimizer, spec.hp)
    t = at.t
    for t in range(at.t, at.t + n):
        x, labels = network.check_batch(spec.model, *step_batch(spec, t))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            new, new_state, loss, grads = network.lean_train_step(spec.model, params, state, x, labels,
                                                                  spec.optimizer, hp, step_seed(spec.seed, t))
        finite = math.isfinite(loss) and all(np.isfinite(v).all() for v in new.values())
        if not finite:
            rep.divergence = diagnose(spec, Checkpoint(t, params, state))
            return Checkpoint(t, params, state), rep
        if report:
            rep.steps.append(t + 1)
            rep.loss.append(loss)
            for path, names in groups.items():
                rep.grad_norm[path].append(_norm([grads[k] for k in names]))
                before = _norm([params[k] for k in names])
                change = _norm([new[k] - params[k] for k in names])
                rep.update_ratio[path].append(change / before if before > 0 else math.inf if change else 0.0)
        params, state = new, new_state
    return Checkpoint(at.t + n, params, state), rep


def replay(spec: RunSpec, t: int, start_from: Checkpoint | None = None) -> Checkpoint:
    """The run's parameters and optimizer state after ``t`` steps, recomputed from the seed
    (or from ``start_from``, a checkpoint of the same run at or before ``t``).

    Raises OpInputError("step", ...) if the run diverges before step ``t``.
    """
    at = start_from if start_from is not None and start_from.t <= t else start(spec)
    out, rep = run_steps(spec, at, t - at.t, report=False)
    if rep.divergence is not None:
        d = rep.divergence
        raise OpInputError("step", f"training diverges before step {t}: {d.message}")
    return out


def gradient_history(spec: RunSpec, steps: int, name: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(the first ``count`` entries of parameter ``name`` before step 0, their gradients at steps 0 … steps−1),
    replayed on the lean path: what an optimizer needs to redo this parameter's updates from zero state."""
    at = start(spec)
    theta0 = np.asarray(at.params[name]).ravel()[:count].copy()
    rows = []
    params, state = at.params, at.state
    for t in range(steps):
        x, labels = step_batch(spec, t)
        params, state, _, grads = network.train_step(spec.model, params, state, x, labels, spec.optimizer, spec.hp,
                                             seed=step_seed(spec.seed, t))
        rows.append(np.asarray(grads[name]).ravel()[:count].copy())
    return theta0, np.array(rows)


def diagnose(spec: RunSpec, at: Checkpoint) -> Divergence:
    """Re-run step ``at.t`` of the run through the traced path and name the first non-finite number."""
    x, labels = step_batch(spec, at.t)
    return divergence(spec.model, spec.optimizer, spec.hp, at.params, at.state, x, labels,
                      step_seed(spec.seed, at.t), at.t)


# --- evaluation and snapshots ---------------------------------------------------------------


def evaluate(model: Model, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean data loss, accuracy) in eval mode (running statistics, no dropout), in chunks of the batch limit."""
    total_loss, correct = 0.0, 0
    for lo in range(0, x.shape[0], MAX_BATCH):
        xs, ys = x[lo:lo + MAX_BATCH], labels[lo:lo + MAX_BATCH]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            logits = network.eval_logits(model, params, xs)
            if model.loss == "svm_loss":
                loss, _ = svm.svm_loss_forward(logits, ys)
            else:
                loss, _ = softmax.softmax_cross_entropy_forward(logits, ys)
        total_loss += float(loss) * xs.shape[0]
        correct += int(np.sum(np.argmax(logits, axis=1) == ys))
    return total_loss / x.shape[0], correct / x.shape[0]


def predict(model: Model, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Class probabilities (N, K) in eval mode."""
    labels = np.zeros(x.shape[0], np.int64)
    return network.forward(model, params, x, labels, "eval", 0).probs


@dataclass(frozen=True)
class Scores:
    t: int  # steps done
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float


def score(spec: RunSpec, at: Checkpoint) -> Scores:
    """Loss and accuracy on a fixed sample of training images and on the test split (digits),
    or on the typed batch (typed data: the same numbers in both)."""
    if spec.data == "typed":
        loss, acc = evaluate(spec.model, at.params, spec.x, spec.labels)
        return Scores(at.t, loss, acc, loss, acc)
    s = digits.split(DIGITS_SPLIT_SEED)
    train = evaluate(spec.model, at.params, s.x_train[:EVAL_SAMPLE], s.y_train[:EVAL_SAMPLE])
    test = evaluate(spec.model, at.params, s.x_test, s.y_test)
    return Scores(at.t, *train, *test)


@dataclass(frozen=True)
class Snapshot:
    conv_path: str | None  # the first conv layer, whose filters and maps are shown
    filters: np.ndarray | None  # (F', KH, KW): its first filters, input channel 0
    maps_path: str | None  # the layer whose output is shown (the relu after the conv, if any)
    maps: np.ndarray | None  # (F', H, W): those channels for one image
    image: np.ndarray  # the input image (C, H, W)


MAX_SHOWN_FILTERS = 6


def snapshot(model: Model, params: dict[str, np.ndarray], image: np.ndarray) -> Snapshot:
    """The first conv layer's filters and its feature maps (after its ReLU) for one image, eval mode."""
    conv_path = next((p for p, _, layer in iter_layers(model.layers) if layer.type == "conv2d"), None)
    if conv_path is None:
        return Snapshot(None, None, None, None, image)
    fwd = network.forward(model, params, image[None], np.zeros(1, np.int64), "eval", 0)
    order = [p for p, _, _ in iter_layers(model.layers)]
    maps_path = conv_path
    nxt = order.index(conv_path) + 1
    if nxt < len(order) and fwd.layers[order[nxt]].type in ("relu", "batchnorm"):
        maps_path = order[nxt]
        if fwd.layers[maps_path].type == "batchnorm" and nxt + 1 < len(order) and \
                fwd.layers[order[nxt + 1]].type == "relu":
            maps_path = order[nxt + 1]
    w = params[f"{conv_path}.w"]
    return Snapshot(conv_path, w[:MAX_SHOWN_FILTERS, 0].copy(), maps_path,
                    fwd.layers[maps_path].out[0, :MAX_SHOWN_FILTERS].copy(), image)


# --- the whole-network gradient check ------------------------------------------------------

def check_gradients(model: Model, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray, seed: int,
                    sample: int, check_x: bool, h: float = 1e-6) -> GradCheck:
    """:func:`engine.network.trace.numeric_check_network` on every learnable parameter (and x if ``check_x``),
    ``sample`` entries of each, scored by :func:`engine.gradcheck.gradient_error`.

    A difference quotient of the loss with h = 1e−6 carries ~1e−9 of rounding noise; the score's
    floor is that noise (estimated from the loss values themselves), so a gradient that is zero in
    exact arithmetic — a conv bias followed by batch norm, which removes it — is not failed by it,
    while a backward that is off by more than the noise still is.
    """
    names = tuple(name for group in layer_groups(model).values() for name in group)
    return network.numeric_check_network(model, params, x, labels, seed=seed, h=h, max_per_input=sample,
                                         wrt=names + (("x",) if check_x else ()))


# --- one step, traced -----------------------------------------------------------------------


@dataclass(frozen=True)
class StepTrace:
    t: int  # steps done before this one (this is step t + 1)
    x: np.ndarray
    labels: np.ndarray
    trace: dict[str, Any]  # engine.network.trace's answer (update None: see below)
    update: optim.StepRecord | None  # this step's update from the run's optimizer state
    params: dict[str, np.ndarray]  # learnable parameters before the update
    new_params: dict[str, np.ndarray]  # learnable parameters after the update
    state: optim.OptimizerState | None  # the optimizer state before the update
    update_steps: list[Step]  # optim.optimizer_steps: each sub-step with its formula


def step_trace(spec: RunSpec, at: Checkpoint, x: np.ndarray | None = None, labels: np.ndarray | None = None
               ) -> StepTrace:
    """Step ``at.t + 1`` traced: every layer's arrays, the loss, and the update the run's optimizer
    (with the state it has after ``at.t`` steps) makes. ``x``/``labels`` replace the step's batch."""
    if x is None:
        x, labels = step_batch(spec, at.t)
    tr = network.trace(spec.model, at.params, x, labels, "train", None, step_seed(spec.seed, at.t))
    grads = tr["grads"]
    if not grads:
        return StepTrace(at.t, x, labels, tr, None, {}, {}, at.state, [])
    learnable = {k: at.params[k] for k in grads}
    state = at.state if at.state is not None else optim.init_state(spec.optimizer, learnable)
    new, _, rec = optim.optimizer_step(spec.optimizer, learnable, grads, state, spec.hp)
    steps = optim.optimizer_steps(spec.optimizer, learnable, grads, state, spec.hp)
    return StepTrace(at.t, np.asarray(x), np.asarray(labels), tr, rec, learnable, new, state, steps)


__all__ = [
    "Checkpoint", "DATA_SOURCES", "Divergence", "Report", "RunSpec", "Scores", "ShapeReport", "Snapshot",
    "StepTrace", "backward_order", "batch_indices", "check_gradients", "diagnose", "error_path",
    "evaluate", "forward_order", "gradient_history", "initial_params", "layer_groups", "make_spec",
    "parse_structure", "predict", "replay", "run_steps", "score", "shape_report", "snapshot", "start", "step_batch",
    "step_seed", "step_trace",
]
