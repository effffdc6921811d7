"""``python -m bench.step_parts [--edits N] [--pace MS] [--preset KEY ...]``: what the network step view's panel costs.

The step view is the one case of issue 12's target 1 (keystroke -> drawn p95 <= 50 ms) still over it. This times
the same steps as ``bench.web`` does (→ on the step view, keydown to the frame after the swapped step is drawn), on
copies of the app that differ only in what the step's panel draws (templates/network/panel.html):

- ``whole``: as shipped;
- ``arrays``: its arrays (heatmap tables and values), without its formulas and the chain card;
- ``nothing``: no blocks and no chain card: the panel's title, the network drawing, the strip and the position
  line, which every step redraws.

Each copy is this tree's app copied to a temporary directory with the one template changed, served by a uvicorn of
its own; in one Chromium, every preset's steps run on each copy in turn (the order rotated from one preset to the
next), paced as a person steps. What ``whole`` costs over ``nothing`` is the panel; over the floor of a swap
(``bench.floor``), the page. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.floor import floor_latencies
from bench.web import ROOT, browser_case, cases, launch_chromium, percentile, start_server, summary

PANEL = Path("templates/network/panel.html")
BLOCKS = "{%- for b in p.blocks %}"
CHAIN = "{%- if p.chain %}{{ chain_card(p.chain) }}{% endif %}"
VARIANTS = {  # what each copy's panel template has in place of the shipped loop over blocks and the chain card
    "whole": (BLOCKS, CHAIN),
    "arrays": ('{%- for b in p.blocks if b.kind != "formula" %}', ""),
    "nothing": ("{%- for b in p.blocks[:0] %}", ""),
}
TREE = ("app", "engine", "static", "templates", "docs")  # what the server reads


def panel_variant(text: str, name: str) -> str:
    """The panel template's text for variant ``name``; refuses a template that no longer has what it replaces."""
    if text.count(BLOCKS) != 1 or text.count(CHAIN) != 1:
        raise SystemExit(f"{PANEL} no longer holds {BLOCKS!r} and {CHAIN!r} once each: update bench.step_parts")
    blocks, chain = VARIANTS[name]
    return text.replace(BLOCKS, blocks).replace(CHAIN, chain)


def copy_tree(into: Path, name: str) -> Path:
    root = into / name
    for part in TREE:
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / PANEL).write_text(panel_variant((ROOT / PANEL).read_text(encoding="utf-8"), name), encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=40, help="steps per preset and copy (default 40)")
    parser.add_argument("--pace", type=int, default=400, help="ms after each step is drawn (default 400)")
    parser.add_argument("--preset", nargs="+", help="only these network presets")
    args = parser.parse_args(argv)
    print("load average before:", " ".join(f"{v:.2f}" for v in os.getloadavg()), flush=True)
    servers = {}
    with tempfile.TemporaryDirectory(prefix="step-parts-") as tmp:
        try:
            for name in VARIANTS:
                servers[name] = start_server(copy_tree(Path(tmp), name))
            found = [c for c in cases(servers["whole"][1], ["network"], args.preset) if c.kind == "step"]
            lat: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
            with sync_playwright() as p:
                browser = launch_chromium(p)
                floor = floor_latencies(browser, servers["whole"][1], args.edits)
                names = list(VARIANTS)
                for k, case in enumerate(found):
                    for name in names[k % len(names):] + names[:k % len(names)]:
                        m = browser_case(browser, servers[name][1], case, args.edits, pace=args.pace)
                        if m["errors"]:
                            raise SystemExit(f"{name} {case.preset}: page errors {m['errors'][:2]}")
                        lat[name][case.preset] = m["lat"]
                floor += floor_latencies(browser, servers["whole"][1], args.edits)
                browser.close()
        finally:
            for proc, _ in servers.values():
                proc.kill()
                proc.wait()
    print(f"\nnetwork step view: keystroke -> drawn, {args.edits} steps per preset and copy, {args.pace} ms between "
          "one drawn and the next step")
    print(f"{'preset':16} " + " ".join(f"{name:>26}" for name in VARIANTS))
    for case in found:
        print(f"{case.preset:16} " + " ".join(f"{summary(lat[name][case.preset]):>26}" for name in VARIANTS))
    every = {name: [v for values in lat[name].values() for v in values] for name in VARIANTS}
    print(f"{'all presets':16} " + " ".join(f"{summary(every[name]):>26}" for name in VARIANTS))
    print(f"{'floor':16} {summary(floor):>26}  (bench.floor: a swap of GET /healthz into an empty htmx page)")
    whole, nothing = every["whole"], every["nothing"]
    print(f"\nthe panel's share of the whole step: p50 {statistics.median(whole) - statistics.median(nothing):.1f} ms,"
          f" p95 {percentile(whole, 95) - percentile(nothing, 95):.1f} ms")
    print("load average after:", " ".join(f"{v:.2f}" for v in os.getloadavg()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
