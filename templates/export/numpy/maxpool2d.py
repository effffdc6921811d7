def maxpool2d(x, dout, size=2, stride=None, pad=0):
    """Max pooling forward and backward: the gradient goes to the (first) maximum of each window.

    x (N, C, H, W), dout (N, C, OH, OW); padding is −∞, so a padded cell never wins.
    """
    N, C, H, W = x.shape
    k, s, p = size, stride or size, pad
    OH = (H + 2 * p - k) // s + 1
    OW = (W + 2 * p - k) // s + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    out = np.zeros((N, C, OH, OW))
    argmax = np.zeros((N, C, OH, OW), dtype=int)  # flat index h·W + w in the unpadded plane
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    window = x_padded[n, c, oh * s:oh * s + k, ow * s:ow * s + k]
                    kh, kw = np.unravel_index(np.argmax(window), window.shape)  # the first maximum
                    h, w = oh * s + kh - p, ow * s + kw - p
                    out[n, c, oh, ow] = window[kh, kw]
                    argmax[n, c, oh, ow] = h * W + w
                    dx[n, c, h, w] += dout[n, c, oh, ow]  # windows that share a maximum add
    return {"out": out, "argmax": argmax, "dx": dx}
