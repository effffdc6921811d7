def batchnorm(x, gamma, beta, dout, running_mean, running_var, eps=1e-5, momentum=None, mode="train",
              convention="pytorch"):
    """Batch norm forward and the notes' staged backward, per feature (axis 1) over every other axis.

    x (N, D) or (N, C, H, W). pytorch: r ← (1 − m)·r + m·batch with the unbiased variance (m = 0.1);
    cs231n: r ← m·r + (1 − m)·batch with the biased one (m = 0.9).
    """
    axes = (0,) + tuple(range(2, x.ndim))
    row = (1, -1) + (1,) * (x.ndim - 2)  # a (C,) vector broadcast along axis 1
    n = x.size // x.shape[1]
    if momentum is None:
        momentum = 0.1 if convention == "pytorch" else 0.9
    m = momentum
    if mode == "train":
        mean = x.sum(axis=axes) / n
        var = ((x - mean.reshape(row)) ** 2).sum(axis=axes) / n  # biased: divides by n
        if convention == "pytorch":
            new_mean = (1 - m) * running_mean + m * mean
            new_var = (1 - m) * running_var + m * var * n / (n - 1)
        else:
            new_mean = m * running_mean + (1 - m) * mean
            new_var = m * running_var + (1 - m) * var
    else:  # eval: the running statistics, unchanged
        mean, var = running_mean.copy(), running_var.copy()
        new_mean, new_var = running_mean.copy(), running_var.copy()
    std = np.sqrt(var + eps)
    x_mu = x - mean.reshape(row)
    x_hat = x_mu / std.reshape(row)
    out = gamma.reshape(row) * x_hat + beta.reshape(row)

    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(row)
    if mode == "train":
        dvar = (dx_hat * x_mu).sum(axis=axes) * -0.5 * (var + eps) ** -1.5
        dmean = -(dx_hat / std.reshape(row)).sum(axis=axes) + dvar * -2 * x_mu.sum(axis=axes) / n
        dx = dx_hat / std.reshape(row) + dvar.reshape(row) * 2 * x_mu / n + dmean.reshape(row) / n
    else:  # the running statistics are constants: nothing flows back through μ and σ²
        dvar, dmean = np.zeros_like(var), np.zeros_like(mean)
        dx = dx_hat / std.reshape(row)
    return {"mean": mean, "var": var, "std": std, "x_hat": x_hat, "out": out,
            "running_mean": new_mean, "running_var": new_var, "dx_hat": dx_hat, "dvar": dvar, "dmean": dmean,
            "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
