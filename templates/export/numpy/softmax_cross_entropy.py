def softmax_cross_entropy(logits, labels, temperature=1.0):
    """Softmax and the mean cross-entropy loss, the stable way (subtract the row's max first)."""
    N, K = logits.shape
    scaled = logits / temperature
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)
    log_probs = shifted - np.log(sum_exp)[:, None]
    probs = exp / sum_exp[:, None]
    nll = -log_probs[np.arange(N), labels]
    loss = nll.mean()
    onehot = np.zeros((N, K))
    onehot[np.arange(N), labels] = 1.0
    dlogits = (probs - onehot) / (N * temperature)  # the mean's 1/N and the temperature's 1/T
    return {"probs": probs, "log_probs": log_probs, "nll": nll, "loss": loss, "dlogits": dlogits}
