"""Options every command shares, and the parsing of dates and --set pairs."""

from __future__ import annotations

import functools
import os
from datetime import date, datetime

import click

from interfaces.cli.output import Options
from statemachine.errors import BadInput


def common(func):
    """--actor, --json and --lang on a command; passes `options` as the first argument."""
    @click.option("--actor", default=lambda: os.environ.get("ETABLERA_ACTOR", ""), show_default="$ETABLERA_ACTOR",
                  help="Who does this (officer id).")
    @click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document.")
    @click.option("--lang", type=click.Choice(["sv", "en"]), default=lambda: os.environ.get("ETABLERA_LANG", "sv"),
                  help="Language of labels (Swedish by default).")
    @functools.wraps(func)
    def wrapper(actor, as_json, lang, **kwargs):
        return func(Options(actor=actor or "unknown", as_json=as_json, lang=lang), **kwargs)
    return wrapper


def changing(func):
    """Adds --at to a command that changes a case (and requires an actor)."""
    @click.option("--at", "at", default=None, help="When it happened (ISO date or datetime, Stockholm time "
                                                   "unless a zone is given); default now.")
    @functools.wraps(func)
    def wrapper(options, at, **kwargs):
        if options.actor == "unknown":
            raise BadInput("actor", "say who does this: --actor ID or ETABLERA_ACTOR")
        return func(options, at=parse_at(at), **kwargs)
    return wrapper


def parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    from models.timestamps import parse_moment
    try:
        return parse_moment(text)
    except Exception:
        raise BadInput("at", f"not a date or datetime: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None


def parse_bound(text: str | None, field: str) -> datetime | None:
    """A period bound (--since, --until): a bare date is the start of that day in Stockholm
    (not midday, as for an event time), so `--since 2025-03-05` includes the whole day."""
    if text is None:
        return None
    from models.timestamps import day_start
    try:
        return day_start(date.fromisoformat(text.strip()))
    except ValueError:
        pass
    try:
        return parse_at(text)
    except BadInput:
        raise BadInput(field, f"not a date or datetime: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None


def parse_date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(field, f"not a date: {text!r} (use YYYY-MM-DD)") from None


def parse_sets(pairs: tuple[str, ...]) -> dict:
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput("set", f"expected KEY=VALUE, got {pair!r}")
        data[key.strip()] = value
    return data
