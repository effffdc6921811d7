"""Where the published values come from, and cs231n's own measure of agreement.

cs231n: the 2022 assignments as one student submitted them, outputs included — repository
AnirudhM1/CS231n-2022-Solutions at commit 7a5b4949f5bca2715deec11d10fcd573cbd93c34. The expected
arrays (``correct_out``, ``expected_next_w``, ...) are the course's own, written into the notebooks'
test cells; the printed statistics (means, stds, fractions) are that student's run of the cells on
the seeded inputs (``np.random.seed(231)``: NumPy's legacy generator, stable across versions), so
they hold for any correct implementation up to rounding.

d2l: Dive into Deep Learning, repository d2l-ai/d2l-en at commit
23d7a5aecceee57d1292c56e90cce307f183bb0a (the chapter sources: inputs and the values written in
the text); printed outputs that only the rendered book shows are cited from where they were found.
"""

import numpy as np

CS231N = "AnirudhM1/CS231n-2022-Solutions@7a5b4949f5bca2715deec11d10fcd573cbd93c34"
D2L = "d2l-ai/d2l-en@23d7a5aecceee57d1292c56e90cce307f183bb0a"


def rel_error(x, y) -> float:
    """cs231n's rel_error: max |x − y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def printed(actual, shown, noise: float = 1e-12) -> None:
    """``actual`` agrees with numbers as NumPy prints them (precision 8: eight decimals, so within half a
    unit of the eighth); printed values below ``noise`` in size are rounding residue (a mean of ~1e-17,
    shown in scientific notation) and only have to be that small."""
    actual, shown = np.asarray(actual, np.float64), np.asarray(shown, np.float64)
    residue = np.abs(shown) < noise
    assert np.all(np.abs(actual[residue]) < noise), (actual, shown)
    np.testing.assert_allclose(actual[~residue], shown[~residue], rtol=1e-15, atol=5e-9)


def op(client, name, inputs, params=None):
    """POST /api/v1/ops/{name}: every answered array, as float arrays."""
    r = client.post(f"/api/v1/ops/{name}", json={"inputs": inputs, "params": params or {}})
    assert r.status_code == 200, r.text
    return {k: np.asarray(v, dtype=float) for k, v in r.json()["arrays"].items()}


def linspace(lo, hi, shape):
    """cs231n's test inputs: np.linspace(lo, hi, num=size).reshape(shape)."""
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)
