"""The layer records of a network model (:mod:`engine.network.model` parses the JSON into them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Conv2d:
    type: ClassVar[str] = "conv2d"
    filters: int
    kernel: int
    stride: int = 1
    pad: int = 0


@dataclass(frozen=True)
class BatchNorm:
    type: ClassVar[str] = "batchnorm"
    eps: float = 1e-5
    momentum: float | None = None  # None: the convention's default (0.1 pytorch, 0.9 cs231n)
    convention: str = "pytorch"


@dataclass(frozen=True)
class Relu:
    type: ClassVar[str] = "relu"


@dataclass(frozen=True)
class Sigmoid:
    type: ClassVar[str] = "sigmoid"


@dataclass(frozen=True)
class Tanh:
    type: ClassVar[str] = "tanh"


@dataclass(frozen=True)
class LeakyRelu:
    type: ClassVar[str] = "leaky_relu"
    slope: float = 0.01  # the slope for x ≤ 0


@dataclass(frozen=True)
class GroupNorm:
    type: ClassVar[str] = "groupnorm"
    groups: int = 1  # 1: over all channels of a sample; C: instance norm
    eps: float = 1e-5


@dataclass(frozen=True)
class MaxPool2d:
    type: ClassVar[str] = "maxpool2d"
    size: int
    stride: int


@dataclass(frozen=True)
class AvgPool2d:
    type: ClassVar[str] = "avgpool2d"
    size: int
    stride: int


@dataclass(frozen=True)
class Dropout:
    type: ClassVar[str] = "dropout"
    p: float  # probability of dropping (PyTorch)


@dataclass(frozen=True)
class Flatten:
    type: ClassVar[str] = "flatten"


@dataclass(frozen=True)
class Linear:
    type: ClassVar[str] = "linear"
    units: int


@dataclass(frozen=True)
class Residual:
    """out = x + f(x), f being ``layers`` in order; f must keep the shape."""

    type: ClassVar[str] = "residual"
    layers: tuple[Layer, ...]


Layer = (Conv2d | BatchNorm | GroupNorm | Relu | Sigmoid | Tanh | LeakyRelu | MaxPool2d | AvgPool2d | Dropout
         | Flatten | Linear | Residual)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu")  # elementwise: the shape passes through
