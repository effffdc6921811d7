def maxpool2d(x, dout, size=2, stride=None, pad=0):
    """Max pooling with F.max_pool2d; dx by autograd from the page's dout.

    argmax is torch's own return_indices: the flat index h·W + w of each window's (first) maximum in the
    unpadded plane — the cell the gradient is routed to (windows that share a maximum add).
    """
    x = x.clone().requires_grad_(True)
    out, argmax = F.max_pool2d(x, size, stride or size, padding=pad, return_indices=True)
    out.backward(dout)
    return {"out": out, "argmax": argmax, "dx": x.grad}
