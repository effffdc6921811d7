"""Spot the bug: classic backprop mistakes, each a planted variant of one engine function.

Kept apart from the real engine: nothing on the normal path imports ``engine.bugs`` (a test runs the
app and every engine module in a fresh interpreter and finds it absent). Each :class:`Bug` says which
lab it belongs to, how hard it is to find, which engine function it replaces, which shown arrays it
corrupts, and how it is caught: by the gradient check (``gradcheck``: the analytic gradient the buggy
code reports disagrees with the numeric gradient of its own forward) or by a comparison (with PyTorch's
convention, or with a property the page states, such as Σ dx = Σ dout).

``bug.run(inputs, params)`` answers what the real op's ``run`` answers — the same array names — with
the planted mistake in; ``bug.example(rng)`` is an input on which the mistake shows.
"""

from __future__ import annotations

from engine.bugs.catalogue import BUGS, Bug, by_lab, get_bug

__all__ = ["BUGS", "Bug", "by_lab", "get_bug"]
