def conv2d(x, w, b, dout, stride=1, pad=0, dilation=1):
    """A convolution (cross-correlation) with F.conv2d; every gradient by autograd from the page's dout.

    x (N, C, H, W), w (F, C, KH, KW), b (F,), dout (N, F, OH, OW).
    """
    x = x.clone().requires_grad_(True)
    w = w.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    p = pad
    x_padded = F.pad(x, (p, p, p, p))  # padded here (not by conv2d) so autograd also gives dx_padded
    x_padded.retain_grad()
    out = F.conv2d(x_padded, w, b, stride=stride, dilation=dilation)
    out.backward(dout)

    # x_col (im2col) has no place in torch's conv: F.unfold lays out the same windows, (N, C·KH·KW, OH·OW);
    # the page's x_col is one column per (n, oh, ow), so the sample axis joins the window axis
    KH, KW = w.shape[2:]
    cols = F.unfold(x_padded.detach(), (KH, KW), dilation=dilation, stride=stride)
    x_col = cols.permute(1, 0, 2).reshape(cols.shape[1], -1)
    return {"x_padded": x_padded, "x_col": x_col, "out": out, "dw": w.grad, "db": b.grad,
            "dx_padded": x_padded.grad, "dx": x.grad}
