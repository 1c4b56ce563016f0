"""documents.toml: where attached documents are stored, how large one may be, and which
kinds are taken (cases/documents.py, cases/document_store.py).

The files live outside the database, in a directory of their own:

  1. `$ETABLERA_DOCUMENTS_DIR` when set (a deployment's override),
  2. `directory` of documents.toml (relative to the working directory),
  3. by default `documents/` beside the SQLite database file, or `./var/documents` for a
     server database (PostgreSQL).

A kind is taken only if it is listed under `types` here AND the file's first bytes are
that kind (cases/file_types.py): the content type a client sends is never trusted alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from etablera.models.config_lookup import Where, as_search, find_stamped, search_path
from etablera.models.snapshot import kept

ENV_DIR = "ETABLERA_DOCUMENTS_DIR"
SERVER_DEFAULT = Path("var") / "documents"
FILE = "documents.toml"          # its schema: config_schema.DocumentsFile


@dataclass(frozen=True)
class DocumentSettings:
    directory: Path
    max_bytes: int
    types: tuple[str, ...]
    source: str | None            # the file (or environment variable) the directory came from

    def as_dict(self) -> dict:
        return {"directory": str(self.directory), "max_bytes": self.max_bytes, "types": list(self.types),
                "source": self.source}


def load_documents_file(directory: Where):
    """documents.toml validated (config_schema.DocumentsFile), and the file it came from."""
    from etablera.models.config_files import load
    from etablera.models.config_schema import DocumentsFile

    return load(DocumentsFile, FILE, as_search(directory), required=False)


@lru_cache(maxsize=8)
def _values(search: tuple[Path, ...], path: Path | None, stamp: tuple | None) -> tuple[str, int, tuple[str, ...]]:
    def validated():
        file = load_documents_file(search)[0]
        return file.directory, file.max_bytes, tuple(file.types)
    return kept("documents", (tuple(map(str, search)), str(path), stamp), validated)


def document_settings(database: str | None = None) -> DocumentSettings:
    """The effective settings; `database`: the SQLite database file's path, if any (the
    default directory is beside it)."""
    search = search_path()
    path, stamp = find_stamped(FILE, search)
    named, max_bytes, types = _values(search, path, stamp)
    env = os.environ.get(ENV_DIR, "")
    if env:
        directory, source = Path(env), f"${ENV_DIR}"
    elif named.strip():
        directory, source = Path(named), str(path)
    elif database and database != ":memory:":
        directory, source = Path(database).parent / "documents", None
    else:
        directory, source = SERVER_DEFAULT, None
    return DocumentSettings(directory.absolute(), max_bytes, types, source)
