"""Smoke test of the benchmark (``python -m bench``): every section runs on tiny sizes, once,
and returns sane numbers — so the benchmark cannot rot silently. It asserts nothing about speed."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from app.main import create_app
from bench import env, lecture, ops, streams, tiny_cnn
from bench.report import Row, Table, ratio_row
from bench.timing import SMOKE, Settings, interleaved
from bench.web import form_fields

ROOT = Path(__file__).resolve().parents[1]


def sane(row: Row) -> None:
    assert row.status in ("PASS", "MISS", "info", "skip"), row
    assert row.candidate_s is not None and math.isfinite(row.candidate_s) and row.candidate_s > 0, row
    if row.reference_s is not None:
        assert math.isfinite(row.reference_s) and row.reference_s > 0, row
        assert row.ratio is not None and math.isfinite(row.ratio) and row.ratio > 0, row


def test_interleaved_times_every_callable_in_turn():
    order = []
    t = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                    Settings(repeats=3, min_sample=0.0, warmup=1))
    assert order == ["a", "b"] + ["a", "b"] + ["a", "b"] * 3  # warm-up, calibration, then ABAB
    assert set(t) == {"a", "b"} and all(len(v.samples) == 3 and v.number == 1 and v.median > 0 for v in t.values())


def test_ratio_rows_grade_against_the_limit():
    assert ratio_row("c", "floor", 1.4, 1.0, 1.5).status == "PASS"
    assert ratio_row("c", "floor", 1.6, 1.0, 1.5).status == "MISS"
    assert ratio_row("c", "numpy", 1.6, 1.0, None).status == "info"
    assert ratio_row("c", "torch", 1.6, None, 1.3).status == "skip"


def test_ops_run_on_tiny_shapes_without_torch():
    table = Table(quiet=True)
    rows = ops.run(table, SMOKE, torch=None, dtypes=(np.float64, np.float32), conv_shapes=((2, 2, 6, 3, 3, 1),),
                   pool_shape=(2, 2, 6, 6), bn_shape=(2, 2, 4, 4), softmax_shape=(8, 4))
    assert len(rows) == 2 * 4 * 2  # 2 dtypes × 4 cases × (numpy reference or floor, torch skipped)
    for row in rows:
        sane(row)
    assert [r.status for r in rows if r.reference == "torch"] == ["skip"] * 8
    floor = [r for r in rows if r.reference.startswith("floor")]
    assert len(floor) == 2 and all(r.status in ("PASS", "MISS") for r in floor)


def test_the_conv_floor_multiplies_arrays_of_the_engines_shapes():
    case = ops.conv_case((2, 3, 6, 4, 3, 1), np.float64)
    grads = case.candidate()
    dx_col = case.references["floor (3 matmuls)"]()
    assert dx_col.shape == grads.dx_col.shape and grads.dw.shape == (4, 3, 3, 3)


def test_lecture_rows():
    rows = lecture.run(Table(quiet=True), SMOKE)
    assert [r.status for r in rows][1:] == ["info", "info"] and rows[0].status in ("PASS", "MISS")
    for row in rows:
        sane(row)


def test_tiny_cnn_steps_and_learns():
    step = tiny_cnn.lean_step_fn(batch=8)
    first = step()
    for _ in range(20):
        last = step()
    assert math.isfinite(first) and last < first  # Adam on a fixed batch lowers the loss
    rows = tiny_cnn.run(Table(quiet=True), SMOKE, torch=None, batch=4)
    assert rows[0].unit == "steps/s" and rows[0].status in ("PASS", "MISS")
    for row in rows:
        sane(row)


def test_env_keeps_variables_the_caller_set(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "123")
    for name in (*env.THREAD_VARS, "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    want = env.wanted_env("env", 1)
    assert "MALLOC_MMAP_THRESHOLD_" not in want and want["MALLOC_TRIM_THRESHOLD_"] == str(env.TRIM_THRESHOLD)
    assert {want[v] for v in env.THREAD_VARS} == {"1"}
    assert "MALLOC_TRIM_THRESHOLD_" not in env.wanted_env("mallopt", 1)


def test_command_line_quick_lecture_with_json(tmp_path):
    out = tmp_path / "bench.json"
    clean = {k: v for k, v in os.environ.items() if k not in (*env.MALLOC_ENV, *env.THREAD_VARS, env.REEXEC_MARK)}
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "lecture", "--json", str(out)],
                          cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "MALLOC_MMAP_THRESHOLD_=1073741824 (set by bench)" in proc.stdout  # it re-executed itself
    data = json.loads(out.read_text())
    assert data["info"]["threads"] == 1 and data["info"]["thread_env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert [r["case"].split(":")[0] for r in data["rows"]][0] == "lecture conv2d 5x5 k3"


def test_the_web_benchmarks_read_a_labs_form_as_the_browser_posts_it():
    client = TestClient(create_app())
    fields = form_fields(client.get("/optim/preset/notes-001", follow_redirects=True).text, "optim-form")
    assert fields["g"] == ["0.02", "0.01", "0.01", "-0.03", "0.05"] and fields["optimizer"] == ["adam"]
    assert "seed" not in fields  # the presets' form is another form
    for preset in streams.OPTIM_PRESETS:  # what bench.streams edits is on each of its presets' pages
        fields = form_fields(client.get(f"/optim/preset/{preset}?seed=3", follow_redirects=True).text, "optim-form")
        assert "g" in fields or "gc" in fields, preset
    page = ('<form id="f"><input name="a" value="1"><input type="radio" name="r" value="x">'
            '<input type="radio" name="r" value="y" checked><select name="s"><option value="p">'
            '<option value="q" selected></select><textarea name="t">hi</textarea></form><input name="out">')
    assert form_fields(page, "f") == {"a": ["1"], "r": ["y"], "s": ["q"], "t": ["hi"]}


def test_the_trace_bench_grades_only_the_traces_the_api_answers():
    from bench.trace import verdict

    assert verdict(1.5, True) == "PASS" and verdict(2.5, True) == "MISS"
    assert verdict(5.3, False).startswith("info")  # batch 8 at 28×28: x over the API limit, never encoded
