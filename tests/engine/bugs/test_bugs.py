"""The planted bugs (engine.bugs): at least 12, each changes a shown array on its example, and each is
caught the way it says — its own forward's numeric gradient disagrees with its analytic gradient, or its
comparison finds it — while the correct engine passes the same check. The normal path never imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.bugs import BUGS, by_lab
from engine.gradcheck import numeric_gradient

ROOT = Path(__file__).resolve().parents[3]
REQUIRED = {"conv-flip", "conv-dx-unrotated", "col2im-assign", "maxpool-all-ties", "relu-mask-ge", "softmax-no-max",
            "ce-no-mean", "bn-no-mean-path", "bn-unbiased-train", "dropout-no-scale", "adam-no-bias-correction",
            "residual-overwrite"}


def test_the_catalogue_holds_the_issues_bugs():
    assert len(BUGS) >= 12
    assert REQUIRED <= {bug.key for bug in BUGS}
    assert len({bug.key for bug in BUGS}) == len(BUGS)
    for bug in BUGS:
        assert bug.difficulty in ("easy", "medium", "hard")
        assert bug.caught_by in ("gradcheck", "comparison")
        assert (bug.grad is not None) == (bug.caught_by == "gradcheck")
        assert (bug.caught is not None) == (bug.caught_by == "comparison")
    assert set(by_lab()) == {"conv", "pool", "norm", "softmax", "optim", "network"}


def _differs(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=False)


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.key)
def test_a_bug_changes_what_it_says(bug):
    inputs, params = bug.example(np.random.default_rng(0))
    wrong, right = bug.run(inputs, params), bug.reference(inputs, params)
    changed = [name for name in bug.corrupts if _differs(wrong[name], right[name])]
    assert changed, f"{bug.key} changed none of {bug.corrupts}"
    for name in right:  # the inputs are never mutated: the reference's copies equal what was given
        if name in inputs:
            np.testing.assert_array_equal(right[name], inputs[name])


def _gradient_error(run, inputs, params, wrt, output, grad) -> float:
    """Worst relative error between ``run``'s analytic gradient and the numeric one of L = Σ output·dout."""
    def loss(value: np.ndarray) -> float:
        out = run({**inputs, wrt: value}, params)
        weights = out.get("dout") if np.ndim(out[output]) else None
        return float(np.sum(out[output] * weights)) if weights is not None else float(out[output])

    analytic = run(inputs, params)[grad]
    numeric = numeric_gradient(loss, np.asarray(inputs[wrt], float))
    scale = max(np.max(np.abs(analytic)), np.max(np.abs(numeric)), 1e-8)
    return float(np.max(np.abs(analytic - numeric)) / scale)


@pytest.mark.parametrize("bug", [b for b in BUGS if b.caught_by == "gradcheck"], ids=lambda b: b.key)
def test_the_gradient_check_catches_it(bug):
    inputs, params = bug.example(np.random.default_rng(0))
    assert _gradient_error(bug.reference, inputs, params, *bug.grad) < 1e-6  # the engine passes
    assert _gradient_error(bug.run, inputs, params, *bug.grad) > 1e-2  # the bug does not


@pytest.mark.parametrize("bug", [b for b in BUGS if b.caught_by == "comparison"], ids=lambda b: b.key)
def test_its_comparison_catches_it(bug):
    inputs, params = bug.example(np.random.default_rng(0))
    assert not bug.caught(bug.reference(inputs, params), inputs, params)  # the engine passes
    assert bug.caught(bug.run(inputs, params), inputs, params)


def test_the_normal_path_never_imports_the_bugs():
    """The app and every engine module, imported in a fresh interpreter, leave engine.bugs unimported."""
    code = (
        "import importlib, pathlib, sys\n"
        "for path in sorted(pathlib.Path('engine').rglob('*.py')):\n"
        "    name = '.'.join(path.with_suffix('').parts).removesuffix('.__init__')\n"
        "    if not name.startswith('engine.bugs'):\n"
        "        importlib.import_module(name)\n"
        "from app.main import create_app\n"
        "create_app()\n"
        "print(sorted(n for n in sys.modules if n.startswith('engine.bugs')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
