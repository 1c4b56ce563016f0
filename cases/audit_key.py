"""The audit key: a secret held outside the database, for the identity number's HMAC in
the chain (statemachine/binding.py) and the signature of chain-head anchors
(cases/anchor.py).

Where it lives (the first that applies):

  1. `$ETABLERA_AUDIT_KEY_FILE` when set,
  2. `audit.key` beside the SQLite database file,
  3. `./var/audit.key` for a server database (PostgreSQL).

The file holds 32 random bytes as 64 hexadecimal digits. It is created (mode 0600, in a
directory created 0700 when missing) by `etablera init`, or by the first registration
that needs it; a concurrent creator never replaces a key another wrote first (the new
file is linked into place, which fails if one is there). The key is never logged or
printed. Back it up apart from the database: without it, the numbers the chain bound
can no longer be checked (verify reports it), and a new key cannot check the old ones.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import Engine

from etablera.models.keeping import for_the_run
from etablera.statemachine.errors import EtableraError

ENV_FILE = "ETABLERA_AUDIT_KEY_FILE"
FILE_NAME = "audit.key"
SERVER_DEFAULT = Path("var") / FILE_NAME
KEY_BYTES = 32


class AuditKeyError(EtableraError):
    """The key file exists but cannot be used (unreadable, or not 64 hexadecimal digits).
    Exit 1; the message names the file, never its content."""


def key_path(engine: Engine) -> Path:
    """Where the audit key of `engine`'s database is kept."""
    env = os.environ.get(ENV_FILE, "")
    if env:
        return Path(env).absolute()
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        return (Path(database).parent / FILE_NAME).absolute()
    return SERVER_DEFAULT.absolute()


def load_key(engine: Engine, *, create: bool = False) -> bytes | None:
    """The audit key of `engine`'s database; None when there is none and `create` is false.
    Its path is found once in a command's or a worker's run (models/keeping.for_the_run:
    asking the environment and the working directory again at every registration was more
    than half of the key's lookup, 9.0 µs of it)."""
    path = for_the_run(("audit key", engine), lambda: key_path(engine))
    try:
        stat = path.stat()                  # one stat a registration: the key is there but once
    except FileNotFoundError:
        if not create:
            return None
        create_key(path)                    # (or another process did, first)
        stat = path.stat()
    return _read(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


def ensure_key(engine: Engine) -> tuple[Path, bool]:
    """Create the key when missing (etablera init): (its path, whether it was created now)."""
    path = key_path(engine)
    if path.exists():
        _read(str(path), *_identity(path))          # refuse a damaged key now, not at the first registration
        return path, False
    return path, create_key(path)


def create_key(path: Path) -> bool:
    """Write a new random key to `path` (0600) unless one is there; True if this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")       # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(KEY_BYTES) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True
    finally:
        os.unlink(temp)


def _identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=16)
def _read(path: str, inode: int, mtime_ns: int, size: int) -> bytes:
    """The key in the file at `path` (cached while the file is the same file, unchanged)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise AuditKeyError("audit_key_not_valid", field="audit_key", file=path)
    return key
