def layernorm(x, gamma, beta, dout, eps=1e-5):
    """Layer norm: per sample over every other axis (biased variance); γ and β have one sample's shape."""
    N = x.shape[0]
    d = x.size // N
    axes = tuple(range(1, x.ndim))
    col = (-1,) + (1,) * (x.ndim - 1)  # an (N,) vector broadcast along the sample axis
    mean = x.sum(axis=axes) / d
    x_mu = x - mean.reshape(col)
    var = (x_mu ** 2).sum(axis=axes) / d
    std = np.sqrt(var + eps)
    x_hat = x_mu / std.reshape(col)
    out = gamma * x_hat + beta

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dvar = (dx_hat * x_mu).sum(axis=axes) * -0.5 * (var + eps) ** -1.5
    dmean = -(dx_hat / std.reshape(col)).sum(axis=axes) + dvar * -2 * x_mu.sum(axis=axes) / d
    dx = dx_hat / std.reshape(col) + dvar.reshape(col) * 2 * x_mu / d + dmean.reshape(col) / d
    return {"mean": mean, "var": var, "std": std, "x_hat": x_hat, "out": out,
            "dx_hat": dx_hat, "dvar": dvar, "dmean": dmean, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
