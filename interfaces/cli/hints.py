"""The CLI's own hints beside a refusal: the flag that gives the field at fault, the
triggers that may fire now, `--update` for something that exists. The refusal's words come
from the catalogue (statemachine/messages.py) and never name a flag; only this module does.
"""

from __future__ import annotations

import click

from etablera.statemachine.errors import EtableraError
from etablera.statemachine.messages import Code, render

# Hints that do not follow from the field alone: code -> (catalogue hint, its parameters).
_BY_CODE = {
    "track_prerequisites_unmet": ("hint_override", {"flag": "--set override_prerequisites=yes", "note": "--note TEXT"}),
    "user_exists": ("hint_update", {"flag": "--update"}),
    "officer_exists": ("hint_update", {"flag": "--update"}),
    "database_not_initialised": ("hint_run", {"command": "etablera init"}),
    "schema_behind": ("hint_run", {"command": "etablera migrate"}),
    "unexpected_error": ("hint_debug", {"setting": "ETABLERA_DEBUG=1"}),
    "actor_missing": ("hint_give_with", {"flag": "--actor ID / ETABLERA_ACTOR"}),
    "key_value_expected": ("hint_give_with", {"flag": "--set NAME=VALUE"}),
    "no_such_track": ("hint_run", {"command": "etablera agreement list"}),
    "no_such_track_in": ("hint_run", {"command": "etablera agreement list"}),
    "restore_target_not_empty": ("hint_overwrite", {"flag": "--force"}),
    "restore_audit_key_missing": ("hint_anyway", {"flag": "--without-audit-key"}),
}


def hint(exc: EtableraError, command: click.Command | None, lang: str) -> str | None:
    """The CLI's hint for `exc` raised by `command`, in `lang`, or None."""
    if exc.code in _BY_CODE:
        key, params = _BY_CODE[exc.code]
        return render(key, params, lang)
    if exc.code == "trigger_not_permitted" and "permitted" in exc.params:
        return render("hint_triggers", {"triggers": [Code(t) for t in exc.params["permitted"]]}, lang)
    names = exc.params.get("names") if exc.code in ("missing_data", "unknown_data") else None
    if names is not None and exc.params.get("trigger"):
        flags = [_trigger_flag(exc.params["trigger"], name) for name in names]
        flags = [f for f in flags if f]
        key = "hint_give_with" if exc.code == "missing_data" else "hint_takes"
        return render(key, {"flag": Code(", ".join(flags))}, lang) if flags else None
    if exc.code.startswith("usage_"):
        return None                    # the refusal names the option already
    if exc.field and exc.exit_code == 2:       # bad input: the flag that gives the field
        flag = option_flag(command, exc.field) or _trigger_flag(None, exc.field, command)
        if flag:
            return render("hint_give_with", {"flag": Code(flag)}, lang)
    return None


def option_flag(command: click.Command | None, field: str) -> str | None:
    """The option of `command` that gives `field` (`--permit-date` for permit_date)."""
    if command is None:
        return None
    for param in command.params:
        if isinstance(param, click.Option) and (param.name == field or f"--{field.replace('_', '-')}" in param.opts):
            return max(param.opts, key=len) + _METAVAR.get(param.name, "")
    return None


_METAVAR = {"reason": " CODE", "note": " TEXT", "actor": " ID", "sets": " NAME=VALUE"}


def _trigger_flag(trigger: str | None, name: str, command: click.Command | None = None) -> str | None:
    """How the CLI gives a trigger's field (`--reason CODE`, `--note TEXT`,
    `--set name=VALUE`), from the field's source in the process table."""
    from etablera.statemachine.fields import how_to_give
    from etablera.statemachine.process import TRIGGER, TRIGGERS
    if command is not None and not any(p.name == "sets" for p in command.params):
        return None                    # only `case advance` takes a trigger's data
    triggers = [TRIGGER[trigger]] if trigger in TRIGGER else list(TRIGGERS)
    for spec in triggers:
        for field in spec.fields:
            if field.name == name:
                return how_to_give(field)
    return None


def command_for(cli: click.Group, argv: list[str]) -> click.Command | None:
    """The command of `cli` that `argv` names (`case advance` in `case advance 1 hold_talk`)."""
    command: click.Command = cli
    ctx = click.Context(cli)
    for arg in argv:
        if not isinstance(command, click.Group):
            break
        if arg.startswith("-"):
            continue
        try:
            sub = command.get_command(ctx, arg)
        except Exception:  # noqa: BLE001 - a command that cannot load has no hint
            return None
        if sub is None:
            if command.invoke_without_command:
                break                   # an option's value of a group that is a command itself
            return None
        command = sub
    # A group that is also a command of its own (`etablera report`) has options to hint at.
    return None if isinstance(command, click.Group) and not command.invoke_without_command else command
