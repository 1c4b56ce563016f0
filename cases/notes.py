"""Journal notes (anteckningar) on a case: add one, list them, and the notes and documents
shown on the case's timeline.

A note is dated (its time `at`, now by default: never in the future, never before the
case's last event) and kept in `notes` with the SHA-256 of its text. Its audit event
`add_note` on the case's chain carries the note's id and that digest, never the text:
the text can be erased later (gallring) while the chain still verifies, and `audit
verify` checks that a text still there hashes to the digest the chain recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.access.scope import check_case, refusals_logged, write_access
from etablera.cases.journal import append, event_time, load_case
from etablera.models.casework import Document, Note, text_digest as digest
from etablera.models.database import transaction
from etablera.models.timestamps import show
from etablera.statemachine.errors import BadInput
from etablera.statemachine.process import CASEWORK
from etablera.statemachine.fields import check_text

NOTES = Note
DOCUMENTS = Document
MAX_NOTE = 10_000          # characters


def clean_text(text) -> str:
    """A note's text as given, refused (naming `text`) when empty, too long or holding NUL."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput("note_text_missing", field="text")
    if len(text) > MAX_NOTE:
        raise BadInput("text_too_long", field="text", max=MAX_NOTE)
    if "\x00" in text:
        raise BadInput("note_text_nul", field="text")
    check_text(text, "text")                 # no lone surrogate (JSON's \ud800, undecodable bytes on a command line)
    return text


def journal_event(case, trigger: str, at: datetime, actor: str, data: dict) -> dict:
    """The audit event of a note or document added to the case (its state is unchanged)."""
    return {"at": at, "actor": actor, "trigger": trigger, "from_state": case["state"], "to_state": case["state"],
            "municipality": case["municipality"], "reason": None, "note": None, "skipped": [], "data": data}


def add_note(engine: Engine, who: Principal, case_id: int, text: str, at: datetime | None = None) -> dict:
    """`who` adds a note to the case. Returns the note (id, seq, at, sha256)."""
    with refusals_logged(engine, who, case_id, CASEWORK.add_note):
        text = clean_text(text)
        sha = digest(text)
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            at = event_time(at, case["last_event_at"])
            seq = case["last_seq"] + 1
            note_id = conn.execute(insert(NOTES).values(case_id=case_id, seq=seq, at=at, author=who.id, text=text,
                                                        sha256=sha)).inserted_primary_key[0]
            append(conn, case, {}, journal_event(case, CASEWORK.add_note, at, who.id,
                                                 {"note": note_id, "sha256": sha}))
            write_access(conn, who, case_id, f"{CASEWORK.add_note}:{note_id}")
    return {"id": note_id, "case": case_id, "seq": seq, "at": show(at), "author": who.id, "sha256": sha}


def note_doc(row) -> dict:
    return {"id": row["id"], "case": row["case_id"], "seq": row["seq"], "at": show(row["at"]),
            "author": row["author"], "text": row["text"], "erased": row["text"] is None, "sha256": row["sha256"]}


_NOTES_OF = select(NOTES).where(NOTES.c.case_id == bindparam("case_id")).order_by(NOTES.c.at, NOTES.c.id)


def list_notes(engine: Engine, who: Principal, case_id: int) -> list[dict]:
    """The case's notes, oldest first, for `who` (the view is access-logged)."""
    return [note_doc(r) for r in case_rows(engine, who, case_id, "notes", _NOTES_OF)]


def case_rows(engine: Engine, who: Principal, case_id: int, action: str, query) -> list:
    """The rows `query` reads for one case (bound as `case_id`), in scope for `who`, the
    view written to the access log as `action` in the same transaction."""
    with refusals_logged(engine, who, case_id, action):
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=False)
            rows = conn.execute(query, {"case_id": case_id}).mappings().all()
            write_access(conn, who, case_id, action)
    return rows


# --- the timeline ------------------------------------------------------------------------

_JOURNAL_NOTES = select(NOTES.c.id, NOTES.c.seq, NOTES.c.text).where(NOTES.c.case_id == bindparam("case_id"))
_JOURNAL_DOCUMENTS = select(DOCUMENTS.c.id, DOCUMENTS.c.seq, DOCUMENTS.c.filename, DOCUMENTS.c.content_type,
                            DOCUMENTS.c.size, DOCUMENTS.c.erased_at).where(DOCUMENTS.c.case_id == bindparam("case_id"))


def journal_pending(events: list[dict]) -> bool:
    """Whether `with_journal` reads the database for this history (it has notes or documents)."""
    return any(e["trigger"] in (CASEWORK.add_note, CASEWORK.add_document) for e in events)


def with_journal(conn, case_id: int, events: list[dict]) -> list[dict]:
    """The case's history documents with, on each `add_note` event, the note (`journal`:
    {note: {id, text}}) and on each `add_document` event the document ({document: {id,
    filename, content_type, size, url}}), read in `conn` (the caller logs the view). Reads
    nothing for a case without notes or documents."""
    if not journal_pending(events):
        return events
    kinds = {e["trigger"] for e in events}
    found: dict[int, dict] = {}
    if CASEWORK.add_note in kinds:
        for r in conn.execute(_JOURNAL_NOTES, {"case_id": case_id}).mappings():
            found[r["seq"]] = {"note": {"id": r["id"], "text": r["text"], "erased": r["text"] is None}}
    if CASEWORK.add_document in kinds:
        for r in conn.execute(_JOURNAL_DOCUMENTS, {"case_id": case_id}).mappings():
            found[r["seq"]] = {"document": document_ref(r)}
    for event in events:
        if event["trigger"] in (CASEWORK.add_note, CASEWORK.add_document) and event["seq"] in found:
            event["journal"] = found[event["seq"]]
    return events


def document_ref(row) -> dict:
    """A document as a list or the timeline names it: the download link holds its id only."""
    erased = row["erased_at"] is not None
    return {"id": row["id"], "filename": row["filename"], "content_type": row["content_type"], "size": row["size"],
            "erased": erased, "url": None if erased else f"/documents/{row['id']}"}
