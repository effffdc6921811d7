"""``python -m bench [--quick] [--json PATH] [--malloc env|mallopt|off] [--threads N] [--only SECTION ...]``

Re-executes itself once with glibc's malloc thresholds and the BLAS thread count set in the
environment (unless they are set already), because both are read only when the process (or
its BLAS) starts; see ``bench.env``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench import env

SECTIONS = ("ops", "lecture", "tiny_cnn")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="Backprop Lens benchmark (medians, as ratios).")
    p.add_argument("--quick", action="store_true", help="few repeats (CI smoke: under 10 s)")
    p.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    p.add_argument("--malloc", choices=("env", "mallopt", "off"), default="env",
                   help="raise glibc's mmap/trim thresholds via the environment (re-exec, default), via "
                        "mallopt in-process, or leave glibc's defaults (to measure what they cost)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads for NumPy and torch (default 1: these ops are too small to gain "
                        "from a second core on a 2-core machine, and one thread is far less noisy)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    changes = env.wanted_env(args.malloc, args.threads)
    if changes and env.REEXEC_MARK not in os.environ:
        env.reexec("bench", raw, changes)  # does not return
    mallopt_ok = env.apply_mallopt() if args.malloc == "mallopt" else None

    import numpy as np

    from bench import lecture, ops, tiny_cnn, torchref
    from bench.report import Table
    from bench.timing import FULL, QUICK

    settings = QUICK if args.quick else FULL
    torch = torchref.load(args.threads)
    table = Table()
    blas = env.blas_info()
    started = time.perf_counter()
    table.info = {
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "blas": blas, "malloc": env.describe_malloc(args.malloc, mallopt_ok), "threads": args.threads,
        "thread_env": {k: os.environ.get(k) for k in env.THREAD_VARS},
        "torch": None if torch is None else torch.__version__, "quick": args.quick,
        "settings": {"repeats": settings.repeats, "min_sample_s": settings.min_sample, "warmup": settings.warmup},
    }
    table.say(f"Backprop Lens benchmark — python {platform.python_version()}, {os.cpu_count()} CPUs, "
              f"{'quick' if args.quick else 'full'} run: median of {settings.repeats} interleaved samples "
              f"(each >= {settings.min_sample * 1e3:g} ms, after {settings.warmup} warm-up calls)")
    table.say(env.describe_blas(blas))
    table.say(env.describe_malloc(args.malloc, mallopt_ok))
    table.say(env.describe_threads(args.threads)
              + f" — chosen: {args.threads} for NumPy's BLAS and torch alike, so ratios compare like with like")
    table.say(torchref.describe(torch))
    table.say("ratio = candidate median / reference median (lower is better); medians are per call")
    table.say()
    table.header()
    sections = args.only or SECTIONS
    if "ops" in sections:
        ops.run(table, settings, torch, dtypes=(np.float64, np.float32), stages=True)
    if "lecture" in sections:
        lecture.run(table, settings)
    if "tiny_cnn" in sections:
        tiny_cnn.run(table, settings, torch)
    table.summary()
    elapsed = time.perf_counter() - started
    table.info["elapsed_s"] = elapsed
    table.say(f"measured in {elapsed:.1f} s")
    if args.json:
        table.write_json(args.json)
        table.say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
