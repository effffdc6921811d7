def optimizer_steps(theta0, grads, name, lr, momentum=0.9, form="pytorch", alpha=0.99, beta1=0.9, beta2=0.999,
                    eps=1e-8, eps_placement="outside", bias_correction=True, weight_decay=0.0, t0=0, m0=None,
                    v0=None, s0=None):
    """Run torch.optim's optimizer `name` on θ from θ0 with the gradient grads[t − 1] at step t (written into
    θ.grad, as backward would); every step's numbers, (T, P) each. A given starting state (t0 steps taken,
    the slots m0, v0, s0) is put into the optimizer's state first.

    torch.optim's rules are the page's except where said: momentum's "ema" form (v ← μv + (1 − μ)g from
    v = 0: SGD's dampening starts its buffer at g instead) and Adam with ε inside the root or without bias
    correction are not torch's rules, so those steps are written out with tensor ops.
    """
    theta = theta0.clone().requires_grad_(True)
    torch_rule = not (name == "momentum" and form == "ema") and not (
        name in ("adam", "adamw") and (eps_placement != "outside" or not bias_correction))
    if name == "sgd":
        opt = torch.optim.SGD([theta], lr=lr)
    elif name == "momentum":
        opt = torch.optim.SGD([theta], lr=lr, momentum=momentum)
        if v0 is not None:
            opt.state[theta]["momentum_buffer"] = v0.clone()
    elif name == "rmsprop":
        opt = torch.optim.RMSprop([theta], lr=lr, alpha=alpha, eps=eps)
        if s0 is not None:
            opt.state[theta].update(step=torch.tensor(float(t0)), square_avg=s0.clone())
    else:
        kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
        opt = kind([theta], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
        if m0 is not None:
            opt.state[theta].update(step=torch.tensor(float(t0)), exp_avg=m0.clone(), exp_avg_sq=v0.clone())
    v = torch.zeros_like(theta0) if v0 is None else v0.clone()  # the written-out rules' own state
    m = torch.zeros_like(theta0) if m0 is None else m0.clone()

    rows = {key: [] for key in ("m", "v", "s", "m_hat", "v_hat", "update", "theta")}
    for t, g in enumerate(grads, start=t0 + 1):
        before = theta.detach().clone()
        if torch_rule:
            theta.grad = g.clone()
            opt.step()
            state = opt.state[theta]
            if name == "momentum":
                rows["v"].append(state["momentum_buffer"].clone())
            if name == "rmsprop":
                rows["s"].append(state["square_avg"].clone())
            if name in ("adam", "adamw"):
                m, v = state["exp_avg"].clone(), state["exp_avg_sq"].clone()
                rows["m"].append(m)
                rows["v"].append(v)
                rows["m_hat"].append(m / (1 - beta1**t))  # torch folds these into its step; shown here
                rows["v_hat"].append(v / (1 - beta2**t))
            new = theta.detach().clone()
        else:
            with torch.no_grad():
                if name == "momentum":  # the "ema" form
                    v = momentum * v + (1 - momentum) * g
                    new = before - lr * v
                    rows["v"].append(v)
                else:  # adam / adamw with ε inside √(v̂ + ε) or without bias correction (the notes' forms)
                    base = before * (1 - lr * weight_decay) if name == "adamw" else before
                    if name == "adam" and weight_decay != 0:
                        g = g + weight_decay * before
                    m = beta1 * m + (1 - beta1) * g
                    v = beta2 * v + (1 - beta2) * (g * g)
                    m_hat = m / (1 - beta1**t) if bias_correction else m.clone()
                    v_hat = v / (1 - beta2**t) if bias_correction else v.clone()
                    denom = torch.sqrt(v_hat) + eps if eps_placement == "outside" else torch.sqrt(v_hat + eps)
                    new = base - lr * m_hat / denom
                    for key, value in (("m", m), ("v", v), ("m_hat", m_hat), ("v_hat", v_hat)):
                        rows[key].append(value)
                theta.copy_(new)
        rows["update"].append(new - before)
        rows["theta"].append(new)
    return {key: torch.stack(values) if values else torch.zeros(0) for key, values in rows.items()}
