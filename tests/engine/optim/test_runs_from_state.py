"""engine.optim.runs.run_steps from a given state: the same steps as the JSON API's run_optimizer from that
state, each LabStep's t its update's own t, and the step-table terms (engine.explain.terms.optim) summing to
their values with the given slots and t0."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explain.terms.optim import QUANTITIES, optimizer_terms
from engine.optim.rules import SLOTS, OptimizerState, run_optimizer
from engine.optim.runs import run_steps, table

CASES = [("sgd", {}), ("momentum", {"form": "pytorch"}), ("momentum", {"form": "ema"}), ("rmsprop", {}),
         ("adam", {}), ("adam", {"weight_decay": 0.1}), ("adamw", {"weight_decay": 0.1})]


def given(name: str, rng: np.random.Generator, P: int) -> tuple[int, dict[str, np.ndarray]]:
    return 7, {s: np.abs(rng.normal(size=P)) for s in SLOTS[name]}


@pytest.mark.parametrize("name,hp", CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_run_steps_from_a_state_equals_the_api_run(name, hp):
    rng = np.random.default_rng(11)
    theta0, grads = rng.normal(size=4), [rng.normal(size=4) for _ in range(3)]
    t0, slots = given(name, rng, 4)
    hp = {"lr": 0.05, **hp}
    steps = run_steps(name, {"w": theta0}, hp, grads_seq=[{"w": g} for g in grads],
                      state=OptimizerState(t0, {s: {"w": a} for s, a in slots.items()}))
    api = run_optimizer(name, {"w": theta0}, [{"w": g} for g in grads], hp,
                        state={"t": t0, **{s: {"w": a} for s, a in slots.items()}})
    assert [s.t for s in steps] == [a["t"] for a in api] == [8, 9, 10]
    for s, a in zip(steps, api, strict=True):
        assert np.array_equal(s.new_params["w"], a["params"]["w"]), (name, s.t)
        for slot in SLOTS[name]:
            assert np.array_equal(s.record.slots[slot]["w"], a["state"][slot]["w"]), (name, slot, s.t)


@pytest.mark.parametrize("name,hp", CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_terms_from_a_state_sum_to_their_values(name, hp):
    rng = np.random.default_rng(5)
    theta0 = rng.normal(size=3) * 4
    t0, slots = given(name, rng, 3)
    hp = {"lr": 0.05, **hp}
    steps = run_steps(name, {"w": theta0}, hp, grads_seq=[{"w": rng.normal(size=3)} for _ in range(3)],
                      state=OptimizerState(t0, {s: {"w": a} for s, a in slots.items()}))
    tab = table(steps)
    for q in (q for q in QUANTITIES if q in tab):
        for t in range(1, 4):
            for i in range(3):
                found = optimizer_terms(name, hp, tab, theta0, q, t, i, t0=t0, slots0=slots)
                scale = sum(abs(x.product) for x in found.terms) + abs(found.value) + np.abs(tab["theta"]).max()
                assert abs(found.total - found.value) <= 1e-13 * scale, (name, hp, q, t, i, found)
                assert found.title.endswith(f"_{t0 + t}[{i}]"), found.title
