def avgpool2d(x, dout, size=2, stride=None, pad=0):
    """Average pooling forward and backward: each window cell gets dout / (k·k).

    x (N, C, H, W), dout (N, C, OH, OW); padding is 0 and counts in the mean.
    """
    N, C, H, W = x.shape
    k, s, p = size, stride or size, pad
    OH = (H + 2 * p - k) // s + 1
    OW = (W + 2 * p - k) // s + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((N, C, OH, OW))
    dx_padded = np.zeros_like(x_padded)
    for oh in range(OH):
        for ow in range(OW):
            window = x_padded[:, :, oh * s:oh * s + k, ow * s:ow * s + k]
            out[:, :, oh, ow] = window.sum(axis=(2, 3)) / (k * k)
            dx_padded[:, :, oh * s:oh * s + k, ow * s:ow * s + k] += dout[:, :, oh, ow, None, None] / (k * k)
    dx = dx_padded[:, :, p:p + H, p:p + W]
    return {"out": out, "dx": dx}
