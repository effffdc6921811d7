"""A lab's presets: named starting states (the notes' worked examples, random-with-seed), one record for every lab."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

State = TypeVar("State")


@dataclass(frozen=True)
class Preset(Generic[State]):
    """One chip above a lab: ``make(seed)`` builds the state its link opens."""

    key: str  # in the link: /<lab>/preset/<key>?seed=
    title: str  # the chip's text
    source: str  # where in the notes it comes from, and what to look for
    make: Callable[[int], State]
    group: str = "table"  # which row of chips it sits in (the optimizer lab has a second: "surface")
