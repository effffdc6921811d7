"""The normalization lab's engine helpers: batch sequences, both running-statistics conventions,
dropout's running mean, and the formulas with numbers (checked against hand-worked values)."""

import math

import numpy as np
import pytest

from engine.explain.norm import (
    batchnorm_terms,
    dropout_running_mean,
    equivalent_momentum,
    layernorm_terms,
    random_batches,
    repeated_batches,
    running_both_conventions,
    running_sequence,
    scaled_errors,
)
from engine.ops.dropout import dropout_expectation, dropout_forward
from engine.records import OpInputError
from engine.registry import run_op


def test_random_batches_are_seeded_and_centred_on_the_true_values():
    a = random_batches((4, 3), 200, 2.0, 9.0, seed=5)
    b = random_batches((4, 3), 200, 2.0, 9.0, seed=5)
    assert len(a) == 200 and a[0].shape == (4, 3)
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    values = np.stack(a)
    assert abs(values.mean() - 2.0) < 0.2 and abs(values.var() - 9.0) < 0.6
    assert not np.array_equal(np.stack(random_batches((4, 3), 2, 2.0, 9.0, seed=6)), values[:2])


@pytest.mark.parametrize("field,kw", [("true_var", {"var": -1.0}), ("batches", {"count": 0}),
                                      ("true_mean", {"mean": math.inf})])
def test_random_batches_name_the_bad_field(field, kw):
    args = {"shape": (2, 2), "count": 3, "mean": 0.0, "var": 1.0, "seed": 0, **kw}
    with pytest.raises(OpInputError) as err:
        random_batches(**args)
    assert err.value.field == field


def test_repeated_batches_copy():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    batches = repeated_batches(x, 3)
    batches[0][0, 0] = 99
    assert x[0, 0] == 1 and batches[1][0, 0] == 1


def test_equivalent_momentum():
    assert equivalent_momentum(0.1, "pytorch") == 0.9
    assert equivalent_momentum(0.9, "cs231n") == pytest.approx(0.1)


def test_both_conventions_by_hand_on_a_repeated_batch():
    """x = [1, 3] twice: batch mean 2, biased var 1, unbiased 2 (n = 2).

    pytorch m = 0.1 from (0, 1): mean 0.2 then 0.38; var 0.9·1 + 0.1·2 = 1.1, then 0.9·1.1 + 0.2 = 1.19.
    cs231n m = 0.9 (equivalent): mean the same; var 0.9·1 + 0.1·1 = 1 both times (biased var is 1).
    """
    x = np.array([[1.0], [3.0]])
    chosen, other = running_both_conventions(repeated_batches(x, 2), "pytorch", None)
    assert (chosen.convention, chosen.momentum) == ("pytorch", 0.1)
    assert (other.convention, other.momentum) == ("cs231n", 0.9)
    np.testing.assert_allclose(chosen.arrays["running_mean"][:, 0], [0.2, 0.38])
    np.testing.assert_allclose(other.arrays["running_mean"][:, 0], [0.2, 0.38])
    np.testing.assert_allclose(chosen.arrays["running_var"][:, 0], [1.1, 1.19])
    np.testing.assert_allclose(other.arrays["running_var"][:, 0], [1.0, 1.0])
    np.testing.assert_allclose(chosen.arrays["batch_var"][:, 0], [1.0, 1.0])


def test_both_conventions_start_from_the_given_statistics_and_name_errors():
    x = np.array([[1.0], [3.0]])
    chosen, other = running_both_conventions(repeated_batches(x, 1), "cs231n", 0.5, np.array([4.0]), np.array([3.0]))
    # cs231n m = 0.5: 0.5·4 + 0.5·2 = 3; pytorch m = 0.5: the same mean
    assert chosen.arrays["running_mean"][0, 0] == 3.0 and other.arrays["running_mean"][0, 0] == 3.0
    # var: cs231n 0.5·3 + 0.5·1 = 2; pytorch 0.5·3 + 0.5·2 = 2.5
    assert chosen.arrays["running_var"][0, 0] == 2.0 and other.arrays["running_var"][0, 0] == 2.5
    with pytest.raises(OpInputError) as err:
        running_both_conventions(repeated_batches(x, 1), "pytorch", 1.5)
    assert err.value.field == "momentum"
    with pytest.raises(OpInputError) as err:  # pytorch needs n ≥ 2 for its unbiased variance
        running_both_conventions(repeated_batches(np.array([[1.0]]), 1), "cs231n", None)
    assert err.value.field == "batches[0]"


@pytest.mark.parametrize("p_means,p", [("drop", 0.25), ("keep", 0.8)])
def test_dropout_running_mean_ends_at_the_expectation(p_means, p):
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 4.0]])
    rows = dropout_running_mean(x, p, 300, seed=7, p_means=p_means)
    assert rows.shape == (300, 2, 3)
    np.testing.assert_array_equal(rows[-1], dropout_expectation(x, p, 300, 7, p_means))
    first, _ = dropout_forward(x, p, "train", 7, p_means)
    np.testing.assert_array_equal(rows[0], first)
    np.testing.assert_allclose(rows[-1], x, atol=0.6)  # the expectation is x


