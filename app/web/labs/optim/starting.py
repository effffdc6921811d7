"""The step table's starting state: where the optimizer's run starts instead of zero state with t = 1.

``t0`` counts the updates already taken (the first update of the table is t0 + 1) and each slot of the
optimizer has a starting value per parameter: momentum's velocity ``v0``, rmsprop's mean square ``s0``,
adam's moments ``m0`` and ``v0`` — the names of the JSON API's ``state`` (t, m, v, s) with a 0, as θ0
is the parameters' start. Absent (or all zero with t0 = 0) means today's start, so old links are unchanged.

In a link: ``t0=5&m0=2:0.6,0.9&v0=2:0.7,0.5``; a slot left out starts at zero. The same checks as the
API's (:func:`engine.optim.rules.state_from_json`): t0 a whole number up to ``MAX_T``, one value per
parameter, a running mean of squares (rmsprop's s, adam's v) never negative; each problem names its field
(``t0``, ``v0``, ``v0[w2]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.web.kit.fields import FieldError, parse_int
from app.web.kit.form import Form, first, number_cells, resize
from app.web.kit.link import decode_array, encode_array
from engine.optim import rules as optim

SLOT_KEYS = {"m": "m0", "v": "v0", "s": "s0"}  # a slot's starting value in the link and the form
LINK_KEYS = ("t0", *SLOT_KEYS.values())
SLOT_TITLES = {("momentum", "v"): "velocity v", ("rmsprop", "s"): "mean square s",
               ("adam", "m"): "first moment m", ("adam", "v"): "second moment v",
               ("adamw", "m"): "first moment m", ("adamw", "v"): "second moment v"}


@dataclass(frozen=True)
class StartingState:
    """The optimizer state the step table starts from."""

    t: int  # t0: updates already taken; the first update of the table runs with t0 + 1
    slots: dict[str, np.ndarray]  # slot name ("m", "v", "s") -> its value per parameter, (P,)

    def engine_state(self, key: str) -> optim.OptimizerState:
        """The engine's state for a run whose parameters travel as one vector ``key``."""
        return optim.OptimizerState(t=self.t, slots={s: {key: np.array(a, dtype=np.float64)}
                                                     for s, a in self.slots.items()})

    def link_fields(self) -> dict[str, str]:
        fields = {"t0": str(self.t)}
        fields.update({SLOT_KEYS[s]: encode_array(a) for s, a in self.slots.items() if np.any(a)})
        return fields

    def value(self, slot: str, i: int) -> float:
        return float(self.slots[slot][i])


def zero(name: str, P: int) -> StartingState:
    """Today's start: zero slots, t0 = 0."""
    return StartingState(0, {s: np.zeros(P) for s in optim.SLOTS[name]})


def canonical(start: StartingState | None) -> StartingState | None:
    """None for the zero start (the link then leaves it out), else ``start``."""
    if start is None or (start.t == 0 and not any(np.any(a) for a in start.slots.values())):
        return None
    return start


def slot_label(slot: str, name: str) -> str:
    """The label (and error field) of a starting-state cell: ``v0[w2]``."""
    return f"{SLOT_KEYS[slot]}[{name}]"


def slot_title(optimizer: str, slot: str) -> str:
    return SLOT_TITLES.get((optimizer, slot), slot)


def _others(name: str, key: str) -> str:
    keeps = [SLOT_KEYS[s] for s in optim.SLOTS[name]]
    owner = {"m0": "adam's first moment", "v0": "momentum's velocity or adam's second moment",
             "s0": "rmsprop's mean square"}[key]
    return (f"{name} keeps no {key} ({owner}); its starting state is t0"
            + "".join(f", {k}" for k in keeps))


def _check(name: str, slot: str, values: np.ndarray, names: tuple[str, ...]) -> None:
    if slot in optim.NONNEGATIVE.get(name, ()):
        for i, v in enumerate(values):
            if v < 0:
                raise FieldError(slot_label(slot, names[i]),
                                 f"is a running mean of squares and may not be negative, got {v:g}")


def _t0(text: str) -> int:
    return parse_int("t0", text, 0, optim.MAX_T, bound="the engine's MAX_T, the JSON API's bound too")


def from_link(fields: dict[str, str], name: str, names: tuple[str, ...]) -> StartingState | None:
    """The starting state a link's fields give (None: zero state); raises FieldError naming the field."""
    if not any(k in fields for k in LINK_KEYS):
        return None
    for key in SLOT_KEYS.values():
        if key in fields and key not in {SLOT_KEYS[s] for s in optim.SLOTS[name]}:
            raise FieldError(key, _others(name, key))
    P = len(names)
    slots = {}
    for slot in optim.SLOTS[name]:
        key = SLOT_KEYS[slot]
        if key not in fields:
            slots[slot] = np.zeros(P)
            continue
        values = decode_array(key, fields[key], 1, (P,))
        if values.shape[0] != P:
            raise FieldError(key, f"has {values.shape[0]} values for {P} parameters")
        _check(name, slot, values, names)
        slots[slot] = values
    return canonical(StartingState(_t0(fields.get("t0", "0")), slots))


def from_form(form: Form, name: str, posted: tuple[str, ...], names: tuple[str, ...],
              errors: list[FieldError]) -> StartingState | None:
    """The starting state the form posts, resized to the parameters ``names``; every bad cell is named.

    The cells belong to the optimizer they were drawn for (``start_for``): after a switch to another
    optimizer its slots start at zero (adam's v is not momentum's velocity); t0 is kept.
    """
    if "t0" not in form:
        return None
    try:
        t = _t0(first(form, "t0", "0"))
    except FieldError as exc:
        errors.append(exc)
        return None
    same = first(form, "start_for", name) == name
    slots = {}
    for slot in optim.SLOTS[name]:
        values = None
        if same and posted:
            values = number_cells(form, SLOT_KEYS[slot], [slot_label(slot, n) for n in posted], errors)
        values = np.zeros(len(names)) if values is None else resize(values, (len(names),))
        try:
            _check(name, slot, values, names)
        except FieldError as exc:
            errors.append(exc)
        slots[slot] = values
    return canonical(StartingState(t, slots))


def after(step, key: str) -> StartingState:
    """The state after a step of the table (an ``engine.optim.runs.LabStep``): where "continue" starts."""
    return StartingState(step.t, {s: np.array(a[key], dtype=np.float64) for s, a in step.record.slots.items()})


def posted_t0(form: Form) -> int:
    """t0 as posted when it reads (else 0): the gradient cells' labels count from it (``g[t=6, w1]``)."""
    try:
        return _t0(first(form, "t0", "0"))
    except FieldError:
        return 0
