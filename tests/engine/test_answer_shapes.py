"""Every op knows the shape of each array it answers from its inputs' shapes alone (OpSpec.shapes): the JSON API
refuses an oversized answer with it before running the op (issue 12). Checked against what run() answers."""

from __future__ import annotations

import numpy as np
import pytest

from engine import registry
from engine.records import numbers_in

R = np.random.default_rng(7)


def rnd(*shape: int) -> list:
    return R.normal(size=shape).round(2).tolist()


# calls beyond each op's example(): pairs, padding, dilation, other modes and ranks
VARIANTS = [
    ("conv2d", {"x": rnd(2, 3, 7, 6), "w": rnd(4, 3, 3, 2), "b": rnd(4)}, {"stride": [2, 1], "pad": [1, 2]}),
    ("conv2d", {"x": rnd(1, 2, 9, 9), "w": rnd(3, 2, 3, 3), "b": rnd(3)}, {"stride": 2, "pad": 1, "dilation": 2}),
    ("conv2d", {"x": rnd(1, 1, 8, 7), "w": rnd(2, 1, 2, 3), "b": rnd(2)}, {"stride": 3, "dilation": [1, 2]}),
    ("conv_transpose2d", {"x": rnd(2, 3, 3, 4), "w": rnd(3, 2, 2, 3), "b": rnd(2)},
     {"stride": [2, 3], "pad": [0, 1], "output_padding": [1, 2], "dilation": [2, 1]}),
    ("conv_transpose2d", {"x": rnd(1, 1, 2, 2), "w": rnd(1, 3, 3, 3), "b": rnd(3)}, {}),
    ("maxpool2d", {"x": rnd(2, 3, 7, 5)}, {"size": 3, "stride": 2, "pad": 1}),
    ("maxpool2d", {"x": rnd(1, 2, 6, 9)}, {"size": [2, 3], "stride": [1, 2]}),
    ("avgpool2d", {"x": rnd(2, 1, 7, 7)}, {"size": 3, "stride": 2, "pad": 1}),
    ("avgpool2d", {"x": rnd(1, 2, 5, 8)}, {"size": [1, 2]}),
    ("relu", {"x": rnd(2, 3, 4, 5)}, {}),
    ("sigmoid", {"x": rnd(7)}, {}),
    ("tanh", {"x": rnd(2, 3, 4)}, {}),
    ("leaky_relu", {"x": rnd(3, 2, 2, 2)}, {"slope": 0.2}),
    ("linear", {"x": rnd(3, 2, 4, 5), "w": rnd(40, 6), "b": rnd(6)}, {}),
    ("flatten", {"x": rnd(2, 3, 4, 5)}, {}),
    ("flatten", {"x": rnd(4, 3)}, {}),
    ("softmax_cross_entropy", {"logits": rnd(5, 7), "labels": [0, 6, 3, 2, 1]}, {"temperature": 2.0}),
    ("svm_loss", {"logits": rnd(1, 9), "labels": [4]}, {"margin": 2.0}),
    ("batchnorm", {"x": rnd(6, 5)}, {"mode": "train"}),
    ("batchnorm", {"x": rnd(2, 3, 4, 5)}, {"mode": "eval", "convention": "cs231n", "momentum": 0.5}),
    ("layernorm", {"x": rnd(4, 6)}, {}),
    ("layernorm", {"x": rnd(2, 3, 4, 5)}, {}),
    ("groupnorm", {"x": rnd(2, 6, 3, 4)}, {"groups": 3}),
    ("groupnorm", {"x": rnd(3, 8)}, {"groups": 4}),
    ("dropout", {"x": rnd(2, 3, 4, 5)}, {"p": 0.3, "mode": "eval"}),
    ("dropout", {"x": rnd(3, 4), "mask": (R.random((3, 4)) > 0.5).astype(float).tolist()}, {"p": 0.5}),
]


def examples() -> list[tuple[str, dict, dict]]:
    out = []
    for name, spec in sorted(registry.OPS.items()):
        for seed in range(6):
            inputs, params = spec.example(np.random.default_rng(seed))
            out.append((name, inputs, params))
    return out


def test_every_op_knows_its_answer_shapes():
    assert [name for name, spec in registry.OPS.items() if spec.shapes is None] == []


@pytest.mark.parametrize("name,inputs,params", examples() + VARIANTS)
def test_the_shapes_are_what_run_answers(name, inputs, params):
    spec, arrays, clean = registry.prepare(name, inputs, params)
    predicted = spec.shapes({k: v.shape for k, v in arrays.items()}, clean)
    answer = spec.run(arrays, clean)
    assert {k: tuple(v) for k, v in predicted.items()} == {k: np.shape(v) for k, v in answer.items()}
    assert numbers_in(predicted) == sum(int(np.size(v)) for v in answer.values())
