"""Validated configuration kept between commands, as Python keeps compiled modules.

Validating the configuration files is quick; importing the validators (pydantic and the
models built on it) is what a short command would pay for most: about 0.1 s of a
`case show`. So the plain values built from the validated files are kept in a snapshot,
named by what they were built from (each file's path and stamp, this code's own files,
the Python version), and read back as long as none of those changed. A changed, added or
removed file gives another name, so the files are validated again; nothing is ever read
from a snapshot of other files.

The snapshots are in `$ETABLERA_CACHE_DIR`, else `$XDG_CACHE_HOME/etablera`, else
`~/.cache/etablera`: a directory of the user's own (made 0700), each file written whole
(renamed into place) and read only when that user owns it and nobody else may write it.
Where nothing can be written, each command validates the files itself, as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
CACHE_ENV = "ETABLERA_CACHE_DIR"
KEEP = 64                  # snapshots of one kind kept (test runs make many configuration directories)
_CODE = Path(__file__).resolve().parent        # the modules that build the values


def cache_dir() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "etablera"


@lru_cache(maxsize=8)
def _code_stamp(builder: str) -> tuple:
    """The code that builds and shapes the values as it is now (models/ and the builder's
    own module): a snapshot made by an older build is never read."""
    stamps = []
    for entry in sorted(os.scandir(_CODE), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            st = entry.stat()
            stamps.append((entry.name, st.st_mtime_ns, st.st_size))
    st = os.stat(builder)
    return sys.version_info[:3], tuple(stamps), (builder, st.st_mtime_ns, st.st_size)


def kept(kind: str, source: tuple, build: Callable[[], T]) -> T:
    """`build()`'s value, read from the snapshot made from the same `source` (paths and
    stamps of what `build` reads) when there is one; else built, and kept for the next."""
    name = hashlib.sha256(repr((kind, source, _code_stamp(build.__code__.co_filename))).encode()).hexdigest()[:40]
    directory = cache_dir()
    path = directory / f"{kind}-{name}.pickle"
    value = _read(path)
    if value is not None:
        return value
    value = build()
    _write(directory, kind, path, value)
    return value


def _read(path: Path):
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return None
            return pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError):
        return None             # none yet, or not one this code can read: validated again


def _write(directory: Path, kind: str, path: Path, value) -> None:
    import tempfile             # only when a snapshot is made, not on every command

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{kind}-")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        _prune(directory, kind)
    except OSError:
        pass                    # a read-only home: each command validates the files itself


def _prune(directory: Path, kind: str) -> None:
    snapshots = sorted(directory.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime_ns)
    for old in snapshots[:-KEEP]:
        old.unlink(missing_ok=True)
