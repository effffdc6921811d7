def softmax_cross_entropy(logits, labels, temperature=1.0):
    """Softmax and the mean cross-entropy with F.log_softmax and F.cross_entropy; dlogits by autograd."""
    logits = logits.clone().requires_grad_(True)
    scaled = logits / temperature
    log_probs = F.log_softmax(scaled, dim=1)
    probs = log_probs.exp()
    nll = F.nll_loss(log_probs, labels, reduction="none")  # −log p of each row's label
    loss = F.cross_entropy(scaled, labels)  # the mean over the batch
    loss.backward()
    return {"probs": probs, "log_probs": log_probs, "nll": nll, "loss": loss, "dlogits": logits.grad}
