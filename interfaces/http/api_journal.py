"""The JSON API of journal notes and attached documents (/api/v1): add and list a case's
notes, upload (multipart) and list its documents, download one.

The upload is read through a limit: a body larger than the configured `max_bytes` (and a
little for the form around it) is refused as it arrives, naming `file`, before it is all
received; the use case then counts the file itself exactly. A download is served as an
attachment (`Content-Disposition`, the name there and never in the URL) with the stored
content type; the application adds `X-Content-Type-Options: nosniff` and `no-store`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from etablera.cases import documents, notes
from etablera.cases.document_store import settings_for
from etablera.cases.parsing import parse_at
from etablera.interfaces.http import schemas as s
from etablera.interfaces.http.api import ERRORS, MAX_ID, CaseId, Who
from etablera.interfaces.http.auth import engine_of
from etablera.models.document_types import KNOWN_TYPES
from etablera.statemachine.errors import BadInput

DocumentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the document id")]
FORM_ALLOWANCE = 64 * 1024          # bytes of a multipart body beyond the file itself
router = APIRouter(responses={**ERRORS, 410: {"model": s.ErrorDoc, "description": "the document's file is "
                                              "missing or altered (or erased): it cannot be given as recorded"}},
                   tags=["etablera"])


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=notes.MAX_NOTE, description="the note's text (1–10 000 characters)")
    at: str | None = Field(None, max_length=40, description="the note's date and time (ISO date or datetime, "
                                                            "Stockholm time unless a zone is given); default now")


class NoteAdded(s.Doc):
    id: int
    case: int
    seq: int
    at: str
    author: str
    sha256: str


class NoteDoc(NoteAdded):
    text: str | None
    erased: bool


class DocumentDoc(s.Doc):
    id: int
    case: int
    seq: int
    filename: str | None
    content_type: str
    size: int
    sha256: str
    added_at: str
    added_by: str
    erased: bool
    url: str | None = Field(description="the page's download link (the API's is /api/v1/documents/{id})")


@router.post("/cases/{case_id}/notes", response_model=NoteAdded, status_code=201,
             summary="Add a dated journal note (anteckning) to a case")
def add_note(request: Request, who: Who, case_id: CaseId, body: NoteRequest):
    return notes.add_note(engine_of(request), who, case_id, body.text, at=parse_at(body.at))


@router.get("/cases/{case_id}/notes", response_model=list[NoteDoc], summary="A case's journal notes, oldest first")
def list_notes(request: Request, who: Who, case_id: CaseId):
    return notes.list_notes(engine_of(request), who, case_id)


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "the file, with its content type (checked against its content)"},
                   "at": {"type": "string", "maxLength": 40, "description": "when it was attached; default now"}},
}}}}}


def limited(request: Request, limit: int) -> Request:
    """The request with its body read through a limit: over `limit` bytes (declared or
    received) it is refused as too large, naming `file`, without reading the rest."""
    declared = request.headers.get("content-length", "")
    too_large = BadInput("file_too_large", field="file", **documents.size_words(limit - FORM_ALLOWANCE))
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
        return message
    return Request(request.scope, receive)


async def upload_form(request: Request, max_bytes: int):
    """The multipart form of an upload (at most one file), read through the size limit."""
    try:
        return await limited(request, max_bytes + FORM_ALLOWANCE).form(max_files=1, max_fields=10)
    except BadInput:
        raise
    except Exception:  # noqa: BLE001 - starlette's refusal of a malformed body
        raise BadInput("file_missing", field="file") from None


async def attach_upload(request: Request, who, case_id: int, form) -> dict:
    """Attach the form's `file` to the case (in a worker thread: the file is hashed and written)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadInput("file_missing", field="file")
    at = parse_at(str(form.get("at") or "").strip() or None)
    return await run_in_threadpool(documents.attach, engine_of(request), who, case_id, upload.filename, upload.file,
                                   upload.content_type, at=at)


@router.post("/cases/{case_id}/documents", response_model=DocumentDoc, status_code=201, openapi_extra=_UPLOAD_BODY,
             summary="Attach a document to a case (multipart/form-data, field `file`)")
async def attach(request: Request, who: Who, case_id: CaseId):
    form = await upload_form(request, settings_for(engine_of(request)).max_bytes)
    try:
        return await attach_upload(request, who, case_id, form)
    finally:
        await form.close()


@router.get("/cases/{case_id}/documents", response_model=list[DocumentDoc], summary="A case's attached documents")
def list_documents(request: Request, who: Who, case_id: CaseId):
    return documents.list_documents(engine_of(request), who, case_id)


def download(doc: dict, content: bytes) -> Response:
    """A document as an attachment: its stored type, its name in Content-Disposition only."""
    name = doc["filename"] or documents.DEFAULT_FILENAME
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
    media = doc["content_type"] + ("; charset=utf-8" if doc["content_type"] == "text/plain" else "")
    return Response(content, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"})


_DOWNLOAD: dict[int | str, dict[str, Any]] = {200: {"description": "the file, as an attachment",
                                                    "content": {t: {} for t in KNOWN_TYPES}}}


@router.get("/documents/{document_id}", response_class=Response, responses=_DOWNLOAD,
            summary="Download a document (its SHA-256 checked first; 410 if missing or altered)")
def get_document(request: Request, who: Who, document_id: DocumentId):
    return download(*documents.read_document(engine_of(request), who, document_id))
