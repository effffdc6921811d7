def dropout(x, dout, p=0.5, mode="train", seed=0, p_means="drop"):
    """Inverted dropout; dx by autograd.

    F.dropout draws its mask from torch's generator, which cannot give the page's mask: the mask is drawn
    here by NumPy's default_rng(seed), as the page draws it, and applied as F.dropout does (kept values
    scaled up). p_means="drop" (PyTorch): p drops a value, kept ones × 1/(1 − p); "keep" (the notes): p
    keeps a value, kept ones ÷ p.
    """
    x = x.clone().requires_grad_(True)
    if mode == "train":
        u = torch.from_numpy(np.random.default_rng(seed).random(tuple(x.shape)))
        mask = (u >= p) if p_means == "drop" else (u < p)
        scale = 1.0 / (1.0 - p) if p_means == "drop" else 1.0 / p
    else:  # eval: the identity (F.dropout(x, training=False))
        mask, scale = torch.ones(x.shape, dtype=torch.bool), 1.0
    out = x * mask * scale
    out.backward(dout)
    return {"mask": mask.double(), "out": out, "dx": x.grad}
