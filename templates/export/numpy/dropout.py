def dropout(x, dout, p=0.5, mode="train", seed=0, p_means="drop"):
    """Inverted dropout: a seeded 0/1 mask and a scale that keeps the expectation.

    p_means="drop" (PyTorch): p drops a value, kept ones are scaled by 1/(1 − p);
    p_means="keep" (the notes): p keeps a value, kept ones are divided by p.
    """
    if mode == "train":
        u = np.random.default_rng(seed).random(x.shape)
        mask = (u >= p) if p_means == "drop" else (u < p)
        scale = 1.0 / (1.0 - p) if p_means == "drop" else 1.0 / p
    else:  # eval: the identity
        mask, scale = np.ones(x.shape, dtype=bool), 1.0
    out = np.where(mask, x * scale, 0.0)
    dx = np.where(mask, dout * scale, 0.0)
    return {"mask": mask.astype(float), "out": out, "dx": dx}
