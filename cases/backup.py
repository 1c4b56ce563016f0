"""Backup and restore of the embedded default (a SQLite file), with its document store.
(A little over 400 lines: the two halves check each other's format, and read best together.)

A backup is one tar archive (`.tar`, or gzip-compressed when the name ends `.gz`/`.tgz`):

    etablera.sqlite3           the database, as of one moment
    documents/ab/ab12...       each file the database refers to, under its storage key
    manifest.json              format, time, etablera version, migration revision, counts,
                               the database's and every document's size and SHA-256, and a
                               fingerprint of the audit key (never the key); written last,
                               so it lists exactly what the archive holds

The database is copied with SQLite's online backup API in steps of `pages` pages, with
a pause between steps, from a connection that holds ONE read transaction for the whole
copy. In WAL mode a reader never blocks a writer, so writers go on meanwhile; and because
the snapshot is held, no step sees a commit made after the copy began, so the copy never
restarts (the backup API restarts from page one when another connection commits between
two steps, which under a steady writer can go on for ever) and it is the database as of
one moment. The counts and the list of documents are read in the same transaction. The
documents are copied after the database: a file is kept in the store before the
transaction that records it commits (cases/document_store.py), so every file the
snapshot names exists. Everything is written under a temporary name beside FILE and
renamed into place when complete, so FILE is either a whole backup or absent.

The audit key is NOT in the backup, on purpose (cases/audit_key.py). The chain binds
each identity number by an HMAC under that key; identity numbers are few enough to try
them all, so whoever holds a database and its key can recover the numbers behind the
HMACs (including those of erased records) and sign anchors of a rewritten chain. A
backup travels to other disks and other hands; the key must be kept apart, in its own
backup. The manifest holds the key's fingerprint (an HMAC of a fixed label under the
key), so a restore can tell whether the key in place is the one the chain was bound with.

Restore goes the other way into the configured SQLite database: it checks the archive
(manifest, checksums, `PRAGMA integrity_check`, a migration revision this version knows),
refuses a non-empty database unless forced, refuses a missing or different audit key,
stages the documents, then copies the database in with the backup API (which deals with
the target's write-ahead log) and moves the documents into the store. PostgreSQL is
backed up and restored with its own tools (README: Backup and restore).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import Engine

from etablera.cases.audit_key import key_path, load_key
from etablera.cases.document_store import DocumentStore, DocumentUnavailable, fsync_dir, store_for
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code

FORMAT = "etablera-backup/1"
MANIFEST = "manifest.json"
DATABASE = "etablera.sqlite3"
DOCUMENTS = "documents"
PAGES = 256                 # pages per step (1 MB at SQLite's default page size)
PAUSE = 0.005               # seconds between steps
CHUNK = 1 << 20
_KEY_LABEL = b"etablera backup: audit key fingerprint"


def key_fingerprint(key: bytes | None) -> str | None:
    """A fingerprint of the audit key that reveals nothing of it."""
    return None if key is None else hmac.new(key, _KEY_LABEL, hashlib.sha256).hexdigest()[:32]


def sqlite_file(engine: Engine, *, restore: bool = False) -> Path:
    """The SQLite database file of `engine`; PostgreSQL is refused, naming its own tools."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        raise BadInput("restore_needs_sqlite" if restore else "backup_needs_sqlite", field="database")
    return Path(database).absolute()


# --- backup ---------------------------------------------------------------------------

def backup(engine: Engine, target: Path, *, pages: int = PAGES, pause: float = PAUSE,
           progress: Callable[[int, int], None] | None = None) -> dict:
    """Write a backup of `engine`'s database and its documents to `target` (a new file).
    `progress(done, total)`: pages copied so far of the database's pages."""
    source = sqlite_file(engine)
    target = Path(target).absolute()
    if target.exists():
        raise BadInput("backup_exists", field="file", file=str(target))
    if not target.parent.is_dir():
        raise BadInput("backup_directory_missing", field="file", directory=str(target.parent))
    if not source.exists():
        raise BadInput("backup_no_database", field="database", database=str(source))
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    try:
        copy = work / DATABASE
        snapshot = _copy_database(source, copy, pages, pause, progress)
        store = store_for(engine)
        archive = work / "archive"
        documents, missing = [], 0
        # The archive holds personal data: readable by its owner only, like the database.
        with open(os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out, \
                tarfile.open(fileobj=out, mode=_write_mode(target), **_level(target)) as tar:
            _add_file(tar, DATABASE, copy)
            for key, sha256, size in snapshot.pop("documents"):
                # Read once (a file is at most documents.max_bytes), checked and archived from
                # the same bytes: a file erased or changed meanwhile is left out, never half in.
                content = store.read(key)
                if content is None or len(content) != size or hashlib.sha256(content).hexdigest() != sha256:
                    missing += 1        # audit verify at the source reports it too; the rest is still worth keeping
                    continue
                _add_bytes(tar, f"{DOCUMENTS}/{key[:2]}/{key}", content)
                documents.append({"key": key, "sha256": sha256, "size": size})
            copy_seconds = snapshot.pop("copy_seconds")
            manifest = {"format": FORMAT, "created_at": snapshot["snapshot_at"][:19] + "+00:00",
                        "etablera_version": _version(), **snapshot,
                        "database": {"name": DATABASE, "size": copy.stat().st_size, "sha256": _sha256(copy)},
                        "documents": documents, "documents_missing": missing,
                        "audit_key_fingerprint": key_fingerprint(load_key(engine))}
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())     # last: it lists what is in
        _fsync(archive)
        os.replace(archive, target)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"file": str(target), "size": target.stat().st_size, "revision": manifest["revision"],
            "cases": manifest["cases"], "events": manifest["events"], "documents": len(documents),
            "documents_missing": missing, "database": str(source), "documents_directory": str(store.root),
            "audit_key_file": str(key_path(engine)), "audit_key_included": False,
            "seconds": round(time.monotonic() - started, 3), "steps": snapshot["steps"],
            "snapshot_at": snapshot["snapshot_at"], "copy_seconds": copy_seconds}


