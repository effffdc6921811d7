# ---- the optimizer's update (step T_BEFORE + 1) from its state after T_BEFORE steps
hp = HYPERPARAMS
t = T_BEFORE + 1
new, shown = {}, {}
for name, g in grads.items():
    p = P[name]
    if OPTIMIZER == "sgd":  # p ← p − lr·g
        new[name] = p - hp["lr"] * g
    elif OPTIMIZER == "momentum":  # v ← μv + g (pytorch) or μv + (1 − μ)g (ema); p ← p − lr·v
        mu = hp["momentum"]
        v = mu * SLOTS["v"][name] + (g if hp["form"] == "pytorch" else (1 - mu) * g)
        shown.setdefault("v", {})[name] = v
        new[name] = p - hp["lr"] * v
    elif OPTIMIZER == "rmsprop":  # s ← αs + (1 − α)g²; p ← p − lr·g/(√s + ε)
        s = hp["alpha"] * SLOTS["s"][name] + (1 - hp["alpha"]) * g * g
        shown.setdefault("s", {})[name] = s
        new[name] = p - hp["lr"] * g / (np.sqrt(s) + hp["eps"])
    else:  # adam (L2 weight decay into g) / adamw (decoupled decay first)
        lam = hp["weight_decay"]
        base = p * (1 - hp["lr"] * lam) if OPTIMIZER == "adamw" else p
        if OPTIMIZER == "adam" and lam != 0:
            g = g + lam * p
        m = hp["beta1"] * SLOTS["m"][name] + (1 - hp["beta1"]) * g
        v = hp["beta2"] * SLOTS["v"][name] + (1 - hp["beta2"]) * (g * g)
        m_hat = m / (1 - hp["beta1"] ** t) if hp["bias_correction"] else m
        v_hat = v / (1 - hp["beta2"] ** t) if hp["bias_correction"] else v
        denom = np.sqrt(v_hat) + hp["eps"] if hp["eps_placement"] == "outside" else np.sqrt(v_hat + hp["eps"])
        for quantity, value in (("m", m), ("v", v), ("m_hat", m_hat), ("v_hat", v_hat)):
            shown.setdefault(quantity, {})[name] = value
        new[name] = base - hp["lr"] * m_hat / denom
shown["update"] = {name: new[name] - P[name] for name in grads}
