"""The document store: attached files, outside the database, in one directory.

A file is kept under a generated key (32 hexadecimal digits from a UUID4, in a
subdirectory named by its first two), never under the name it was uploaded with nor any
path a user gave. A key is resolved strictly inside the store's directory: anything that
is not such a key (`../../etc/passwd`, an absolute path, a link out of it) is refused
before the file system is asked.

Writing is two steps, so nothing is left behind by a refusal: `receive` streams the
content into a temporary file in the store (counting and hashing it, stopping at the
size limit), the use case checks what it got, and `keep` moves it under its key and
fsyncs the file and the directory; `discard` removes a temporary file, `remove` a kept
one (when the database transaction that would record it fails).

Only a directory on the local file system (or one mounted into it) is supported: no
S3-compatible client library is installed with etablera.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from sqlalchemy.engine import Engine

from etablera.models.document_settings import DocumentSettings, document_settings
from etablera.statemachine.errors import BadInput, EtableraError

KEY = re.compile(r"[0-9a-f]{32}\Z")
CHUNK = 1 << 20
TEMP_PREFIX = ".incoming-"


class DocumentUnavailable(EtableraError):
    """A recorded document whose file cannot be given as it was recorded: missing, altered
    or under a key the store refuses. Exit 1, HTTP 410 (gone as recorded)."""
    exit_code = 1
    http_status = 410


@dataclass(frozen=True)
class Received:
    """Content streamed into the store, not yet kept."""
    path: Path
    size: int
    sha256: str


class DocumentStore:
    def __init__(self, directory: Path):
        self.root = Path(directory).absolute()

    def path_of(self, key: str) -> Path:
        """The file of `key`, strictly inside the store (refused otherwise)."""
        if not isinstance(key, str) or not KEY.match(key):
            raise DocumentUnavailable("document_key_not_valid", field="document")
        path = self.root / key[:2] / key
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise DocumentUnavailable("document_key_not_valid", field="document")
        return path

    def receive(self, chunks: Iterable[bytes], max_bytes: int, *, too_large: dict) -> Received:
        """Stream `chunks` into a temporary file of the store, hashing and counting; over
        `max_bytes` the file is removed and BadInput(file_too_large, **too_large) raised."""
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        digest, size = hashlib.sha256(), 0
        try:
            with open(temp, "xb") as fh:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BadInput("file_too_large", field="file", **too_large)
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Received(temp, size, digest.hexdigest())

    def keep(self, received: Received) -> str:
        """Move received content under a new key (fsynced); returns the key."""
        key = uuid.uuid4().hex
        path = self.path_of(key)
        path.parent.mkdir(exist_ok=True)
        os.replace(received.path, path)
        for directory in (path.parent, self.root):
            fsync_dir(directory)
        return key

    def discard(self, received: Received) -> None:
        received.path.unlink(missing_ok=True)

    def remove(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def digest(self, key: str) -> tuple[str, int] | None:
        """The SHA-256 and size of the file of `key`, or None if there is no such file."""
        try:
            with open(self.path_of(key), "rb") as fh:
                digest, size = hashlib.sha256(), 0
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    digest.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest(), size

    def read(self, key: str) -> bytes | None:
        """The content of `key`, or None if there is no such file."""
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            return None


def fsync_dir(directory: Path) -> None:
    """Make a file's creation or rename in `directory` durable (where the platform allows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return                          # a platform without directory fsync
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def settings_for(engine: Engine) -> DocumentSettings:
    """The document settings for the database of `engine` (the default directory is
    beside a SQLite database file)."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    return document_settings(database)


def store_for(engine: Engine) -> DocumentStore:
    return DocumentStore(settings_for(engine).directory)
