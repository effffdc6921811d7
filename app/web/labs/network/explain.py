"""The network lab's backward, explained: one element of each gradient array with its numbers plugged in,
paired provenance (the terms of a hovered cell of the shown layer) and the chain from the loss to a picked
parameter element, ending in that element's optimizer update.

Every number comes from the traced step (:mod:`app.web.labs.network.run`) and :mod:`engine.explain`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.web.kit.fields import parse_index
from app.web.labs.network import run as network_run
from app.web.labs.network.state import NetworkState
from app.web.render.numbers import cell_text
from engine.explain.chain import GRADIENTS, Chain, gradient_chain, layer_at, op_params
from engine.explain.terms import TERMS, term_arrays, terms_of
from engine.network import runs as nl
from engine.optim.runs import LabStep, plugged_step
from engine.records import OpInputError
from engine.registry import OPS

SHOWN_GRADIENTS = ("dw", "db", "dgamma", "dbeta", "dx_hat", "dvar", "dmean", "dx")


def element_formulas(layer, fwd: dict, bwd: dict, shown: tuple[int, int] = (2, 4)) -> dict[str, dict[str, Any]]:
    """For each gradient array of the layer that has terms: its element of largest |value| among those the
    panel draws (the first ``shown`` of its two leading axes) as a formula block with the numbers plugged in
    (``{array: block}``)."""
    if layer.type not in TERMS:
        return {}
    result = {**fwd, **bwd}
    out = {}
    for array in SHOWN_GRADIENTS:
        if array not in term_arrays(layer.type) or result.get(array) is None:
            continue
        values = np.asarray(result[array])
        drawn = values[tuple(slice(0, k) for k in shown[:values.ndim])] if values.ndim > 1 else values
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(drawn)), drawn.shape))
        try:
            t = terms_of(layer.type, result, op_params(layer), array, index)
        except OpInputError:
            continue
        more = f", {len(t.terms)} terms" if len(t.terms) > 1 else ""
        out[array] = {"kind": "formula", "title": f"One element with its numbers: {t.label}, the largest shown{more}",
                      "latex": t.latex(max_terms=8, largest_first=True)}
    return out


def with_elements(blocks: list[dict[str, Any]], formulas: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``blocks`` with each gradient array's element formula right after the array."""
    out = []
    for block in blocks:
        out.append(block)
        if block.get("name") in formulas:
            out.append(formulas[block["name"]])
    return out


def _shown_layer(state: NetworkState) -> tuple[Any, dict, str]:
    """(the layer the page shows, its arrays forward and backward merged, its path) — ValueError for the loss."""
    kind, _, path = state.op.partition(":")
    if kind not in ("f", "b", "u") or not path:
        raise ValueError(state.op)
    _, _, st = network_run.traced_step(state)
    entry = next(e for e in st.trace["layers"] if e["path"] == path)
    return layer_at(state.model, path), {**entry["forward"], **entry["backward"]}, path


def provenance(state: NetworkState, array: str, index_text: str) -> dict[str, list[tuple[int, ...]]]:
    """Which cells of the shown layer a cell of it came from (the op's own provenance)."""
    layer, result, _ = _shown_layer(state)
    if layer.type == "residual" and array in RESIDUAL_SOURCES:
        return _residual_sources(result, array, parse_index(index_text))
    spec = OPS.get(layer.type)
    if spec is None or spec.provenance is None or array not in result:
        raise ValueError(array)
    return spec.provenance(result, {**_defaults(spec), **op_params(layer)}, array, parse_index(index_text))


# a residual block's card, cell by cell: out = x + fx, dx = dx_skip + dx_branch, dx_skip = dout (the branch's
# dx comes from the block's own layers, on their cards)
RESIDUAL_SOURCES = {"out": ("x", "fx"), "dx": ("dx_skip", "dx_branch"), "dx_skip": ("dout",), "dx_branch": (),
                    "x": (), "fx": (), "dout": ()}


def _residual_sources(result: dict, array: str, index: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    shape = np.shape(result[array])
    if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape, strict=True)):
        raise ValueError(array)
    return {name: [index] for name in RESIDUAL_SOURCES[array] if name in result}


