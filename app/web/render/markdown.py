"""A deliberately small Markdown-to-HTML converter for the project's own docs.

It knows exactly what docs/CONVENTIONS.md uses: ATX headings, paragraphs, ``-`` lists with
indented continuation lines, pipe tables, fenced code blocks, and inline ``code``,
``**bold**`` and ``[links](url)``. Everything is HTML-escaped first; no raw HTML passes.
"""

from __future__ import annotations

import re
from html import escape

_HEADING = re.compile(r"^(#{1,4})\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def inline(text: str) -> str:
    out = []
    for i, piece in enumerate(text.split("`")):
        if i % 2:  # inside backticks
            out.append(f"<code>{escape(piece)}</code>")
        else:
            piece = escape(piece, quote=False)
            piece = _BOLD.sub(r"<strong>\1</strong>", piece)
            piece = _LINK.sub(lambda m: f'<a href="{escape(m[2])}">{m[1]}</a>', piece)
            out.append(piece)
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def to_html(source: str) -> str:
    lines = source.splitlines()
    html: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            lang = line[3:].strip()
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            i += 1
            cls = f' class="language-{escape(lang)}"' if lang else ""
            html.append(f"<pre><code{cls}>{escape(chr(10).join(body))}</code></pre>")
        elif m := _HEADING.match(line):
            level, text = len(m[1]), m[2].strip()
            html.append(f'<h{level} id="{slugify(text)}">{inline(text)}</h{level}>')
            i += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            head, body_rows = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
            parts = ['<div class="table-wrap"><table>', "<thead><tr>"]
            parts += [f"<th>{inline(c)}</th>" for c in head]
            parts.append("</tr></thead><tbody>")
            for row in body_rows:
                parts.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>")
            parts.append("</tbody></table></div>")
            html.append("".join(parts))
        elif line.startswith("- "):
            items: list[str] = []
            while i < len(lines) and (lines[i].startswith("- ") or (items and lines[i].startswith("  "))):
                if lines[i].startswith("- "):
                    items.append(lines[i][2:].strip())
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            html.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                para.append(lines[i].strip())
                i += 1
            html.append(f"<p>{inline(' '.join(para))}</p>")
    return "\n".join(html)


def _starts_block(line: str) -> bool:
    return bool(line.startswith(("```", "- ")) or _HEADING.match(line) or line.lstrip().startswith("|"))
