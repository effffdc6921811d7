"""The labs, in navigation order. A page that lands flips ``available`` to True.

The header nav and the landing page's cards are both drawn from :data:`LABS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lab:
    slug: str
    title: str
    path: str
    summary: str  # one line, for the landing page card
    formulas: tuple[str, ...]  # KaTeX source, shown on the card
    available: bool = False


LABS: tuple[Lab, ...] = (
    Lab(
        "conv",
        "Convolution",
        "/conv",
        "Stride, padding and im2col in the forward pass; dW, db and dX (two ways) in the backward pass.",
        (
            r"H_{\text{out}} = \left\lfloor \frac{H + 2p - K}{s} \right\rfloor + 1",
            r"Y = W_{\text{row}}\, X_{\text{col}} + b",
            r"dW = dY_{\text{row}}\, X_{\text{col}}^{\top}",
        ),
        available=True,
    ),
    Lab(
        "pool",
        "Pooling & ReLU",
        "/pool",
        "Max and average pooling with the argmax that routes the gradient; ReLU and its mask.",
        (
            r"y = \max_{(i,j) \in \text{window}} x_{ij}",
            r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,[x > 0]",
        ),
        available=True,
    ),
    Lab(
        "norm",
        "Normalization",
        "/norm",
        "Batch norm in train and eval mode, running statistics in two conventions, layer norm, dropout.",
        (
            r"\hat{x} = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}",
            r"y = \gamma\,\hat{x} + \beta",
        ),
        available=True,
    ),
    Lab(
        "softmax",
        "Softmax",
        "/softmax",
        "A stable softmax, cross-entropy over a batch, the Jacobian and the p − y shortcut.",
        (
            r"p_k = \frac{e^{z_k - \max_j z_j}}{\sum_j e^{z_j - \max_j z_j}}",
            r"\frac{\partial L}{\partial z} = \frac{p - y}{N}",
        ),
        available=True,
    ),
    Lab(
        "optim",
        "Optimizers",
        "/optim",
        "SGD, momentum, RMSprop, Adam and AdamW step by step, with every state variable.",
        (
            r"m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t",
            r"\theta_t = \theta_{t-1} - \eta\, \frac{\hat{m}_t}{\sqrt{\hat{v}_t} + \epsilon}",
        ),
        available=True,
    ),
    Lab(
        "network",
        "Network",
        "/network",
        "A small CNN end to end: forward, loss, backward through every layer, one update.",
        (
            r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\frac{\partial y}{\partial x}",
            r"y = x + f(x)",
        ),
        available=True,
    ),
)
