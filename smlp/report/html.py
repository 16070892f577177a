"""The page: one self-contained HTML file (inline CSS, images as base64 PNG, no script, no
external reference), so it opens offline and can be mailed as one attachment."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from smlp.report.figures import Figure

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1b1f24;
background:#fff}
header{background:#14324f;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px}header p{margin:6px 0 0;opacity:.85}
nav{padding:8px 32px;background:#eef2f6;font-size:14px}nav a{margin-right:16px;color:#14324f}
main{padding:8px 32px 32px;max-width:1280px}
h2{border-bottom:2px solid #d7dee6;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #d7dee6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:12px 0 20px}figure img{max-width:100%;border:1px solid #eef2f6}
figcaption{font-size:12px;color:#57606a}.note{color:#57606a;font-size:13px}
.lead{font-size:16px}footer{padding:16px 32px;color:#57606a;font-size:12px}
code{background:#f4f6f8;padding:1px 4px;border-radius:3px}
"""


@dataclass
class Section:
    anchor: str
    title: str
    body: str


def text(value: Any) -> str:
    return escape(str(value))


def paragraph(content: str, css: str = "") -> str:
    """``content`` is already HTML (escape user text with ``text``)."""
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{content}</p>"


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return text(value)


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]],
          numeric: Iterable[int] = ()) -> str:
    """Cells are escaped unless given as ``Raw``; ``numeric`` columns align right."""
    right = set(numeric)
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            shown = cell.html if isinstance(cell, Raw) else (
                number(cell) if cell is None or isinstance(cell, int | float) else text(cell))
            css = ' class="num"' if index in right else ""
            cells.append(f"<td{css}>{shown}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass
class Raw:
    html: str


def image(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = text(figure.title) + (f" — {text(figure.caption)}" if figure.caption else "")
    return (f'<figure><img alt="{text(figure.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption} (<code>{text(figure.name)}</code>)</figcaption></figure>")


def page(title: str, subtitle: str, sections: list[Section], footer: str) -> str:
    links = "".join(f'<a href="#{s.anchor}">{text(s.title)}</a>' for s in sections)
    parts = "".join(f'<section id="{s.anchor}"><h2>{text(s.title)}</h2>{s.body}</section>'
                    for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{text(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{text(title)}</h1><p>{subtitle}</p></header><nav>{links}</nav>"
            f"<main>{parts}</main><footer>{footer}</footer></body></html>\n")
