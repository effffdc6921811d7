"""engine.optim.rules: every optimizer against recurrences written out by hand, state, purity, dtype,
validation, PyTorch (when importable), step records. (Loss surfaces and trajectories: test_surfaces.py.)"""

import copy
import math

import numpy as np
import pytest

from engine.optim.rules import (
    OPTIMIZERS,
    SLOTS,
    OptimizerState,
    clean_hyperparams,
    init_state,
    optimizer_step,
    optimizer_steps,
    run_optimizer,
)
from tests.engine.conftest import raises_field

P0 = {"w": [[0.5, -1.2, 0.3], [2.0, -0.7, 0.05]], "b": [0.1, -0.4]}
N_STEPS = 6


def grads_seq(n=N_STEPS, seed=1):
    rng = np.random.default_rng(seed)
    seq = [{"w": rng.normal(size=(2, 3)).tolist(), "b": rng.normal(size=2).tolist()} for _ in range(n)]
    seq[0]["b"][1] = 0.0  # a zero gradient on the first step: ε alone keeps Adam/RMSprop finite
    return seq


def flat(value):
    return [float(x) for x in np.ravel(value)]


# ---------------------------------------------------------------- hand recurrences (scalar math only)


def ref_sgd(p0, gs, lr):
    p = {k: flat(v) for k, v in p0.items()}
    out = []
    for g in gs:
        p = {k: [pi - lr * gi for pi, gi in zip(p[k], flat(g[k]), strict=True)] for k in p}
        out.append({"params": p, "state": {}})
    return out


def ref_momentum(p0, gs, lr, mu, form):
    p = {k: flat(v) for k, v in p0.items()}
    v = {k: [0.0] * len(x) for k, x in p.items()}
    out = []
    for g in gs:
        for k in p:
            for i, gi in enumerate(flat(g[k])):
                if form == "pytorch":
                    v[k][i] = mu * v[k][i] + gi
                else:
                    v[k][i] = mu * v[k][i] + (1 - mu) * gi
                p[k][i] = p[k][i] - lr * v[k][i]
        out.append({"params": copy.deepcopy(p), "state": {"v": copy.deepcopy(v)}})
    return out


def ref_rmsprop(p0, gs, lr, alpha, eps):
    p = {k: flat(v) for k, v in p0.items()}
    s = {k: [0.0] * len(x) for k, x in p.items()}
    out = []
    for g in gs:
        for k in p:
            for i, gi in enumerate(flat(g[k])):
                s[k][i] = alpha * s[k][i] + (1 - alpha) * gi * gi
                p[k][i] = p[k][i] - lr * gi / (math.sqrt(s[k][i]) + eps)
        out.append({"params": copy.deepcopy(p), "state": {"s": copy.deepcopy(s)}})
    return out


def ref_adam(p0, gs, lr, beta1, beta2, eps, inside, bias_correction, weight_decay, decoupled):
    p = {k: flat(v) for k, v in p0.items()}
    m = {k: [0.0] * len(x) for k, x in p.items()}
    v = {k: [0.0] * len(x) for k, x in p.items()}
    out = []
    for t, g in enumerate(gs, start=1):
        m_hat = {k: [0.0] * len(x) for k, x in p.items()}
        v_hat = {k: [0.0] * len(x) for k, x in p.items()}
        for k in p:
            for i, gi in enumerate(flat(g[k])):
                if weight_decay and not decoupled:
                    gi = gi + weight_decay * p[k][i]  # Adam's L2 term: the moments see g + λθ
                m[k][i] = beta1 * m[k][i] + (1 - beta1) * gi
                v[k][i] = beta2 * v[k][i] + (1 - beta2) * gi * gi
                mh = m[k][i] / (1 - beta1**t) if bias_correction else m[k][i]
                vh = v[k][i] / (1 - beta2**t) if bias_correction else v[k][i]
                denom = math.sqrt(vh + eps) if inside else math.sqrt(vh) + eps
                base = p[k][i] * (1 - lr * weight_decay) if decoupled else p[k][i]
                p[k][i] = base - lr * mh / denom
                m_hat[k][i], v_hat[k][i] = mh, vh
        out.append({"params": copy.deepcopy(p),
                    "state": {"m": copy.deepcopy(m), "v": copy.deepcopy(v), "m_hat": m_hat, "v_hat": v_hat}})
    return out


