def batchnorm(x, gamma, beta, dout, running_mean, running_var, eps=1e-5, momentum=None, mode="train",
              convention="pytorch"):
    """Batch norm per feature (axis 1): out, dx, dγ, dβ and the running statistics from F.batch_norm and
    autograd; the notes' intermediates (μ, σ², σ, x̂ and their gradients) from the same graph written out
    with tensor ops, each gradient read by autograd (retain_grad) rather than derived by hand.

    pytorch: r ← (1 − m)·r + m·batch with the unbiased variance (m = 0.1) — F.batch_norm's own update;
    cs231n: r ← m·r + (1 − m)·batch with the biased one (m = 0.9) — not torch's rule, written out.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    row = (1, -1) + (1,) * (x.ndim - 2)  # a (C,) vector broadcast along axis 1
    n = x.numel() // x.shape[1]
    if momentum is None:
        momentum = 0.1 if convention == "pytorch" else 0.9
    train = mode == "train"

    # torch's batch norm: F.batch_norm updates the running statistics in place in training mode
    xt = x.clone().requires_grad_(True)
    g = gamma.clone().requires_grad_(True)
    bt = beta.clone().requires_grad_(True)
    new_mean, new_var = running_mean.clone(), running_var.clone()
    out = F.batch_norm(xt, new_mean, new_var, g, bt, training=train, momentum=momentum, eps=eps)
    out.backward(dout)
    if train and convention != "pytorch":
        batch_mean = x.mean(dim=axes)
        batch_var = x.var(dim=axes, unbiased=False)
        new_mean = momentum * running_mean + (1 - momentum) * batch_mean
        new_var = momentum * running_var + (1 - momentum) * batch_var

    # the notes' staged graph: the same function, with every intermediate kept
    xs = x.clone().requires_grad_(True)
    if train:
        mean = xs.sum(dim=axes) / n
        var = ((xs - mean.reshape(row)) ** 2).sum(dim=axes) / n  # biased: divides by n
    else:  # eval: the running statistics, constants (nothing flows back through them)
        mean, var = running_mean.clone(), running_var.clone()
    std = torch.sqrt(var + eps)
    x_hat = (xs - mean.reshape(row)) / std.reshape(row)
    for t in (mean, var, x_hat) if train else (x_hat,):
        t.retain_grad()
    staged = gamma.reshape(row) * x_hat + beta.reshape(row)
    staged.backward(dout)
    dvar = var.grad if train else torch.zeros_like(var)
    dmean = mean.grad if train else torch.zeros_like(mean)
    return {"mean": mean, "var": var, "std": std, "x_hat": x_hat, "out": out,
            "running_mean": new_mean, "running_var": new_var, "dx_hat": x_hat.grad, "dvar": dvar,
            "dmean": dmean, "dx": xt.grad, "dgamma": g.grad, "dbeta": bt.grad}
