"""An optimizer's step-table quantities as terms (the state's running averages are sums of two products):

- momentum v_t = μ·v_{t−1} + 1·g_t (pytorch) or (1 − μ)·g_t (ema)
- rmsprop s_t = α·s_{t−1} + ((1 − α)·g_t)·g_t;  adam m_t = β1·m_{t−1} + (1 − β1)·g_t,
  v_t = β2·v_{t−1} + ((1 − β2)·g_t)·g_t  (g with adam's L2 term where it has one)
- m̂_t = (1/(1 − β1ᵗ))·m_t, v̂_t likewise (1 without bias correction)
- update_t = (−lr_eff)·u_t, θ_t = 1·θ_{t−1} + (−lr_eff)·u_t, u the direction (g, v or m̂) and lr_eff the
  effective step (lr, or lr/denom); adamw starts from the decayed θ (its update adds (−lr·λ)·θ_{t−1}).

Cells are (t, i) of :func:`engine.optim.runs.table` (row t for step t, from 1); ``theta0`` (0, i) is the start
and step 0's slots are zeros (constants) — or, for a run from a given state, that state's slots (``slots0``,
constants) with the labels and the bias correction counting from its ``t0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explain.terms.record import Term, Terms, cell, constant
from engine.optim.rules import clean_hyperparams
from engine.records import Arrays, OpInputError

QUANTITIES = ("m", "v", "s", "m_hat", "v_hat", "update", "theta")
SYMBOLS = {"theta": "θ", "m_hat": "m̂", "v_hat": "v̂", "g_wd": "g+λθ", "p_decayed": "θ·(1−lr·λ)",
           "effective_step": "lr_eff"}  # how the labels write a quantity: m_3[1] is m at step 3, number 1


def optimizer_terms(optimizer: str, hyperparams: dict[str, Any] | None, table: Arrays, theta0: np.ndarray,
                    quantity: str, t: int, i: int, t0: int = 0,
                    slots0: dict[str, np.ndarray] | None = None) -> Terms:
    """The terms of ``quantity`` of parameter ``i`` at step ``t`` (from 1) of a run's ``table``.

    A run from a given state: ``t0`` the updates taken before it, ``slots0`` its slots (slot name -> a
    value per table column); the labels and 1 − βᵗ use the update's own t, t0 + t.
    """
    hp = clean_hyperparams(optimizer, hyperparams)
    if quantity not in table or quantity not in QUANTITIES:
        raise OpInputError("array", f"{optimizer} has no terms for {quantity!r}")
    T, P = table["g"].shape
    if not (1 <= t <= T and 0 <= i < P):
        raise OpInputError("index", f"no step {t}, parameter {i} in a run of {T} steps and {P} numbers")

    def name(q: str, step: int) -> str:
        return f"{SYMBOLS.get(q, q)}_{t0 + step}[{i}]"

    def at(q: str, step: int):
        return cell(q, (step, i), table[q][step - 1, i], name(q, step))

    def prev(q: str):
        if t > 1:
            return at(q, t - 1)
        given = 0.0 if slots0 is None or q not in slots0 else float(np.ravel(slots0[q])[i])
        return constant(given, f"{name(q, 0)} = {given:g}" + (" (given)" if slots0 is not None else ""))

    g_key = "g_wd" if "g_wd" in table else "g"
    g = float(table[g_key][t - 1, i])
    terms: list[Term]
    if quantity in ("m", "v", "s"):
        if optimizer == "momentum":
            mu = hp["momentum"]
            share = 1.0 if hp["form"] == "pytorch" else 1 - mu
            terms = [Term(constant(mu, "μ"), prev("v")),
                     Term(constant(share, "1" if hp["form"] == "pytorch" else "1 − μ"), at("g", t))]
        else:
            decay = hp["alpha"] if optimizer == "rmsprop" else hp["beta1" if quantity == "m" else "beta2"]
            symbol = "α" if optimizer == "rmsprop" else ("β1" if quantity == "m" else "β2")
            if quantity == "m":
                second = Term(constant(1 - decay, f"1 − {symbol}"), at(g_key, t))
            else:
                second = Term(cell(g_key, (t, i), (1 - decay) * g, f"(1 − {symbol})·{name(g_key, t)}"), at(g_key, t))
            terms = [Term(constant(decay, symbol), prev(quantity)), second]
    elif quantity in ("m_hat", "v_hat"):
        beta = hp["beta1" if quantity == "m_hat" else "beta2"]
        corr = 1 / (1 - beta ** (t0 + t)) if hp["bias_correction"] else 1.0
        symbol = "β1" if quantity == "m_hat" else "β2"
        label = f"1/(1 − {symbol}^{t0 + t})" if hp["bias_correction"] else "1"
        terms = [Term(constant(corr, label), at(quantity[0], t))]
    else:
        eff = float(table["effective_step"][t - 1, i])
        direction = {"sgd": "g", "momentum": "v", "rmsprop": "g"}.get(optimizer, "m_hat")
        step = Term(cell("effective_step", (t, i), -eff, f"−{name('effective_step', t)}"), at(direction, t))
        before = at("theta", t - 1) if t > 1 else cell("theta0", (0, i), theta0[i], name("theta", 0))
        terms = [step]
        if quantity == "theta":
            terms = [Term(constant(1.0, "1"), at("p_decayed", t) if "p_decayed" in table else before), step]
        elif optimizer == "adamw":  # the decoupled decay is part of the update: θ·(1 − lr·λ) − θ = −lr·λ·θ
            terms = [Term(constant(-hp["lr"] * hp["weight_decay"], "−lr·λ"), before), step]
    value = float(table[quantity][t - 1, i])
    return Terms(optimizer, quantity, (t, i), value, tuple(terms), "", f"Step {t0 + t}, parameter number {i}.",
                 title=name(quantity, t))
