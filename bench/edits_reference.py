"""``python -m bench.edits_reference TREE [--edits N] [--rounds R] [--lab LAB ...] [--preset KEY ...]``: the edits of
``bench.edits`` timed in two apps side by side, paired in one run — the source tree at TREE (a reference, e.g.
``mkdir /tmp/ref && git archive REV | tar -x -C /tmp/ref``) and this one (issue 12, target 2).

Each app runs in its own process (``--worker``, started in its tree: that tree's ``app``, this tree's way of
editing, ``bench.edits.measure``), kept open for the whole run. Every preset is timed in R rounds of N/R edits,
the two apps alternating ABBA round by round, so both see the same load; every edit posts a value not posted
before (no answer from the page cache). Reported per preset and per lab: server ms (``Server-Timing: app``) and
CPU ms p50/p95 of the reference and of this tree, and this tree's CPU p50 as a ratio of the reference's.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
TREE = HERE.parent.parent


def worker() -> int:
    """Answer one JSON line per request line: {"lab", "key", "edits", "start", "warmup"} -> bench.edits.measure."""
    sys.path.insert(0, os.getcwd())  # the app of the tree this worker runs in
    spec = importlib.util.spec_from_file_location("bench_edits_now", HERE.with_name("edits.py"))
    edits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(edits)
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as client:
        print(json.dumps({"ready": os.getcwd()}), flush=True)
        for line in sys.stdin:
            ask = json.loads(line)
            if "digests" in ask:
                print(json.dumps(digests(client, edits, ask["digests"])), flush=True)
                continue
            r = client.get(f"/{ask['lab']}/preset/{ask['key']}?seed=3", follow_redirects=False)
            if "location" not in r.headers:
                print(json.dumps({"error": f"no preset {ask['key']} ({r.status_code})"}), flush=True)
                continue
            m = edits.measure(client, ask["lab"], r.headers["location"], ask["edits"], warmup=ask["warmup"],
                              start=ask["start"])
            print(json.dumps(m), flush=True)
    return 0


TABS = {"conv": ("window", "im2col", "backward"), "norm": ("bn", "running", "ln", "dropout")}
QUIZZES = ("/conv/preset/edge?seed=3", "/norm/preset/notes-002?seed=3", "/pool/preset/notes-4x4?seed=3",
           "/softmax/preset/notes?seed=3", "/conv/preset/cifar?seed=3", "/pool/preset/mnist?seed=3")


INPUTS = ("x", "w", "b", "dout", "logits", "labels", "gamma", "beta", "running_mean", "running_var", "mask")


def digests(client, edits, lab: str) -> dict[str, str]:
    """A digest of every answer of ``lab`` a page shows: each preset's page and its tabs, a quiz page, and three
    edits of each preset (body and HX-Replace-Url), by what was asked."""
    import hashlib
    import re

    from bench.pageforms import as_data, parse

    def digest(r) -> str:
        return hashlib.sha256(r.content + r.headers.get("hx-replace-url", "").encode()).hexdigest()[:16]

    out = {}
    for key in importlib.import_module(f"app.web.labs.{lab}.presets").PRESETS:
        link = client.get(f"/{lab}/preset/{key}?seed=3", follow_redirects=False).headers["location"]
        links = [link] + [re.sub(r"tab=[a-z0-9]+", f"tab={tab}", link) for tab in TABS.get(lab, ())
                          if "tab=" in link and f"tab={tab}" not in link]
        for one in links:
            r = client.get(one)
            out[f"GET {one[:60]}…{len(one)}"] = f"{r.status_code} {digest(r)}"
        make = edits.edit_of(lab, parse(lab, client.get(link).text).fields)
        for i in range(3 if lab != "network" else 40):
            url, data = make(500 + i) if make else (None, None)
            if url == "/network/step":  # every operation's panel in turn: forward, loss, backward, update
                data = [*data[:-1], ("op_delta", str(i + 1))]
            if url:
                r = client.post(url, data=as_data(data), headers={"HX-Request": "true"})
                out[f"POST {url} {key} #{i}"] = f"{r.status_code} {digest(r)}"
    for preset in (q for q in QUIZZES if q.startswith(f"/{lab}/")):
        link = client.get(preset, follow_redirects=False).headers["location"]
        page = client.get(link).text
        cells = dict(re.findall(r'<table class="heatmap[^"]*" data-arr="([a-z_]+)"[^>]*>.*?<td data-idx="([0-9,]+)"',
                                page, flags=re.S))
        results = [(a, i) for a, i in cells.items() if a not in INPUTS]  # a quiz hides cells of results only
        quiz = ";".join(f"{a}:{i}" for a, i in results[:3])
        r = client.get(f"{link}&quiz={quiz}")
        out[f"GET quiz {preset}"] = f"{r.status_code} {digest(r)}"
    return out


class App:
    def __init__(self, tree: Path, name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen([sys.executable, str(HERE), "--worker"], cwd=tree, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "PYTHONWARNINGS": "ignore"})
        json.loads(self.proc.stdout.readline())  # {"ready": ...}

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def pair(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} {percentile(values, 95):6.1f}"


def same(args: argparse.Namespace) -> int:
    ref, now = App(args.tree.resolve(), "ref"), App(TREE, "now")
    differ = 0
    try:
        for lab in args.lab:
            a, b = ref.ask(digests=lab), now.ask(digests=lab)
            bad = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
            differ += len(bad)
            codes = sorted({v.split()[0] for v in b.values()})
            print(f"{lab:8} {len(a)} answers (status {', '.join(codes)}), {len(bad)} differ", flush=True)
            for k in sorted(bad)[:8]:
                print(f"  {k}: {a.get(k)} vs {b.get(k)}")
    finally:
        ref.close()
        now.close()
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--worker"]:
        return worker()
    from bench.pageforms import LABS

    parser = argparse.ArgumentParser(prog="python -m bench.edits_reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path, help="the reference source tree (git archive REV | tar -x -C TREE)")
    parser.add_argument("--edits", type=int, default=40, help="edits per preset and app (default 40)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per preset, alternating ABBA (default 4)")
    parser.add_argument("--lab", nargs="+", choices=LABS, default=list(LABS))
    parser.add_argument("--preset", nargs="+", help="only these presets")
    parser.add_argument("--same", action="store_true", help="instead: are the answers the same bytes? Every "
                        "preset's page, its tabs, a quiz page and three edits a preset, in both apps")
    args = parser.parse_args(argv)
    if args.same:
        return same(args)
    per_round = max(1, args.edits // args.rounds)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"reference {args.tree} vs this tree {TREE}: {per_round * args.rounds} edits per preset and app in "
          f"{args.rounds} rounds (ABBA); load average {load} ({os.cpu_count()} CPUs)")
    print(f"{'case':30} {'server p50 p95: ref':>20} {'now':>13} {'cpu p50 p95: ref':>18} {'now':>13}"
          f" {'cpu now/ref':>11}")
    ref, now = App(args.tree.resolve(), "ref"), App(TREE, "now")
    per_lab: dict[str, dict[str, list[float]]] = {}
    try:
        for lab in args.lab:
            for key in importlib.import_module(f"app.web.labs.{lab}.presets").PRESETS:
                if args.preset and key not in args.preset:
                    continue
                got: dict[str, dict[str, list[float]]] = {"ref": {"server": [], "cpu": []},
                                                          "now": {"server": [], "cpu": []}}
                error = None
                for r in range(args.rounds):
                    for app in ((ref, now) if r % 2 == 0 else (now, ref)):
                        m = app.ask(lab=lab, key=key, edits=per_round, start=1000 * r, warmup=3)
                        if "error" in m:
                            error = f"{app.name}: {m['error']}"
                            break
                        for k in ("server", "cpu"):
                            got[app.name][k] += m[k]
                    if error:
                        break
                name = f"{lab} {key}"
                if error:
                    print(f"{name:30} not measured: {error}", flush=True)
                    continue
                mine = per_lab.setdefault(lab, {f"{a} {k}": [] for a in ("ref", "now") for k in ("server", "cpu")})
                for a in ("ref", "now"):
                    for k in ("server", "cpu"):
                        mine[f"{a} {k}"] += got[a][k]
                ratio = statistics.median(got["now"]["cpu"]) / statistics.median(got["ref"]["cpu"])
                print(f"{name:30} {pair(got['ref']['server']):>20} {pair(got['now']['server']):>13} "
                      f"{pair(got['ref']['cpu']):>18} {pair(got['now']['cpu']):>13} {ratio:10.2f}x", flush=True)
    finally:
        ref.close()
        now.close()
    print(f"\n{'lab (every preset)':30} {'server p50 p95: ref':>20} {'now':>13} {'cpu p50 p95: ref':>18} {'now':>13}")
    for lab, m in per_lab.items():
        ratio = statistics.median(m["now cpu"]) / statistics.median(m["ref cpu"])
        print(f"{lab:30} {pair(m['ref server']):>20} {pair(m['now server']):>13} {pair(m['ref cpu']):>18} "
              f"{pair(m['now cpu']):>13} {ratio:10.2f}x")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
