"""Shared assertions for engine tests."""

import numpy as np
import pytest

from engine.gradcheck import check_op
from engine.records import OpInputError


def assert_gradcheck(name, inputs, params=None, tol=1e-7, case="", **kw):
    """Every gradient op ``name`` returns matches central differences within ``tol``."""
    report = check_op(name, inputs, params, **kw)
    assert report.worst < tol, (
        f"{name} {case}: worst relative error {report.worst:.3e} at {report.where} "
        f"(per input {report.per_input}; params {params})"
    )
    return report


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def raises_field(field, fn, *args, match=None, **kw):
    """fn(*args, **kw) raises an OpInputError naming ``field`` (and saying ``match``); it is returned."""
    with pytest.raises(OpInputError) as info:
        fn(*args, **kw)
    assert info.value.field == field, f"expected field {field}, got {info.value.field}: {info.value.message}"
    if match:
        assert match in info.value.message, info.value.message
    return info.value
