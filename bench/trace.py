"""``python -m bench.trace [--repeat N]``: what the trace API's answer costs to write, against its computation.

For the notes' example and MNIST-sized inputs (1×28×28, batch 1 and 8, a conv → ReLU → max-pool → linear
network with an Adam step), in one run, best of N each:

- compute: ``engine.network.trace`` (forward, backward, update; every array of every layer);
- encode now: ``app.api.v1.jsonarrays.encode`` (orjson, arrays serialized from their buffers), the bytes
  ``POST /api/v1/networks/trace`` sends;
- encode before: ``json.dumps(to_json(answer))`` (every number a Python float first), for reference;
- packed: ``encode(answer, "base64")``, what the trace answers when the client asks ``"arrays": "base64"``.

Issue 12's target: encode ≤ 2× compute. Also the whole request through the app (TestClient), for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from app.api.v1.jsonarrays import encode, to_json
from app.main import create_app
from engine.network import trace as network

MNIST_MODEL = {"input_shape": [1, 28, 28], "layers": [
    {"type": "conv2d", "filters": 8, "kernel": 3, "stride": 1, "pad": 1}, {"type": "relu"},
    {"type": "maxpool2d", "size": 2, "stride": 2}, {"type": "flatten"}, {"type": "linear", "units": 10}],
    "loss": "softmax_cross_entropy"}
NOTES_MODEL = {"input_shape": [1, 4, 4], "layers": [
    {"type": "conv2d", "filters": 2, "kernel": 3, "stride": 1, "pad": 0}, {"type": "relu"},
    {"type": "maxpool2d", "size": 2, "stride": 2}, {"type": "flatten"}, {"type": "linear", "units": 3}],
    "loss": "softmax_cross_entropy"}
ADAM = {"name": "adam", "hyperparams": {"lr": 0.001}}


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cases() -> list[tuple[str, dict, np.ndarray, list[int]]]:
    rng = np.random.default_rng(0)
    return [("notes 1×4×4", NOTES_MODEL, rng.normal(size=(1, 1, 4, 4)), [1]),
            ("MNIST 1×28×28, batch 1", MNIST_MODEL, rng.random((1, 1, 28, 28)), [3]),
            ("MNIST 1×28×28, batch 8", MNIST_MODEL, rng.random((8, 1, 28, 28)), list(range(8)))]


def verdict(ratio: float, answered: bool) -> str:
    """PASS or MISS against encode <= 2x compute; "info" for a trace the API does not answer."""
    return ("PASS" if ratio <= 2 else "MISS") if answered else "info (the API refuses it)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs of each, the best counted (default 15)")
    args = parser.parse_args(argv)
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), f"({os.cpu_count()} CPUs)")
    print(f"{'case':26} {'compute':>9} {'encode':>9} {'before':>9} {'bytes':>9}  encode/compute  target")
    print(f"{'':26} {'':>9} {'packed':>9} {'':>9} {'bytes':>9}  packed/compute")
    client = TestClient(create_app())
    for name, model, x, labels in cases():
        body = {"model": model, "x": x.tolist(), "labels": labels, "optimizer": ADAM}
        status = client.post("/api/v1/networks/trace", json=body).status_code
        answered = status == 200  # a trace the API refuses (x over its limit) is never encoded: no target to meet
        answer = network.trace(model, None, x, labels, "train", ADAM, 0)
        compute = best(lambda: network.trace(model, None, x, labels, "train", ADAM, 0), args.repeat)  # noqa: B023
        now = best(lambda: encode(answer), args.repeat)  # noqa: B023
        before = best(lambda: json.dumps(to_json(answer)), args.repeat)  # noqa: B023
        assert json.loads(encode(answer)) == json.loads(json.dumps(to_json(answer)))  # the same JSON values
        ratio = now / compute
        print(f"{name:26} {compute * 1e3:7.2f}ms {now * 1e3:7.2f}ms {before * 1e3:7.2f}ms "
              f"{len(encode(answer)) / 1024:7.0f}KB  {ratio:6.2f}x (was {before / compute:5.1f}x)  <= 2x "
              f"{verdict(ratio, answered)}", flush=True)
        packed = best(lambda: encode(answer, "base64"), args.repeat)  # noqa: B023
        ratio = packed / compute
        print(f"{'  arrays: base64':26} {'':9} {packed * 1e3:7.2f}ms {'':9} "
              f"{len(encode(answer, 'base64')) / 1024:7.0f}KB  {ratio:6.2f}x                 <= 2x "
              f"{verdict(ratio, answered)}", flush=True)
        request = best(lambda: client.post("/api/v1/networks/trace", json=body), max(3, args.repeat // 3))  # noqa: B023
        print(f"{'  the whole request':26} {request * 1e3:7.2f}ms (TestClient, gzip included; HTTP {status}"
              f"{': x over the API limit' if status == 422 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
