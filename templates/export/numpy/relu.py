def relu(x, dout):
    """ReLU: out = max(0, x); the gradient passes where x > 0."""
    mask = x > 0
    out = np.where(mask, x, 0.0)
    dx = np.where(mask, dout, 0.0)
    return {"mask": mask, "out": out, "dx": dx}
