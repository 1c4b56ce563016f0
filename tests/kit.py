"""The one way tests call the use cases that change a case: register, advance, add and
change a measure, and `at()` for the moment they happen.

Every test goes through these thin wrappers instead of calling `etablera.cases.service` or
`etablera.cases.measures` itself, so that when the use cases' signatures change (who acts,
how access is checked) only this file changes. The wrappers add nothing but defaults:
what they return and raise is the use case's own.
"""

from __future__ import annotations

from datetime import date, datetime

from etablera.access.principal import Principal, operator
from etablera.cases import measures, queries, service
from etablera.models.timestamps import parse_moment

ACTOR = "handl01"         # the officer the CLI tests run as (ETABLERA_ACTOR in conftest's cli_env)


def at(day: str | datetime | None) -> datetime | None:
    """A moment as `--at` reads it: a bare date is midday Stockholm time, a time without a
    zone is Stockholm time. A datetime passes through; None means now (the use case's)."""
    if day is None or isinstance(day, datetime):
        return day
    return parse_moment(day)


def _day(value: str | date) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def who(actor: str | Principal) -> Principal:
    """The principal a test acts as: a Principal as it is, an actor id as the local
    operator (an admin, as at the command line)."""
    return actor if isinstance(actor, Principal) else operator(actor, via="test")


def register(engine, person: str, municipality: str, permit: str | date, day: str | datetime | None = None, *,
             actor: str | Principal = ACTOR, **fields) -> int:
    """Register `person` (an identity number) in `municipality` on `day` (None: now); the
    residence permit was granted on `permit`. `fields`: the rest of service.register's
    keywords (kommun_officer, af_officer, no_upper_secondary, reception_date, note, config).
    Returns the case id."""
    remember(fields)
    return service.register(engine, who(actor), person=person, municipality=municipality, permit_date=_day(permit),
                            at=at(day), **fields)


def advance(engine, case_id: int, trigger: str, day: str | datetime | None = None, *, actor: str | Principal = ACTOR,
            expect_version: int | None = None, **data) -> dict:
    """Fire `trigger` on the case on `day` (None: now) with `data` as the trigger's fields
    (`advance(e, 1, "establish_plan", plan="handlingsplan")`; a dict: `**raw`). Returns the
    stored audit event."""
    return service.advance(engine, who(actor), case_id, trigger, data, at=at(day), expect_version=expect_version)


def add_measure(engine, case_id: int, measure_type: str, day: str | datetime | None = None, *,
                actor: str | Principal = ACTOR, due: date | None = None) -> int:
    """Add a measure of `measure_type` to the case on `day` (None: now). Returns its id."""
    return measures.add_measure(engine, who(actor), case_id, measure_type, due=due, at=at(day))


def change_measure(engine, measure_id: int, action: str, day: str | datetime | None = None, *,
                   actor: str | Principal = ACTOR, reason: str | None = None, note: str | None = None) -> str:
    """start | complete | cancel a measure on `day` (None: now). Returns its new state."""
    return measures.change_measure(engine, who(actor), measure_id, action, reason=reason, note=note,
                                   at=at(day))["state"]


def show_case(engine, case_id: int, *, actor: str | Principal = ACTOR, lang: str = "sv") -> dict:
    """The case as `actor` sees it (the view is access-logged)."""
    return queries.show_case(engine, who(actor), case_id, lang=lang)


def history(engine, case_id: int, *, actor: str | Principal = ACTOR, lang: str = "sv") -> list[dict]:
    """The case's audit trail as `actor` sees it (the view is access-logged)."""
    return queries.history(engine, who(actor), case_id, lang=lang)


def add_note(engine, case_id: int, text: str, day: str | datetime | None = None, *,
             actor: str | Principal = ACTOR) -> dict:
    """Add a journal note to the case on `day` (None: now). Returns the note."""
    from etablera.cases import notes
    return notes.add_note(engine, who(actor), case_id, text, at=at(day))


def list_notes(engine, case_id: int, *, actor: str | Principal = ACTOR) -> list[dict]:
    from etablera.cases import notes
    return notes.list_notes(engine, who(actor), case_id)


def attach(engine, case_id: int, filename: str | None, content, content_type: str | None,
           day: str | datetime | None = None, *, actor: str | Principal = ACTOR, **options) -> dict:
    """Attach a file (bytes, a binary file or chunks) to the case. `options`: store, settings."""
    from etablera.cases import documents
    return documents.attach(engine, who(actor), case_id, filename, content, content_type, at=at(day), **options)


def list_documents(engine, case_id: int, *, actor: str | Principal = ACTOR) -> list[dict]:
    from etablera.cases import documents
    return documents.list_documents(engine, who(actor), case_id)


def read_document(engine, document_id: int, *, actor: str | Principal = ACTOR, **options) -> tuple[dict, bytes]:
    """The document and its content as `actor` reads it (access-logged). `options`: store."""
    from etablera.cases import documents
    return documents.read_document(engine, who(actor), document_id, **options)


