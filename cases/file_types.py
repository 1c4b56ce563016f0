"""What a file is, by its own bytes (never by the name or the type a client sends).

Each kind of models/document_settings.KNOWN_TYPES has a check over the file: its magic
bytes, and for the office formats (ZIP containers) the member that makes a ZIP a Word or
Excel document (OOXML) or an OpenDocument text or spreadsheet (its `mimetype` member).
Plain text is UTF-8 without NUL or other control characters than tab, line feed, form
feed and carriage return.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

HEAD = 64
_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_OOXML = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word/document.xml",
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xl/workbook.xml"}
_ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet")


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD)


def _zip_member(path: Path, name: str) -> bytes | None:
    try:
        with zipfile.ZipFile(path) as archive:
            if name not in archive.namelist():
                return None
            return archive.read(name) if name == "mimetype" else b"present"
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError):
        return None


def _is_text(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                if _TEXT_CONTROLS.search(chunk):
                    return False
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def is_kind(path: Path, content_type: str) -> bool:
    """Whether the file at `path` is of `content_type` by its own bytes."""
    head = _head(path)
    if content_type == "application/pdf":
        return head.startswith(b"%PDF-")
    if content_type == "image/png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if content_type == "image/jpeg":
        return head.startswith(b"\xff\xd8\xff")
    if content_type == "image/gif":
        return head.startswith((b"GIF87a", b"GIF89a"))
    if content_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if content_type in _OOXML:
        return head.startswith(b"PK\x03\x04") and _zip_member(path, _OOXML[content_type]) is not None
    if content_type in _ODF:
        return head.startswith(b"PK\x03\x04") and _zip_member(path, "mimetype") == content_type.encode()
    if content_type == "text/plain":
        return _is_text(path)
    return False


def kind_of(path: Path, allowed: tuple[str, ...]) -> str | None:
    """The first of `allowed` the file is (plain text last: most files are not text, and
    any text is also valid as itself)."""
    ordered = [t for t in allowed if t != "text/plain"] + [t for t in allowed if t == "text/plain"]
    return next((t for t in ordered if is_kind(path, t)), None)
