def conv2d(x, w, b, dout, stride=1, pad=0, dilation=1):
    """Forward and backward of a convolution (cross-correlation), the notes' naive loops.

    x (N, C, H, W), w (F, C, KH, KW), b (F,), dout (N, F, OH, OW).
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    s, p, d = stride, pad, dilation
    OH = (H + 2 * p - d * (KH - 1) - 1) // s + 1
    OW = (W + 2 * p - d * (KW - 1) - 1) // s + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))

    # forward: every window, laid out as one column of x_col, dotted with every filter
    x_col = np.zeros((C * KH * KW, N * OH * OW))
    out = np.zeros((N, F, OH, OW))
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                rows = slice(oh * s, oh * s + d * (KH - 1) + 1, d)
                cols = slice(ow * s, ow * s + d * (KW - 1) + 1, d)
                window = x_padded[n, :, rows, cols]
                x_col[:, (n * OH + oh) * OW + ow] = window.reshape(-1)
                for f in range(F):
                    out[n, f, oh, ow] = np.sum(window * w[f]) + b[f]

    # backward: each out cell sends dout back to the window it read (dw) and through the kernel (dx)
    dw = np.zeros_like(w)
    dx_padded = np.zeros_like(x_padded)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for oh in range(OH):
                for ow in range(OW):
                    rows = slice(oh * s, oh * s + d * (KH - 1) + 1, d)
                    cols = slice(ow * s, ow * s + d * (KW - 1) + 1, d)
                    dw[f] += dout[n, f, oh, ow] * x_padded[n, :, rows, cols]
                    dx_padded[n, :, rows, cols] += dout[n, f, oh, ow] * w[f]  # overlapping windows add
    dx = dx_padded[:, :, p:p + H, p:p + W]
    return {"x_padded": x_padded, "x_col": x_col, "out": out, "dw": dw, "db": db,
            "dx_padded": dx_padded, "dx": dx}
