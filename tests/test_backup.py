"""Backup and restore of the embedded default (issue 15, item 7): `etablera backup` while a
writer registers and advances cases, restored into a fresh database, where `audit verify`
is clean, every case committed before the backup began is there, and every case there is
complete; and each refusal is one clear line that writes nothing."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import kit
from cli_kit import etablera
from conftest import run_cli
from identities import pnr
from etablera.cases.backup import DATABASE, MANIFEST
from etablera.models.database import make_engine, upgrade

TODAY = date.today()
PERMIT = TODAY - timedelta(days=40)


def _person(i: int) -> str:
    born = date(1985, 1, 1) + timedelta(days=i)
    return pnr(born.strftime("%Y%m%d"), serial=100 + i % 800)


def _cases(url: str) -> set[int]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return {r[0] for r in conn.execute("SELECT id FROM cases")}
    finally:
        conn.close()


@pytest.fixture
def source(tmp_path, monkeypatch) -> str:
    """A SQLite database with a few cases, a note and documents; the CLI pointed at it."""
    url = f"sqlite:///{tmp_path / 'live' / 'etablera.sqlite3'}"
    (tmp_path / "live").mkdir()
    engine = make_engine(url)
    upgrade(engine)
    for i in range(12):
        case_id = kit.register(engine, _person(i), "0581", PERMIT)
        kit.advance(engine, case_id, "hold_talk")
        if i % 4 == 0:
            kit.add_note(engine, case_id, f"anteckning {i}")
            kit.attach(engine, case_id, f"intyg{i}.txt", f"innehåll {i}\n".encode(), "text/plain")
    engine.dispose()
    monkeypatch.setenv("ETABLERA_DATABASE_URL", url)
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    return url


def _use(monkeypatch, url: str) -> None:
    monkeypatch.setenv("ETABLERA_DATABASE_URL", url)


def _fresh(tmp_path, name: str, key_from: str | None = None) -> str:
    """An empty place for a restored database; with the audit key put back from its own
    backup (here: copied from the source) when `key_from` is given."""
    directory = tmp_path / name
    directory.mkdir()
    if key_from:
        shutil.copy(Path(key_from.removeprefix("sqlite:///")).parent / "audit.key", directory / "audit.key")
    return f"sqlite:///{directory / 'etablera.sqlite3'}"


class Writer(threading.Thread):
    """Registers and advances cases until stopped, remembering when each registration committed."""

    def __init__(self, url: str, first: int):
        super().__init__(daemon=True)
        self.url, self.next = url, first
        self.committed: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        engine = make_engine(self.url)
        try:
            while not self.stop.is_set():
                case_id = kit.register(engine, _person(self.next), "0581", PERMIT)
                self.committed.append((time.time(), case_id))
                kit.advance(engine, case_id, "hold_talk")
                if self.next % 3 == 0:
                    kit.add_note(engine, case_id, "skriven under säkerhetskopieringen")
                self.next += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            engine.dispose()


@pytest.mark.slow
def test_a_backup_taken_while_cases_are_written_restores_complete(source, tmp_path, monkeypatch):
    writer = Writer(source, first=1000)
    writer.start()
    try:
        while len(writer.committed) < 20 and writer.is_alive():
            time.sleep(0.05)
        before = set(range(1, 13)) | {case for _, case in list(writer.committed)}    # the fixture's and the writer's
        # Small steps with pauses, so the copy takes long enough for the writer to commit between them.
        run = run_cli("backup", str(tmp_path / "b.tar"), "--pages", "2", "--pause", "30", "--json",
                      env=dict(os.environ), timeout=300)
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    assert writer.error is None, writer.error
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    # Registrations recorded from 0.2 s after the snapshot began (a registration is recorded
    # just after its commit, so these committed after it) until the copy ended.
    copy_from = datetime.fromisoformat(doc["snapshot_at"]).timestamp()
    during = [case for at, case in writer.committed if copy_from + 0.2 < at < copy_from + doc["copy_seconds"]]
    print(f"backup: {doc['steps']} steps, the copy {doc['copy_seconds']} s; {len(during)} cases registered "
          f"during the copy; {doc['cases']} cases in the backup")
    assert doc["steps"] > 10 and during, "the writer must have committed while the copy went on"
    assert doc["documents"] == 3 and doc["audit_key_included"] is False

    restored = _fresh(tmp_path, "restored", key_from=source)
    _use(monkeypatch, restored)
    result = etablera("restore", str(tmp_path / "b.tar"), "--json")
    assert result.code == 0, result.both
    assert result.doc["cases"] == doc["cases"] and result.doc["documents"] == 3
    verify = etablera("audit", "verify", "--json")
    assert verify.code == 0 and verify.doc["ok"], verify.both
    in_restored = _cases(restored)
    assert before <= in_restored, "a case committed before the backup began is missing"
    assert not set(during) & in_restored, "the backup is the database as of the moment its copy began"
    assert len(in_restored) == doc["cases"] == verify.doc["cases"]
    # Every case there is whole (verify replayed each chain against its row and measures),
    # and the snapshot is one moment: a prefix of the writer's registrations, no gaps.
    assert in_restored == set(range(1, max(in_restored) + 1))


def _backup(tmp_path, name: str = "b.tar") -> Path:
    result = etablera("backup", str(tmp_path / name), "--json")
    assert result.code == 0, result.both
    return tmp_path / name


def test_restore_with_force_and_gzip_round_trip(source, tmp_path, monkeypatch):
    archive = _backup(tmp_path, "b.tar.gz")
    names = tarfile.open(archive, "r:gz").getnames()
    assert names[0] == DATABASE and names[-1] == MANIFEST and len(names) == 2 + 3
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds personal data: owner only"
    restored = _fresh(tmp_path, "restored", key_from=source)
    _use(monkeypatch, restored)
    assert etablera("restore", str(archive)).code == 0
    assert etablera("restore", str(archive), "--force", "--lang", "en").code == 0
    assert _cases(restored) == _cases(source)
    assert etablera("audit", "verify").code == 0


def _one_line(result, *words: str) -> None:
    assert result.code == 2, result.both
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and not result.out, result.both
    for word in words:
        assert word in lines[0], (word, lines[0])


def _rewrite(archive: Path, out: Path, *, manifest=None, database=None) -> Path:
    """A copy of `archive` with its manifest or database bytes changed by the given functions."""
    with tarfile.open(archive) as tar, tarfile.open(out, "w") as new:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name == MANIFEST and manifest:
                data = json.dumps(manifest(json.loads(data))).encode()
            if member.name == DATABASE and database:
                data = database(data)
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    return out


def test_refusals_are_one_clear_line_and_write_nothing(source, tmp_path, monkeypatch):
    archive = _backup(tmp_path)
    _one_line(etablera("backup", str(archive)), "file:", "b.tar")                   # never overwritten
    _one_line(etablera("backup", str(tmp_path / "no" / "b.tar")), "file:")
    _one_line(etablera("restore", str(archive)), "database:", "--force")             # the live one is not empty
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    restored = _fresh(tmp_path, "restored", key_from=source)
    _use(monkeypatch, restored)
    _one_line(etablera("restore", str(tmp_path / "junk.tar")), "file:", "junk.tar")
    _one_line(etablera("restore", str(tmp_path / "missing.tar")), "file:")
    flipped = _rewrite(archive, tmp_path / "flipped.tar", database=lambda d: d[:5000] + b"X" + d[5001:])
    _one_line(etablera("restore", str(flipped), "--lang", "en"), "file:", "damaged")

    def broken(data: bytes) -> bytes:           # a page of a table zeroed, the checksum made to match
        return data[:4096 * 3] + bytes(4096) + data[4096 * 4:]

    def matching(m, data=broken(tarfile.open(archive).extractfile(DATABASE).read())):
        import hashlib
        return {**m, "database": {**m["database"], "sha256": hashlib.sha256(data).hexdigest()}}
    corrupt = _rewrite(archive, tmp_path / "corrupt.tar", database=broken, manifest=matching)
    _one_line(etablera("restore", str(corrupt), "--lang", "en"), "file:", "integrity")
    newer = _rewrite(archive, tmp_path / "newer.tar", manifest=lambda m: {**m, "revision": "9999"})
    _one_line(etablera("restore", str(newer), "--lang", "en"), "9999", "newer version")
    assert not Path(restored.removeprefix("sqlite:///")).exists(), "a refused restore writes nothing"

    # The audit key: missing, or another one.
    bare = _fresh(tmp_path, "bare")
    _use(monkeypatch, bare)
    _one_line(etablera("restore", str(archive), "--lang", "en"), "audit_key:", "--without-audit-key")
    (Path(bare.removeprefix("sqlite:///")).parent / "audit.key").write_text("ab" * 32 + "\n")
    _one_line(etablera("restore", str(archive), "--lang", "en"), "audit_key:", "not the one")
    assert not Path(bare.removeprefix("sqlite:///")).exists()

    # PostgreSQL has its own tools.
    _use(monkeypatch, "postgresql://nobody@127.0.0.1:1/none")
    _one_line(etablera("restore", str(archive), "--lang", "en"), "database:", "pg_restore")
    _one_line(etablera("backup", str(tmp_path / "pg.tar"), "--lang", "en"), "database:", "pg_dump")


def test_the_live_database_is_untouched_by_a_refused_restore(source, tmp_path, monkeypatch):
    archive = _backup(tmp_path)
    engine = make_engine(source)
    kit.register(engine, _person(500), "0581", PERMIT)
    engine.dispose()
    before = _cases(source)
    _one_line(etablera("restore", str(archive)), "database:")
    assert _cases(source) == before and len(before) == 13


def test_a_backup_of_an_older_revision_restores_and_says_to_migrate(tmp_path, monkeypatch):
    from alembic import command
    from alembic.config import Config
    from etablera.models.database import MIGRATIONS
    old = f"sqlite:///{tmp_path / 'old' / 'etablera.sqlite3'}"
    (tmp_path / "old").mkdir()
    engine = make_engine(old)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
    engine.dispose()
    _use(monkeypatch, old)
    archive = _backup(tmp_path)
    _use(monkeypatch, _fresh(tmp_path, "restored"))
    result = etablera("restore", str(archive), "--lang", "en")
    assert result.code == 0 and "run etablera migrate" in result.out, result.both
    assert etablera("migrate").code == 0


def test_a_document_missing_from_the_store_is_left_out_and_counted(source, tmp_path):
    live = Path(source.removeprefix("sqlite:///")).parent / "documents"
    first = sorted(p for p in live.rglob("*") if p.is_file())[0]
    first.unlink()
    result = etablera("backup", str(tmp_path / "b.tar"), "--json")
    assert result.code == 0 and (result.doc["documents"], result.doc["documents_missing"]) == (2, 1), result.both
    assert first.name not in " ".join(tarfile.open(tmp_path / "b.tar").getnames())
    text = etablera("backup", str(tmp_path / "c.tar"), "--lang", "en")
    assert "1 documents the database names were missing or altered" in text.out
