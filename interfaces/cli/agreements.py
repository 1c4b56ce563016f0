"""`etablera agreement validate|list|show` and `etablera grant`: the local agreements
(överenskommelser) and their tracks, and the state grant for drawing one up.

Every command takes `--actor`, `--json` (exactly one JSON document on stdout) and `--lang
sv|en` (Swedish labels by default), as every other command does. Exit 2 when there is
something to refuse: broken files, no agreement for the municipality, a negative count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from etablera.interfaces.cli.common import common
from etablera.models.timestamps import local_date, utcnow
from etablera.models.agreements import (COMPONENT_KINDS, PARTY_KINDS, AgreementBook, agreements_dir, component_plan,
                                        load_agreement, validate_agreement_files)
from etablera.models.configuration import Label
from etablera.models.grant import band_for, max_grant
from etablera.statemachine.errors import BadInput, NotFound
from etablera.statemachine.messages import Code

_L = {
    "valid": Label("{n} överenskommelsefiler giltiga ({codes})", "{n} agreement files valid ({codes})"),
    "invalid": Label("{n} fel i överenskommelsefilerna", "{n} issues in the agreement files"),
    "municipalities": Label("Kommuner", "Municipalities"),
    "name": Label("Namn", "Name"),
    "validity": Label("Giltighet", "Validity"),
    "next_revision": Label("Nästa revidering", "Next revision"),
    "tracks": Label("Spår", "Tracks"),
    "status": Label("Status", "Status"),
    "ok": Label("ok", "ok"),
    "broken": Label("trasig", "broken"),
    "parties": Label("Parter", "Parties"),
    "signatories": Label("Undertecknare", "Signatories"),
    "open": Label("öppet", "open"),
    "closed": Label("stängt för nya deltagare", "closed for new participants"),
    "short": Label("kortutbildade", "short education"),
    "length": Label("beräknad längd", "estimated length"),
    "employers": Label("Arbetsgivare", "Employers"),
    "providers": Label("Utbildningsanordnare", "Education providers"),
    "actors": Label("Övriga aktörer", "Other actors"),
    "responsible": Label("Ansvariga", "Responsible"),
    "prerequisites": Label("Förkunskapskrav", "Prerequisites"),
    "follow_up": Label("Uppföljning", "Follow-up"),
    "parallel": Label("parallellt", "in parallel"),
    "kommun": Label("kommun", "municipality"),
    "grant": Label("Högsta statsbidrag för {n} mottagna: {amount} kr (intervall {band})",
                   "Maximum state grant for {n} received: SEK {amount} (band {band})"),
}



def _emit(doc) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


def _agreements_dir() -> Path:
    """The agreements folder of the first configuration directory that has one."""
    return agreements_dir()


@click.group("agreement")
def agreement() -> None:
    """Local agreements (överenskommelser) and their job tracks (lokala jobbspår)."""


@agreement.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@common
def validate(options, files: tuple[Path, ...]) -> None:
    """Check agreement FILES (default: every file of the configuration's agreements folder)
    against the rules: one line per violation, naming the file, the key path and the rule."""
    as_json, lang = options.as_json, options.lang
    paths = list(files) or sorted(_agreements_dir().glob("*.toml"))
    if not paths:
        raise BadInput("no_agreement_files", field="files", dir=Code(str(_agreements_dir())))
    issues = validate_agreement_files(paths)
    if issues:
        if as_json:
            _emit({"valid": False, "files": [str(p) for p in paths], "issues": [i.as_dict() for i in issues]})
        else:
            for issue in issues:
                click.echo(str(issue), err=True)
            click.echo(_L["invalid"](lang).format(n=len(issues)), err=True)
        sys.exit(2)
    codes = sorted({c for p in paths for c in _codes(p)})
    if as_json:
        _emit({"valid": True, "files": [str(p) for p in paths], "municipalities": codes, "issues": []})
    else:
        click.echo(_L["valid"](lang).format(n=len(paths), codes=", ".join(codes)))


def _codes(path: Path) -> list[str]:
    return list(load_agreement(path).municipalities)


@agreement.command("list")
@common
def list_agreements(options) -> None:
    """Every agreement file: municipalities, validity, next revision, tracks, status."""
    as_json, lang = options.as_json, options.lang
    book = AgreementBook.load(_agreements_dir())
    today = local_date(utcnow())
    rows = []
    for a in book.agreements:
        rows.append({"file": a.file, "municipalities": list(a.municipalities), "name": a.name,
                     "valid_from": a.valid_from.isoformat(),
                     "valid_to": a.valid_to.isoformat() if a.valid_to else None,
                     "next_revision": a.next_revision.isoformat(), "tracks": len(a.tracks),
                     "valid_today": a.valid_on(today), "revision_overdue": a.revision_overdue(today),
                     "status": "ok", "issues": []})
    for b in book.broken:
        rows.append({"file": b.file, "municipalities": list(b.municipalities), "name": None,
                     "valid_from": None, "valid_to": None, "next_revision": None, "tracks": None,
                     "valid_today": False, "revision_overdue": None, "status": "broken",
                     "issues": [i.as_dict() for i in b.issues]})
    rows.sort(key=lambda r: r["file"])
    if as_json:
        _emit({"directory": str(book.directory), "agreements": rows})
        return
    heads = [_L[k](lang) for k in ("municipalities", "name", "validity", "next_revision", "tracks", "status")]
    click.echo(" | ".join(heads))
    for r in rows:
        validity = f"{r['valid_from']}–{r['valid_to'] or ''}" if r["valid_from"] else "-"
        status = _L[r["status"]](lang) + (f" ({', '.join(sorted({i['rule'] for i in r['issues']}))})"
                                          if r["issues"] else "")
        click.echo(" | ".join([", ".join(r["municipalities"]) or "?", r["name"] or Path(r["file"]).name,
                               validity, r["next_revision"] or "-", str(r["tracks"] or "-"), status]))


@agreement.command("show")
@click.argument("code")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The date the agreement must be valid on (default: today).")
@common
def show(options, code: str, on) -> None:
    """The agreement valid today for municipality CODE, with its tracks and components."""
    as_json, lang = options.as_json, options.lang
    day = on.date() if on else local_date(utcnow())
    book = AgreementBook.load(_agreements_dir())
    a = book.agreement_for(code, day)
    if a is None:
        refused = book.no_agreement(code, day)
        raise NotFound(refused.code, field="code", **refused.params)
    if as_json:
        doc = a.as_dict(lang)
        for track, t_doc in zip(a.tracks, doc["tracks"]):
            t_doc["plan_from"] = day.isoformat()
            for c_doc, (_, due) in zip(t_doc["components"], component_plan(track, day)):
                c_doc["due_if_started_on"] = due.isoformat()
        _emit(doc)
        return
    out = [f"{a.name}", f"{_L['municipalities'](lang)}: {', '.join(a.municipalities)}",
           f"{_L['validity'](lang)}: {a.validity}   {_L['next_revision'](lang)}: {a.next_revision}",
           f"{_L['parties'](lang)}: " + "; ".join(f"{p.name} ({PARTY_KINDS[p.kind](lang)})" for p in a.parties),
           f"{_L['signatories'](lang)}: " + "; ".join(f"{s.name}, {s.role}" for s in a.signatories)]
    for t in a.tracks:
        flags = [_L["open"](lang) if t.open else _L["closed"](lang)]
        if t.short_education:
            flags.append(_L["short"](lang))
        out += ["", f"[{t.id}] {t.label(lang)} — {t.sector}; {_L['length'](lang)} {t.estimated_length}; "
                    + ", ".join(flags)]
        for c in t.components:
            size = f"{c.points}p" if c.points else (f"{c.weeks}w" if c.weeks else c.duration)
            par = f", {_L['parallel'](lang)}" if c.parallel else ""
            out.append(f"  - {COMPONENT_KINDS[c.kind](lang)}: {c.name} ({size}, {c.frame}{par})")
        p = t.prerequisites
        reqs = []
        if p.target_groups:
            reqs.append("/".join(p.target_groups))
        if p.min_age is not None or p.max_age is not None:
            reqs.append(f"{p.min_age if p.min_age is not None else ''}–{p.max_age if p.max_age is not None else ''}")
        if p.sfi_level:
            reqs.append(f"sfi {p.sfi_level}")
        if p.requires_no_upper_secondary:
            reqs.append("utan gymnasieexamen" if lang == "sv" else "no upper-secondary")
        reqs += list(p.other)
        out += [f"  {_L['employers'](lang)}: {', '.join(t.employers)}",
                f"  {_L['providers'](lang)}: {', '.join(t.education_providers) or '-'}",
                f"  {_L['actors'](lang)}: {', '.join(t.other_actors) or '-'}",
                f"  {_L['responsible'](lang)}: AF: {t.responsible_af}; {_L['kommun'](lang)}: {t.responsible_kommun}",
                f"  {_L['prerequisites'](lang)}: {'; '.join(reqs) or '-'}",
                f"  {_L['follow_up'](lang)}: {t.follow_up}"]
    click.echo("\n".join(out))


@click.command("grant")
@click.option("--received", type=int, required=True, help="Number of people the municipality received.")
@common
def grant(options, received: int) -> None:
    """The maximum state grant (statsbidrag) for drawing up an agreement."""
    as_json, lang = options.as_json, options.lang
    if received < 0:
        raise BadInput("received_negative", field="received", received=received)
    amount = max_grant(received)
    band = band_for(received)
    if as_json:
        _emit({"received": received, "max_grant": amount, "currency": "SEK",
               "band": {"min": band.min, "max": band.max}})
        return
    shown = f"{amount:,}".replace(",", " " if lang == "sv" else ",")
    click.echo(_L["grant"](lang).format(n=received, amount=shown, band=band))