def correct(engine, case_id: int, seq: int, day: str | datetime | None = None, *, actor: str | Principal = ACTOR,
            reason: str | None = None, note: str | None = None, expect_version: int | None = None) -> dict:
    """Correct the case's step `seq` on `day` (None: now). Returns the correction event."""
    from etablera.cases import corrections
    return corrections.correct(engine, who(actor), case_id, seq, reason=reason, note=note,
                               expect_version=expect_version, at=at(day))


def officer(engine, officer_id: str, municipality: str = "0581", org: str = "kommun", *, role: str = "officer",
            notify: str | None = None) -> str:
    """Register `officer_id` as an officer (or coordinator) of `org` in `municipality`, so
    that a case may name it; again: nothing changes. Returns the id."""
    from etablera.reminders import officers
    from etablera.statemachine.errors import NotPermitted
    try:
        officers.add_officer(engine, officer_id, name=f"Handläggare {officer_id}", org=org,
                             municipality=municipality, role=role, notify=notify)
    except NotPermitted:
        pass
    return officer_id


def assign(engine, case_id: int, *, actor: str | Principal = ACTOR, day: str | datetime | None = None,
           expect_version: int | None = None, **officers) -> dict:
    """A coordinator assigns `kommun_officer=` / `af_officer=` (None: unassign) on `day`."""
    from etablera.cases import assignment
    return assignment.assign(engine, who(actor), case_id, expect_version=expect_version, at=at(day), **officers)


def take(engine, case_id: int, *, actor: str | Principal, day: str | datetime | None = None) -> dict:
    """An officer takes an unassigned case ("Ta ärendet")."""
    from etablera.cases import assignment
    return assignment.take(engine, who(actor), case_id, at=at(day))


def reassign_all(engine, from_officer: str, to: str | list[str], *, preview: bool, actor: str | Principal = ACTOR,
                 expect: list[int] | None = None) -> dict:
    """A coordinator moves all of `from_officer`'s active cases (preview: nothing written)."""
    from etablera.cases import assignment
    return assignment.reassign_all(engine, who(actor), from_officer, to, preview=preview, expect=expect)


def update_person(engine, case_id: int, changes: dict | None = None, *, actor: str | Principal = ACTOR,
                  expect_version: int | None = None, **details) -> dict:
    """Change the person's details on the case (`changes` or keywords: given_name,
    family_name, language, interpreter, phone, email). Returns {case, version, changed}."""
    from etablera.cases import person
    changes = {**(changes or {}), **details}
    remember(changes)
    return person.update_person(engine, who(actor), case_id, changes, expect_version=expect_version)


def remember(details: dict) -> None:
    """The names in `details` are people's: the session's watch (tests/leaks.py) fails the
    run if one shows up in a URL, a log line or a reminder."""
    import leaks
    leaks.remember_names(*(str(details[k]) for k in ("given_name", "family_name") if details.get(k)))


def search(engine, query: str, *, actor: str | Principal = ACTOR, limit: int = 20, lang: str = "sv") -> dict:
    """The cases `query` finds for `actor` (each case shown is access-logged)."""
    from etablera.cases import search as searching
    return searching.search(engine, who(actor), query, limit=limit, lang=lang)


# --- queues, saved filters, exports (cases/queues.py, saved_filters.py, exports.py, skip_audit.py) ---

def list_queue(engine, *, actor: str | Principal = ACTOR, limit: int = 50, offset: int = 0, lang: str = "sv",
               **query) -> dict:
    """One page of a list (`query`: queue, state, municipality, overdue, sort, ... as URL
    parameters) as `actor` sees it, with its total."""
    from etablera.cases import list_query, queues
    return queues.list_cases(engine, who(actor), list_query.parse_query(query), limit=limit, offset=offset, lang=lang)


def queue_counts(engine, *, actor: str | Principal = ACTOR) -> dict:
    from etablera.cases import queues
    return queues.queue_counts(engine, who(actor))


def save_filter(engine, name: str, query: dict, *, actor: str | Principal = ACTOR) -> dict:
    from etablera.cases import saved_filters
    return saved_filters.save_filter(engine, who(actor), name, query)


def saved_filters(engine, *, actor: str | Principal = ACTOR) -> list[dict]:
    """`actor`'s saved filters with their counts."""
    from etablera.cases import saved_filters as saved
    return saved.filters_with_counts(engine, who(actor))


def delete_filter(engine, filter_id: int, *, actor: str | Principal = ACTOR) -> None:
    from etablera.cases import saved_filters
    saved_filters.delete_filter(engine, who(actor), filter_id)


def export_csv(engine, *, actor: str | Principal = ACTOR, lang: str = "sv", chunk: int = 500, **query) -> str:
    """The list as CSV text (each exported case access-logged)."""
    from etablera.cases import exports, list_query
    return "".join(exports.export_csv(engine, who(actor), list_query.parse_query(query), lang=lang, chunk=chunk))


def skip_page(engine, *, actor: str | Principal = ACTOR, **options) -> dict:
    """One page of the skip audit as `actor` sees it."""
    from etablera.cases import skip_audit
    return skip_audit.skip_page(engine, who(actor), **options)
