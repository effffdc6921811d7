"""Provenance as terms: every element of every gradient array is the sum of its terms, over random
shapes, strides, paddings and dilations; and every cell a term names is one the op's provenance lists."""

import heapq
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.explain.terms import TERMS, Column, op_terms, term_arrays, terms_of
from engine.explain.terms.record import products
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, prepare


def _conv_case(rng):
    N, C, F = (int(v) for v in rng.integers(1, 3, size=3))
    KH, KW = (int(v) for v in rng.integers(1, 4, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
    ph, pw = (int(v) for v in rng.integers(0, 3, size=2))
    dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
    H = int(rng.integers(dh * (KH - 1) + 1, 8))
    W = int(rng.integers(dw * (KW - 1) + 1, 8))
    stride = sh if sh == sw and rng.integers(2) else [sh, sw]
    pad = ph if ph == pw and rng.integers(2) else [ph, pw]
    params = {"stride": stride, "pad": pad}
    if dh > 1 or dw > 1:
        params["dilation"] = [dh, dw]
    inputs = {"x": rng.normal(size=(N, C, H, W)), "w": rng.normal(size=(F, C, KH, KW)), "b": rng.normal(size=F)}
    _, arrays, clean = prepare("conv2d", inputs, params)
    inputs["dout"] = rng.normal(size=get_spec("conv2d").run(arrays, clean)["out"].shape)
    return inputs, params


def _pool_case(rng):
    k = int(rng.integers(1, 4))
    s = int(rng.integers(1, 4))
    p = int(rng.integers(0, k // 2 + 1))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(k, 8)), int(rng.integers(k, 8)))
    x = rng.integers(-3, 4, size=shape).astype(float)  # small integers: ties and shared maxima happen
    inputs, params = {"x": x}, {"size": k, "stride": s, "pad": p}
    _, arrays, clean = prepare("maxpool2d", inputs, params)
    inputs["dout"] = rng.normal(size=get_spec("maxpool2d").run(arrays, clean)["out"].shape)
    return inputs, params


def _case(op, rng):
    if op == "conv2d":
        return _conv_case(rng)
    if op in ("maxpool2d", "avgpool2d"):
        return _pool_case(rng)
    if op == "linear":
        n, d, m = (int(v) for v in rng.integers(1, 5, size=3))
        return {"x": rng.normal(size=(n, d)), "w": rng.normal(size=(d, m)), "b": rng.normal(size=m),
                "dout": rng.normal(size=(n, m))}, {}
    if op == "batchnorm":
        shape = (int(rng.integers(2, 5)), 3) if rng.integers(2) else (2, 2, int(rng.integers(1, 4)), 2)
        c = shape[1]
        mode = "train" if rng.integers(3) else "eval"
        return {"x": rng.normal(size=shape) * 3 + 1, "gamma": rng.uniform(0.5, 2, c), "beta": rng.normal(size=c),
                "dout": rng.normal(size=shape), "running_var": rng.uniform(0.5, 2, c)}, {"mode": mode}
    if op == "softmax_cross_entropy":
        n, k = int(rng.integers(1, 4)), int(rng.integers(2, 5))
        return ({"logits": rng.normal(size=(n, k)) * 2, "labels": rng.integers(0, k, size=n).tolist()},
                {"temperature": float(rng.choice([0.5, 1.0, 2.0]))})
    if op == "groupnorm":
        shape = (int(rng.integers(1, 4)), 4) if rng.integers(2) else (2, 4, int(rng.integers(1, 4)), 2)
        return {"x": rng.normal(size=shape) * 3 + 1, "gamma": rng.uniform(0.5, 2, 4), "beta": rng.normal(size=4),
                "dout": rng.normal(size=shape)}, {"groups": int(rng.choice([1, 2, 4]))}
    if op == "svm_loss":
        n, k = int(rng.integers(1, 5)), int(rng.integers(2, 6))
        return {"logits": np.round(rng.normal(size=(n, k)) * 2, 1), "labels": rng.integers(0, k, size=n).tolist()}, {}
    if op == "flatten":
        return {"x": rng.normal(size=(2, 2, 2, 3)), "dout": rng.normal(size=(2, 12))}, {}
    inputs, params = get_spec(op).example(rng)
    x = np.asarray(inputs["x"], float)
    return {**inputs, "dout": rng.normal(size=x.shape)}, params


CASES = [(op, seed) for op in sorted(TERMS) for seed in range(6 if op in ("conv2d", "maxpool2d", "avgpool2d") else 3)]


@pytest.mark.parametrize("op,seed", CASES, ids=[f"{op}-{seed}" for op, seed in CASES])
def test_terms_sum_to_every_element(op, seed):
    rng = np.random.default_rng(seed)
    inputs, params = _case(op, rng)
    spec, arrays, clean = prepare(op, inputs, params)
    result = spec.run(arrays, clean)
    for array in term_arrays(op):
        values = result[array]
        for index in np.ndindex(values.shape):
            t = terms_of(op, result, clean, array, index)
            scale = sum(abs(term.product) for term in t.terms) + abs(float(values[index]))
            assert abs(t.total - float(values[index])) <= 1e-12 * max(scale, 1.0), (
                f"{op} {params} {array}{list(index)}: terms sum to {t.total!r}, the array holds {values[index]!r} "
                f"({len(t.terms)} terms)")
            for term in t.terms:
                for f in (term.coefficient, term.upstream):
                    if f.array is not None:
                        assert f.array in result, f"{op} {array}{list(index)}: a factor names {f.array!r}"
                        if f.label.startswith(f"{f.array}["):  # the factor is the cell itself
                            assert f.value == float(result[f.array][f.index]), (op, array, index, f)


@pytest.mark.parametrize("op,seed", [(op, 0) for op in ("conv2d", "linear", "maxpool2d", "avgpool2d", "relu",
                                                         "batchnorm", "softmax_cross_entropy")])
def test_term_cells_are_provenance_cells(op, seed):
    """The cells the terms pair up are among those the op's provenance lists (one definition of "came from")."""
    rng = np.random.default_rng(seed)
    inputs, params = _case(op, rng)
    spec, arrays, clean = prepare(op, inputs, params)
    result = spec.run(arrays, clean)
    for array in term_arrays(op):
        if array not in spec.arrays:
            continue
        for index in list(np.ndindex(result[array].shape))[:40]:
            cells = terms_of(op, result, clean, array, index).cells()
            prov = op_provenance(op, inputs, params, array, index)
            for name, idxs in cells.items():
                if name in ("x_padded", "x_hat", "x_mu", "std", "dvar", "dmean", "dbeta", "dgamma", "dx_hat",
                            "gamma", "jacobian", "dprobs", "argmax", "mask", "local_grad", "w_row", "dout_row",
                            "w_rot", "dout_padded", "probs", "onehot"):
                    continue  # intermediates: the provenance names the inputs they come from
                assert set(idxs) <= set(prov.get(name, [])), (op, array, index, name, idxs, prov.get(name))


def test_notes_edge_filter_dx_cell():
    """The notes' 5×5 edge filter: dx[0,0,1,1] is Σ w·dout over the 4 windows that cover it."""
    x = np.arange(1.0, 26.0).reshape(1, 1, 5, 5)
    w = np.array([[[[1.0, 0.0, -1.0]] * 3]])
    t = op_terms("conv2d", {"x": x, "w": w, "b": [0.0]}, {"stride": 1, "pad": 0}, "dx", (0, 0, 1, 1))
    assert len(t.terms) == 4
    assert [term.coefficient.index for term in t.terms] == [(0, 0, 1, 1), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)]
    assert t.total == t.value == 2.0  # the dx row [2, 2, 0, −2, −2]
    centre = op_terms("conv2d", {"x": x, "w": w, "b": [0.0]}, {"stride": 1, "pad": 0}, "dx", (0, 0, 2, 2))
    assert len(centre.terms) == 9 and centre.value == 0.0


def test_unknown_array_and_index_are_named():
    inputs = {"x": [[1.0, 2.0]], "w": [[1.0], [2.0]], "b": [0.0]}
    with pytest.raises(OpInputError) as info:
        op_terms("linear", inputs, {}, "out", (0, 0))
    assert info.value.field == "array"
    with pytest.raises(OpInputError) as info:
        op_terms("linear", inputs, {}, "dx", (0, 5))
    assert info.value.field == "index"
    with pytest.raises(OpInputError) as info:
        op_terms("layernorm", {"x": [[1.0, 2.0]]}, {}, "dx", (0, 0))
    assert info.value.field == "op"


OPTIMIZERS = [("sgd", {}), ("momentum", {"form": "pytorch"}), ("momentum", {"form": "ema"}), ("rmsprop", {}),
              ("adam", {}), ("adam", {"weight_decay": 0.1, "bias_correction": False}), ("adamw", {"weight_decay": 0.1})]


@pytest.mark.parametrize("name,hp", OPTIMIZERS, ids=[f"{n}-{h}" for n, h in OPTIMIZERS])
def test_optimizer_quantities_are_the_sum_of_their_terms(name, hp):
    from engine.explain.terms.optim import QUANTITIES, optimizer_terms
    from engine.optim.runs import run_steps, table

    rng = np.random.default_rng(3)
    theta0 = rng.normal(size=3) * 4
    steps = run_steps(name, {"w": theta0}, {"lr": 0.05, **hp}, grads_seq=[{"w": rng.normal(size=3)} for _ in range(4)])
    tab = table(steps)
    for q in QUANTITIES:
        if q not in tab:
            continue
        for t in range(1, 5):
            for i in range(3):
                found = optimizer_terms(name, {"lr": 0.05, **hp}, tab, theta0, q, t, i)
                scale = sum(abs(x.product) for x in found.terms) + abs(found.value) + np.abs(tab["theta"]).max()
                assert abs(found.total - found.value) <= 1e-13 * scale, (name, hp, q, t, i, found)


def test_renamed_terms_keep_their_numbers():
    t = op_terms("relu", {"x": [[1.0, -2.0]], "dout": [[3.0, 4.0]]}, {}, "dx", (0, 0))
    r = t.renamed(lambda a: "relu_" + a)
    assert r.array == "relu_dx" and r.label == "relu_dx[0,0]"
    assert [(x.coefficient.label, x.upstream.label) for x in r.terms] == [("relu_mask[0,0]", "relu_dout[0,0]")]
    assert r.total == t.total == 3.0 and r.cells() == {"relu_mask": [(0, 0)], "relu_dout": [(0, 0)]}


def test_a_factor_is_labelled_by_its_cell_unless_written_otherwise():
    t = op_terms("conv2d", {"x": np.arange(4.0).reshape(1, 1, 2, 2), "w": np.ones((1, 1, 2, 2)), "b": [0.0],
                            "dout": np.ones((1, 1, 3, 3))}, {"stride": 1, "pad": 1}, "dw", (0, 0, 0, 0))
    labels = [term.coefficient.label for term in t.terms]
    # the window at (0, 0) reads padding; the one at (1, 1) reads x[0,0,0,0]
    assert labels[0] == "x_padded[0,0,0,0] (padding)" and labels[4] == "x[0,0,0,0]"
    assert t.terms[4].upstream.label == "dout[0,0,1,1]" and t.terms[4].upstream.as_json()["label"] == "dout[0,0,1,1]"
    moved = t.moved(lambda array, index: (array + "_t", tuple(reversed(index))))
    assert moved.terms[4].coefficient.label == "x_t[0,0,0,0]" and moved.terms[5].coefficient.label == "x_t[1,0,0,0]"
    assert moved.terms[0].coefficient.label == "x_padded[0,0,0,0] (padding)"  # a written label is kept as written
    with pytest.raises(AttributeError):  # records are immutable
        t.terms[0].coefficient.value = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("op,array,index", [("batchnorm", "dgamma", (1,)), ("batchnorm", "dmean", (0,)),
                                            ("batchnorm", "dvar", (2,)), ("conv2d", "dw", (1, 0, 0, 2)),
                                            ("conv2d", "db", (0,)), ("groupnorm", "dmean", (1, 0))])
def test_a_long_sum_is_made_when_read_and_reads_as_its_terms(op, array, index):
    """A column's terms (record.Column) are made one by one when read; read every way, they are the terms a list
    would hold, and the record's sum, largest term, order by size and formula are the list's."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 4, 5, 5))
    inputs, params = {
        "batchnorm": ({"x": x, "gamma": rng.uniform(0.5, 2, 4), "beta": rng.normal(size=4)}, {}),
        "groupnorm": ({"x": x, "gamma": rng.uniform(0.5, 2, 4), "beta": rng.normal(size=4)}, {"groups": 2}),
        "conv2d": ({"x": x, "w": rng.normal(size=(3, 4, 3, 3)), "b": rng.normal(size=3)}, {"stride": 2, "pad": 1}),
    }[op]
    spec, arrays, clean = prepare(op, inputs, params)
    result = spec.run(arrays, clean)
    result = spec.run({**arrays, "dout": rng.normal(size=result["out"].shape)}, clean)
    t = terms_of(op, result, clean, array, index)
    assert isinstance(t.terms, Column) and len(t.terms) > 8
    held = tuple(t.terms)
    eager = replace(t, terms=held)
    assert isinstance(eager.terms, tuple) and t == eager and t.terms == held and t.terms[2:6] == held[2:6]
    assert t.terms[-1] == held[-1] and t.terms[-len(held)] == held[0]
    with pytest.raises(IndexError):
        t.terms[len(held)]
    assert products(t.terms) == [x.product for x in held]
    assert t.total == math.fsum(x.product for x in held)
    assert t.largest() == max(held, key=lambda x: abs(x.product))
    assert [t.terms[k] for k in t.by_size()] == sorted(held, key=lambda x: -abs(x.product))
    assert t.by_size(5) == t.by_size()[:5] and t.smallest() == t.by_size()[-1]
    assert t.latex(max_terms=8, largest_first=True) == eager.latex(max_terms=8, largest_first=True)
    assert t.as_json(max_terms=5) == eager.as_json(max_terms=5) and t.text() == eager.text()


def test_equal_products_keep_their_order():
    """dβ sums 1·dout: with every dout equal, every product is: the largest is the first, the order the terms'."""
    x = np.random.default_rng(0).normal(size=(4, 2))
    t = op_terms("batchnorm", {"x": x, "gamma": [1.0, 2.0], "beta": [0.0, 0.0], "dout": np.ones((4, 2))}, {},
                 "dbeta", (1,))
    assert t.largest() == t.terms[0] and t.by_size() == [0, 1, 2, 3] and t.by_size(2) == [0, 1]
    assert t.smallest() == 3 and t.total == 4.0


@pytest.mark.parametrize("seed", range(40))
def test_terms_by_size_largest_and_smallest_order_as_a_stable_sort_of_the_products(seed):
    """by_size, largest and smallest (NumPy over the products; Python's own order once a product is NaN) agree with
    a stable sort of every |product|: ties in their order, zeros, ±inf, a NaN."""
    from engine.explain.terms.record import Cells, Terms, constant

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    values = rng.choice([-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf, -np.inf], size=n).tolist() if seed % 2 else \
        rng.normal(size=n).tolist()
    if seed % 5 == 0:
        values[int(rng.integers(n))] = math.nan
    column = Column(Cells("x", [(k,) for k in range(n)], values), constant(1.0, "1"))
    terms = Terms("op", "dx", (0,), 0.0, column, "f")
    keys = [-abs(p) for p in products(column)]
    for count in (None, 1, 3, 7, n, n + 2):  # the order the pages always showed: Python's sort, or heapq's first few
        shown = sorted(range(n), key=keys.__getitem__) if count is None or count >= n else \
            heapq.nsmallest(count, range(n), key=keys.__getitem__)  # (the same but where a NaN is)
        assert terms.by_size(count) == shown, (count, values)
    sizes = [abs(p) for p in values]
    assert terms.largest() == column[max(range(n), key=sizes.__getitem__)]
    assert terms.smallest() == n - 1 - sizes[::-1].index(min(sizes))