def test_dropout_running_mean_rejects_zero_draws():
    with pytest.raises(OpInputError) as err:
        dropout_running_mean(np.ones(2), 0.5, 0)
    assert err.value.field == "draws"


def test_notes_two_sample_terms_have_the_numbers():
    """003's batch, feature 0: x = (1, 3), μ = 2, σ² = 1; dout = (0.3, −1.2), γ = 2."""
    x = np.array([[1.0, 10.0], [3.0, 4.0]])
    a = run_op("batchnorm", {"x": x, "gamma": np.array([2.0, 0.5]), "beta": np.array([0.5, -1.0]),
                             "dout": np.array([[0.3, 1.0], [-1.2, 2.0]])}, {})
    terms = {t.name: t.latex for t in batchnorm_terms(a, 0, "train", 1e-5)}
    assert terms["mean"] == r"\mu_{0} = \frac{1 + 3}{2} = 2"
    assert terms["var"] == r"\sigma^2_{0} = \frac{(-1)^2 + 1^2}{2} = 1"
    assert terms["dbeta"] == r"\frac{\partial L}{\partial \beta_{0}} = 0.3 + (-1.2) = -0.9"
    assert terms["dx_hat"].endswith("= 0.6")
    assert terms["std"].endswith("= 1.000005")
    # dx₀ = 1.5·ε/σ³ = 1.5e-5/(1 + 1e-5)^{3/2} = 1.499978e-5: tiny, and written as such
    assert terms["dx"].endswith(r"= 1.499978 \times 10^{-5}")
    assert terms["dx_compact"].endswith(r"= 1.499978 \times 10^{-5}")
    # x̂ = −1/√(1 + ε) = −0.999995: not quite −1
    assert terms["x_hat"].endswith("= -0.999995")
    assert set(terms) == {"mean", "var", "std", "x_hat", "out", "dbeta", "dgamma", "dx_hat", "dvar", "dmean",
                          "dx", "dx_compact"}


def test_terms_in_eval_and_long_sums_are_cut():
    x = np.arange(8.0).reshape(8, 1)
    a = run_op("batchnorm", {"x": x, "running_mean": np.array([1.0]), "running_var": np.array([3.0])},
               {"mode": "eval"})
    terms = {t.name: t.latex for t in batchnorm_terms(a, 0, "eval", 1e-5)}
    assert "dvar" not in terms and r"\mu^{\text{run}}_{0} = 1" in terms["mean"]
    a = run_op("batchnorm", {"x": x}, {})
    terms = {t.name: t.latex for t in batchnorm_terms(a, 0, "train", 1e-5, max_terms=4)}
    assert terms["mean"] == r"\mu_{0} = \frac{0 + 1 + 2 + \cdots + 7}{8} = 3.5"
    with pytest.raises(OpInputError):
        batchnorm_terms(a, 1, "train", 1e-5)


def test_layernorm_terms_by_hand():
    a = run_op("layernorm", {"x": np.array([[1.0, 3.0], [0.0, 4.0]])}, {})
    terms = {t.name: t.latex for t in layernorm_terms(a, 1, 1e-5)}
    assert terms["mean"] == r"\mu_{1} = \frac{0 + 4}{2} = 2"
    assert terms["var"] == r"\sigma^2_{1} = \frac{(-2)^2 + 2^2}{2} = 4"


def test_scaled_errors_by_hand():
    analytic = {"dx": np.array([1e-5, -2e-5]), "dgamma": np.array([0.0, 0.0])}
    numeric = {"dx": np.array([1e-5 + 4e-11, -2e-5]), "dgamma": np.array([0.0, 0.0])}
    errors = scaled_errors(analytic, numeric)
    assert errors["dx"] == pytest.approx(4e-11 / 2e-5)
    assert errors["dgamma"] == 0.0
    assert scaled_errors({"d": np.array([1.0])}, {"d": np.array([1.5])})["d"] == pytest.approx(0.5 / 1.5)


AXES = {2: (0,), 4: (0, 2, 3)}


def hand_running(batches, convention, momentum, rm, rv):
    """The recurrences of CONVENTIONS.md, written independently with np.var(ddof=...)."""
    means, variances = [], []
    for b in batches:
        axes = AXES[b.ndim]
        if convention == "pytorch":
            rm = (1 - momentum) * rm + momentum * b.mean(axis=axes)
            rv = (1 - momentum) * rv + momentum * b.var(axis=axes, ddof=1)
        else:
            rm = momentum * rm + (1 - momentum) * b.mean(axis=axes)
            rv = momentum * rv + (1 - momentum) * b.var(axis=axes, ddof=0)
        means.append(rm)
        variances.append(rv)
    return np.array(means), np.array(variances)


