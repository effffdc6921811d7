"""The errata page: every slip of the lecture notes, what they print, the right value the engine computes, and
a link that opens the example in its lab (the slips themselves: :mod:`app.web.kit.errata`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.web.kit import errata
from app.web.render.templating import render

router = APIRouter()

KINDS = (("slip", "Slips: the notes print a wrong number or index"),
         ("convention", "Conventions: the notes differ from PyTorch and the Adam paper"),
         ("demo", "Looks like a slip, is not"))


@router.get("/errata", include_in_schema=False)
def errata_page(request: Request) -> Response:
    entries = errata.entries()
    groups = [{"kind": kind, "title": title, "entries": [e for e in entries if e["slip"].kind == kind]}
              for kind, title in KINDS]
    return render(request, "errata.html", {"active": "errata", "groups": groups, "notes": errata.NOTES,
                                           "count": sum(1 for e in entries if e["slip"].kind == "slip")})
