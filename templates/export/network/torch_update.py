# ---- the optimizer's step (step T_BEFORE + 1), from its state after T_BEFORE steps
# torch.optim's rules are the page's except: momentum's "ema" form (v ← μv + (1 − μ)g; SGD's dampening
# would start its buffer at g) and Adam with ε inside the root or without bias correction — those are
# written out with tensor ops below.
hp = HYPERPARAMS
t = T_BEFORE + 1
before = {name: p.detach().clone() for name, p in params.items()}
shown = {}
torch_rule = not (OPTIMIZER == "momentum" and hp.get("form") == "ema") and not (
    OPTIMIZER in ("adam", "adamw") and (hp["eps_placement"] != "outside" or not hp["bias_correction"]))
if torch_rule:
    plist = list(params.values())
    if OPTIMIZER == "sgd":
        opt = torch.optim.SGD(plist, lr=hp["lr"])
    elif OPTIMIZER == "momentum":
        opt = torch.optim.SGD(plist, lr=hp["lr"], momentum=hp["momentum"])
        for name, p in params.items():
            opt.state[p]["momentum_buffer"] = SLOTS["v"][name].clone()
    elif OPTIMIZER == "rmsprop":
        opt = torch.optim.RMSprop(plist, lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"])
        for name, p in params.items():
            opt.state[p].update(step=torch.tensor(float(T_BEFORE)), square_avg=SLOTS["s"][name].clone())
    else:
        kind = torch.optim.AdamW if OPTIMIZER == "adamw" else torch.optim.Adam
        opt = kind(plist, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                   weight_decay=hp["weight_decay"])
        for name, p in params.items():
            opt.state[p].update(step=torch.tensor(float(T_BEFORE)), exp_avg=SLOTS["m"][name].clone(),
                                exp_avg_sq=SLOTS["v"][name].clone())
    opt.step()
    for name, p in params.items():
        state = opt.state[p]
        if OPTIMIZER == "momentum":
            shown.setdefault("v", {})[name] = state["momentum_buffer"]
        elif OPTIMIZER == "rmsprop":
            shown.setdefault("s", {})[name] = state["square_avg"]
        elif OPTIMIZER in ("adam", "adamw"):
            m, v = state["exp_avg"], state["exp_avg_sq"]
            shown.setdefault("m", {})[name] = m
            shown.setdefault("v", {})[name] = v
            shown.setdefault("m_hat", {})[name] = m / (1 - hp["beta1"] ** t)  # torch folds these into its step
            shown.setdefault("v_hat", {})[name] = v / (1 - hp["beta2"] ** t)
else:
    with torch.no_grad():
        for name, p in params.items():
            g = p.grad
            if OPTIMIZER == "momentum":  # the "ema" form
                v = hp["momentum"] * SLOTS["v"][name] + (1 - hp["momentum"]) * g
                shown.setdefault("v", {})[name] = v
                p.sub_(hp["lr"] * v)
                continue
            # adam / adamw with ε inside √(v̂ + ε) or without bias correction (the notes' forms)
            lam = hp["weight_decay"]
            base = p * (1 - hp["lr"] * lam) if OPTIMIZER == "adamw" else p.clone()
            if OPTIMIZER == "adam" and lam != 0:
                g = g + lam * p
            m = hp["beta1"] * SLOTS["m"][name] + (1 - hp["beta1"]) * g
            v = hp["beta2"] * SLOTS["v"][name] + (1 - hp["beta2"]) * (g * g)
            m_hat = m / (1 - hp["beta1"] ** t) if hp["bias_correction"] else m
            v_hat = v / (1 - hp["beta2"] ** t) if hp["bias_correction"] else v
            denom = torch.sqrt(v_hat) + hp["eps"] if hp["eps_placement"] == "outside" else torch.sqrt(v_hat + hp["eps"])
            for quantity, value in (("m", m), ("v", v), ("m_hat", m_hat), ("v_hat", v_hat)):
                shown.setdefault(quantity, {})[name] = value
            p.copy_(base - hp["lr"] * m_hat / denom)
shown["update"] = {name: p.detach() - before[name] for name, p in params.items()}
