"""`etablera deadlines ...`, `etablera reminders ...`, `etablera officer ...`, `etablera serve`.

Prefect is imported only inside the commands that run a flow, so the rest of the CLI
answers without it.
"""

from __future__ import annotations

import os

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, progress, table, wording
from etablera.models.database import get_engine
from etablera.reminders import officers as officer_cases
from etablera.reminders import outbox as outbox
from etablera.statemachine.errors import BadInput
from etablera.cases.parsing import parse_at
from etablera.flows.prefect_env import prefect_defaults


WORDS = {
    "local_run": ("Ingen Prefect-server angiven (PREFECT_API_URL): kontrollen körs lokalt på en tillfällig "
                  "server och syns inte i Prefect-gränssnittet.",
                  "No Prefect server configured (PREFECT_API_URL): the check runs locally on a temporary "
                  "server and will not appear in the Prefect UI."),
}
_w = wording(WORDS)


@click.group()
def deadlines():
    """Time frames: the daily check and recomputing due dates."""


@deadlines.command()
@click.option("--now", default=None, help="Check as of this date or datetime (Stockholm time); default now. "
                                          "Replays a day: reminders already recorded are not recorded again.")
@click.option("--send/--no-send", default=True, show_default=True, help="Deliver what is pending after the check.")
@click.option("--parts", type=click.IntRange(min=1), default=None,
              help="Groups of municipalities the check runs in (default $ETABLERA_CHECK_PARTS or 2).")
@common
def check(options, now, send, parts):
    """Run the deadline check once, as a Prefect flow (record, then deliver), against the
    Prefect server of PREFECT_API_URL (the run shows in its UI); without it, on a temporary
    local server, which says so on stderr. The parts run in this process."""
    moment = parse_at(now, "now")
    prefect_defaults()
    if not os.environ.get("PREFECT_API_URL"):
        click.echo(_w("local_run", options.lang), err=True)
    from etablera.flows.deadlines import deadline_check
    summary = deadline_check(now=moment.isoformat() if moment else None, send=send, parts=parts, on_workers=False)

    t = (lambda sv, en: en) if options.lang == "en" else (lambda sv, en: sv)  # noqa: E731

    def text(d):
        c = d["check"]
        lines = [f"{t('Kontroll', 'Check')} {c['today']}: {c['new']} {t('nya påminnelser', 'new reminders')}"
                 + (" (" + ", ".join(f"{step} {n}" for step, n in c["by_step"].items()) + ")" if c["by_step"] else "")]
        for subject, per in c["by_subject"].items():
            if any(per.values()):
                lines.append(f"  {subject:<14} " + ", ".join(f"{step} {n}" for step, n in per.items() if n))
        if "delivery" in d:
            dl = d["delivery"]
            lines.append(t(f"Utskick: skickade {dl['sent']}, misslyckade {dl['failed']} (försöks igen), döda {dl['dead']}",
                           f"Delivery: sent {dl['sent']}, failed {dl['failed']} (to be retried), dead {dl['dead']}"))
        lines.append(t("Utkorgen: ", "Outbox: ") + ", ".join(f"{k} {v}" for k, v in sorted(d["outbox"].items())))
        return "\n".join(lines)
    emit(options, summary, text)


@deadlines.command()
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@common
def recompute(options, dry_run):
    """Recompute running cases' due dates from the current time frames (audited)."""
    from etablera.reminders.recompute import recompute as run
    if not dry_run and options.actor == "unknown":
        raise BadInput("actor_missing", field="actor")
    with progress(options, "Räknar om" if options.lang == "sv" else "Recomputing") as advance:
        result = run(get_engine(), actor=options.actor, dry_run=dry_run, progress=advance).as_dict()

    t = (lambda sv, en: en) if options.lang == "en" else (lambda sv, en: sv)  # noqa: E731

    def text(d):
        head = (f"{t('Skulle ändra', 'Would change') if d['dry_run'] else t('Ändrade', 'Changed')} {d['changed']} "
                f"{t('av', 'of')} {d['examined']} {t('pågående ärenden', 'running cases')}")
        rows = [{"case": c["case"], "state": c["state"],
                 "due": f"{c['due']['from']} → {c['due']['to']}" if "due" in c else "",
                 "establishment": (f"{c['establishment_due']['from']} → {c['establishment_due']['to']}"
                                   if "establishment_due" in c else "")} for c in d["changes"]]
        return head + ("\n" + table(rows, [("case", "ärende", "case"), ("state", "läge", "state"),
                                           ("due", "förfaller", "due"), ("establishment", "etablering", "establishment")],
                                     options.lang) if rows else "")
    emit(options, result, text)


@click.group("reminders")
def reminders_group():
    """The reminder outbox (påminnelser)."""


