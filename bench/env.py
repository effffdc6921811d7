"""The process environment the benchmark runs in: glibc malloc thresholds and BLAS threads.

glibc hands every freed block above its mmap threshold (128 KiB at first, raised
dynamically) straight back to the OS and trims the heap top above 128 KiB, so an op that
allocates a few MB of temporaries per call pays page faults on every call. Raising both
thresholds keeps freed memory in the process. Two ways, both measured to work on glibc 2.36:

- ``env``: ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` in the environment; glibc
  reads them at start-up, so ``python -m bench`` re-executes itself with them set;
- ``mallopt``: ``mallopt(M_MMAP_THRESHOLD)`` / ``mallopt(M_TRIM_THRESHOLD)`` through ctypes,
  in-process (used when re-executing is not possible, e.g. from the tests).

BLAS threads are pinned the same way (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``), read when the BLAS library loads: before NumPy is imported.

No NumPy at module level here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Any

MMAP_THRESHOLD = 1 << 30  # 1 GiB: no array this benchmark (or the app) makes is mmapped on its own
TRIM_THRESHOLD = 2 << 30  # 2 GiB: freed heap is kept, not trimmed back to the OS after each call
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REEXEC_MARK = "BACKPROP_LENS_BENCH_SET"  # names the variables the parent process set

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def wanted_env(malloc: str, threads: int) -> dict[str, str]:
    """The variables to add to the environment: only those not set already (the caller's win)."""
    want = dict(MALLOC_ENV) if malloc == "env" else {}
    want.update({name: str(threads) for name in THREAD_VARS})
    return {k: v for k, v in want.items() if k not in os.environ}


def reexec(module: str, argv: list[str], changes: dict[str, str]) -> None:
    """Replace this process by ``python -m module argv...`` with ``changes`` added to the environment."""
    env = {**os.environ, **changes, REEXEC_MARK: ",".join(sorted(changes))}
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)


def set_by_bench() -> list[str]:
    """The variables the re-executing parent set (empty when it set none)."""
    return [v for v in os.environ.get(REEXEC_MARK, "").split(",") if v]


def apply_mallopt(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Raise glibc's thresholds in-process; False where there is no glibc mallopt (or it refused)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, min(mmap_threshold, 2**31 - 1))
    ok_trim = mallopt(_M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1))
    return bool(ok_mmap and ok_trim)


def describe_malloc(mode: str, mallopt_ok: bool | None) -> str:
    """One line on the malloc settings in force."""
    if mode == "off":
        have = {k: os.environ[k] for k in MALLOC_ENV if k in os.environ}
        return "malloc: glibc defaults (--malloc off)" + (f"; but the environment has {have}" if have else "")
    if mode == "mallopt":
        return (f"malloc: mallopt(M_MMAP_THRESHOLD={MMAP_THRESHOLD}, M_TRIM_THRESHOLD={min(TRIM_THRESHOLD, 2**31 - 1)})"
                f" in-process: {'accepted' if mallopt_ok else 'REFUSED (no effect)'}")
    mine = set(set_by_bench())
    parts = [f"{k}={os.environ.get(k, '(unset)')}" + (" (set by bench)" if k in mine else " (from the environment)")
             for k in MALLOC_ENV]
    return "malloc: " + ", ".join(parts)


def describe_threads(threads: int) -> str:
    mine = set(set_by_bench())
    parts = [f"{k}={os.environ.get(k, '(unset)')}" + (" (set by bench)" if k in mine else "") for k in THREAD_VARS]
    return f"threads: {threads} requested; " + ", ".join(parts)


def blas_info() -> dict[str, Any]:
    """Which BLAS NumPy uses (np.show_config) and, for OpenBLAS, the kernel it picked at run time."""
    import numpy as np

    info: dict[str, Any] = {"numpy": np.__version__}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.update(name=blas.get("name"), version=blas.get("version"), config=blas.get("openblas configuration"))
    except Exception as err:  # show_config's layout is not a stable API
        info["error"] = repr(err)
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    try:
        names = [n for n in os.listdir(libs) if "openblas" in n]
    except OSError:
        names = []
    for name in names:
        try:
            lib = ctypes.CDLL(os.path.join(libs, name))
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"),
                               ("openblas", "")):
            core = getattr(lib, f"{prefix}_get_corename{suffix}", None)
            nthreads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            if core is not None:
                core.restype = ctypes.c_char_p
                info["core"] = core().decode()
                if nthreads is not None:
                    nthreads.restype = ctypes.c_int
                    info["blas_threads"] = nthreads()
                return info
    return info


def describe_blas(info: dict[str, Any]) -> str:
    text = f"numpy {info.get('numpy')}: BLAS {info.get('name')} {info.get('version')}"
    if "core" in info:
        text += f", kernel {info['core']}, {info.get('blas_threads')} thread(s)"
    return text
