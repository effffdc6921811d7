"""One result row per comparison, printed (and flushed) as soon as it is measured."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO


@dataclass
class Row:
    case: str  # what was measured: "conv2d fwd+bwd N32 C8 28x28 F16 k3 p1 float64"
    reference: str  # against what: "floor (3 matmuls)", "torch", "numpy straight-line", ""
    candidate_s: float | None  # median seconds per call of the candidate
    reference_s: float | None  # median seconds per call of the reference (None: no reference)
    target: str  # "<= 1.5x", "< 1 ms", ">= 800 steps/s", "" (information only)
    status: str  # "PASS" | "MISS" | "info" | "skip"
    unit: str = "ms"  # how the medians print: "ms" or "steps/s"
    note: str = ""
    spread: dict[str, float] = field(default_factory=dict)  # (max − min)/median of each side's samples

    @property
    def ratio(self) -> float | None:
        if self.candidate_s is None or self.reference_s is None or not self.reference_s:
            return None
        return self.candidate_s / self.reference_s


def ratio_row(case: str, reference: str, cand: float, ref: float | None, limit: float | None,
              spread: dict[str, float] | None = None, note: str = "") -> Row:
    """A candidate/reference row, PASS when the ratio is at most ``limit`` (no limit: info)."""
    row = Row(case, reference, cand, ref, f"<= {limit:g}x" if limit is not None else "", "info",
              spread=spread or {}, note=note)
    if ref is None:
        row.status = "skip"
    elif limit is not None:
        row.status = "PASS" if row.ratio is not None and row.ratio <= limit else "MISS"
    return row


def _fmt_time(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "-"
    if unit == "steps/s":
        return f"{1.0 / seconds:,.0f} st/s"
    ms = seconds * 1e3
    return f"{ms:.3f} ms" if ms < 10 else f"{ms:.2f} ms"


_COLUMNS = ("case", "reference", "candidate", "ref", "ratio", "target", "")
_WIDTHS = (50, 22, 13, 13, 7, 16, 4)


def _line(cells: tuple[str, ...]) -> str:
    return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, _WIDTHS, strict=True)))


class Table:
    """Prints rows as they come; keeps them for the summary and --json."""

    def __init__(self, out: TextIO | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.quiet = quiet
        self.rows: list[Row] = []
        self.info: dict[str, Any] = {}

    def say(self, text: str = "") -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def header(self) -> None:
        self.say(_line(_COLUMNS).rstrip())
        self.say("-" * (sum(_WIDTHS) + 2 * (len(_WIDTHS) - 1)))

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        cells = (row.case, row.reference, _fmt_time(row.candidate_s, row.unit), _fmt_time(row.reference_s, row.unit),
                 ratio, row.target, row.status)
        text = _line(cells).rstrip()
        if row.note:
            text += f"   {row.note}"
        self.say(text)
        return row

    def summary(self) -> None:
        graded = [r for r in self.rows if r.status in ("PASS", "MISS")]
        missed = [r for r in graded if r.status == "MISS"]
        self.say()
        self.say(f"{len(graded) - len(missed)}/{len(graded)} targets met")
        for r in missed:
            ratio = f" ({r.ratio:.2f}x)" if r.ratio is not None else ""
            self.say(f"  MISS  {r.case}  vs {r.reference or 'target'}{ratio}, target {r.target}")

    def write_json(self, path: str) -> None:
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["ratio"] = r.ratio
            rows.append(d)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"info": self.info, "rows": rows}, fh, indent=2)
            fh.write("\n")
