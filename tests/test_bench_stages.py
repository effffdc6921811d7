"""bench.ops.conv_stages: conv2d's stage profile, one information row per stage against the floor."""

from __future__ import annotations

import numpy as np

from bench import ops
from bench.report import Table
from bench.timing import SMOKE


def test_conv_stages_are_information_rows_against_the_floor():
    rows = ops.conv_stages(Table(quiet=True), (2, 2, 6, 3, 3, 1), np.float32, SMOKE)
    assert [r.case.rsplit(" stage ", 1)[1] for r in rows] == ["pad", "im2col", "col2im", "bias+dout_row+db"]
    assert all(r.status == "info" and r.reference == "floor (3 matmuls)" and r.ratio > 0 for r in rows)


def test_run_adds_the_stages_only_when_asked():
    args = (Table(quiet=True), SMOKE, None, (np.float64,), ((2, 2, 6, 3, 3, 1),), (2, 2, 6, 6), (2, 2, 4, 4), (8, 4))
    plain, staged = ops.run(*args), ops.run(*args, stages=True)
    assert len(staged) == len(plain) + 4
