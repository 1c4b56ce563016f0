"""How the CLI speaks: one JSON document with --json, readable Swedish (or English) text
otherwise; errors as one line on stderr (and a JSON error document with --json)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Callable

import click


@dataclass
class Options:
    actor: str
    as_json: bool
    lang: str


def emit(options: Options, document, text: Callable[[object], str] | None = None) -> None:
    if options.as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    elif text is not None:
        click.echo(text(document))
    else:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int, as_json: bool, field: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps({"error": {"exit_code": code, "field": field, "message": message}}, ensure_ascii=False))
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain text table: columns are (key, heading)."""
    if not rows:
        return "(inga rader / no rows)"
    cells = [[str(r.get(k) if r.get(k) is not None else "–") for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line([h for _, h in columns]), line(["-" * w for w in widths])] + [line(c) for c in cells])
