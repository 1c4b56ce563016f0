"""How the CLI speaks: one JSON document with --json, readable Swedish (or English, --lang
en) text otherwise; errors as one line on stderr in the same language (and a JSON error
document with --json)."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import click

from etablera.statemachine.errors import EtableraError


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


def wording(words: dict[str, tuple[str, str]]) -> Callable[..., str]:
    """`say(key, lang, **values)` over a command module's own words (Swedish, English):
    the text in `lang`, its {placeholders} filled from `values`."""
    def say(key: str, lang: str, **values) -> str:
        text = words[key][1 if lang == "en" else 0]
        return text.format(**values) if values else text
    return say


@contextmanager
def progress(options: Options, label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar with an estimate of the time left, on stderr, for a long job: only on
    a terminal and never with --json (stdout stays one document). Yields `advance(done,
    total)`, which the job calls after each part with how many items it finished."""
    if options.as_json or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    bar = None
    try:
        def advance(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True,
                                        show_percent=True, show_pos=True)
                bar.__enter__()
            bar.update(done)
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def fail(error: EtableraError, as_json: bool, lang: str = "sv", hint: str | None = None) -> None:
    """Print the refusal and exit with its exit code: one line on stderr, `error: field:
    text (hint)` in `lang`, and with --json one document on stdout,
    {"error": {"code", "field", "message", "exit_code"}} (the message in `lang`)."""
    if as_json:
        click.echo(json.dumps({"error": error.as_dict(lang)}, ensure_ascii=False))
    line = error.line(lang)
    click.echo(f"error: {line} ({hint})" if hint else f"error: {line}", err=True)
    sys.exit(error.exit_code)


def table(rows: list[dict], columns: list[tuple[str, str]], lang: str | None = None) -> str:
    """A plain text table: columns are (key, heading), or (key, Swedish, English) with `lang`."""
    if lang is not None:
        columns = [(c[0], c[2] if lang == "en" else c[1]) if len(c) == 3 else c for c in columns]
    if not rows:
        return "(inga rader / no rows)" if lang is None else ("(no rows)" if lang == "en" else "(inga rader)")
    cells = [[str(r.get(k) if r.get(k) is not None else "–") for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line([h for _, h in columns]), line(["-" * w for w in widths])] + [line(c) for c in cells])
