def layernorm(x, gamma, beta, dout, eps=1e-5):
    """Layer norm per sample over every other axis (γ, β have one sample's shape): out, dx, dγ, dβ from
    F.layer_norm and autograd; μ, σ², σ, x̂ and their gradients from the same graph written out with
    tensor ops, each gradient read by autograd (retain_grad)."""
    xt = x.clone().requires_grad_(True)
    g = gamma.clone().requires_grad_(True)
    bt = beta.clone().requires_grad_(True)
    out = F.layer_norm(xt, tuple(x.shape[1:]), g, bt, eps=eps)
    out.backward(dout)

    axes = tuple(range(1, x.ndim))
    col = (-1,) + (1,) * (x.ndim - 1)  # an (N,) vector broadcast along the sample axis
    xs = x.clone().requires_grad_(True)
    mean = xs.mean(dim=axes)
    var = ((xs - mean.reshape(col)) ** 2).mean(dim=axes)  # biased
    std = torch.sqrt(var + eps)
    x_hat = (xs - mean.reshape(col)) / std.reshape(col)
    for t in (mean, var, x_hat):
        t.retain_grad()
    (gamma * x_hat + beta).backward(dout)
    return {"mean": mean, "var": var, "std": std, "x_hat": x_hat, "out": out,
            "dx_hat": x_hat.grad, "dvar": var.grad, "dmean": mean.grad, "dx": xt.grad, "dgamma": g.grad,
            "dbeta": bt.grad}
