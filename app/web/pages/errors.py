"""Error pages for a person in a browser (an API client gets the same error as JSON, :mod:`app.errors`)."""

from __future__ import annotations

from starlette.responses import HTMLResponse

from app.web.render.templating import templates


def error_page(status: int, title: str, message: str, retry_after: int | None = None,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page saying what went wrong; with ``retry_after`` it reloads itself after that many seconds."""
    html = templates.get_template("error.html").render(status=status, title=title, retry_after=retry_after,
                                                        message=message[:1].upper() + message[1:])
    response = HTMLResponse(html, status_code=status, headers=headers)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response
