"""``python -m bench.exercises``: what spot the bug and quiz mode cost a request, against the same lab's plain
request timed in the same run (in process, the page cache off so every request computes).

- a planted page (``&bug=``) against the same page without the bug (the norm lab's batch-norm example);
- an edit of a planted lab (``POST /norm/results`` with the bug) against the same edit without it;
- ``POST /conv/quiz/grade`` (three cells) and ``/norm/bug/reveal`` against ``POST /<lab>/results`` of the
  same form (a grade renders the page's context once to read the engine's values);
- ``GET /healthz`` as the floor.

Requests alternate between the two sides of each pair, so drift in the machine's load hits both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.kit.bug_sites import SITES
from app.web.kit.bugs import seal
from tests.app.kit.test_bugs_in_labs import form_of

CONV = ("/conv?v=1&x=1x1x5x5:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25"
        "&w=1x1x3x3:1,0,-1,1,0,-1,1,0,-1&b=1:0&stride=1&pad=0&dout=ones&tab=backward")
CELLS = "out:0,0,1,1;dx:0,0,2,2;dx:0,0,0,0"


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    response = call()
    assert response.status_code == 200, (response.status_code, response.text[:200])
    return (time.perf_counter() - started) * 1000


def pair(n: int, a: Callable[[], Any], b: Callable[[], Any]) -> tuple[list[float], list[float]]:
    first, second = [], []
    for _ in range(n):
        first.append(timed(a))
        second.append(timed(b))
    return first, second


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def line(what: str, mine: list[float], ref: list[float], ref_name: str) -> str:
    ratio = statistics.median(mine) / statistics.median(ref)
    return (f"{what:<44} p50 {statistics.median(mine):7.2f} ms  p95 {p(mine, 95):7.2f} ms   "
            f"{ref_name} p50 {statistics.median(ref):7.2f} ms   ratio {ratio:5.2f}")


def main(n: int = 40) -> None:
    settings = Settings(page_cache_entries=0)
    with TestClient(create_app(settings)) as client:
        site = SITES["norm"]["bn-no-mean-path"]
        plain = f"/norm?{site.link}"
        planted = f"{plain}&bug={seal('bn-no-mean-path', settings.bug_secret)}"
        client.get(plain), client.get(planted)  # warm
        rows = []
        a, b = pair(n, lambda: client.get(planted), lambda: client.get(plain))
        rows.append(line("GET /norm with a planted bug", a, b, "without"))
        form_planted, form_plain = form_of(client.get(planted).text, "norm"), form_of(client.get(plain).text, "norm")
        a, b = pair(n, lambda: client.post("/norm/results", data=form_planted),
                    lambda: client.post("/norm/results", data=form_plain))
        rows.append(line("POST /norm/results with the bug", a, b, "without"))
        a, b = pair(n, lambda: client.post("/norm/bug/reveal", data=form_planted),
                    lambda: client.post("/norm/results", data=form_planted))
        rows.append(line("POST /norm/bug/reveal (show me)", a, b, "results"))
        conv = {**form_of(client.get(f"{CONV}&quiz={CELLS}").text, "conv"), "quiz": CELLS}
        graded = {**conv, "answer": ["-6", "0.5", "1"]}
        a, b = pair(n, lambda: client.post("/conv/quiz/grade", data=graded),
                    lambda: client.post("/conv/results", data=conv))
        rows.append(line("POST /conv/quiz/grade (3 cells)", a, b, "results"))
        a, b = pair(n, lambda: client.post("/conv/quiz/hint", data={**conv, "cell": "dx:0,0,2,2"}),
                    lambda: client.post("/conv/results", data=conv))
        rows.append(line("POST /conv/quiz/hint (a dx cell's terms)", a, b, "results"))
        a, b = pair(n, lambda: client.get("/healthz"), lambda: client.get("/healthz"))
        rows.append(line("GET /healthz (the floor)", a, b, "healthz"))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
