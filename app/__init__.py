"""Backprop Lens web app: FastAPI + HTMX pages and the JSON API over the NumPy engine.

Create the app with :func:`app.main.create_app` (uvicorn: ``--factory``).

OpenBLAS's threads, once a product large enough to be split over them is done, spin ~0.1 s (2^28 cycles) waiting
for the next one. The training stream evaluates on the 359 test digits every 50 steps (~every 60 ms): a split
product each time, so one thread spun on the second core for as long as a stream ran (two threads at ~100 % of a
core each, measured in the server), and on this 2-core machine under load a streamed step cost ~2.5x an engine
step. ``OPENBLAS_THREAD_TIMEOUT=4`` (2^4 cycles, the least it takes) lets them sleep at once. The products are split
as before, so every number is the same (tests/app/labs/test_network_stream_golden.py). Read when OpenBLAS loads:
it is set here, before the first import of NumPy in a server process; a value already in the environment stays.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