ADAM_DEFAULT = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, inside=False, bias_correction=True, weight_decay=0.0)

CASES = [
    ("sgd", {"lr": 0.1}, lambda gs: ref_sgd(P0, gs, 0.1)),
    ("momentum", {"lr": 0.05, "momentum": 0.9},
     lambda gs: ref_momentum(P0, gs, 0.05, 0.9, "pytorch")),
    ("momentum", {"lr": 0.1, "momentum": 0.8, "form": "ema"},
     lambda gs: ref_momentum(P0, gs, 0.1, 0.8, "ema")),
    ("rmsprop", {}, lambda gs: ref_rmsprop(P0, gs, 0.01, 0.99, 1e-8)),
    ("rmsprop", {"lr": 0.03, "alpha": 0.9, "eps": 1e-4}, lambda gs: ref_rmsprop(P0, gs, 0.03, 0.9, 1e-4)),
    ("adam", {}, lambda gs: ref_adam(P0, gs, **ADAM_DEFAULT, decoupled=False)),
    ("adam", {"lr": 0.05, "eps_placement": "inside", "eps": 1e-4},
     lambda gs: ref_adam(P0, gs, **{**ADAM_DEFAULT, "lr": 0.05, "inside": True, "eps": 1e-4}, decoupled=False)),
    ("adam", {"lr": 0.05, "bias_correction": False},
     lambda gs: ref_adam(P0, gs, **{**ADAM_DEFAULT, "lr": 0.05, "bias_correction": False}, decoupled=False)),
    ("adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "eps_placement": "inside",
              "bias_correction": False},
     lambda gs: ref_adam(P0, gs, lr=0.01, beta1=0.8, beta2=0.95, eps=1e-3, inside=True, bias_correction=False,
                         weight_decay=0.0, decoupled=False)),
    ("adam", {"lr": 0.02, "weight_decay": 0.3},
     lambda gs: ref_adam(P0, gs, **{**ADAM_DEFAULT, "lr": 0.02, "weight_decay": 0.3}, decoupled=False)),
    ("adamw", {}, lambda gs: ref_adam(P0, gs, **{**ADAM_DEFAULT, "weight_decay": 0.01}, decoupled=True)),
    ("adamw", {"lr": 0.1, "weight_decay": 0.5, "eps_placement": "inside", "bias_correction": False},
     lambda gs: ref_adam(P0, gs, **{**ADAM_DEFAULT, "lr": 0.1, "weight_decay": 0.5, "inside": True,
                                    "bias_correction": False}, decoupled=True)),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in hp.items()) or 'defaults'}" for name, hp, _ in CASES]


