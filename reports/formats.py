"""The follow-up report in each of its formats: one document, four renderings."""

from __future__ import annotations

import json

from etablera.reports.html import to_html
from etablera.reports.render import to_csv, to_table

FORMATS = ("table", "json", "csv", "html")
_RENDERERS = {"table": to_table, "csv": to_csv, "html": to_html,
              "json": lambda doc: json.dumps(doc, ensure_ascii=False, indent=2)}


def render(doc: dict, fmt: str) -> str:
    """The report document `doc` as text in the format `fmt` (one of FORMATS)."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    return _RENDERERS[fmt](doc)
