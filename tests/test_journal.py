"""Notes and documents on a case (issue 13, item 5): dated notes and attached files bound
into the case's audit chain by their SHA-256 (never the text or the file's name), files
kept outside the database in the document store, refusals of a kind or size over the
limit that leave nothing behind, a store that reads nothing outside its directory, a
changed or deleted file reported by `audit verify` and refused on reading, scope and the
access log of every read; through the use cases, the CLI, the API and the pages. On
SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

import kit
from etablera.cases import documents
from etablera.statemachine.messages import Words
from cli_kit import etablera, ok
from identities import pnr
from etablera.access.principal import Principal
from etablera.cases.audit import EVENTS, verify
from etablera.cases.document_store import DocumentStore, DocumentUnavailable, store_for
from etablera.cases.file_types import is_kind, kind_of
from etablera.models import AccessLog
from etablera.models.casework import Document, Note
from etablera.models.database import transaction
from etablera.models.document_settings import DocumentSettings
from etablera.models.document_types import KNOWN_TYPES
from etablera.statemachine.errors import BadInput, Forbidden, NotFound
from web_kit import build_world, login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
OFFICER_0180 = Principal("h0180", "Officer 0180", "officer", "kommun", ("0180",), home="0180")
AUDITOR = Principal("granskare", "Auditor", "auditor", "kommun", None)


def ooxml(member: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(member, "<document/>")
    return out.getvalue()


def odf(mimetype: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)       # stored first, uncompressed
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


SAMPLES = {
    "application/pdf": PDF,
    "image/png": PNG,
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8 ",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ooxml("word/document.xml"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ooxml("xl/workbook.xml"),
    "application/vnd.oasis.opendocument.text": odf("application/vnd.oasis.opendocument.text"),
    "application/vnd.oasis.opendocument.spreadsheet": odf("application/vnd.oasis.opendocument.spreadsheet"),
    "text/plain": "Intyg från SFI: godkänd kurs B.\n".encode("utf-8"),
}


@pytest.fixture(autouse=True)
def documents_dir(tmp_path, monkeypatch) -> Path:
    """Each test's document store in its own directory (the PostgreSQL tests would use
    ./var/documents otherwise)."""
    directory = tmp_path / "store"
    monkeypatch.setenv("ETABLERA_DOCUMENTS_DIR", str(directory))
    return directory


@pytest.fixture
def case_id(any_engine) -> int:
    return kit.register(any_engine, pnr("19900101", 201), "0581", "2025-01-15", "2025-02-03")


def stored_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def counts(engine) -> dict:
    with transaction(engine, write=False) as conn:
        return {"notes": conn.execute(select(func.count()).select_from(Note)).scalar_one(),
                "documents": conn.execute(select(func.count()).select_from(Document)).scalar_one(),
                "events": conn.execute(select(func.count()).select_from(EVENTS)).scalar_one()}


def access(engine, **where) -> list[dict]:
    table = AccessLog
    query = select(table).order_by(table.c.id)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    with transaction(engine, write=False) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def breaks_of(engine) -> list:
    with transaction(engine, write=False) as conn:
        return verify(conn, store=store_for(engine))[2]


# --- the use cases ---------------------------------------------------------------------

def test_a_note_and_a_document_are_on_the_chain_by_their_digests(any_engine, case_id, documents_dir):
    text = "Samtal med Özlem: vill börja SFI i augusti."
    note = kit.add_note(any_engine, case_id, text)
    doc = kit.attach(any_engine, case_id, "C:\\Users\\x\\läkarintyg Özlem.pdf", PDF, "application/pdf")
    assert note["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert (doc["filename"], doc["content_type"], doc["size"]) == ("läkarintyg Özlem.pdf", "application/pdf", len(PDF))
    assert doc["url"] == f"/documents/{doc['id']}"

    events = {e["trigger"]: e for e in kit.history(any_engine, case_id)}
    assert events["add_note"]["data"] == {"note": note["id"], "sha256": note["sha256"]}
    assert events["add_document"]["data"] == {"document": doc["id"], "sha256": hashlib.sha256(PDF).hexdigest(),
                                              "size": len(PDF), "content_type": "application/pdf"}
    for event in (events["add_note"], events["add_document"]):
        stored = json.dumps({k: event[k] for k in ("data", "note", "reason")}, ensure_ascii=False)
        assert "Özlem" not in stored and "läkarintyg" not in stored and "SFI" not in stored
        assert event["from_state"] == event["to_state"] == "module1.registered"
    # the timeline shows the note's text and the document's name and link, read from their tables
    assert events["add_note"]["journal"] == {"note": {"id": note["id"], "text": text, "erased": False}}
    assert events["add_document"]["journal"]["document"]["filename"] == "läkarintyg Özlem.pdf"
    assert events["add_document"]["journal"]["document"]["url"] == f"/documents/{doc['id']}"

    files = stored_files(documents_dir)
    assert len(files) == 1 and files[0].read_bytes() == PDF
    assert re.fullmatch(r"[0-9a-f]{32}", files[0].name) and "intyg" not in str(files[0])
    assert breaks_of(any_engine) == []
    actions = [r["action"] for r in access(any_engine, case_id=case_id)]
    assert f"add_note:{note['id']}" in actions and f"add_document:{doc['id']}" in actions


def test_every_allowed_kind_is_recognised_by_its_bytes(any_engine, case_id):
    for kind, content in SAMPLES.items():
        assert kit.attach(any_engine, case_id, f"f{KNOWN_TYPES[kind][0]}", content, kind)["content_type"] == kind
    # a client that does not say what it sends: the kind is told by the bytes alone
    assert kit.attach(any_engine, case_id, "scan", PNG, "application/octet-stream")["content_type"] == "image/png"
    assert kit.attach(any_engine, case_id, "x.pdf", PDF, "application/pdf; charset=binary")["size"] == len(PDF)
    assert len(kit.list_documents(any_engine, case_id)) == len(SAMPLES) + 2


def test_file_kinds_by_content(tmp_path):
    path = tmp_path / "f"
    for kind, content in SAMPLES.items():
        path.write_bytes(content)
        assert is_kind(path, kind), kind
        assert kind_of(path, tuple(KNOWN_TYPES)) == kind, kind
    path.write_bytes(ooxml("word/document.xml"))
    assert not is_kind(path, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    path.write_bytes(b"MZ\x90\x00 an executable")
    assert kind_of(path, tuple(KNOWN_TYPES)) is None
    path.write_bytes(b"\xff\xfe not utf-8")
    assert not is_kind(path, "text/plain")


@pytest.mark.parametrize("text, code", [("", "note_text_missing"), ("  \n ", "note_text_missing"),
                                        ("x" * 10_001, "text_too_long"), ("före\x00efter", "note_text_nul")])
def test_a_note_is_refused_naming_text_and_nothing_is_written(any_engine, case_id, text, code):
    before = counts(any_engine)
    with pytest.raises(BadInput) as refused:
        kit.add_note(any_engine, case_id, text)
    assert (refused.value.code, refused.value.field) == (code, "text")
    assert counts(any_engine) == before
    assert kit.add_note(any_engine, case_id, "x" * 10_000)["id"]        # the limit itself is taken


def test_a_note_is_dated_never_in_the_future(any_engine, case_id):
    note = kit.add_note(any_engine, case_id, "Ringde, inget svar.", "2025-03-04T09:30")
    assert note["at"].startswith("2025-03-04T09:30")
    with pytest.raises(BadInput) as refused:
        kit.add_note(any_engine, case_id, "Senare", "2999-01-01")
    assert refused.value.field == "at"
    assert [n["text"] for n in kit.list_notes(any_engine, case_id)] == ["Ringde, inget svar."]


def _nothing_written(engine, before, directory):
    assert counts(engine) == before
    assert stored_files(directory) == []


def test_a_kind_or_size_over_the_limit_is_refused_naming_file_and_nothing_is_left(any_engine, case_id,
                                                                                   documents_dir):
    before = counts(any_engine)
    small = DocumentSettings(documents_dir, 100, ("application/pdf", "text/plain"), None)
    refusals = [
        ("virus.exe", b"MZ\x90\x00", "application/x-msdownload", {}, "file_type_not_allowed"),
        ("bild.png", PNG, "image/png", {"settings": small}, "file_type_not_allowed"),     # not configured
        ("intyg.pdf", PNG, "application/pdf", {}, "file_content_mismatch"),               # the client lies
        ("intyg.pdf", b"MZ\x90\x00 exe", "application/octet-stream", {}, "file_type_unknown"),
        ("tom.pdf", b"", "application/pdf", {}, "file_empty"),
        ("stor.pdf", PDF + b"x" * 100, "application/pdf", {"settings": small}, "file_too_large"),
        ("stor.txt", (b"rad\n" * 10 for _ in range(10)), "text/plain", {"settings": small}, "file_too_large"),
    ]
    for name, content, kind, options, code in refusals:
        with pytest.raises(BadInput) as refused:
            kit.attach(any_engine, case_id, name, content, kind, **options)
        assert (refused.value.code, refused.value.field) == (code, "file"), name
        _nothing_written(any_engine, before, documents_dir)
    assert refused.value.text("sv") == "filen är för stor: högst 100 byte"
    assert documents.size_words(20 * 1024 * 1024)["limit"] == Words("20 MB", "20 MB")
    assert documents.size_words(1536)["limit"] == Words("1,5 kB", "1.5 kB")
    # the limit itself is taken
    assert kit.attach(any_engine, case_id, "ok.txt", b"x" * 100, "text/plain", settings=small)["size"] == 100


def test_a_failed_transaction_removes_the_stored_file(any_engine, case_id, documents_dir):
    kit.add_note(any_engine, case_id, "Senaste händelsen", "2025-06-01")
    before = counts(any_engine)
    with pytest.raises(BadInput) as refused:          # before the case's last event: the transaction refuses
        kit.attach(any_engine, case_id, "intyg.pdf", PDF, "application/pdf", "2025-05-01")
    assert refused.value.field == "at"
    _nothing_written(any_engine, before, documents_dir)


def test_a_path_outside_the_store_cannot_be_read(tmp_path):
    root = tmp_path / "store"
    store = DocumentStore(root)
    secret = tmp_path / "secret"
    secret.write_text("hemligt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ("ab" + "0" * 30)).write_text("hemligt")
    root.mkdir()
    (root / "ab").symlink_to(outside, target_is_directory=True)          # a link out of the store
    for key in ("../../etc/passwd", "/etc/passwd", str(secret), "../secret", "ab/../../secret", "0" * 31,
                "A" * 32, "ab" + "0" * 30, "", "..", "ab" + "0" * 30 + "/"):
        with pytest.raises(DocumentUnavailable) as refused:
            store.read(key)
        assert refused.value.code == "document_key_not_valid", key
        with pytest.raises(DocumentUnavailable):
            store.digest(key)
    with pytest.raises(DocumentUnavailable):
        store.remove("../secret")
    assert secret.exists()


def test_a_document_row_pointing_outside_the_store_is_refused(any_engine, case_id):
    doc = kit.attach(any_engine, case_id, "intyg.pdf", PDF, "application/pdf")
    with transaction(any_engine) as conn:
        conn.execute(update(Document).where(Document.c.id == doc["id"])
                     .values(storage_key="../../../../etc/passwd"))
    with pytest.raises(DocumentUnavailable) as refused:
        kit.read_document(any_engine, doc["id"])
    assert refused.value.code == "document_key_not_valid"
    assert [b.code for b in breaks_of(any_engine)] == ["audit_document_missing"]


def test_a_file_changed_or_deleted_on_disk_is_reported_and_refused(any_engine, case_id, documents_dir):
    changed = kit.attach(any_engine, case_id, "intyg.pdf", PDF, "application/pdf")
    deleted = kit.attach(any_engine, case_id, "bild.png", PNG, "image/png")
    intact = kit.attach(any_engine, case_id, "brev.txt", SAMPLES["text/plain"], "text/plain")
    store = store_for(any_engine)
    with transaction(any_engine, write=False) as conn:
        keys = dict(conn.execute(select(Document.c.id, Document.c.storage_key)).all())
    store.path_of(keys[changed["id"]]).write_bytes(PDF.replace(b"Catalog", b"Katalog"))
    store.path_of(keys[deleted["id"]]).unlink()

    found = {(b.code, b.params.get("document")) for b in breaks_of(any_engine)}
    assert found == {("audit_document_changed", changed["id"]), ("audit_document_missing", deleted["id"])}
    for doc, code in ((changed, "document_altered"), (deleted, "document_missing")):
        with pytest.raises(DocumentUnavailable) as refused:
            kit.read_document(any_engine, doc["id"])
        assert refused.value.code == code and refused.value.http_status == 410
        assert str(doc["id"]) in refused.value.text("sv")
        assert access(any_engine, action=f"read_document:{doc['id']}")[-1]["detail"].startswith("refused")
    assert kit.read_document(any_engine, intact["id"])[1] == SAMPLES["text/plain"]


def test_a_changed_note_is_reported_and_an_erased_one_is_not(any_engine, case_id):
    changed = kit.add_note(any_engine, case_id, "Första versionen")
    erased = kit.add_note(any_engine, case_id, "Ska gallras")
    notes = Note
    with transaction(any_engine) as conn:
        conn.execute(update(notes).where(notes.c.id == changed["id"]).values(text="Ändrad i efterhand"))
        conn.execute(update(notes).where(notes.c.id == erased["id"]).values(text=None))       # gallring
    assert [(b.code, b.seq) for b in breaks_of(any_engine)] == [("audit_note_changed", changed["seq"])]
    assert [n["erased"] for n in kit.list_notes(any_engine, case_id)] == [False, True]
    with transaction(any_engine) as conn:        # a digest rewritten to fit still does not match the chain
        conn.execute(update(notes).where(notes.c.id == changed["id"])
                     .values(sha256=hashlib.sha256("Ändrad i efterhand".encode()).hexdigest()))
    assert [b.code for b in breaks_of(any_engine)] == ["audit_note_changed"]


def test_another_municipalitys_case_and_document_are_not_found_and_the_attempt_is_logged(any_engine, case_id,
                                                                                          documents_dir):
    note = kit.add_note(any_engine, case_id, "Anteckning")
    doc = kit.attach(any_engine, case_id, "intyg.pdf", PDF, "application/pdf")
    before, files = counts(any_engine), stored_files(documents_dir)
    attempts = [(lambda: kit.read_document(any_engine, doc["id"], actor=OFFICER_0180), "no_such_document"),
                (lambda: kit.add_note(any_engine, case_id, "Intrång", actor=OFFICER_0180), "no_such_case"),
                (lambda: kit.attach(any_engine, case_id, "x.pdf", PDF, "application/pdf", actor=OFFICER_0180),
                 "no_such_case"),
                (lambda: kit.list_notes(any_engine, case_id, actor=OFFICER_0180), "no_such_case"),
                (lambda: kit.list_documents(any_engine, case_id, actor=OFFICER_0180), "no_such_case")]
    for attempt, code in attempts:
        with pytest.raises(NotFound) as refused:
            attempt()
        assert refused.value.code == code
    missing = kit.read_document
    with pytest.raises(NotFound):
        missing(any_engine, doc["id"] + 1000, actor=OFFICER_0180)
    assert counts(any_engine) == before and stored_files(documents_dir) == files
    denied = [r["action"] for r in access(any_engine, actor="h0180")]
    assert denied == [f"denied:read_document:{doc['id']}", "denied:add_note", "denied:add_document",
                      "denied:notes", "denied:documents", f"read_document:{doc['id'] + 1000}"]
    assert all(r["case_id"] == case_id for r in access(any_engine, actor="h0180")[:5])
    # an auditor reads but never adds
    assert kit.list_notes(any_engine, case_id, actor=AUDITOR)[0]["id"] == note["id"]
    with pytest.raises(Forbidden):
        kit.add_note(any_engine, case_id, "Granskarens", actor=AUDITOR)


def test_every_read_is_in_the_access_log(any_engine, case_id):
    kit.add_note(any_engine, case_id, "Anteckning")
    doc = kit.attach(any_engine, case_id, "intyg.pdf", PDF, "application/pdf")
    reader = Principal("h0581", "Officer", "officer", "kommun", ("0581",), home="0581")
    kit.list_notes(any_engine, case_id, actor=reader)
    kit.list_documents(any_engine, case_id, actor=reader)
    meta, content = kit.read_document(any_engine, doc["id"], actor=reader)
    assert content == PDF and meta["filename"] == "intyg.pdf"
    kit.history(any_engine, case_id, actor=reader)
    assert [(r["action"], r["case_id"], r["detail"]) for r in access(any_engine, actor="h0581")] == [
        ("notes", case_id, "done"), ("documents", case_id, "done"), (f"read_document:{doc['id']}", case_id, "done"),
        ("history", case_id, None)]


def test_a_case_shown_with_its_history_logs_both_reads_in_one_statement(any_engine, case_id):
    """The case page's view: a row for the case and one for its history, in that order, of
    one moment (on PostgreSQL one INSERT ... SELECT over unnest, cases/journal.py)."""
    from etablera.cases import queries
    reader = Principal("h0581", "Officer", "officer", "kommun", ("0581",), home="0581")
    queries.view_case(any_engine, reader, case_id, history=True)
    rows = access(any_engine, actor="h0581")
    assert [(r["action"], r["case_id"], r["detail"], r["role"], r["organisation"]) for r in rows] == [
        ("show", case_id, None, "officer", "kommun"), ("history", case_id, None, "officer", "kommun")]
    assert rows[0]["at"] == rows[1]["at"]
    outsider = Principal("h0180", "Officer", "officer", "kommun", ("0180",), home="0180")
    with pytest.raises(NotFound):
        queries.view_case(any_engine, outsider, case_id, history=True)
    assert [(r["action"], r["case_id"]) for r in access(any_engine, actor="h0180")] == [("denied:show", case_id)]


# --- the command line ------------------------------------------------------------------

def test_cli_notes_and_documents(cli_env, tmp_path, monkeypatch, documents_dir):
    case = ok("case", "register", "--person", pnr("19900101", 202), "--municipality", "0581",
              "--permit-date", "2025-01-15", "--at", "2025-03-03T10:00")["id"]
    assert ok("case", "note", case, "Första samtalet hölls.", "--at", "2025-03-04")["id"] == 1
    assert ok("case", "note", case, "--text", "Andra anteckningen")["id"] == 2
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("Från stdin\n".encode())))
    assert ok("case", "note", case)["id"] == 3
    assert [n["text"] for n in ok("case", "notes", case)] == ["Första samtalet hölls.", "Andra anteckningen",
                                                            "Från stdin\n"]
    pdf = tmp_path / "läkarintyg.pdf"
    pdf.write_bytes(PDF)
    doc = ok("case", "attach", case, str(pdf))
    assert (doc["filename"], doc["content_type"]) == ("läkarintyg.pdf", "application/pdf")
    assert [d["id"] for d in ok("case", "documents", case)] == [doc["id"]]
    out = tmp_path / "ut" / "kopia.pdf"
    out.parent.mkdir()
    assert ok("case", "document", doc["id"], "--output", str(out))["output"] == str(out)
    assert out.read_bytes() == PDF
    history = etablera("case", "history", str(case))
    assert "Första samtalet hölls." in history.out and "läkarintyg.pdf" in history.out
    assert etablera("audit", "verify").code == 0

    exe = tmp_path / "program.pdf"
    exe.write_bytes(b"MZ\x90\x00 not a pdf")
    refused = etablera("case", "attach", str(case), str(exe))
    assert refused.code == 2 and refused.err.startswith("error: file:")
    refused = etablera("case", "attach", str(case), str(exe), "--json")
    assert refused.doc["error"]["field"] == "file" and refused.doc["error"]["code"] == "file_content_mismatch"
    refused = etablera("case", "note", str(case), "--text", "", "--json")
    assert (refused.code, refused.doc["error"]["field"]) == (2, "text")

    next(p for p in stored_files(documents_dir)).write_bytes(PDF + b"%tillagt")
    broken = etablera("audit", "verify", "--lang", "en")
    assert broken.code == 1 and f"the file of document {doc['id']} was changed after it was attached" in broken.out
    refused = etablera("case", "document", str(doc["id"]), "--output", str(tmp_path / "igen.pdf"), "--json")
    assert refused.code == 1 and refused.doc["error"]["code"] == "document_altered"
    assert not (tmp_path / "igen.pdf").exists()


# --- the API and the pages ---------------------------------------------------------------

@pytest.fixture
def world(db_url):
    world = build_world(db_url)
    yield world
    world.engine.dispose()


@pytest.fixture
def client(world):
    from etablera.interfaces.http.app import create_app
    return TestClient(create_app(world.engine))


def test_api_notes_and_documents(world, client, documents_dir):
    case = world.cases["nkpg"]
    officer = world.bearer("h0581")
    added = client.post(f"/api/v1/cases/{case}/notes", json={"text": "Via API"}, headers=officer)
    assert added.status_code == 201 and added.json()["sha256"] == hashlib.sha256(b"Via API").hexdigest()
    assert [n["text"] for n in client.get(f"/api/v1/cases/{case}/notes", headers=officer).json()] == ["Via API"]
    refused = client.post(f"/api/v1/cases/{case}/notes", json={"text": " "}, headers=officer)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "text"

    uploaded = client.post(f"/api/v1/cases/{case}/documents", headers=officer,
                           files={"file": ("beslut från AF.pdf", PDF, "application/pdf")})
    assert uploaded.status_code == 201, uploaded.text
    doc = uploaded.json()
    assert client.get(f"/api/v1/cases/{case}/documents", headers=officer).json()[0]["id"] == doc["id"]
    download = client.get(f"/api/v1/documents/{doc['id']}", headers=officer)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == \
        "attachment; filename=\"beslut fr_n AF.pdf\"; filename*=UTF-8''beslut%20fr%C3%A5n%20AF.pdf"
    history = client.get(f"/api/v1/cases/{case}/history", headers=officer).json()
    assert history[-1]["journal"]["document"]["filename"] == "beslut från AF.pdf"

    for files, code in (({"file": ("x.exe", b"MZ\x90\x00", "application/x-msdownload")}, "file_type_not_allowed"),
                        ({"file": ("x.pdf", PNG, "application/pdf")}, "file_content_mismatch"),
                        ({"other": ("x.pdf", PDF, "application/pdf")}, "file_missing")):
        refused = client.post(f"/api/v1/cases/{case}/documents", headers=officer, files=files)
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "file"
        assert refused.json()["error"]["code"] == code
    other = world.bearer("h0180")
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=other).status_code == 404
    assert client.post(f"/api/v1/cases/{case}/notes", json={"text": "x"}, headers=other).status_code == 404
    assert client.get(f"/api/v1/cases/{case}/documents", headers=other).status_code == 404
    assert len(stored_files(documents_dir)) == 1
    assert world.access_rows(actor="h0180", action=f"denied:read_document:{doc['id']}")

    next(p for p in stored_files(documents_dir)).unlink()
    gone = client.get(f"/api/v1/documents/{doc['id']}", headers=officer)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "document_missing"


def test_api_upload_over_the_limit_is_refused_before_it_is_read(world, client, tmp_path, monkeypatch,
                                                                documents_dir):
    config = tmp_path / "config"
    config.mkdir()
    (config / "documents.toml").write_text("max_bytes = 1000\n")
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(config))
    case, officer = world.cases["nkpg"], world.bearer("h0581")
    before = counts(world.engine)
    big = PDF + b"x" * 200_000          # over the limit and the form's allowance: refused by its length
    refused = client.post(f"/api/v1/cases/{case}/documents", headers=officer,
                          files={"file": ("stor.pdf", big, "application/pdf")})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "file_too_large"
    refused = client.post(f"/api/v1/cases/{case}/documents", headers=officer,       # within the allowance
                          files={"file": ("stor.pdf", PDF + b"x" * 2000, "application/pdf")})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "file"
    assert counts(world.engine) == before and stored_files(documents_dir) == []
    ok_upload = client.post(f"/api/v1/cases/{case}/documents", headers=officer,
                            files={"file": ("liten.pdf", PDF, "application/pdf")})
    assert ok_upload.status_code == 201


def test_pages_add_a_note_attach_a_document_and_download_it(world, client, documents_dir):
    case = world.cases["nkpg"]
    csrf = login(client, "h0581")
    page = client.get(f"/cases/{case}")
    assert 'id="journal"' in page.text and 'enctype="multipart/form-data"' in page.text

    saved = client.post(f"/cases/{case}/notes", data={"csrf": csrf, "text": "Samtal om praktik"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("#journal")
    refused = client.post(f"/cases/{case}/notes", data={"csrf": csrf, "text": "Framtida", "at": "2999-01-01"})
    assert refused.status_code == 400
    assert 'id="note-error"' in refused.text and ">Framtida</textarea>" in refused.text    # what was typed is kept
    forged = client.post(f"/cases/{case}/notes", data={"csrf": "fel", "text": "x"})
    assert forged.status_code == 403

    uploaded = client.post(f"/cases/{case}/documents", data={"csrf": csrf},
                           files={"file": ("intyg.pdf", PDF, "application/pdf")}, follow_redirects=False)
    assert uploaded.status_code == 303
    refused = client.post(f"/cases/{case}/documents", data={"csrf": csrf},
                          files={"file": ("bild.pdf", PNG, "application/pdf")})
    assert refused.status_code == 400 and 'id="document-error"' in refused.text
    forged = client.post(f"/cases/{case}/documents", data={"csrf": "fel"},
                         files={"file": ("intyg2.pdf", PDF, "application/pdf")})
    assert forged.status_code == 403
    assert len(stored_files(documents_dir)) == 1

    assert client.post(f"/cases/{case}/notes", data={"csrf": csrf, "text": "Uppföljning med handledare"},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/cases/{case}")
    listed = re.search(r'<ol class="journal-notes".*?</ol>', page.text, re.S).group(0)
    assert re.findall(r'<p class="note">([^<]*)</p>', listed) == ["Uppföljning med handledare", "Samtal om praktik"]
    link = re.search(r'href="(/documents/(\d+))" download>intyg\.pdf</a>', page.text)
    assert link and "intyg" not in link.group(1)
    download = client.get(link.group(1))
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert world.access_rows(actor="h0581", action=f"read_document:{link.group(2)}")

    client.post("/logout", data={"csrf": csrf})
    login(client, "h0180")
    assert client.get(link.group(1)).status_code == 404
    assert world.access_rows(actor="h0180", action=f"denied:read_document:{link.group(2)}")
