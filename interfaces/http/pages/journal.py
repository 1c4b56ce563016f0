"""Notes and documents on the case page (`case_journal.html`, a panel of the case page):
the notes and documents (read with the case's timeline, in its access-logged view), the
form that adds a note, the upload form (multipart, read through the configured size
limit), and the download of a document by its id (its name only in Content-Disposition,
never in the URL), each through cases/notes.py and cases/documents.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access.scope import Principal
from etablera.cases import documents, notes
from etablera.cases.document_store import settings_for
from etablera.cases.parsing import parse_at
from etablera.interfaces.http.api import MAX_ID
from etablera.interfaces.http.api_journal import attach_upload, download, upload_form
from etablera.interfaces.http.auth import csrf_ok, engine_of, identify, page_principal
from etablera.interfaces.http.pages.case import CaseId, case_panel, refused_form
from etablera.interfaces.http.pages.common import checked_form, router
from etablera.models.document_types import KNOWN_TYPES
from etablera.statemachine.errors import EtableraError, Forbidden, NotFound
from etablera.statemachine.process import CASEWORK

DocumentId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOTE_FORM, DOCUMENT_FORM = CASEWORK.add_note, CASEWORK.add_document


@case_panel
def journal_panel(request: Request, who: Principal, case: dict, history: list[dict], lang: str) -> dict:
    settings = settings_for(engine_of(request))
    accept = [t for t in settings.types] + [ext for t in settings.types for ext in KNOWN_TYPES.get(t, ())]
    # The notes and documents of the history, oldest first (the template shows them newest
    # first). Picked here: Jinja's selectattr, twice over the timeline, was a fourteenth of
    # rendering the case page.
    kept = [e for e in history if e.get("journal")]
    return {"journal_editable": who.can_change, "note_max": notes.MAX_NOTE,
            "journal_notes": [e for e in kept if e["trigger"] == NOTE_FORM],
            "journal_documents": [e for e in kept if e["trigger"] == DOCUMENT_FORM],
            "document_accept": ",".join(accept), "document_limit": documents.size_words(settings.max_bytes)["limit"]}


async def _answer(request: Request, who: Principal, case_id: int, work, form_name: str, values: dict):
    try:
        await work()
    except (NotFound, Forbidden):
        raise
    except EtableraError as exc:
        return await run_in_threadpool(refused_form, request, who, case_id, exc, form_name, {"journal_typed": values})
    return RedirectResponse(f"/cases/{case_id}?saved={form_name}#journal", status_code=303)


@router.post("/cases/{case_id}/notes")
async def note_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    values = {"text": str(form.get("text", "")), "at": str(form.get("at", "")).strip()}

    async def work():
        def add():
            notes.add_note(engine, who, case_id, values["text"], at=parse_at(values["at"] or None))
        await run_in_threadpool(add)
    return await _answer(request, who, case_id, work, NOTE_FORM, values)


@router.post("/cases/{case_id}/documents")
async def document_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    engine = engine_of(request)

    async def work():
        form = await upload_form(request, settings_for(engine).max_bytes)
        try:
            _, session = identify(request)
            if not csrf_ok(session, str(form.get("csrf", ""))):
                raise Forbidden("csrf_stale", field="csrf")
            await attach_upload(request, who, case_id, form)
        finally:
            await form.close()
    return await _answer(request, who, case_id, work, DOCUMENT_FORM, {})


@router.get("/documents/{document_id}")
def document_download(request: Request, document_id: DocumentId):
    who = page_principal(request)
    return download(*documents.read_document(engine_of(request), who, document_id))