def _defaults(spec) -> dict[str, Any]:
    return {p.name: p.default for p in spec.params}


def terms(state: NetworkState, array: str, index_text: str):
    """The terms that sum to a gradient cell of the shown layer; None for other arrays."""
    layer, result, _ = _shown_layer(state)
    if array not in term_arrays(layer.type):
        return None
    return terms_of(layer.type, result, op_params(layer), array, parse_index(index_text))


# --- the chain ------------------------------------------------------------------------------------


def default_pick(st: nl.StepTrace, names: tuple[str, ...]) -> tuple[str, tuple[int, ...]] | None:
    """The element of largest |gradient| of the layer's first parameter with terms."""
    for name in names:
        if name.rpartition(".")[2] in GRADIENTS and name in st.trace["grads"]:
            g = np.asarray(st.trace["grads"][name])
            return name, tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(g)), g.shape))
    return None


def chain_view(state: NetworkState, st: nl.StepTrace, names: tuple[str, ...], traced: tuple) -> dict[str, Any] | None:
    """The chain card of a layer with parameters: the pick (the state's, when it is one of this layer's), the
    hops from the loss down to it, and the element's update. Made once for the traced step (``traced``: its
    network_run.trace_key) and the pick: the layer's backward and update panels show the same card."""
    pick = _parse_pick(state.chain) if state.chain else None
    if pick is None or pick[0] not in names:
        pick = default_pick(st, names)
    if pick is None:
        return None
    return network_run.kept_part((traced, "chain", names, pick), lambda: _chain_card(state, st, names, *pick),
                                 _card_size)


def _chain_card(state: NetworkState, st: nl.StepTrace, names: tuple[str, ...], name: str,
                index: tuple[int, ...]) -> dict[str, Any]:
    view: dict[str, Any] = {"names": [n for n in names if n.rpartition(".")[2] in GRADIENTS], "name": name,
                            "index": ",".join(map(str, index)), "shape": list(np.shape(st.trace["grads"][name]))}
    try:
        chain = gradient_chain(state.model, st.trace, st.labels, name, index)
    except OpInputError as err:
        view["error"] = err.message
        return view
    view.update(_hops(chain))
    view["element_update"] = _update(st, name, index)
    return view


def _card_size(view: dict[str, Any]) -> int:
    """Roughly the bytes of a chain card: its formulas, and a few texts and numbers a hop."""
    return 2000 + sum(1000 + len(h["latex"]) for h in view.get("hops", ())) + sum(
        500 + len(u["latex"]) for u in view.get("element_update", ()))


def _parse_pick(text: str) -> tuple[str, tuple[int, ...]] | None:
    name, _, idx = text.partition(":")
    try:
        return name, parse_index(idx)
    except ValueError:
        return None


def _hops(chain: Chain) -> dict[str, Any]:
    """The chain's hops as the card draws them. Of each hop's terms the card keeps their label alone: it is kept
    (network_run.kept_part), and the terms read the traced step's arrays (~150 KB a card)."""
    hops = []
    for hop in reversed(chain.hops):  # from the loss down to the parameter
        share = hop.share
        hops.append({"path": hop.path, "op": hop.op, "terms": {"label": hop.terms.label}, "followed": hop.followed,
                     "latex": hop.terms.latex(max_terms=6, largest_first=True), "count": len(hop.terms.terms),
                     "share": None if share is None else f"{100 * share:.0f} %"})
    return {"hops": hops, "end": chain.end, "gradient": cell_text(chain.gradient), "penalty": chain.penalty,
            "penalty_text": cell_text(chain.penalty), "data": cell_text(chain.gradient - chain.penalty)}


def _update(st: nl.StepTrace, name: str, index: tuple[int, ...]) -> list[dict[str, str]]:
    """The optimizer's update of this one element, each sub-step with its numbers."""
    if st.update is None or name not in st.params:
        return []
    step = LabStep(st.update.t, st.params, st.state, st.update.g, st.update, st.new_params)
    try:
        lines = plugged_step(step, name, index, st.update_steps)  # the step's sub-steps, made when it was traced
    except (KeyError, IndexError, OpInputError):
        return []
    return [{"title": s.title, "latex": latex} for s, latex in lines]
