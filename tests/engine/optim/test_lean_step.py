"""The training loops' update (rules.lean_step) gives optimizer_step's numbers bit for bit, for every optimizer."""

import numpy as np
import pytest

from engine.optim import rules


@pytest.mark.parametrize("name", list(rules.OPTIMIZERS))
@pytest.mark.parametrize("extra", [{}, {"weight_decay": 0.1}, {"bias_correction": False, "eps_placement": "inside"},
                                   {"form": "ema"}])
def test_lean_step_is_optimizer_step_without_its_record(name, extra):
    hp_in = {k: v for k, v in extra.items() if k in {p.name for p in rules.OPTIMIZERS[name]}}
    hp = rules.clean_hyperparams(name, hp_in)
    rng = np.random.default_rng(7)
    params = {"w": rng.normal(size=(3, 4)), "b": np.asarray(rng.normal())}  # a 0-d parameter too
    full = lean = rules.init_state(name, params)
    p_full = p_lean = params
    for _ in range(4):
        grads = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
        p_full, full, _ = rules.optimizer_step(name, p_full, grads, full, hp_in)
        p_lean, lean = rules.lean_step(name, p_lean, grads, lean, hp)
        assert lean.t == full.t
        for k in params:
            assert isinstance(p_lean[k], np.ndarray) and np.array_equal(p_lean[k], p_full[k])
        for slot, arrays in full.slots.items():
            for k in arrays:
                assert np.array_equal(lean.slots[slot][k], arrays[k])


def test_lean_step_leaves_its_inputs_alone():
    params, grads = {"w": np.ones(3)}, {"w": np.full(3, 0.5)}
    state = rules.init_state("adam", params)
    rules.lean_step("adam", params, grads, state, rules.clean_hyperparams("adam", None))
    assert np.array_equal(params["w"], np.ones(3)) and np.array_equal(grads["w"], np.full(3, 0.5))
    assert state.t == 0 and not state.slots["m"]["w"].any()
