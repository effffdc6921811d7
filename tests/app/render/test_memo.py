"""What THE heatmap writer wrote is kept by everything it was written from (app.web.render.memo): a table or image
written again from the same inputs comes from the memo, and never when any input differs."""

from __future__ import annotations

import numpy as np
import pytest

from app.web.labs.pool.view import _tip
from app.web.render import heatmap as writer
from app.web.render.heatmap import KeyedCells, _Table, heatmap, keyed, rounded_tip
from app.web.render.hidden import hiding
from app.web.render.memo import WRITTEN, Memo

BASE = np.arange(-4.0, 5.0).reshape(3, 3) / 3
BIG = np.linspace(-1.0, 1.0, 400).reshape(20, 20)  # more cells than image_over below: drawn as an image
# each differs from the base in one input the HTML is written from
VARIANTS = {
    "a value": dict(values=BASE + np.eye(3) * 1e-12),
    "the scale": dict(vmax=7.0),
    "the colour rule": dict(colour="finite"),
    "the array": dict(array="y"),
    "the prefix": dict(prefix=(0, 1)),
    "the label": dict(label="another"),
    "the kind": dict(kind="band"),
    "a class": dict(classes={(0, 0): "winner"}),
    "an attribute": dict(attrs={(1, 1): {"data-wins": "0,0"}}),
    "an attribute's value": dict(attrs={(1, 1): {"data-wins": "0,1"}}),
    # attributes that say what they are written from (pool's winners): kept by that, told apart by it
    "keyed attributes": dict(attrs=KeyedCells({(1, 1): {"data-wins": "0,0"}}, "wins", b"\x00")),
    "keyed attributes' source": dict(attrs=KeyedCells({(1, 1): {"data-wins": "0,1"}}, "wins", b"\x01")),
    "a subscript": dict(subs={(1, 0): "2"}),
    "the tooltip": dict(tip=rounded_tip),
    "no tooltip": dict(tip=None),
    "a pool tooltip": dict(tip=_tip("x", (0, 0))),
    "a pool tooltip's note": dict(tip=_tip("x", (0, 0), {(0, 0): " — wins out[0,0,0,0]"})),
    "a mark": dict(mark=np.eye(3, dtype=bool)),
    "a window": dict(window=np.eye(3, dtype=bool)),
    "why": dict(why={"nan": "0/0"}),
    "row labels": dict(row_labels=["a", "b", "c"]),
    "column labels": dict(col_labels=["a", "b", "c"]),
    "a band": dict(band=("m", "the first moment")),
    "cut rows": dict(hidden_rows=2, shape_text="5 × 3"),
    "an image": dict(values=BIG, image_over=100),
    "an image's scale": dict(values=BIG, image_over=100, vmax=3.0),
    "an image's window": dict(values=BIG, image_over=100, window=BIG > 0.5),
    "an image's mark": dict(values=BIG, image_over=100, mark=BIG < -0.5),
    "an input image": dict(values=BIG, image_over=100, editable=True),
}


def write(**options) -> str:
    options = {"values": BASE, "array": "x", **options}
    return str(heatmap(options.pop("values"), options.pop("array"), **options)["html"])


def fresh(**options) -> str:
    WRITTEN.clear()
    return write(**options)


@pytest.fixture(autouse=True)
def empty_memo():
    WRITTEN.clear()
    yield
    WRITTEN.clear()


def test_the_same_inputs_are_written_once():
    first = write()
    hits = WRITTEN.hits
    assert write() == first and WRITTEN.hits == hits + 1
    assert fresh() == first


def test_any_input_changed_is_written_anew():
    write()
    for name, options in VARIANTS.items():  # the memo holds the base and every variant before: none is taken
        assert write(**options) == fresh(**options), name
        write()
    tables = {name: options for name, options in VARIANTS.items() if "image_over" not in options}
    keys = {name: _Table(o.get("values", BASE), o.get("array", "x"), **{k: v for k, v in o.items()
                                                                         if k not in ("values", "array")}).key(b"")
            for name, o in tables.items()}
    assert len(set(keys.values())) == len(keys)  # no two variants of a table share a key


def test_a_quiz_drawing_is_kept_apart():
    plain = write()
    quiz = hiding([("x", "1,1")], write)()
    assert quiz != plain and "data-quiz-masked" in quiz
    assert write() == plain and hiding([("x", "1,1")], write)() == quiz


def test_a_tooltip_that_does_not_say_what_it_writes_is_written_each_time():
    assert _Table(BASE, "x", tip=lambda i, j, v, text: "t").key(b"") is None
    assert write(tip=lambda i, j, v, text: f"{i}") != write(tip=lambda i, j, v, text: f"{j}")


def test_a_tooltip_keyed_by_what_it_reads_is_kept_and_told_apart():
    def row(doc):
        return keyed(lambda i, j, v, text, doc=doc: f"{doc}: {v!r}", "row", doc)

    first = write(tip=row("m"))
    hits = WRITTEN.hits
    assert write(tip=row("m")) == first and WRITTEN.hits == hits + 1
    assert write(tip=row("v")) == fresh(tip=row("v")) != first


def test_the_key_names_every_input_of_a_table():
    """A new option of _Table must join its key (or this list, if the HTML is not written from it)."""
    derived = {"out", "seen", "vmax", "values", "array", "label", "colour", "hidden", "prefix", "editable", "mark",
               "window", "kind", "tip", "index", "classes", "attrs", "subs", "why", "band", "row_labels",
               "col_labels", "row_head", "hidden_rows", "hidden_cols", "shape_text", "image"}
    assert set(vars(_Table(BASE, "x"))) == derived


def test_the_memo_is_bounded_by_size_oldest_out_first():
    memo = Memo(limit=100)
    for k in range(5):
        memo.put(k, f"html {k}", 30)
    assert memo.size <= 100 and memo.get(0) is None and memo.get(4) == "html 4"
    memo.get(2)  # used: kept over 3
    memo.put(5, "html 5", 30)
    assert memo.get(2) == "html 2" and memo.get(3) is None
    memo.put(6, "too big", 101)
    assert memo.get(6) is None


def test_a_batch_writes_what_each_table_alone_writes(monkeypatch: pytest.MonkeyPatch):
    """The memo's hits and misses in one batch: its coloured pass covers only what it writes."""
    write(), write(values=BIG, image_over=100)
    monkeypatch.setattr(writer, "DEFER", True)
    batch = writer.Heatmaps(100)
    outs = [batch.add(BASE, "x"), batch.add(BIG, "x"), batch.add(-BASE, "x"), batch.add(-BIG, "x")]
    batch.render()
    alone = [fresh(), fresh(values=BIG, image_over=100), fresh(values=-BASE), fresh(values=-BIG, image_over=100)]
    assert [str(o["html"]) for o in outs] == alone
