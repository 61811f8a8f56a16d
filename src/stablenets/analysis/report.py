"""The files of one analysis: ``<kind>.json`` (the numbers), PNGs, and a Markdown report embedding
them (plus the same report as a small self-contained HTML page)."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from stablenets.analysis._io import save_json, save_text

__all__ = ["Section", "write_report"]


class Section(dict):
    """A report section: heading, an optional image file name (relative to the report), Markdown text."""

    def __init__(self, heading: str, image: str | None = None, text: str = ""):
        super().__init__(heading=heading, image=image, text=text)


def _html(title: str, sections: Sequence[Section]) -> str:
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<body style='font-family:sans-serif;max-width:1100px;margin:auto'>", f"<h1>{html.escape(title)}</h1>"]
    for s in sections:
        parts.append(f"<h2>{html.escape(s['heading'])}</h2>")
        if s["image"]:
            parts.append(f"<img src='{html.escape(s['image'])}' style='max-width:100%'>")
        if s["text"]:
            parts.append(f"<pre>{html.escape(s['text'])}</pre>")
    return "\n".join(parts) + "\n</body>\n"


def write_report(out_dir: str | Path, kind: str, title: str, sections: Sequence[Section], data) -> dict:
    """Write ``<kind>.json`` (``data``), ``<kind>.md`` and ``<kind>.html``; returns their paths."""
    out_dir = Path(out_dir)
    md = [f"# {title}", ""]
    for s in sections:
        md += [f"## {s['heading']}", ""]
        if s["image"]:
            md += [f"![{s['heading']}]({s['image']})", ""]
        if s["text"]:
            md += [s["text"], ""]
    md += [f"Numbers: [{kind}.json]({kind}.json)", ""]
    return {"json": save_json(data, out_dir / f"{kind}.json"),
            "markdown": save_text("\n".join(md), out_dir / f"{kind}.md"),
            "html": save_text(_html(title, sections), out_dir / f"{kind}.html")}
