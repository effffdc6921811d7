"""Interleaved timing: a candidate and its references alternate, sample by sample.

The machine is noisy (2 shared cores), so absolute times drift by tens of percent within a
minute. Timing A, then B, then A, then B ... and taking each one's median makes both see the
same noise; their ratio is what the benchmark reports.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    repeats: int  # samples per callable (odd: the median is one of them)
    min_sample: float  # seconds: a sample runs the callable this long at least (number = calls per sample)
    warmup: int  # untimed calls of each callable first


FULL = Settings(repeats=21, min_sample=0.02, warmup=3)
QUICK = Settings(repeats=3, min_sample=0.003, warmup=1)
SMOKE = Settings(repeats=1, min_sample=0.0, warmup=1)  # the tests: one call each, just that it runs


@dataclass(frozen=True)
class Timing:
    median: float  # seconds per call
    samples: tuple[float, ...]  # seconds per call, one per sample, in the order taken
    number: int  # calls per sample

    @property
    def spread(self) -> float:
        """(max − min)/median of the samples: how noisy this measurement was."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0


def _calls_per_sample(fn: Callable[[], object], min_sample: float) -> int:
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    if one <= 0 or min_sample <= 0:
        return 1
    return max(1, min(100_000, int(min_sample / one + 0.999)))


def interleaved(fns: dict[str, Callable[[], object]], settings: Settings) -> dict[str, Timing]:
    """Median seconds per call of each callable, the callables timed in turn (ABAB...).

    Each callable is warmed up, then given its own calls-per-sample so that one sample lasts
    ``settings.min_sample``; the garbage collector is off while timing (as timeit does).
    """
    names = list(fns)
    for name in names:
        for _ in range(settings.warmup):
            fns[name]()
    number = {name: _calls_per_sample(fns[name], settings.min_sample) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(settings.repeats):
            for name in names:
                fn, n = fns[name], number[name]
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - t0) / n)
    finally:
        if was_enabled:
            gc.enable()
    return {name: Timing(statistics.median(s), tuple(s), number[name]) for name, s in samples.items()}
