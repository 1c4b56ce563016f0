"""Documents attached to a case: attach one, list them, read one back.

The file is kept outside the database in the document store (cases/document_store.py,
configured by documents.toml), under a generated key. Attaching checks the size (the
configured limit, counted while the content streams in) and the kind (listed in the
configuration AND recognised by the file's own bytes, cases/file_types.py); a refusal
names `file` and leaves nothing behind. Then the file is kept (fsynced), and the row, its
audit event `add_document` (the document's id, SHA-256, size and content type: never its
name) and the access-log row are written in one transaction; if that fails, the kept file
is removed.

Reading a document checks scope (a document of a case outside the user's municipalities
is answered like a missing one), recomputes the SHA-256 and refuses a file that is missing
or altered (DocumentUnavailable); every read and every refusal is in the access log.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO, Iterable

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.access.scope import check_case, refusals_logged, write_access
from etablera.cases import file_types
from etablera.cases.document_store import DocumentStore, DocumentUnavailable, settings_for
from etablera.cases.journal import append, event_time, load_case
from etablera.cases.notes import DOCUMENTS, case_rows, document_ref, journal_event
from etablera.models.database import transaction
from etablera.models.document_settings import DocumentSettings
from etablera.models.document_types import MB
from etablera.models.timestamps import show
from etablera.statemachine.errors import BadInput, NotFound
from etablera.statemachine.messages import Code, Words
from etablera.statemachine.process import CASEWORK

MAX_FILENAME = 200
DEFAULT_FILENAME = "dokument"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")
# A client that does not know what it sends: the type is then told by the content alone.
UNKNOWN_TYPES = ("", "application/octet-stream", "binary/octet-stream")


def clean_filename(filename: str | None) -> str:
    """The name a file is shown and downloaded by: its last path component, without
    control characters, at most 200 characters ("dokument" if nothing is left)."""
    name = re.split(r"[/\\]", str(filename or ""))[-1]
    name = _UNSAFE_NAME.sub("", name).strip().strip(".") or DEFAULT_FILENAME
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:MAX_FILENAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:MAX_FILENAME]
    return name


def declared_type(content_type: str | None) -> str:
    """A content type as compared: lower case, without parameters (`; charset=...`)."""
    return str(content_type or "").split(";", 1)[0].strip().lower()


def size_words(max_bytes: int) -> dict:
    """The size limit as a refusal's parameter `limit`: "20 MB", "500 kB", "100 byte"."""
    for unit, sv, en in ((MB, "MB", "MB"), (1024, "kB", "kB"), (1, "byte", "bytes")):
        if max_bytes >= unit:
            amount = Decimal(max_bytes) / unit
            amount = amount.quantize(Decimal("0.1")).normalize() if amount != amount.to_integral_value() \
                else int(amount)
            return {"limit": Words(f"{str(amount).replace('.', ',')} {sv}", f"{amount} {en}")}
    return {"limit": Words("0 byte", "0 bytes")}