@pytest.mark.parametrize("momentum", [None, 0.3, 0.0, 1.0])
@pytest.mark.parametrize("convention", ["pytorch", "cs231n"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_running_stats_recurrence_over_batches(shape, convention, momentum):
    rng = np.random.default_rng(11)
    batches = [rng.normal(loc=2.0, scale=3.0, size=shape) for _ in range(5)]
    m = {"pytorch": 0.1, "cs231n": 0.9}[convention] if momentum is None else momentum
    want_mean, want_var = hand_running(batches, convention, m, np.zeros(shape[1]), np.ones(shape[1]))

    seq = running_sequence(batches, convention, momentum)
    assert seq["running_mean"].shape == (5, shape[1])
    np.testing.assert_allclose(seq["running_mean"], want_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(seq["running_var"], want_var, rtol=1e-12)
    np.testing.assert_allclose(seq["batch_var"][2], batches[2].var(axis=AXES[len(shape)]), rtol=1e-12)

    # the same through the registry, feeding each call's running statistics into the next
    params = {"convention": convention} | ({} if momentum is None else {"momentum": momentum})
    rm, rv = np.zeros(shape[1]), np.ones(shape[1])
    for t, b in enumerate(batches):
        a = run_op("batchnorm", {"x": b, "running_mean": rm, "running_var": rv}, params)
        np.testing.assert_array_equal(a["running_mean_before"], rm)
        rm, rv = a["running_mean"], a["running_var"]
        np.testing.assert_allclose(rm, want_mean[t], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(rv, want_var[t], rtol=1e-12)
        assert float(a["momentum"]) == m


def test_running_stats_start_from_given_values():
    rng = np.random.default_rng(12)
    batches = [rng.normal(size=(3, 2)) for _ in range(3)]
    rm0, rv0 = np.array([5.0, -5.0]), np.array([0.5, 4.0])
    seq = running_sequence(batches, "cs231n", 0.8, rm0, rv0)
    want_mean, want_var = hand_running(batches, "cs231n", 0.8, rm0, rv0)
    np.testing.assert_allclose(seq["running_mean"], want_mean, rtol=1e-12)
    np.testing.assert_allclose(seq["running_var"], want_var, rtol=1e-12)
    np.testing.assert_array_equal(rm0, [5.0, -5.0])  # not modified


@pytest.mark.parametrize("convention", ["pytorch", "cs231n"])
def test_running_stats_converge_to_population(convention):
    """Many batches from N(3, 2²): the running mean and variance approach 3 and 4."""
    rng = np.random.default_rng(13)
    batches = [rng.normal(3.0, 2.0, size=(16, 2)) for _ in range(150)]
    seq = running_sequence(batches, convention)
    np.testing.assert_allclose(seq["running_mean"][-30:].mean(axis=0), 3.0, atol=0.25)
    np.testing.assert_allclose(seq["running_var"][-30:].mean(axis=0), 4.0, rtol=0.15)
    assert abs(seq["running_mean"][0, 0] - 3.0) > 1.5  # it started far away (from 0)


def test_running_var_unbiased_vs_biased_differ_by_n_over_n_minus_1():
    x = np.array([[1.0], [2.0], [6.0]])  # mean 3, biased var 14/3, unbiased 7
    p = run_op("batchnorm", {"x": x, "running_var": [0.0]}, {"momentum": 1.0})
    c = run_op("batchnorm", {"x": x, "running_var": [0.0]}, {"convention": "cs231n", "momentum": 0.0})
    np.testing.assert_allclose(p["var"], [14 / 3], rtol=1e-15)
    np.testing.assert_allclose(p["running_var"], [7.0], rtol=1e-15)
    np.testing.assert_allclose(c["running_var"], [14 / 3], rtol=1e-15)
    np.testing.assert_allclose(p["running_mean"], [3.0], rtol=1e-15)


def test_running_sequence_errors():
    with pytest.raises(OpInputError) as err:
        running_sequence([])
    assert err.value.field == "batches"
    with pytest.raises(OpInputError) as err:
        running_sequence([np.ones((2, 3)), np.ones((2, 4))])
    assert err.value.field == "batches[1]" and "4 channels" in str(err.value)
    with pytest.raises(OpInputError) as err:
        running_sequence([np.ones((2, 3)), np.ones((1, 3))], "pytorch")
    assert err.value.field == "batches[1]" and "n − 1 = 0" in str(err.value)


def test_running_sequence_keeps_the_ops_errors():
    with pytest.raises(OpInputError) as err:
        running_sequence([np.ones((1, 2))] * 3, "pytorch")
    assert err.value.field == "batches[0]"
    with pytest.raises(OpInputError) as err:
        running_sequence([np.ones((2, 2))] * 3, "pytorch", running_var=np.array([1.0, -1.0]))
    assert err.value.field == "inputs.running_var"
