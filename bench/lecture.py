"""The lecture-size op as the conv lab runs it: registry prepare + trace (run, then every step record).

conv2d on a 5×5 input with a 3×3 kernel (N = C = F = 1, stride 1, pad 0), inputs given as
nested lists, as the JSON API and the pages pass them. The target is on prepare + trace
(what one page render of the conv lab asks of the engine: one run, and the step records made
from its arrays); provenance is reported
apart: for every cell of ``out`` (one ``op_provenance`` call each, as a click does), and for
every cell of every array the op returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import Row, Table
from bench.timing import Settings, interleaved
from engine import registry

TARGET_S = 1e-3


def lecture_inputs(size: int = 5, kernel: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(5)
    inputs = {
        "x": np.round(rng.normal(size=(1, 1, size, size)), 1).tolist(),
        "w": np.round(rng.normal(size=(1, 1, kernel, kernel)), 1).tolist(),
        "b": [0.5],
    }
    return inputs, {"stride": 1, "pad": 0}


def _cells(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    return [tuple(int(i) for i in idx) for idx in np.ndindex(*shape)]


def run(table: Table, settings: Settings, size: int = 5, kernel: int = 3) -> list[Row]:
    inputs, params = lecture_inputs(size, kernel)
    op, arrays, clean = registry.prepare("conv2d", inputs, params)
    result = op.run(arrays, clean)
    out_cells = _cells(result["out"].shape)
    all_cells = [(name, idx) for name, arr in result.items() for idx in _cells(arr.shape)]

    parts: dict[str, Callable[[], object]] = {
        "candidate": lambda: registry.trace_op("conv2d", inputs, params),
        "prepare": lambda: registry.prepare("conv2d", inputs, params),
        "run": lambda: op.run(arrays, clean),
        "steps": lambda: op.steps(result, clean),
    }
    t = interleaved(parts, settings)
    name = f"lecture conv2d {size}x{size} k{kernel}: prepare+trace"
    note = ", ".join(f"{k} {t[k].median * 1e3:.3f} ms" for k in ("prepare", "run", "steps"))
    rows = [table.add(Row(name, "target", t["candidate"].median, None, f"< {TARGET_S * 1e3:g} ms",
                          "PASS" if t["candidate"].median < TARGET_S else "MISS", note=note,
                          spread={"candidate": t["candidate"].spread}))]

    def provenance_clicks() -> object:  # what the page asks per click: one op_provenance call each
        return [registry.op_provenance("conv2d", inputs, params, "out", idx) for idx in out_cells]

    def provenance_all() -> object:
        return [op.provenance(arrays, clean, name, idx) for name, idx in all_cells]

    p = interleaved({"clicks": provenance_clicks, "all": provenance_all}, settings)
    per_click = p["clicks"].median / len(out_cells)
    rows.append(table.add(Row(f"lecture conv2d provenance: {len(out_cells)} out cells", "", p["clicks"].median, None,
                              "", "info", note=f"{per_click * 1e3:.3f} ms per op_provenance call (prepare included)",
                              spread={"candidate": p["clicks"].spread})))
    per_cell = p["all"].median / len(all_cells)
    rows.append(table.add(Row(f"lecture conv2d provenance: all {len(all_cells)} cells", "", p["all"].median, None,
                              "", "info", note=f"{per_cell * 1e6:.1f} µs per cell, every array",
                              spread={"candidate": p["all"].spread})))
    return rows
