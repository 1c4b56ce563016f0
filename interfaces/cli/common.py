"""Options every command shares, and the parsing of dates and --set pairs."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os

import click

from etablera.interfaces.cli.output import Options
from etablera.models.keeping import keep_connections
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code
from etablera.cases.parsing import parse_at


class LazyGroup(click.Group):
    """A group whose commands are imported when one is run or listed (`lazy`: name ->
    "module:attribute"): a command pays only for its own imports."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            module, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


def common(func=None, *, keep: bool = True):
    """--actor, --json and --lang on a command; passes `options` as the first argument.

    The command runs in `keep_connections()` (models/keeping.py): its transactions on a
    SQLite file share one connection, given back to the pool when it ends. `keep=False`
    for a command that serves or forks (a kept connection must not reach a child) or
    replaces the database file."""
    if func is None:
        return functools.partial(common, keep=keep)

    @click.option("--actor", default=lambda: os.environ.get("ETABLERA_ACTOR", ""), show_default="$ETABLERA_ACTOR",
                  help="Who does this (officer id).")
    @click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document.")
    @click.option("--lang", type=click.Choice(["sv", "en"]), default=lambda: os.environ.get("ETABLERA_LANG", "sv"),
                  help="Language of labels (Swedish by default).")
    @functools.wraps(func)
    def wrapper(actor, as_json, lang, **kwargs):
        with keep_connections() if keep else contextlib.nullcontext():
            return func(Options(actor=actor or "unknown", as_json=as_json, lang=lang), **kwargs)
    wrapper.keeps_connections = keep
    return wrapper


def principal(options: Options, engine):
    """Who acts at the command line: the registered user named by --actor, or the local
    operator (an admin) for an id that is no login."""
    from etablera.access.principal import cli_principal
    return cli_principal(engine, options.actor)


def changing(func):
    """Adds --at to a command that changes a case (and requires an actor)."""
    @click.option("--at", "at", default=None, help="When it happened (ISO date or datetime, Stockholm time "
                                                   "unless a zone is given); default now.")
    @functools.wraps(func)
    def wrapper(options, at, **kwargs):
        if options.actor == "unknown":
            raise BadInput("actor_missing", field="actor")
        return func(options, at=parse_at(at), **kwargs)
    return wrapper


def parse_sets(pairs: tuple[str, ...]) -> dict:
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput("key_value_expected", field="set", pair=Code(pair))
        data[key.strip()] = value
    return data
