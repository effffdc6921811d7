"""The training stream's events are the same numbers, bit for bit, as before its speed-up (OpenBLAS's threads sleep
at once after a product, app/__init__.py): every event of five runs (LeNet-like at two chunk sizes, the ResNet block
with batch norm, group norm + SVM loss, the notes' typed example) compared with network_stream_golden.json.gz,
recorded at 80d3662, before the change. Here, and in a process started as the server is (the app imported before
NumPy, so OPENBLAS_THREAD_TIMEOUT is in force). What differs run to run is left out: each event's compute time
("ms") and the end's rate ("steps_per_s"); an evaluation's two losses are compared to 1e-9 (EVAL_LOSSES, below: their
sums' order is the CPU's).

Not the same numbers: one BLAS thread (threadpoolctl's limit, or OPENBLAS_NUM_THREADS=1). The evaluation's
products on 359 digits are split over two threads, and one thread sums a few entries in another order: the test
loss moves by 1 ulp at some evaluations. So the threads stay; only their idle spinning goes.

Rewrite the golden (only for a change that is meant to change the numbers):
``python -m tests.app.labs.test_network_stream_golden --write``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from fastapi.encoders import jsonable_encoder

from app.settings import Settings
from app.web.labs.network import presets, run
from engine.network import runs as nl

GOLDEN = Path(__file__).with_name("network_stream_golden.json.gz")
# (preset, until, speed): a fixed speed fixes each event's steps (speed × CHUNK_SECONDS), so the events are comparable
CASES = (("lenet", 200, 1000), ("lenet", 200, 2000), ("resnet", 60, 1000), ("course", 40, 400), ("notes", 30, 400))
VARYING = ("ms", "steps_per_s")


def record() -> dict[str, list[dict]]:
    """Every event of each case's stream, as the browser reads it (JSON), without the timing fields."""
    out = {}
    settings = Settings()
    for key, until, speed in CASES:
        spec = getattr(presets, key)(0).spec()

        async def events(spec=spec, until=until, speed=speed) -> list[dict]:
            evs = []
            async for e in run.train_events(spec, 0, until, speed, settings):
                data = json.loads(e.raw_data) if e.raw_data is not None else e.data
                evs.append({"event": e.event, "id": e.id, "data": {k: v for k, v in data.items() if k not in VARYING}})
            return evs

        out[f"{key}/{until}/{speed}"] = json.loads(json.dumps(anyio.run(events)))
    return out


@pytest.fixture(scope="module")
def golden() -> dict[str, list[dict]]:
    with gzip.open(GOLDEN, "rt") as f:
        return json.load(f)


# An evaluation's losses (a forward pass over the 1,438 training and 359 test digits) are sums whose order OpenBLAS
# picks for the CPU it runs on, its kernel and its blocking: on an AVX-512 Xeon (Sapphire Rapids) they are 1e-16 to
# 5e-11 apart (relative) from the recording machine's, every other number of every event the same bits. So those
# two are compared to EVAL_LOSS_REL; the steps' losses, gradient norms, update ratios, accuracies and snapshots
# bit for bit.
EVAL_LOSSES, EVAL_LOSS_REL = ("train_loss", "test_loss"), 1e-9


def _evals_as_recorded(got: dict, want: dict) -> dict:
    """``got`` with each evaluation's losses replaced by the recorded ones, once they agree to EVAL_LOSS_REL."""
    evals, recorded = got["data"].get("evals"), want["data"].get("evals")
    if not evals or not recorded or len(evals) != len(recorded):
        return got
    for e, r in zip(evals, recorded, strict=True):
        for key in EVAL_LOSSES:
            assert e.get(key) == pytest.approx(r.get(key), rel=EVAL_LOSS_REL), f"event {want['id']}: {key}"
    fixed = [{**e, **{k: r[k] for k in EVAL_LOSSES if k in r}} for e, r in zip(evals, recorded, strict=True)]
    return {**got, "data": {**got["data"], "evals": fixed}}


def compare(now: dict[str, list[dict]], golden: dict[str, list[dict]]) -> None:
    assert set(now) == set(golden)
    for case, evs in golden.items():
        assert [e["event"] for e in now[case]] == [e["event"] for e in evs], case
        assert any(e["data"].get("evals") for e in evs), case  # the evaluations are in what is compared
        for got, want in zip(now[case], evs, strict=True):
            assert _evals_as_recorded(got, want) == want, f"{case}: event {want['id']} differs"


def test_stream_events_are_the_recorded_ones(golden) -> None:
    compare(record(), golden)


def test_stream_events_in_a_server_process_are_the_recorded_ones(golden) -> None:
    """``import app`` first, as uvicorn's ``app.main:create_app`` does: OpenBLAS loads with the short timeout."""
    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", "import app, os, sys; import numpy\n"
                          "assert os.environ['OPENBLAS_THREAD_TIMEOUT'] == '4'\n"
                          "from tests.app.labs.test_network_stream_golden import main; main([])"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    compare(json.loads(out.stdout), golden)


@pytest.mark.parametrize("key", ["lenet", "resnet", "svm-groupnorm", "notes"])
def test_event_data_is_written_byte_for_byte_as_fastapi_encoded_it(key) -> None:
    """run._chunk_as_json writes the payload with json.dumps alone: the same bytes as through jsonable_encoder."""
    spec = presets.PRESETS[key].make(0).spec()
    at = nl.start(spec)
    for n in (1, 7, 30):
        at, chunk = run.run_chunk(spec, at, n, 8, 60)
        payload = run.chunk_payload(chunk)
        assert json.dumps(run._finite(payload)) == json.dumps(run._finite(jsonable_encoder(payload)))
        assert chunk.evals, "an evaluation (and its snapshot) is in what is compared"


def main(argv: list[str]) -> None:
    """``--write``: rewrite the golden; else print the events as JSON."""
    if argv == ["--write"]:
        with gzip.open(GOLDEN, "wt") as f:
            json.dump(record(), f)
    else:
        print(json.dumps(record()))


if __name__ == "__main__":
    main(sys.argv[1:])