@pytest.mark.parametrize(("name", "hp", "reference"), CASES, ids=CASE_IDS)
def test_matches_hand_recurrence(name, hp, reference):
    gs = grads_seq()
    ours = run_optimizer(name, P0, gs, hp)
    want = reference(gs)
    assert [s["t"] for s in ours] == list(range(1, N_STEPS + 1))
    for step, ref in zip(ours, want, strict=True):
        t = step["t"]
        assert set(step["state"]) == set(ref["state"]), f"{name} t={t}: state keys"
        for k in P0:
            np.testing.assert_allclose(np.ravel(step["params"][k]), ref["params"][k], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{name} {hp} t={t} params.{k}")
            for slot, values in ref["state"].items():
                np.testing.assert_allclose(np.ravel(step["state"][slot][k]), values[k], rtol=1e-12, atol=1e-18,
                                           err_msg=f"{name} {hp} t={t} state.{slot}.{k}")


@pytest.mark.parametrize(("name", "hp", "reference"), CASES, ids=CASE_IDS)
def test_update_and_effective_step_explain_the_change(name, hp, reference):
    """update = new − old, and (without weight decay) −effective_step × the quantity stepped along."""
    gs = grads_seq()
    params = {k: np.array(v) for k, v in P0.items()}
    state = init_state(name, params)
    for g in gs:
        new, state, rec = optimizer_step(name, params, g, state, hp)
        for k in params:
            np.testing.assert_allclose(rec.update[k], new[k] - params[k], rtol=0, atol=0)
            along = {"sgd": rec.g, "momentum": rec.slots.get("v"), "rmsprop": rec.g}.get(name, rec.m_hat)
            if name == "adamw":
                full = clean_hyperparams(name, hp)
                np.testing.assert_allclose(new[k], rec.p_decayed[k] - rec.effective_step[k] * along[k], rtol=1e-12)
                np.testing.assert_allclose(rec.p_decayed[k], params[k] * (1 - full["lr"] * full["weight_decay"]))
            elif not rec.g_wd:
                np.testing.assert_allclose(rec.update[k], -rec.effective_step[k] * along[k], rtol=1e-9, atol=1e-15)
        params = new


def test_state_starts_at_zero_and_t_at_one():
    params = {k: np.array(v) for k, v in P0.items()}
    for name in OPTIMIZERS:
        state = init_state(name, params)
        assert state.t == 0
        assert tuple(state.slots) == SLOTS[name]
        for slot in state.slots.values():
            assert set(slot) == set(params)
            for k, arr in slot.items():
                assert arr.shape == params[k].shape and not np.any(arr)
        _, new_state, rec = optimizer_step(name, params, grads_seq()[0], state, {})
        assert rec.t == 1 and new_state.t == 1, name
    assert SLOTS == {"sgd": (), "momentum": ("v",), "rmsprop": ("s",), "adam": ("m", "v"), "adamw": ("m", "v")}


def test_first_adam_step_closed_form():
    """At t = 1 the bias-corrected moments are exactly g and g²: the step is lr·g/(|g| + ε) (≈ lr·sign g)."""
    g = [0.02, -3.0, 1e-9, 0.0]
    p = [1.0, 1.0, 1.0, 1.0]
    lr, eps = 0.1, 1e-8
    step = run_optimizer("adam", {"p": p}, [{"p": g}], {"lr": lr, "eps": eps})[0]
    np.testing.assert_allclose(step["state"]["m_hat"]["p"], g, rtol=1e-12)
    np.testing.assert_allclose(step["state"]["v_hat"]["p"], [x * x for x in g], rtol=1e-12)
    want = [1.0 - lr * gi / (abs(gi) + eps) for gi in g]
    np.testing.assert_allclose(step["params"]["p"], want, rtol=1e-12)
    # without bias correction, ε inside: the step is lr·(1 − β1)g/√((1 − β2)g² + ε)
    step = run_optimizer("adam", {"p": p}, [{"p": g}],
                         {"lr": lr, "eps": eps, "bias_correction": False, "eps_placement": "inside"})[0]
    want = [1.0 - lr * 0.1 * gi / math.sqrt(0.001 * gi * gi + eps) for gi in g]
    np.testing.assert_allclose(step["params"]["p"], want, rtol=1e-12)


def test_adamw_zero_decay_equals_adam():
    gs = grads_seq()
    a = run_optimizer("adam", P0, gs, {"lr": 0.01})
    w = run_optimizer("adamw", P0, gs, {"lr": 0.01, "weight_decay": 0.0})
    for sa, sw in zip(a, w, strict=True):
        for k in P0:
            np.testing.assert_array_equal(sa["params"][k], sw["params"][k])


def test_sgd_state_is_empty_and_json_shape():
    steps = run_optimizer("sgd", P0, grads_seq(2), {"lr": 0.1})
    assert steps[0]["state"] == {}
    assert set(steps[0]) == {"t", "params", "state", "update", "effective_step"}
    np.testing.assert_array_equal(steps[0]["effective_step"]["w"], np.full((2, 3), 0.1))
    adam = run_optimizer("adam", P0, grads_seq(2))
    assert set(adam[1]["state"]) == {"m", "v", "m_hat", "v_hat"}
    assert set(run_optimizer("momentum", P0, grads_seq(2))[0]["state"]) == {"v"}
    assert set(run_optimizer("rmsprop", P0, grads_seq(2))[0]["state"]) == {"s"}


def test_scalar_parameters_come_back_as_arrays():
    steps = run_optimizer("adam", {"w": 0.5}, [{"w": 0.02}])
    assert isinstance(steps[0]["params"]["w"], np.ndarray) and steps[0]["params"]["w"].shape == ()
    assert isinstance(steps[0]["state"]["m_hat"]["w"], np.ndarray)


# ---------------------------------------------------------------- purity and dtype


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_no_input_mutated(name):
    hp = {"weight_decay": 0.1} if name.startswith("adam") else {}
    params = {k: np.array(v) for k, v in P0.items()}
    gs = [{k: np.array(v) for k, v in g.items()} for g in grads_seq(3)]
    state = init_state(name, params)
    _, state, _ = optimizer_step(name, params, gs[0], state, hp)  # a non-zero state to guard
    before = copy.deepcopy((params, gs, state))
    new, new_state, rec = optimizer_step(name, params, gs[1], state, hp)
    optimizer_steps(name, params, gs[1], state, hp)
    run_optimizer(name, params, gs, hp)
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k])
        for g, g0 in zip(gs, before[1], strict=True):
            np.testing.assert_array_equal(g[k], g0[k])
    assert state.t == before[2].t
    for slot in state.slots:
        for k in params:
            np.testing.assert_array_equal(state.slots[slot][k], before[2].slots[slot][k])
    # the record keeps copies: editing what came back changes nothing that went in
    rec.g["w"][...] = 99.0
    for slot in new_state.slots:
        new_state.slots[slot]["w"][...] = 77.0
        assert not np.any(rec.slots[slot]["w"] == 77.0)
    np.testing.assert_array_equal(gs[1]["w"], before[1][1]["w"])
    assert not any(new[k] is params[k] for k in params)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_kept(name):
    params = {k: np.array(v, dtype=np.float32) for k, v in P0.items()}
    gs = [{k: np.array(v, dtype=np.float32) for k, v in g.items()} for g in grads_seq(3)]
    state = init_state(name, params)
    assert all(a.dtype == np.float32 for slot in state.slots.values() for a in slot.values())
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    state64 = init_state(name, p64)
    p32 = params
    for g in gs:
        p32, state, rec = optimizer_step(name, p32, g, state, {})
        p64, state64, _ = optimizer_step(name, p64, {k: v.astype(np.float64) for k, v in g.items()}, state64, {})
        for k in P0:
            assert p32[k].dtype == np.float32, f"{name} params.{k}"
            np.testing.assert_allclose(p32[k], p64[k], rtol=1e-5, atol=1e-6)
        for slot in state.slots.values():
            assert all(a.dtype == np.float32 for a in slot.values()), name
        for field in ("g", "update", "effective_step", "m_hat", "v_hat", "denom"):
            assert all(a.dtype == np.float32 for a in getattr(rec, field).values()), f"{name} {field}"
    steps = run_optimizer(name, P0, grads_seq(2), {}, dtype="float32")
    assert steps[-1]["params"]["w"].dtype == np.float32


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(("name", "hp", "field", "match"), [
    ("adam", {"beta1": 1.5}, "hyperparams.beta1", "between"),
    ("adam", {"beta2": -0.1}, "hyperparams.beta2", "between"),
    ("adam", {"beta1": 1.0}, "hyperparams.beta1", "between"),
    ("adamw", {"eps_placement": "middle"}, "hyperparams.eps_placement", "outside, inside"),
    ("adam", {"bias_correction": "yes"}, "hyperparams.bias_correction", "true or false"),
    ("adam", {"eps": float("nan")}, "hyperparams.eps", "finite"),
    ("sgd", {"lr": -0.1}, "hyperparams.lr", "between"),
    ("sgd", {"lr": "fast"}, "hyperparams.lr", "number"),
    ("sgd", {"momentum": 0.9}, "hyperparams.momentum", "no parameter"),
    ("momentum", {"form": "nesterov"}, "hyperparams.form", "pytorch, ema"),
    ("momentum", {"momentum": 1.2}, "hyperparams.momentum", "between"),
    ("rmsprop", {"alpha": True}, "hyperparams.alpha", "number"),
    ("adam", [0.1], "hyperparams", "object"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_hyperparams(name, hp, field, match):
    raises_field(field, run_optimizer, name, P0, grads_seq(1), hp, match=match)


def test_unknown_optimizer():
    raises_field("optimizer", run_optimizer, "lbfgs", P0, grads_seq(1), match="sgd, momentum, rmsprop, adam, adamw")
    raises_field("optimizer", init_state, "lbfgs", P0)


def bad_grads(edit):
    gs = grads_seq(3)
    edit(gs)
    return gs


@pytest.mark.parametrize(("gs", "field", "match"), [
    (bad_grads(lambda gs: gs[1].update(w=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])), "grads[1].w", "[3, 2]"),
    (bad_grads(lambda gs: gs[2]["b"].__setitem__(0, float("nan"))), "grads[2].b", "finite"),
    (bad_grads(lambda gs: gs[0]["b"].__setitem__(1, float("inf"))), "grads[0].b", "finite"),
    (bad_grads(lambda gs: gs[0].pop("b")), "grads[0].b", "missing"),
    (bad_grads(lambda gs: gs[2].update(z=[1.0])), "grads[2].z", "no parameter"),
    (bad_grads(lambda gs: gs[1].update(w=[[1.0, 2.0, 3.0], [4.0, 5.0]])), "grads[1].w", "ragged"),
    (bad_grads(lambda gs: gs[1].update(b=["a", "b"])), "grads[1].b", "numbers"),
    (bad_grads(lambda gs: gs.__setitem__(1, [1.0, 2.0])), "grads[1]", "object"),
    ([], "grads", "at least one step"),
    ({"w": [0.0]}, "grads", "list"),
], ids=["shape", "nan", "inf", "missing", "extra", "ragged", "strings", "not-object", "empty", "not-list"])
def test_bad_grads(gs, field, match):
    err = raises_field(field, run_optimizer, "adam", P0, gs, match=match)
    if field == "grads[1].w" and match == "[3, 2]":
        assert "[2, 3]" in err.message  # both shapes named


def test_bad_params_and_limits():
    raises_field("params.w", run_optimizer, "sgd", {"w": [1.0, float("nan")]}, [{"w": [0.0, 0.0]}], match="finite")
    raises_field("params", run_optimizer, "sgd", {}, [{}], match="non-empty")
    raises_field("params", run_optimizer, "sgd", [1.0], [{}])
    raises_field("grads", run_optimizer, "sgd", P0, grads_seq(3), max_steps=2, match="limit is 2")
    raises_field("params.w", run_optimizer, "sgd", P0, grads_seq(1), max_elements=5, match="limit is 5")
    raises_field("params", run_optimizer, "sgd", P0, grads_seq(1), max_elements=7, match="limit is 7")
    raises_field("dtype", run_optimizer, "sgd", P0, grads_seq(1), dtype="float16")


def test_optimizer_step_checks_state_and_grads():
    params = {k: np.array(v) for k, v in P0.items()}
    g = {k: np.array(v) for k, v in grads_seq(1)[0].items()}
    raises_field("state", optimizer_step, "adam", params, g, init_state("momentum", params))
    raises_field("state", optimizer_step, "adam", params, g, None)
    bad = OptimizerState(t=0, slots={"v": {"w": np.zeros((3, 2)), "b": np.zeros(2)}})
    raises_field("state.v.w", optimizer_step, "momentum", params, g, bad, match="[3, 2]")
    raises_field("grads.b", optimizer_step, "sgd", params, {"w": g["w"], "b": np.zeros(3)}, init_state("sgd", params))


# ---------------------------------------------------------------- PyTorch (only where it is installed)

TORCH_CASES = [
    ("sgd", {"lr": 0.1}, lambda torch, ps, hp: torch.optim.SGD(ps, lr=hp["lr"]), {}),
    ("momentum", {"lr": 0.05, "momentum": 0.9},
     lambda torch, ps, hp: torch.optim.SGD(ps, lr=hp["lr"], momentum=hp["momentum"]), {"v": "momentum_buffer"}),
    ("rmsprop", {"lr": 0.03, "alpha": 0.9, "eps": 1e-4},
     lambda torch, ps, hp: torch.optim.RMSprop(ps, lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"]),
     {"s": "square_avg"}),
    ("adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.2},
     lambda torch, ps, hp: torch.optim.Adam(ps, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                            weight_decay=hp["weight_decay"]), {"m": "exp_avg", "v": "exp_avg_sq"}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.3},
     lambda torch, ps, hp: torch.optim.AdamW(ps, lr=hp["lr"], betas=(0.9, 0.999), eps=1e-8,
                                             weight_decay=hp["weight_decay"]), {"m": "exp_avg", "v": "exp_avg_sq"}),
]


@pytest.mark.parametrize(("name", "hp", "make", "slot_names"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch_optim(name, hp, make, slot_names):
    torch = pytest.importorskip("torch")
    gs = grads_seq()
    ours = run_optimizer(name, P0, gs, hp)
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in P0.items()}
    opt = make(torch, list(tensors.values()), hp)
    for step, g in zip(ours, gs, strict=True):
        for k, tensor in tensors.items():
            tensor.grad = torch.tensor(g[k], dtype=torch.float64)
        opt.step()
        for k, tensor in tensors.items():
            np.testing.assert_allclose(step["params"][k], tensor.detach().numpy(), rtol=1e-10, atol=1e-14,
                                       err_msg=f"{name} t={step['t']} params.{k}")
            for slot, torch_name in slot_names.items():
                np.testing.assert_allclose(step["state"][slot][k], opt.state[tensor][torch_name].numpy(),
                                           rtol=1e-10, atol=1e-16, err_msg=f"{name} t={step['t']} {slot}.{k}")


# ---------------------------------------------------------------- step records

STEP_NAMES = {
    "sgd": ["update"],
    "momentum": ["v", "update"],
    "rmsprop": ["s", "update"],
    "adam": ["m", "v", "m_hat", "v_hat", "update"],
    "adamw": ["decay", "m", "v", "m_hat", "v_hat", "update"],
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_order_and_arrays(name):
    params = {k: np.array(v) for k, v in P0.items()}
    gs = grads_seq(2)
    state = init_state(name, params)
    params1, state1, _ = optimizer_step(name, params, gs[0], state, {})
    steps = optimizer_steps(name, params1, gs[1], state1, {})
    new, _, rec = optimizer_step(name, params1, gs[1], state1, {})
    assert [s.name for s in steps] == STEP_NAMES[name]
    assert all(s.phase == "update" and s.latex and s.title for s in steps)
    by_name = {s.name: s for s in steps}
    for k in P0:
        np.testing.assert_array_equal(by_name["update"].arrays[f"p_new.{k}"], new[k])
        np.testing.assert_array_equal(by_name["update"].arrays[f"p.{k}"], params1[k])
        for slot in SLOTS[name]:
            np.testing.assert_array_equal(by_name[slot].arrays[f"{slot}.{k}"], rec.slots[slot][k])
            np.testing.assert_array_equal(by_name[slot].arrays[f"{slot}_prev.{k}"], state1.slots[slot][k])
        if name.startswith("adam"):
            np.testing.assert_array_equal(by_name["m_hat"].arrays[f"m_hat.{k}"], rec.m_hat[k])
            np.testing.assert_array_equal(by_name["v_hat"].arrays[f"v_hat.{k}"], rec.v_hat[k])
    assert "_{2}" in by_name["update"].latex  # t = 2 is written into the formula


def test_adam_step_latex_follows_the_options():
    params = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.1])}
    state = init_state("adam", params)
    out = optimizer_steps("adam", params, g, state, {"eps_placement": "outside"})
    assert r"\sqrt{\hat v_{1}} + 10^{-8}" in out[-1].latex
    inside = optimizer_steps("adam", params, g, state, {"eps_placement": "inside", "bias_correction": False})
    assert r"\sqrt{\hat v_{1} + 10^{-8}}" in inside[-1].latex
    assert "bias correction off" in inside[2].latex
    l2 = optimizer_steps("adam", params, g, state, {"weight_decay": 0.1})
    assert [s.name for s in l2][0] == "weight_decay"
    np.testing.assert_allclose(l2[0].arrays["g_wd.w"], [0.5 + 0.1 * 1.0, 0.1 + 0.1 * -2.0])
