def optimizer_steps(theta0, grads, name, lr, momentum=0.9, form="pytorch", alpha=0.99, beta1=0.9, beta2=0.999,
                    eps=1e-8, eps_placement="outside", bias_correction=True, weight_decay=0.0, t0=0, m0=None,
                    v0=None, s0=None):
    """Run optimizer `name` from θ0 with the gradient grads[t − 1] at step t; every step's numbers, (T, P) each.
    It starts from zero state with t = 1, or from a given state: t0 steps already taken (the first is t0 + 1)
    and the slots m0, v0 (momentum's velocity or adam's second moment), s0.

    sgd: θ ← θ − lr·g.  momentum: v ← μv + g (pytorch) or μv + (1 − μ)g (ema); θ ← θ − lr·v.
    rmsprop: s ← αs + (1 − α)g²; θ ← θ − lr·g/(√s + ε).
    adam: m ← β1·m + (1 − β1)g, v ← β2·v + (1 − β2)g², m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ),
          θ ← θ − lr·m̂/(√v̂ + ε) (or √(v̂ + ε), the notes); adam adds λθ to g, adamw shrinks θ by (1 − lr·λ) first.
    """
    theta = theta0.copy()
    m = np.zeros_like(theta) if m0 is None else m0.copy()
    v = np.zeros_like(theta) if v0 is None else v0.copy()
    s = np.zeros_like(theta) if s0 is None else s0.copy()
    rows = {key: [] for key in ("m", "v", "s", "m_hat", "v_hat", "update", "theta")}
    for t, g in enumerate(grads, start=t0 + 1):
        if name == "sgd":
            new = theta - lr * g
        elif name == "momentum":
            v = momentum * v + g if form == "pytorch" else momentum * v + (1 - momentum) * g
            new = theta - lr * v
        elif name == "rmsprop":
            s = alpha * s + (1 - alpha) * g * g
            new = theta - lr * (g / (np.sqrt(s) + eps))
        else:  # adam, adamw
            base = theta * (1 - lr * weight_decay) if name == "adamw" else theta
            if name == "adam" and weight_decay != 0:
                g = g + weight_decay * theta
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * (g * g)
            m_hat = m / (1 - beta1**t) if bias_correction else m.copy()
            v_hat = v / (1 - beta2**t) if bias_correction else v.copy()
            denom = np.sqrt(v_hat) + eps if eps_placement == "outside" else np.sqrt(v_hat + eps)
            new = base - lr * m_hat / denom
            rows["m_hat"].append(m_hat)
            rows["v_hat"].append(v_hat)
        rows["m"].append(m)
        rows["v"].append(v)
        rows["s"].append(s)
        rows["update"].append(new - theta)
        rows["theta"].append(new)
        theta = new
    return {key: np.array(values) for key, values in rows.items()}
