"""``python -m bench.load``: a lecture hall on one link, against a real server on this machine.

Starts ``backprop-lens serve`` (one worker unless ``--workers``) on a free port and measures, each
with the load average printed beside it:

1. **same link**: N clients (300) open the same /network link at once, on a server that has not
   seen it (a new seed): p50/p95/max, errors. Target: p95 ≤ 500 ms, 0 errors.
2. **different links**: N clients each open their own link (every lab, each its own seed) at once.
   Target: every one answered (200), none over 10 s.
3. both again **with 50 training streams running** (SSE, /network/train/stream).
4. **/healthz** polled every 50 ms on a kept-alive connection throughout: its worst. Target ≤ 100 ms.
5. **kept-alive requests, 2 workers against 1**: the median of sequential requests on one kept-alive
   connection, for uvicorn's own ``--workers`` on h11 and asyncio (what it runs without httptools and
   uvloop: Nagle's algorithm left on, uvicorn#3149) and for ``backprop-lens serve`` (TCP_NODELAY on).

Clients are raw asyncio sockets speaking HTTP/1.1 (an HTTP library would spend more of the two cores
than the server); a response counts when its last byte has arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABS = ("conv", "pool", "norm", "softmax", "optim", "network")


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free port: ``backprop-lens serve`` or plain uvicorn (``plain=True``)."""

    def __init__(self, workers: int = 1, plain: bool = False) -> None:
        self.port = free_port()
        if plain:
            cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(self.port),
                   "--workers", str(workers), "--log-level", "warning", "--no-access-log",
                   "--http", "h11", "--loop", "asyncio"]  # what uvicorn runs without httptools and uvloop
        else:
            cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), "--workers", str(workers)]
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "2147483648",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2400):  # its startup compiles every template and warms each lab: slow on a loaded machine
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def request_bytes(path: str, keep_alive: bool = False) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/html\r\nAccept-Encoding: gzip\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n").encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """(status, body bytes) of one response with a Content-Length (the app's own answers all have one)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
    await reader.readexactly(length)
    return status, length


async def fetch(port: int, path: str, timeout: float = 60) -> tuple[int, float]:
    """(status, seconds) of one GET on a new connection; status 0 on a failure."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(request_bytes(path))
        status, _ = await asyncio.wait_for(read_response(reader), timeout)
        writer.close()
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, TypeError):
        status = 0
    return status, time.perf_counter() - started


@dataclass
class Burst:
    name: str
    statuses: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)

    def report(self) -> str:
        ok = sum(s == 200 for s in self.statuses)
        errors = len(self.statuses) - ok
        kinds = {s: self.statuses.count(s) for s in set(self.statuses) if s != 200}
        ms = [s * 1000 for s in self.seconds]
        return (f"{self.name}: {len(ms)} requests, p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
                f"max {max(ms):.0f} ms, {ok} answered 200, errors {errors}{f' {kinds}' if kinds else ''}; "
                f"/healthz worst {max(self.healthz, default=0) * 1000:.0f} ms over {len(self.healthz)} polls "
                f"({load_average()})")


async def poll_healthz(port: int, stop: asyncio.Event, into: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while not stop.is_set():
        started = time.perf_counter()
        writer.write(request_bytes("/healthz", keep_alive=True))
        await read_response(reader)
        into.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    writer.close()


async def burst(port: int, name: str, paths: list[str]) -> Burst:
    result = Burst(name)
    stop = asyncio.Event()
    poller = asyncio.create_task(poll_healthz(port, stop, result.healthz))
    await asyncio.sleep(0.1)
    answers = await asyncio.gather(*(fetch(port, p) for p in paths))
    stop.set()
    await poller
    result.statuses = [a[0] for a in answers]
    result.seconds = [a[1] for a in answers]
    return result


def default_link(port: int, lab: str, seed: int) -> str:
    """The link a lab's random preset (or, for the network lab, its default with ``seed``) redirects to."""
    if lab == "network":
        req = urllib.request.Request(f"http://127.0.0.1:{port}/network/preset/notes?seed={seed}")
    else:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/{lab}/preset/random?seed={seed}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(req, timeout=10)
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303, 307):
            return exc.headers["location"]
        raise
    raise RuntimeError(f"no redirect from {req.full_url}")


async def streams(port: int, link: str, count: int, stop: asyncio.Event) -> list[int]:
    """``count`` training streams of ``link`` read until ``stop``: bytes each received."""
    query = link.split("?", 1)[1]
    received = [0] * count

    async def one(i: int) -> None:
        while not stop.is_set():  # a run that ends is started again (Train pressed again): fifty streams throughout
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request_bytes(f"/network/train/stream?{query}&speed=100", keep_alive=False))
                while not stop.is_set():
                    try:
                        chunk = await asyncio.wait_for(reader.read(65536), 0.5)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    received[i] += len(chunk)
                writer.close()
            except OSError:
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(i) for i in range(count)))
    return received


