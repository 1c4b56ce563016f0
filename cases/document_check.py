"""What `audit verify` checks beyond the hash chains: that each journal note's text still
hashes to the digest its `add_note` event recorded (unless the text was erased), and that
each document's file is in the document store with the SHA-256 its `add_document` event
recorded (unless the document was erased).

The notes and documents are streamed in (case, id) order with their events' data, so
memory stays flat however many there are.
"""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import Connection, and_, select

from etablera.cases.breaks import Break
from etablera.cases.document_store import DocumentStore, DocumentUnavailable
from etablera.models import AuditEvent
from etablera.models.casework import Document, Note, text_digest as digest
from etablera.statemachine.process import CASEWORK

EVENTS = AuditEvent
NOTES = Note
DOCUMENTS = Document


def _with_event(table, columns, case_ids: list[int] | None):
    query = (select(*columns, EVENTS.c.data.label("event_data"), EVENTS.c.trigger.label("event_trigger"))
             .select_from(table.outerjoin(EVENTS, and_(EVENTS.c.case_id == table.c.case_id,
                                                       EVENTS.c.seq == table.c.seq)))
             .order_by(table.c.case_id, table.c.id))
    if case_ids:
        query = query.where(table.c.case_id.in_(case_ids))
    return query


def _recorded(row, trigger: str, key: str) -> str | None:
    """The digest the row's event recorded, or None if the row has no such event."""
    data = row["event_data"] or {}
    if row["event_trigger"] != trigger or data.get(key) != row["id"]:
        return None
    return data.get("sha256")


def journal_breaks(conn: Connection, store: DocumentStore, case_ids: list[int] | None = None) -> Iterator[Break]:
    """Every note and document that does not match the audit chain, as a Break on its event."""
    notes = _with_event(NOTES, (NOTES.c.id, NOTES.c.case_id, NOTES.c.seq, NOTES.c.text, NOTES.c.sha256),
                        case_ids)
    for row in conn.execution_options(yield_per=1000).execute(notes).mappings():
        recorded = _recorded(row, CASEWORK.add_note, "note")
        if recorded is None:
            yield Break(row["case_id"], row["seq"], "audit_note_unrecorded", {"note": row["id"]})
        elif row["sha256"] != recorded or (row["text"] is not None and digest(row["text"]) != recorded):
            yield Break(row["case_id"], row["seq"], "audit_note_changed", {"note": row["id"]})
    documents = _with_event(DOCUMENTS, (DOCUMENTS.c.id, DOCUMENTS.c.case_id, DOCUMENTS.c.seq, DOCUMENTS.c.sha256,
                                        DOCUMENTS.c.storage_key, DOCUMENTS.c.erased_at), case_ids)
    for row in conn.execution_options(yield_per=1000).execute(documents).mappings():
        recorded = _recorded(row, CASEWORK.add_document, "document")
        if recorded is None:
            yield Break(row["case_id"], row["seq"], "audit_document_unrecorded", {"document": row["id"]})
            continue
        if row["erased_at"] is not None:
            continue
        try:
            found = store.digest(row["storage_key"])
        except DocumentUnavailable:
            found = None
        if found is None:
            yield Break(row["case_id"], row["seq"], "audit_document_missing", {"document": row["id"]})
        elif found[0] != recorded or row["sha256"] != recorded:
            yield Break(row["case_id"], row["seq"], "audit_document_changed", {"document": row["id"]})
