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
from typing import Literal

from pydantic import Field

from etablera.models.config_files import Positive, Section, Where, as_search, load, search_path

ENV_DIR = "ETABLERA_DOCUMENTS_DIR"
SERVER_DEFAULT = Path("var") / "documents"
MB = 1024 * 1024

# Every kind etablera can recognise by its content, with the file endings it goes by.
KNOWN_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "text/plain": (".txt",),
}
ContentType = Literal[tuple(KNOWN_TYPES)]  # type: ignore[valid-type]


class DocumentsFile(Section):
    """documents.toml: the document store of attached files."""
    directory: str = Field("", description="where the files are kept (relative to the working directory); empty: "
                                           "documents/ beside the SQLite database, or ./var/documents for "
                                           "PostgreSQL. ETABLERA_DOCUMENTS_DIR overrides it")
    max_bytes: Positive = Field(20 * MB, description="the largest file taken, in bytes")
    types: tuple[ContentType, ...] = Field(tuple(KNOWN_TYPES), min_length=1,
                                           description="the content types taken (each is also checked against "
                                                       "the file's own first bytes)")


@dataclass(frozen=True)
class DocumentSettings:
    directory: Path
    max_bytes: int
    types: tuple[str, ...]
    source: str | None            # the file (or environment variable) the directory came from

    def as_dict(self) -> dict:
        return {"directory": str(self.directory), "max_bytes": self.max_bytes, "types": list(self.types),
                "source": self.source}


@lru_cache(maxsize=8)
def load_documents_file(directory: Where) -> tuple[DocumentsFile, Path | None]:
    return load(DocumentsFile, "documents.toml", as_search(directory), required=False)


def document_settings(database: str | None = None) -> DocumentSettings:
    """The effective settings; `database`: the SQLite database file's path, if any (the
    default directory is beside it)."""
    file, path = load_documents_file(search_path())
    env = os.environ.get(ENV_DIR, "")
    if env:
        directory, source = Path(env), f"${ENV_DIR}"
    elif file.directory.strip():
        directory, source = Path(file.directory), str(path)
    elif database and database != ":memory:":
        directory, source = Path(database).parent / "documents", None
    else:
        directory, source = SERVER_DEFAULT, None
    return DocumentSettings(directory.absolute(), file.max_bytes, tuple(file.types), source)