def _chunks(content: bytes | BinaryIO | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(content, (bytes, bytearray, memoryview)):
        yield bytes(content)
    elif hasattr(content, "read"):
        yield from iter(lambda: content.read(1 << 20), b"")
    else:
        yield from content


def attach(engine: Engine, who: Principal, case_id: int, filename: str | None,
           content: bytes | BinaryIO | Iterable[bytes], content_type: str | None, *, at: datetime | None = None,
           store: DocumentStore | None = None, settings: DocumentSettings | None = None) -> dict:
    """`who` attaches a file to the case. `content`: bytes, a binary file or an iterable of
    chunks; `content_type` as the client declared it (checked against the file's bytes; an
    unknown or generic one is told by the bytes alone). Returns the document."""
    settings = settings or settings_for(engine)
    store = store or DocumentStore(settings.directory)
    with refusals_logged(engine, who, case_id, CASEWORK.add_document):
        declared = declared_type(content_type)
        if declared not in UNKNOWN_TYPES and declared not in settings.types:
            raise BadInput("file_type_not_allowed", field="file", type=Code(declared),
                           types=[Code(t) for t in settings.types])
        with transaction(engine, write=False) as conn:      # scope first: nothing is received for a refusal
            check_case(who, load_case(conn, case_id), change=True)
        received = store.receive(_chunks(content), settings.max_bytes, too_large=size_words(settings.max_bytes))
        try:
            kind = _kind(received, declared, settings)
            key = store.keep(received)
        except BaseException:
            store.discard(received)
            raise
        try:
            return _record(engine, who, case_id, clean_filename(filename), kind, received, key, at)
        except BaseException:
            store.remove(key)
            raise


def _kind(received, declared: str, settings: DocumentSettings) -> str:
    if received.size == 0:
        raise BadInput("file_empty", field="file")
    if declared in UNKNOWN_TYPES:
        kind = file_types.kind_of(received.path, settings.types)
        if kind is None:
            raise BadInput("file_type_unknown", field="file", types=[Code(t) for t in settings.types])
        return kind
    if not file_types.is_kind(received.path, declared):
        raise BadInput("file_content_mismatch", field="file", type=Code(declared))
    return declared


def _record(engine: Engine, who: Principal, case_id: int, filename: str, kind: str, received, key: str,
            at: datetime | None) -> dict:
    with transaction(engine) as conn:
        case = load_case(conn, case_id)
        check_case(who, case, change=True)
        at = event_time(at, case["last_event_at"])
        seq = case["last_seq"] + 1
        row = {"case_id": case_id, "seq": seq, "filename": filename, "content_type": kind, "size": received.size,
               "sha256": received.sha256, "storage_key": key, "added_at": at, "added_by": who.id}
        document_id = conn.execute(insert(DOCUMENTS).values(**row)).inserted_primary_key[0]
        append(conn, case, {}, journal_event(case, CASEWORK.add_document, at, who.id, {
            "document": document_id, "sha256": received.sha256, "size": received.size, "content_type": kind}))
        write_access(conn, who, case_id, f"{CASEWORK.add_document}:{document_id}")
    return document_doc({**row, "id": document_id, "erased_at": None})


def document_doc(row) -> dict:
    return {**document_ref(row), "case": row["case_id"], "seq": row["seq"], "sha256": row["sha256"],
            "added_at": show(row["added_at"]), "added_by": row["added_by"]}


_DOCUMENTS_OF = select(DOCUMENTS).where(DOCUMENTS.c.case_id == bindparam("case_id")).order_by(DOCUMENTS.c.id)
_DOCUMENT = select(DOCUMENTS).where(DOCUMENTS.c.id == bindparam("document_id"))


def list_documents(engine: Engine, who: Principal, case_id: int) -> list[dict]:
    """The case's documents (names, types, sizes, digests), for `who` (access-logged)."""
    return [document_doc(r) for r in case_rows(engine, who, case_id, "documents", _DOCUMENTS_OF)]


def read_document(engine: Engine, who: Principal, document_id: int, *,
                  store: DocumentStore | None = None) -> tuple[dict, bytes]:
    """The document and its content, for `who`: NotFound for a document of a case outside
    their municipalities (as for a missing one); DocumentUnavailable when the file is
    missing or its SHA-256 is not the recorded one. The read (or the refusal) is logged."""
    store = store or DocumentStore(settings_for(engine).directory)
    action = f"read_document:{document_id}"
    with refusals_logged(engine, who, None, action) as attempt:
        with transaction(engine, write=False) as conn:
            row = conn.execute(_DOCUMENT, {"document_id": document_id}).mappings().first()
            if row is None:
                raise NotFound("no_such_document", field="document", document=document_id)
            attempt.case_id = row["case_id"]
            try:
                check_case(who, load_case(conn, row["case_id"]), change=False)
            except NotFound as exc:     # a document of a case they may not see does not exist for them
                hidden = NotFound("no_such_document", field="document", document=document_id)
                hidden.denied = exc.denied
                raise hidden from None
        if row["erased_at"] is not None:
            raise DocumentUnavailable("document_erased", field="document", document=document_id)
        content = store.read(row["storage_key"])
        if content is None:
            raise DocumentUnavailable("document_missing", field="document", document=document_id)
        if hashlib.sha256(content).hexdigest() != row["sha256"]:
            raise DocumentUnavailable("document_altered", field="document", document=document_id)
        with transaction(engine) as conn:
            write_access(conn, who, row["case_id"], action)
    return document_doc(row), content
