"""Provenance checked against the arithmetic: which input cells move an output cell when nudged."""

import numpy as np

from engine.registry import op_provenance, prepare


def moved_by(name, inputs, params, array, index, wrt):
    """The elements of input ``wrt`` whose change (+1) changes ``array[index]`` (dout left as given)."""
    op, arrays, clean = prepare(name, inputs, params)
    base = op.run(arrays, clean)[array][index]
    moved = []
    for cell in np.ndindex(arrays[wrt].shape):
        trial = {k: v.copy() for k, v in arrays.items()}
        trial[wrt][cell] += 1.0
        if not np.isclose(op.run(trial, clean)[array][index], base, rtol=0, atol=1e-12):
            moved.append(tuple(int(i) for i in cell))
    return sorted(moved)


def assert_provenance_moves(name, inputs, params, array, index, wrt):
    """op_provenance(array, index)[wrt] names exactly the cells of ``wrt`` that move it (random inputs)."""
    said = sorted(set(op_provenance(name, inputs, params, array, index).get(wrt, [])))
    assert said == moved_by(name, inputs, params, array, index, wrt), (name, params, array, index, wrt)
