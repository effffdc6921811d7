"""The spot-the-bug page (/bugs): the planted bugs of :mod:`engine.bugs`, listed by lab with their difficulty
and how each is caught; what each bug is stays folded away (a spoiler for whoever wants to find it).

engine.bugs is imported when the page is asked for, never when the app starts: the normal path (every lab,
the API) never loads a planted bug (tests/engine/bugs/test_bugs.py).
"""

from __future__ import annotations

import importlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.settings import Settings, get_settings
from app.web.kit.bug_sites import SITES
from app.web.kit.bugs import sealed_links
from app.web.nav import LABS
from app.web.render.templating import render

router = APIRouter()

CAUGHT = {"gradcheck": "the gradient check", "comparison": "a comparison"}


@router.get("/bugs", include_in_schema=False)
def bugs_page(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Response:
    bugs = importlib.import_module("engine.bugs")  # only here: see the module's docstring
    titles = {lab.slug: lab for lab in LABS}
    links = {key: link for slug, sites in SITES.items()
             for key, link in sealed_links(sites, slug, settings.bug_secret).items()}
    groups, number = [], 0
    for slug, found in bugs.by_lab().items():
        entries = []
        for bug in found:
            number += 1
            entries.append({"bug": bug, "number": number, "caught": CAUGHT[bug.caught_by], "link": links.get(bug.key)})
        groups.append({"lab": titles[slug], "entries": entries})
    return render(request, "bugs.html", {"active": "bugs", "groups": groups, "count": number})
