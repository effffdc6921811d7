"""engine.softmax_lab: the naive softmax trace, provenance, the two gradient routes, the logits gradient check.

Expected values are worked by hand here (exp, log), never read back from the module under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.explain import softmax as lab
from engine.ops.softmax import softmax_naive
from engine.records import OpInputError
from engine.registry import run_op


def test_notes_naive_denominator_is_the_notes_20_22():
    # 001: x = [3, −2, −100]; the notes' denominator Σ e^x = e^3 + e^−2 + e^−100 = 20.2209 is the
    # *unshifted* sum, which the naive trace keeps (the stable route's S is that divided by e^3).
    t = lab.naive_trace(np.array([[3.0, -2.0, -100.0]]), [0])
    denominator = math.exp(3) + math.exp(-2) + math.exp(-100)
    assert t.sum_exp[0] == pytest.approx(denominator, rel=1e-15)
    assert round(float(t.sum_exp[0]), 2) == 20.22
    # the notes print 1.88e−45 for e^−100/20.22; it is 1.8397e−45 (and 0.0066929, not 0.0066)
    np.testing.assert_allclose(t.probs[0], [math.exp(3) / denominator, 0.0066929, 1.8397e-45], rtol=1e-4)
    assert not t.overflow.any() and not t.underflow.any() and not t.nan.any() and not t.broken_rows.any()
    assert t.nll[0] == pytest.approx(-math.log(math.exp(3) / denominator), rel=1e-12)


def test_naive_overflow_is_inf_over_inf_is_nan():
    t = lab.naive_trace(np.array([[1000.0, 999.0, 990.0]]), [0])
    assert np.all(np.isinf(t.exp)) and t.overflow.all()
    assert math.isinf(t.sum_exp[0])
    assert np.all(np.isnan(t.probs)) and t.nan.all()
    assert math.isnan(t.nll[0]) and t.broken_rows[0]
    # the stable route has no trouble: shifted [0, −1, −10] → p0 = 1/(1 + e^−1 + e^−10)
    arrays = run_op("softmax_cross_entropy", {"logits": [[1000.0, 999.0, 990.0]], "labels": [0]})
    assert arrays["probs"][0, 0] == pytest.approx(1 / (1 + math.exp(-1) + math.exp(-10)), rel=1e-14)


def test_naive_underflow_is_zero_over_zero_is_nan():
    t = lab.naive_trace(np.array([[-1000.0, -1001.0, -1010.0]]), [1])
    assert np.all(t.exp == 0) and t.underflow.all() and not t.overflow.any()
    assert t.sum_exp[0] == 0
    assert t.nan.all() and t.broken_rows[0]


def test_naive_label_underflow_gives_an_infinite_loss_the_stable_route_does_not():
    # [0, 5, −800], label 2: e^−800 underflows to 0, so −log p_2 = −log 0 = inf in the naive route;
    # the stable route computes log p_2 = z̃_2 − log S = −805 − log(1 + e^−5) without taking log of p.
    t = lab.naive_trace(np.array([[0.0, 5.0, -800.0]]), [2])
    assert t.underflow.tolist() == [[False, False, True]]
    assert not t.nan.any()
    assert t.probs[0, 2] == 0 and math.isinf(t.nll[0]) and t.broken_rows[0]
    arrays = run_op("softmax_cross_entropy", {"logits": [[0.0, 5.0, -800.0]], "labels": [2]})
    assert float(arrays["nll"][0]) == pytest.approx(805 + math.log1p(math.exp(-5)), rel=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_naive_probs_are_the_engines_softmax_naive(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(3, 5)) * 10.0 ** rng.integers(0, 4)
    z[0, 0] = [0.0, 800.0, -800.0][seed % 3]
    t = lab.naive_trace(z, rng.integers(0, 5, 3))
    np.testing.assert_array_equal(t.probs, softmax_naive(z))  # equal, nan where nan


def test_exp_thresholds():
    assert math.isfinite(math.exp(lab.EXP_OVERFLOW))
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.nextafter(lab.EXP_OVERFLOW, 1000)))
    assert math.exp(lab.EXP_UNDERFLOW + 1e-9) > 0
    assert math.exp(lab.EXP_UNDERFLOW - 1e-9) == 0
    assert lab.EXP_OVERFLOW == pytest.approx(709.78, abs=0.01) and lab.EXP_UNDERFLOW == pytest.approx(-745.13, abs=0.01)


def test_row_max_is_what_the_engine_shifted_by():
    arrays = run_op("softmax_cross_entropy", {"logits": [[3.0, -2.0, -100.0], [0.5, 7.0, 7.0]], "labels": [0, 1]},
                    {"temperature": 2.0})
    m = lab.row_max(arrays["scaled"])
    assert m.tolist() == [1.5, 3.5]
    np.testing.assert_array_equal(arrays["scaled"] - m[:, None], arrays["shifted"])


def test_naive_provenance():
    shape, labels = (2, 3), [2, 0]
    assert lab.naive_provenance("naive_exp", (1, 2), shape, labels) == {"scaled": [(1, 2)], "logits": [(1, 2)]}
    assert lab.naive_provenance("naive_sum", (1,), shape, labels)["naive_exp"] == [(1, 0), (1, 1), (1, 2)]
    got = lab.naive_provenance("naive_probs", (0, 1), shape, labels)
    assert got["naive_exp"] == [(0, 1)] and got["naive_sum"] == [(0,)] and len(got["logits"]) == 3
    assert lab.naive_provenance("naive_nll", (0,), shape, labels) == {"naive_probs": [(0, 2)], "labels": [(0,)]}
    assert lab.naive_provenance("row_max", (1,), shape, labels)["scaled"] == [(1, 0), (1, 1), (1, 2)]
    with pytest.raises(OpInputError, match="outside naive_exp"):
        lab.naive_provenance("naive_exp", (2, 0), shape, labels)
    with pytest.raises(OpInputError, match="outside naive_sum"):
        lab.naive_provenance("naive_sum", (0, 0), shape, labels)
    with pytest.raises(OpInputError, match="no naive array"):
        lab.naive_provenance("probs", (0, 0), shape, labels)


def test_routes_agree_on_the_engines_two_routes():
    arrays = run_op("softmax_cross_entropy", {"logits": [[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]], "labels": [0, 2]},
                    {"temperature": 0.5})
    r = lab.routes_agree(arrays["dlogits"], arrays["dlogits_via_jacobian"], arrays["dprobs_defined"])
    assert r.agree and r.max_diff < 1e-15 and r.undefined_rows == ()
    # row 1 is uniform: (p − y)/(N·T) = ([1/3, 1/3, 1/3] − [0, 0, 1])/(2·0.5)
    np.testing.assert_allclose(arrays["dlogits"][1], [1 / 3, 1 / 3, -2 / 3], rtol=1e-14)
    assert r.scale == pytest.approx(2 / 3, rel=1e-14)


def test_routes_disagree_is_flagged_and_undefined_rows_are_named():
    d = np.array([[0.1, -0.1], [0.5, -0.5]])
    wrong = d.copy()
    wrong[0, 0] += 1e-9
    r = lab.routes_agree(d, wrong, np.array([1.0, 1.0]))
    assert not r.agree and r.max_diff == pytest.approx(1e-9, rel=1e-6)
    # [0, −1000], label 1: p_1 = e^−1000 underflows, so dL/dp = −1/(N·p_1) is not representable
    arrays = run_op("softmax_cross_entropy", {"logits": [[0.0, -1000.0], [1.0, 2.0]], "labels": [1, 0]})
    r = lab.routes_agree(arrays["dlogits"], arrays["dlogits_via_jacobian"], arrays["dprobs_defined"])
    assert r.undefined_rows == (0,) and r.agree
    np.testing.assert_allclose(arrays["dlogits"][0], [0.5, -0.5])  # (p − y)/N = ([1, 0] − [0, 1])/2


@pytest.mark.parametrize("temperature", [0.05, 0.3, 1.0, 2.5, 20.0])
def test_gradcheck_step_is_a_power_of_two_and_x_plus_h_is_exact(temperature):
    h = lab.gradcheck_step(temperature)
    assert math.frexp(h)[0] == 0.5  # a power of two
    assert 0.7 * lab.GRADCHECK_STEP_Z * temperature < h < 1.5 * lab.GRADCHECK_STEP_Z * temperature
    for x in (1e6, -999_999.7, 3.14159, -1e-3, 123.456):
        assert (x + h) - x == h and x - (x - h) == h


CASES = {
    "notes-3-minus2-minus100": ([[3, -2, -100]], [0], 1.0),
    "big-logits": ([[1000, 999, 990], [-1000, -1001, -1010], [0, 5, -800]], [0, 1, 2], 1.0),
    "batch-cold": ([[2, 1, 0.1, -1], [0.5, 2.5, -1, 0], [0, 0, 0, 0]], [0, 3, 2], 0.05),
    "batch-hot": ([[2, 1, 0.1, -1], [0.5, 2.5, -1, 0], [0, 0, 0, 0]], [0, 3, 2], 20.0),
    "two-equal": ([[0, 0]], [1], 1.0),
    "huge": ([[1e6, -1e6, 999_999.5]], [2], 0.05),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_gradcheck_logits_passes_where_the_plain_floor_cannot(case):
    logits, labels, t = CASES[case]
    check = lab.gradcheck_logits(logits, labels, t)
    assert check.ok, f"{case}: worst {check.worst:.3e} at {check.where} (noise {check.noise:.2e})"
    assert check.report.checked == check.report.total == np.size(logits)


@pytest.mark.parametrize("seed", range(12))
def test_gradcheck_logits_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 5)), int(rng.integers(2, 11))
    logits = rng.normal(size=(n, k)) * 10.0 ** rng.uniform(-1, 3)
    t = float(np.exp(rng.uniform(math.log(0.05), math.log(20))))
    check = lab.gradcheck_logits(logits, rng.integers(0, k, n), t)
    assert check.ok, f"seed {seed} (N={n}, K={k}, T={t:.3g}): worst {check.worst:.3e} at {check.where}"


def test_the_verdict_fails_for_a_wrong_gradient():
    check = lab.gradcheck_logits([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], [0, 2], 2.0)
    analytic, numeric = check.report.analytic["dlogits"], check.report.numeric["dlogits"]
    worst, _, _ = lab.verdict(analytic, numeric, check.noise)
    assert worst < lab.GRADCHECK_TOL
    off = analytic.copy()
    off[3] *= 1 + 1e-5  # one entry 10 ppm off
    worst, pos, _ = lab.verdict(off, numeric, check.noise)
    assert worst > lab.GRADCHECK_TOL and pos == 3
    # forgetting the 1/T of the temperature doubles every entry at T = 2
    worst, _, _ = lab.verdict(analytic * 2.0, numeric, check.noise)
    assert worst > 0.1


def test_nothing_is_modified_in_place():
    logits = np.array([[1000.0, 0.0, -5.0], [3.0, -2.0, -100.0]])
    labels = np.array([0, 2])
    before = logits.copy(), labels.copy()
    lab.naive_trace(logits, labels)
    lab.gradcheck_logits(logits, labels, 1.0)
    np.testing.assert_array_equal(logits, before[0])
    np.testing.assert_array_equal(labels, before[1])


def test_max_abs_diff():
    assert lab.max_abs_diff(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == 0.5
    assert math.isnan(lab.max_abs_diff(np.array([np.nan, 1.0]), np.array([0.0, 1.0])))
    assert math.isnan(lab.max_abs_diff(np.array([np.inf]), np.array([np.inf])))
