"""Pages, headers, static files, OpenAPI, the CLI: what a browser and an operator rely on."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app import cli
from app.main import create_app
from app.middleware import CSP
from app.paths import ROOT, STATIC
from app.settings import Settings
from app.web.nav import LABS
from app.web.render import markdown, templating
from engine import registry
from engine.optim import rules as optim

IMMUTABLE = "public, max-age=31536000, immutable"


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert client.head("/healthz").status_code == 200


def test_landing_page_is_a_full_html_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<title>Backprop Lens</title>" in html
    for lab in LABS:
        assert lab.title.replace("&", "&amp;") in html
    links = {attrs.get("href") for tag, attrs in parse(html).tags if tag == "a"}
    for lab in LABS:
        assert (lab.path in links) == lab.available, f"{lab.title}: a link only when the lab is available"
    assert "/conventions" in links and "/docs" in links
    assert 'data-latex="' in html  # formulas for KaTeX


def test_nav_marks_coming_soon_labs(client):
    html = client.get("/").text
    for lab in LABS:
        if not lab.available:
            assert re.search(rf'aria-disabled="true"[^>]*>{re.escape(lab.title.replace("&", "&amp;"))}', html), lab


def test_htmx_request_gets_only_the_fragment(client):
    r = client.get("/", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text and "<header" not in r.text
    assert 'id="labs-grid"' in r.text
    assert "HX-Request" in r.headers["vary"]
    # a boosted link wants the whole page
    r = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in r.text


@pytest.mark.parametrize("path", ["/", "/conventions", "/docs", "/no-such-page"])
def test_security_headers_on_html(client, path):
    r = client.get(path, headers={"accept": "text/html"})
    assert r.headers["content-type"].startswith("text/html"), path
    assert r.headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP and "frame-ancestors 'none'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/", "/conventions", "/docs", "/no-such-page"])
def test_pages_have_no_inline_script_or_handlers(client, path):
    tags = parse(client.get(path, headers={"accept": "text/html"}).text)
    assert not tags.script_bodies, f"{path}: inline <script> breaks the CSP"
    for tag, attrs in tags.tags:
        if tag == "script":
            assert attrs.get("src"), f"{path}: <script> without src"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"{path}: inline handler {handlers} on <{tag}>"
        assert "javascript:" not in (attrs.get("href") or ""), f"{path}: javascript: URL"


def test_every_asset_of_the_landing_page_is_served_and_cached_long(client):
    tags = parse(client.get("/").text)
    urls = [a.get("src") or a.get("href") for t, a in tags.tags if t in ("script", "link")]
    urls = [u for u in urls if u and u.startswith("/static/")]
    assert any("htmx" in u for u in urls) and any("katex" in u for u in urls) and any("base.css" in u for u in urls)
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["cache-control"] == IMMUTABLE, url
        if url.endswith(".js"):
            assert "javascript" in r.headers["content-type"], url


def test_plotly_only_where_asked(client):
    home = client.get("/").text
    assert f'<script src="{templating.PLOTLY_URL}"' not in home  # not loaded eagerly...
    assert f'<meta name="plotly-src" content="{templating.PLOTLY_URL}">' in home  # ...lens.js loads it on demand
    r = templating.templates.get_template("base.html").render(plotly=True, request=None, active=None)
    assert templating.PLOTLY_URL in r


def test_plotly_js_is_gzipped_and_cached_long(client):
    r = client.get(templating.PLOTLY_URL, headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == IMMUTABLE
    assert "javascript" in r.headers["content-type"]
    assert r.content == templating.plotly_js_path().read_bytes()  # httpx decodes the gzip
    assert int(r.headers.get("content-length", 0)) == 0 or int(r.headers["content-length"]) < len(r.content) / 2
    raw = client.get(templating.PLOTLY_URL, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(raw.content) == templating.plotly_js_path().stat().st_size
    assert "Accept-Encoding" in raw.headers["vary"]
    head = client.head(templating.PLOTLY_URL)
    assert head.status_code == 200 and head.headers["cache-control"] == IMMUTABLE


def test_html_and_json_are_gzipped(client):
    r = client.get("/conventions", headers={"accept-encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    tiny = client.get("/healthz", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in tiny.headers  # under the minimum size


def test_static_caching_rules(client):
    css = templating.static_url("css/base.css")
    assert re.fullmatch(r"/static/css/base\.css\?v=[0-9a-f]{10}", css)
    assert client.get(css).headers["cache-control"] == IMMUTABLE
    assert client.get("/static/css/base.css").headers["cache-control"] == "no-cache"
    assert client.get(templating.VENDOR["htmx"]).headers["cache-control"] == IMMUTABLE
    missing = client.get("/static/vendor/nope.js?v=1")
    assert missing.status_code == 404 and missing.headers["cache-control"] != IMMUTABLE


def test_static_url_changes_with_the_content(tmp_path, monkeypatch):
    monkeypatch.setattr(templating, "STATIC", tmp_path)
    f = tmp_path / "a.css"
    f.write_text("a{}")
    first = templating.static_url("a.css")
    f.write_text("b{color:red}")
    assert templating.static_url("/a.css") != first
    with pytest.raises(FileNotFoundError):
        templating.static_url("missing.css")


def test_vendored_files_exist_and_match_package_json():
    import json

    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert deps == {"htmx.org": "2.0.11", "katex": "0.19.1", "plotly.js-cartesian-dist-min": "4.1.1",
                    "swagger-ui-dist": "5.35.0"}
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, version in deps.items():
        assert lock[f"node_modules/{name}"]["version"] == version
    for url in templating.VENDOR.values():
        assert (STATIC / url.removeprefix("/static/")).is_file(), url
    for folder in ("htmx-2.0.11", "katex-0.19.1", "plotly-cartesian-4.1.1", "swagger-ui-5.35.0"):
        assert (STATIC / "vendor" / folder / "LICENSE").is_file(), folder


def test_katex_css_finds_its_woff2_fonts():
    css_path = STATIC / templating.VENDOR["katex_css"].removeprefix("/static/")
    css = css_path.read_text()
    faces = re.findall(r"@font-face\{[^}]*\}", css)
    assert len(faces) > 10
    for face in faces:
        first = re.search(r"src:url\(([^)]+)\)\s*format\(\"(\w+)\"\)", face)
        assert first and first[2] == "woff2", face[:120]  # browsers take the first format they support
        assert (css_path.parent / first[1]).is_file(), first[1]


def test_katex_fonts_are_served(client):
    font = next((STATIC / "vendor" / "katex-0.19.1" / "fonts").glob("*.woff2"))
    r = client.get(f"/static/vendor/katex-0.19.1/fonts/{font.name}", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff2"
    assert "content-encoding" not in r.headers  # already compressed


def test_favicon(client):
    for url in ("/favicon.ico", templating.static_url("favicon.svg")):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml"), url
        assert r.text.lstrip().startswith("<svg")


def test_conventions_page_renders_the_repos_copy(client):
    r = client.get("/conventions")
    assert r.status_code == 200
    html = r.text
    assert '<h1 id="conventions-and-the-public-json-api">' in html
    assert "<table>" in html and "<td>conv2d</td>" in html
    assert "<pre><code" in html  # the model JSON block
    assert "<script>" not in html.lower()
    source = (ROOT / "docs" / "CONVENTIONS.md").read_text()
    assert "## The JSON API" in source


def test_markdown_escapes_html_and_keeps_heading_ids_and_table_wraps():
    html = markdown.to_html("# T <b>\n\n- a `<x>` **b** [l](http://e.org) [j](javascript:alert(1))\n\n"
                            "| a | b |\n|---|---|\n| <i> | `c` |\n\n## The JSON API (`/api/v1`)\n")
    assert "<b>" not in html and "<i>" not in html and "href=\"javascript" not in html
    assert "&lt;x&gt;" in html and "<strong>b</strong>" in html and '<a href="http://e.org">l</a>' in html
    assert '<h1 id="t-b">' in html and '<h2 id="the-json-api-api-v1">' in html
    assert '<div class="table-wrap"><table>' in html and "</table></div>" in html


def test_unknown_html_page_is_a_friendly_404(client):
    r = client.get("/no-such-lab", headers={"accept": "text/html"})
    assert r.status_code == 404 and "<html" in r.text and "/no-such-lab" in r.text
    r = client.get("/api/v1/nothing", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"


def test_docs_and_openapi_list_every_api_route(app, client):
    from app.api import v1 as api

    schema = client.get("/openapi.json").json()
    # every route of every API router, as mounted under /api/v1
    from app.api.v1 import networks as network_api

    api_routes = {api.router.prefix + r.path for sub in (api.ops.router, api.optimizers.router) for r in sub.routes}
    api_routes |= {r.path for r in network_api.router.routes}  # its router carries the /api/v1 prefix itself
    assert api_routes == {"/api/v1/ops/{op}", "/api/v1/optimizers/{name}", "/api/v1/networks/trace"}
    assert api_routes == {p for p in schema["paths"] if p.startswith("/api/")}
    assert "/healthz" in schema["paths"]
    op_param = schema["paths"]["/api/v1/ops/{op}"]["post"]["parameters"][0]
    assert op_param["schema"]["enum"] == sorted(registry.OPS)
    opt_param = schema["paths"]["/api/v1/optimizers/{name}"]["post"]["parameters"][0]
    assert opt_param["schema"]["enum"] == list(optim.OPTIMIZERS)
    examples = schema["paths"]["/api/v1/ops/{op}"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {op for op, spec in registry.OPS.items() if spec.example is not None}
    for code in ("404", "422"):
        assert code in schema["paths"]["/api/v1/ops/{op}"]["post"]["responses"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert templating.VENDOR["swagger_js"] in docs.text and 'data-openapi-url="/openapi.json"' in docs.text
    assert client.get("/redoc").status_code == 404  # it would need a CDN


def test_every_op_example_in_the_docs_is_a_valid_request(client):
    schema = client.get("/openapi.json").json()
    examples = schema["paths"]["/api/v1/ops/{op}"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    for op, example in examples.items():
        r = client.post(f"/api/v1/ops/{op}", json=example["value"])
        assert r.status_code == 200, f"{op}: {r.text[:300]}"
    body = schema["paths"]["/api/v1/optimizers/{name}"]["post"]["requestBody"]["content"]["application/json"]
    for key, example in body["examples"].items():
        name = "momentum" if key == "momentum" else "adam"
        assert client.post(f"/api/v1/optimizers/{name}", json=example["value"]).status_code == 200, key


def test_create_app_takes_settings():
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(max_body_bytes=100))) as c:
        r = c.post("/api/v1/ops/relu", json={"inputs": {"x": [0.0] * 100}})
        assert r.status_code == 413
        assert r.json()["detail"][0]["msg"].endswith("limit of 100 bytes")


def test_cli_serve_runs_uvicorn_with_the_factory(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    cli.main(["serve", "--port", "8123"])
    (args, kwargs), = calls
    assert args == ("app.main:create_app",)
    assert kwargs["factory"] is True and kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8123
    assert kwargs["reload"] is False
    with pytest.raises(SystemExit):
        cli.main([])


def test_run_scripts_are_executable():
    for path in ("run", ".ci/run", "scripts/vendor.sh"):
        assert Path(ROOT / path).stat().st_mode & 0o111, path


def test_gzip_round_trip_is_really_gzip(client):
    # httpx decodes transparently; make sure the bytes on the wire are gzip
    with client.stream("GET", "/conventions", headers={"accept-encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert gzip.decompress(raw).startswith(b"<!doctype html>")