def _copy_database(source: Path, copy: Path, pages: int, pause: float,
                   progress: Callable[[int, int], None] | None) -> dict:
    """Copy the database as of one moment (see the module's docstring); returns what the
    snapshot holds: revision, counts, the documents it refers to, the steps taken."""
    src = sqlite3.connect(source, isolation_level=None, timeout=10)
    dst = sqlite3.connect(copy, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=10000")
        src.execute("BEGIN")            # one read transaction: the snapshot every step copies from
        snapshot = {"revision": _revision(src),
                    "cases": _count(src, "cases"), "events": _count(src, "audit_events"),
                    "documents": _documents(src)}
        snapshot_at, started = datetime.now(timezone.utc), time.monotonic()
        steps = [0]

        def step(_status, remaining, total):
            # Called after each step (the `sleep` argument of backup() only waits after a
            # busy step): the pause, without the GIL, is where the writers' commits go.
            steps[0] += 1
            if progress is not None:
                progress(total - remaining, total)
            if remaining and pause:
                time.sleep(pause)
        src.backup(dst, pages=pages, progress=step)
        src.execute("COMMIT")
        copied = time.monotonic() - started
        dst.execute("PRAGMA journal_mode=DELETE")       # one self-contained file in the archive
        return {**snapshot, "steps": steps[0], "snapshot_at": snapshot_at.isoformat(),
                "copy_seconds": round(copied, 3)}
    finally:
        src.close()
        dst.close()


def _documents(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    if not _has_table(conn, "documents"):
        return []
    return [tuple(r) for r in conn.execute("SELECT storage_key, sha256, size FROM documents "
                                           "WHERE erased_at IS NULL ORDER BY id")]


# --- restore ----------------------------------------------------------------------------

def restore(engine: Engine, source: Path, *, force: bool = False, without_audit_key: bool = False) -> dict:
    """Restore the backup `source` into `engine`'s database and document store."""
    target = sqlite_file(engine, restore=True)
    source = Path(source).absolute()
    tar, manifest = _open_backup(source)
    with tar:
        head = _check_revision(manifest)
        in_place = _rows_in(target)
        store = store_for(engine)
        kept = _store_files(store)
        if (in_place or kept) and not force:
            raise BadInput("restore_target_not_empty", field="database", database=str(target),
                           cases=in_place.get("cases", 0), files=len(kept))
        _check_key(engine, manifest, without_audit_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.restore-"))
        staged = None
        try:
            copy = work / DATABASE
            _extract(tar, source, DATABASE, copy, manifest["database"])
            _check_integrity(copy, source)
            staged = _stage_documents(tar, source, manifest, store)
            _copy_in(copy, target, force)
            for doc in manifest["documents"]:
                path = store.path_of(doc["key"])
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / doc["key"], path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
    key = load_key(engine)
    return {"file": str(source), "database": str(target), "revision": manifest["revision"], "head": head,
            "behind": manifest["revision"] != head, "cases": manifest["cases"], "events": manifest["events"],
            "documents": len(manifest["documents"]), "documents_directory": str(store.root),
            "documents_missing_at_backup": manifest.get("documents_missing", 0),
            "files_not_in_backup": len(kept - {d["key"] for d in manifest["documents"]}), "created_at": manifest["created_at"],
            "audit_key_file": str(key_path(engine)), "audit_key_present": key is not None}


def _open_backup(source: Path) -> tuple[tarfile.TarFile, dict]:
    try:
        tar = tarfile.open(source, "r:*")
    except (OSError, tarfile.TarError):
        raise BadInput("backup_not_readable", field="file", file=str(source)) from None
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member is not None else None
    except (KeyError, ValueError, OSError, tarfile.TarError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        tar.close()
        raise BadInput("backup_not_readable", field="file", file=str(source))
    return tar, manifest


def _check_revision(manifest: dict) -> str:
    """The newest revision this version knows; a backup from a newer one is refused."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from etablera.models.database import MIGRATIONS
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    known = {r.revision for r in script.walk_revisions()}
    if manifest.get("revision") not in known:
        raise BadInput("backup_revision_unknown", field="file", revision=Code(str(manifest.get("revision"))),
                       head=Code(head))
    return head


def _rows_in(target: Path) -> dict[str, int]:
    """The tables of `target` that hold rows, with their counts (empty: nothing to lose)."""
    if not target.exists() or target.stat().st_size == 0:
        return {}
    try:
        conn = sqlite3.connect(target, timeout=10)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")]
            counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return {"not_a_database": 1}
    return {t: n for t, n in counts.items() if n}


def _store_files(store: DocumentStore) -> set[str]:
    """The keys of the files the document store holds."""
    if not store.root.is_dir():
        return set()
    return {f.name for sub in store.root.iterdir() if sub.is_dir() and len(sub.name) == 2
            for f in sub.iterdir() if f.is_file()}


def _check_key(engine: Engine, manifest: dict, without_audit_key: bool) -> None:
    expected = manifest.get("audit_key_fingerprint")
    if expected is None:
        return
    key = load_key(engine)
    if key is None:
        if not without_audit_key:
            raise BadInput("restore_audit_key_missing", field="audit_key", file=str(key_path(engine)))
        return
    if not hmac.compare_digest(key_fingerprint(key), expected):
        raise BadInput("restore_audit_key_differs", field="audit_key", file=str(key_path(engine)))


def _extract(tar: tarfile.TarFile, source: Path, name: str, out: Path, expected: dict) -> None:
    """Member `name` of the archive to `out`, its size and SHA-256 checked."""
    try:
        member = tar.extractfile(name)
    except (KeyError, tarfile.TarError):
        member = None
    if member is None:
        raise BadInput("backup_damaged", field="file", file=str(source), part=Code(name))
    digest, size = hashlib.sha256(), 0
    try:
        with member, open(out, "xb") as fh:
            for chunk in iter(lambda: member.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except (OSError, tarfile.TarError, EOFError):
        raise BadInput("backup_damaged", field="file", file=str(source), part=Code(name)) from None
    if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
        raise BadInput("backup_damaged", field="file", file=str(source), part=Code(name))


def _check_integrity(copy: Path, source: Path) -> None:
    try:
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        result = ["not a database"]
    if result != ["ok"]:
        raise BadInput("backup_integrity", field="file", file=str(source))


def _stage_documents(tar: tarfile.TarFile, source: Path, manifest: dict, store: DocumentStore) -> Path:
    """Every document of the backup, checked, in a directory inside the store (so the move
    into place is a rename on the same file system)."""
    store.root.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=store.root, prefix=".restore-"))
    try:
        for doc in manifest["documents"]:
            key = str(doc.get("key", ""))
            try:
                store.path_of(key)                  # a key the store accepts, nothing else
            except DocumentUnavailable:
                raise BadInput("backup_damaged", field="file", file=str(source), part=Code(key[:40])) from None
            _extract(tar, source, f"{DOCUMENTS}/{key[:2]}/{key}", staged / key, doc)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def _copy_in(copy: Path, target: Path, force: bool) -> None:
    """The checked copy into the configured database through the backup API, under the
    writers' lock: SQLite itself replaces the pages and deals with the target's log."""
    from etablera.models.database import make_engine, writers_queue
    if force and _rows_in(target).get("not_a_database"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{target}")
    try:
        with writers_queue(engine, True):
            src = sqlite3.connect(copy, isolation_level=None)
            dst = sqlite3.connect(target, isolation_level=None, timeout=30)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")
            finally:
                src.close()
                dst.close()
    finally:
        engine.dispose()


# --- small helpers -------------------------------------------------------------------------

def _revision(conn: sqlite3.Connection) -> str:
    if not _has_table(conn, "alembic_version"):
        return ""
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else ""


def _count(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if _has_table(conn, table) else 0


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = path.stat().st_size, int(time.time()), 0o600
    with open(path, "rb") as fh:
        tar.addfile(info, fh)


def _write_mode(target: Path) -> str:
    return "w:gz" if target.name.endswith((".gz", ".tgz")) else "w"


def _level(target: Path) -> dict:
    # gzip's own default level: tarfile's 9 took a third longer (50,000 cases: 56 s against 42 s) for 1 % less
    return {"compresslevel": 6} if _write_mode(target) == "w:gz" else {}


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _version() -> str:
    from etablera import __version__
    return __version__