async def hall(port: int, clients: int, with_streams: int, seed0: int,
               kinds: tuple[str, ...] = ("same", "different")) -> list[Burst]:
    rng = random.Random(seed0)
    same = default_link(port, "network", seed0)
    different = [default_link(port, LABS[i % len(LABS)], seed0 + 1 + i) for i in range(clients)
                 if "different" in kinds]
    rng.shuffle(different)
    stop = asyncio.Event()
    running = None
    if with_streams:
        running = asyncio.create_task(streams(port, default_link(port, "network", seed0 + 10_000), with_streams,
                                              stop))
        await asyncio.sleep(2)
    suffix = f" with {with_streams} streams running" if with_streams else ""
    out = []
    if "same" in kinds:
        out.append(await burst(port, f"same /network link × {clients}{suffix}", [same] * clients))
    if "different" in kinds:
        out.append(await burst(port, f"{clients} different links (all labs){suffix}", different))
    if running is not None:
        stop.set()
        got = await running
        out.append(Burst(f"streams: {sum(b > 0 for b in got)} of {with_streams} received events "
                         f"({sum(got) // 1024} KiB)"))
    return out


async def kept_alive(port: int, requests: int, path: str = "/healthz") -> float:
    """Median ms of sequential requests on one kept-alive connection (after the first)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(requests + 1):
        started = time.perf_counter()
        writer.write(request_bytes(path, keep_alive=True))
        await read_response(reader)
        times.append(time.perf_counter() - started)
    writer.close()
    return statistics.median(times[1:]) * 1000


def workers_section(requests: int) -> list[str]:
    lines = []
    for plain in (True, False):
        name = "uvicorn --http h11 --loop asyncio --workers" if plain else "backprop-lens serve --workers"
        medians = {}
        for workers in (1, 2):
            with Server(workers, plain=plain) as server:
                medians[workers] = asyncio.run(kept_alive(server.port, requests))
        lines.append(f"{name}: kept-alive GET /healthz median {medians[1]:.2f} ms on 1 worker, "
                     f"{medians[2]:.2f} ms on 2 ({medians[2] / medians[1]:.1f}×) ({load_average()})")
    return lines


async def healthz_with_streams(port: int, count: int, seconds: float, seed: int) -> str:
    """/healthz polled for ``seconds`` while ``count`` training streams run, and nothing else: its p50/p95/max."""
    stop = asyncio.Event()
    running = asyncio.create_task(streams(port, default_link(port, "network", seed), count, stop))
    await asyncio.sleep(2)
    polls: list[float] = []
    poller = asyncio.create_task(poll_healthz(port, stop, polls))
    await asyncio.sleep(seconds)
    stop.set()
    await poller
    got = await running
    ms = [s * 1000 for s in polls]
    return (f"/healthz with {count} streams running, {len(ms)} polls over {seconds:.0f} s: "
            f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms; "
            f"{sum(b > 0 for b in got)} streams received {sum(got) // 1024} KiB ({load_average()})")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=300)
    p.add_argument("--streams", type=int, default=50, help="training streams during the second round (0: none)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--keepalive", type=int, default=200, help="requests per kept-alive run (0: skip that section)")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="first seed (new links each run)")
    p.add_argument("--healthz-only", type=float, default=0, metavar="SECONDS",
                   help="only poll /healthz this long with --streams streams running (no bursts, no workers section)")
    p.add_argument("--only", choices=("same", "different"), help="run one kind of burst (default: both)")
    p.add_argument("--rounds", choices=("quiet", "streams", "both"), default="both",
                   help="the bursts without streams, with --streams streams running, or both (default)")
    args = p.parse_args(argv)
    kinds = (args.only,) if args.only else ("same", "different")
    if args.healthz_only:
        with Server(args.workers) as server:
            line = asyncio.run(healthz_with_streams(server.port, args.streams, args.healthz_only, args.seed))
            print(line, flush=True)
        return
    print(f"bench.load: {args.clients} clients, {args.workers} worker(s), seed {args.seed}; {load_average()}",
          flush=True)
    with Server(args.workers) as server:
        if args.rounds != "streams":
            for result in asyncio.run(hall(server.port, args.clients, 0, args.seed, kinds)):
                print(result.report(), flush=True)
        if args.streams and args.rounds != "quiet":
            for result in asyncio.run(hall(server.port, args.clients, args.streams, args.seed + 50_000, kinds)):
                print(result.report() if result.statuses else result.name, flush=True)
    if args.keepalive:
        for line in workers_section(args.keepalive):
            print(line, flush=True)


if __name__ == "__main__":
    main()