@reminders_group.command("list")
@click.option("--case", "case_id", type=int, default=None)
@click.option("--status", type=click.Choice(outbox.STATUSES), default=None)
@click.option("--limit", default=1000, show_default=True)
@common
def list_(options, case_id, status, limit):
    """Reminders, newest first (failed ones wait for the next run; dead ones need a person)."""
    rows = outbox.list_reminders(get_engine(), case_id=case_id, status=status, limit=limit, lang=options.lang)

    def text(items):
        municipality = "municipality" if options.lang == "en" else "kommun"
        shown = [{**r, "target": r["case_id"] if r["case_id"] is not None else f"{municipality} {r['municipality']}",
                  "to": ", ".join(d["recipient"] for d in r["deliveries"]),
                  "error": (r["last_error"] or "")[:60]} for r in items]
        return table(shown, [("id", "id", "id"), ("target", "ärende", "case"), ("stage", "steg", "stage"),
                             ("step", "nivå", "step"), ("due", "förfaller", "due"),
                             ("days_late", "dagar sent", "days late"), ("status", "status", "status"),
                             ("attempts", "försök", "attempts"), ("to", "till", "to"),
                             ("error", "senaste fel", "last error")], options.lang)
    emit(options, rows, text)


@reminders_group.command()
@click.option("--reclaim-after", type=float, default=None,
              help="Seconds after which a message claimed by a delivery that died is sent again "
                   "(default from config/reminders.toml).")
@common
def deliver(options, reclaim_after):
    """Send what is pending now, without Prefect (the flow does this after every check)."""
    result = outbox.deliver(get_engine(), reclaim_after=reclaim_after)
    emit(options, result.as_dict(), lambda d: (f"sent {d['sent']}, failed {d['failed']}, dead {d['dead']}"
                                               if options.lang == "en" else
                                               f"skickade {d['sent']}, misslyckade {d['failed']}, döda {d['dead']}"))


@click.group()
def officer():
    """Officers and coordinators, and where their reminders go: the users with those roles
    (`etablera user add` without a password; `user add ID ... --update` gives one)."""


@officer.command()
@click.argument("officer_id")
@click.option("--name", required=True)
@click.option("--org", type=click.Choice(officer_cases.ORGS), required=True)
@click.option("--municipality", required=True, help="Municipality code (kommunkod).")
@click.option("--role", type=click.Choice(officer_cases.ROLES), default="officer", show_default=True)
@click.option("--notify", default=None, help="Notification URL (apprise: mailto://, msteams://, slack://, "
                                             "json://; or file:PATH). Default: the e-mail address, else the "
                                             "default channel.")
@click.option("--email", default=None, help="E-mail address (through the mail server of reminders.toml).")
@click.option("--update", "update_existing", is_flag=True, help="Change an officer already registered.")
@common
def add(options, officer_id, name, org, municipality, role, notify, email, update_existing):
    """Register an officer or coordinator (a user without a password, unless they are one)."""
    doc = officer_cases.add_officer(get_engine(), officer_id, name=name, org=org, municipality=municipality,
                                    role=role, notify=notify, email=email, update_existing=update_existing)
    if options.lang == "en":
        emit(options, doc, lambda d: f"{d['role']} {d['id']} ({d['org']}, {d['municipality']}) registered"
                                     + (f", notified via {d['notify']}" if d["notify"] else
                                        f", e-mail {d['email']}" if d["email"] else ", default channel"))
    else:
        emit(options, doc, lambda d: f"{d['role']} {d['id']} ({d['org']}, {d['municipality']}) registrerad"
                                     + (f", aviseras via {d['notify']}" if d["notify"] else
                                        f", e-post {d['email']}" if d["email"] else ", standardkanalen"))


@officer.command("list")
@click.option("--municipality", default=None)
@click.option("--role", type=click.Choice(officer_cases.ROLES), default=None)
@common
def officer_list(options, municipality, role):
    """Registered officers and coordinators (notification URLs without credentials)."""
    rows = officer_cases.list_officers(get_engine(), municipality=municipality, role=role)
    emit(options, rows, lambda r: table(r, [("id", "id", "id"), ("name", "namn", "name"), ("org", "org", "org"),
                                            ("municipality", "kommun", "municipality"), ("role", "roll", "role"),
                                            ("email", "e-post", "e-mail"), ("notify", "kanal", "channel"),
                                            ("login", "inloggning", "login")], options.lang))


@click.command()
@click.option("--port", default=4200, show_default=True, help="Port of the local Prefect server (when started).")
@common(keep=False)
def serve(options, port):
    """Start the schedules: the daily deadline check and the monthly follow-up report (cron,
    time zone and report folder from config/reminders.toml). Without PREFECT_API_URL, a
    local Prefect server is started on 127.0.0.1 first."""
    prefect_defaults()
    from etablera.flows.serve import serve as run
    run(port=port, echo=click.echo)
