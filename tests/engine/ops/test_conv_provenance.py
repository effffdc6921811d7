"""conv2d's provenance (checked against brute-force perturbation) and its step formulas in KaTeX."""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from engine.ops.im2col import col_to_window
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, prepare, run_op
from tests.engine.ops.conv_cases import case_id, make_arrays

SPEC = get_spec("conv2d")
INPUTS = ("x", "w", "b", "dout")


PROV_CASES = [
    (1, 2, 4, 5, 2, 2, 3, 1, 1),
    (2, 1, 6, 5, 2, 3, 2, 2, 1),  # stride 2 with dropped rows
    (1, 1, 5, 5, 1, 3, 3, 3, 2),  # windows of mostly padding
]
DERIVED = [n for n in SPEC.arrays if n not in INPUTS and n not in ("dropped_rows", "dropped_cols")]


def _changed_by(arrays, params, base):
    """{(derived, source): {derived index: {source index, ...}}}: perturb every input element once."""
    found = {}
    for src in INPUTS:
        for idx in np.ndindex(arrays[src].shape):
            trial = {k: v.copy() for k, v in arrays.items()}
            trial[src][idx] += 1.0
            res = SPEC.run(trial, params)
            for name in DERIVED:
                diff = np.abs(res[name] - base[name]) > 1e-9
                for didx in zip(*np.nonzero(diff), strict=True):
                    key = tuple(int(i) for i in didx)
                    found.setdefault((name, src), {}).setdefault(key, set()).add(idx)
    return found


@pytest.mark.parametrize("case", PROV_CASES, ids=[case_id(c) for c in PROV_CASES])
def test_provenance_matches_brute_force(case):
    a, params = make_arrays(case, seed=21)
    _, arrays, clean = prepare("conv2d", a, params)
    base = SPEC.run(arrays, clean)
    found = _changed_by(arrays, clean, base)
    for name in DERIVED:
        for idx in np.ndindex(base[name].shape):
            prov = SPEC.provenance(arrays, clean, name, idx)
            for src in INPUTS:
                listed = prov.get(src, [])
                expected = set(listed)
                if name in ("out", "wx_row") and src == "w":
                    # every weight of filter f is in the dot product; those paired with zero padding
                    # multiply 0, so perturbing them changes nothing
                    expected = {q for pp, q in zip(prov["x_padded"], prov["w"], strict=True)
                                if base["x_padded"][pp] != 0}
                brute = found.get((name, src), {}).get(idx, set())
                assert brute == expected, (name, idx, src, sorted(brute), sorted(expected))


@pytest.mark.parametrize("case", PROV_CASES, ids=[case_id(c) for c in PROV_CASES])
def test_provenance_pairs_rebuild_the_values(case):
    a, params = make_arrays(case, seed=22)
    _, arrays, clean = prepare("conv2d", a, params)
    r = SPEC.run(arrays, clean)

    def prov(name, idx):
        return SPEC.provenance(arrays, clean, name, idx)

    def pair_sum(p, left, right):
        return sum(r[left][i] * r[right][j] for i, j in zip(p[left], p[right], strict=True))

    for idx in np.ndindex(r["out"].shape):
        p = prov("out", idx)
        assert len(p["x_padded"]) == len(p["w"]) == r["w_row"].shape[1]
        assert r["out"][idx] == pytest.approx(pair_sum(p, "x_padded", "w") + r["b"][p["b"][0]], abs=1e-12)
        assert all(r["x"][q] == r["x_padded"][q[0], q[1], q[2] + clean["pad"], q[3] + clean["pad"]]
                   for q in p["x"])
    for idx in np.ndindex(r["dx"].shape):
        p = prov("dx", idx)
        assert r["dx"][idx] == pytest.approx(pair_sum(p, "dout", "w"), abs=1e-12)
        assert r["dx"][idx] == pytest.approx(sum(r["dx_col"][q] for q in p["dx_col"]), abs=1e-12)
        pf = prov("dx_full_conv", idx)
        assert r["dx_full_conv"][idx] == pytest.approx(pair_sum(pf, "dout_padded", "w_rot"), abs=1e-12)
    for idx in np.ndindex(r["dw"].shape):
        p = prov("dw", idx)
        assert r["dw"][idx] == pytest.approx(pair_sum(p, "x", "dout"), abs=1e-12)
        assert r["dw"][idx] == pytest.approx(pair_sum(p, "dout_row", "x_col"), abs=1e-12)
    for idx in np.ndindex(r["dx_col"].shape):
        p = prov("dx_col", idx)
        assert r["dx_col"][idx] == pytest.approx(pair_sum(p, "w", "dout"), abs=1e-12)
        assert r["dx_col"][idx] == pytest.approx(pair_sum(p, "w_row", "dout_row"), abs=1e-12)
    for idx in np.ndindex(r["x_col"].shape):
        (q,) = prov("x_col", idx)["x_padded"]
        assert r["x_col"][idx] == r["x_padded"][q]
    for f in range(r["db"].shape[0]):
        assert r["db"][f] == pytest.approx(sum(r["dout"][q] for q in prov("db", (f,))["dout"]), abs=1e-12)


def test_provenance_of_inputs_is_empty_and_bad_requests_fail():
    a, params = make_arrays(PROV_CASES[0])
    assert op_provenance("conv2d", a, params, "x", (0, 0, 0, 0)) == {}
    assert op_provenance("conv2d", a, params, "dropped_rows", ()) == {}
    with pytest.raises(OpInputError) as exc:
        op_provenance("conv2d", a, params, "nope", (0,))
    assert exc.value.field == "array"
    with pytest.raises(OpInputError) as exc:
        op_provenance("conv2d", a, params, "out", (0, 0, 9, 0))
    assert exc.value.field == "index"
    with pytest.raises(OpInputError):
        op_provenance("conv2d", a, params, "dx", (0, 0, 0))


def test_provenance_links_column_and_window():
    """x_col column j holds exactly the x_padded window of out[n, :, oh, ow] with j = (n·OH + oh)·OW + ow."""
    a, params = make_arrays(PROV_CASES[1], seed=3)
    r = run_op("conv2d", a, params)
    N, F, OH, OW = r["out"].shape
    for j in range(N * OH * OW):
        n, oh, ow = col_to_window(j, N, OH, OW)
        window = op_provenance("conv2d", a, params, "out", (n, 0, oh, ow))["x_padded"]
        column = [op_provenance("conv2d", a, params, "x_col", (i, j))["x_padded"][0]
                  for i in range(r["x_col"].shape[0])]
        assert window == column


def test_step_latex_renders_in_katex(tmp_path):
    """Every step formula parses in the KaTeX the pages use (skipped where node/katex are absent)."""
    root = pathlib.Path(__file__).resolve().parents[3]
    katex = root / "node_modules" / "katex"
    node = shutil.which("node")
    if node is None or not katex.exists():
        pytest.skip("node or node_modules/katex not installed")
    formulas = []
    for case in ((1, 2, 5, 5, 2, 3, 3, 2, 1), (2, 1, 4, 6, 1, 1, 2, 1, 0)):
        a, params = make_arrays(case)
        formulas += [s.latex for s in op_steps("conv2d", a, params)]
    script = tmp_path / "check.js"
    script.write_text(
        f"const katex = require({json.dumps(str(katex))});\n"
        f"for (const s of {json.dumps(formulas)}) katex.renderToString(s, {{throwOnError: true, strict: 'error'}});\n"
    )
    proc = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
