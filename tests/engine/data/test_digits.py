"""The 8×8 digits read with NumPy from engine/data: the file, the split, the normalisation, the batch order."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from engine.data import digits
from engine.records import OpInputError

# class counts of the 1,797 images, counted from the file's last column
COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_the_data_file_is_scikit_learns_copy_with_its_licence_note():
    data = digits.DATA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    readme = (digits.DATA_FILE.parent / "README.md").read_text()
    for words in ("BSD 3-Clause", "scikit-learn developers", "UCI", "Alpaydin", "CC BY 4.0"):
        assert words in readme


def test_load_gives_1797_images_of_pixels_0_to_16_and_their_labels():
    d = digits.load()
    assert d.pixels.shape == (1797, 8, 8) and d.labels.shape == (1797,)
    assert d.pixels.min() == 0 and d.pixels.max() == 16
    assert np.bincount(d.labels).tolist() == COUNTS
    # the file's first row: 0,0,5,13,9,1,0,0, 0,0,13,15,10,15,5,0, ... label 0
    assert d.pixels[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert d.pixels[0, 1].tolist() == [0, 0, 13, 15, 10, 15, 5, 0]
    assert d.labels[0] == 0 and d.labels[1] == 1
    assert not d.pixels.flags.writeable and not d.labels.flags.writeable


def test_loading_does_not_import_scikit_learn():
    code = "import sys; from engine.data import digits; digits.load(); digits.split(0); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_same_images_as_scikit_learn_when_it_is_installed():
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    d = digits.load()
    assert np.array_equal(d.pixels, ref.images) and np.array_equal(d.labels, ref.target)


def test_the_split_is_stratified_disjoint_and_seeded():
    s = digits.split(0)
    # round(0.2 · count) of each class to test: 36 36 35 37 36 36 36 36 35 36 = 359
    expected = [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
    assert np.bincount(s.y_test, minlength=10).tolist() == expected
    assert s.x_test.shape == (359, 1, 8, 8) and s.x_train.shape == (1438, 1, 8, 8)
    assert not set(s.train_index) & set(s.test_index)
    assert sorted([*s.train_index, *s.test_index]) == list(range(1797))
    again = digits.split(0)
    assert np.array_equal(again.test_index, s.test_index)
    other = digits.split(1)
    assert not np.array_equal(other.test_index, s.test_index)
    assert np.array_equal(s.y_train, digits.load().labels[s.train_index])


def test_normalisation_uses_the_training_pixels_mean_and_std():
    s = digits.split(0)
    assert abs(float(s.x_train.mean())) < 1e-12
    assert abs(float(s.x_train.std()) - 1.0) < 1e-12
    # a drawn digit is normalised the same way: pixel 16 -> (1 − μ)/σ, pixel 0 -> −μ/σ
    drawn = np.zeros((8, 8))
    drawn[3, 4] = 16
    x = s.normalise(drawn)
    assert x[3, 4] == pytest.approx((1 - s.mean) / s.std) and x[0, 0] == pytest.approx(-s.mean / s.std)
    assert np.array_equal(s.normalise(digits.load().pixels[s.test_index])[:, None], s.x_test)


def test_batches_walk_a_fresh_permutation_each_epoch():
    n, batch = 1438, 32
    per_epoch = digits.steps_per_epoch(n, batch)
    assert per_epoch == 44  # 1438 // 32, the last 30 dropped
    epoch0 = np.concatenate([digits.batch_positions(n, batch, 7, t) for t in range(per_epoch)])
    assert len(set(epoch0.tolist())) == per_epoch * batch  # no example twice within an epoch
    epoch1 = np.concatenate([digits.batch_positions(n, batch, 7, t) for t in range(per_epoch, 2 * per_epoch)])
    assert not np.array_equal(epoch0, epoch1)
    # random access: step t's batch does not depend on the steps asked before
    assert np.array_equal(digits.batch_positions(n, batch, 7, 50), epoch1[6 * batch:7 * batch])
    assert not np.array_equal(digits.batch_positions(n, batch, 8, 0), epoch0[:batch])


@pytest.mark.parametrize("batch, step, field", [(0, 0, "batch"), (2000, 0, "batch"), (32, -1, "step")])
def test_bad_batch_or_step_is_refused_with_its_field(batch, step, field):
    with pytest.raises(OpInputError) as err:
        digits.batch_positions(1438, batch, 0, step)
    assert err.value.field == field
