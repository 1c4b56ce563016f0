"""Where the configuration files are and how a broken one is reported, without pydantic:
what a command's read path needs (the lookup, the errors, a label) costs no import of the
validating models (config_files.py, which holds the reading and validation).

Each file, and the agreements folder, is taken from the first directory that has it:

  1. `$ETABLERA_CONFIG_DIR` (a municipality's own configuration),
  2. `./config` in the working directory,
  3. the defaults shipped inside the package (`etablera.config`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Union

import etablera.config
from etablera.models.keeping import for_the_run

ENV = "ETABLERA_CONFIG_DIR"
DEFAULT_DIR = Path(etablera.config.__file__).resolve().parent     # the packaged defaults


# ---------------------------------------------------------------------------- errors

@dataclass(frozen=True)
class ConfigIssue:
    """One problem of one file: `file: field: message` (and the agreement rule it breaks)."""
    file: str
    field: str          # key path, e.g. "tracks[2].employers"; "(file)" when the file itself is the problem
    rule: str           # an agreement's rule id, e.g. "min_three_tracks"; "" in the other files
    message: str

    def __str__(self) -> str:
        return f"{shown(self.file)}: {self.field}: {self.message}" + (f" [rule {self.rule}]" if self.rule else "")

    def as_dict(self) -> dict:
        return {"file": self.file, "field": self.field, "rule": self.rule, "message": self.message}


class ConfigError(ValueError):
    """A configuration file is missing or broken; `issues` lists every problem, one line each."""

    def __init__(self, issues: str | list[ConfigIssue]):
        self.issues = [] if isinstance(issues, str) else list(issues)
        super().__init__(issues if isinstance(issues, str) else "\n".join(map(str, self.issues)) or "broken")

    @property
    def field(self) -> str | None:
        return self.issues[0].field if self.issues else None


def shown(path: str | Path) -> str:
    """A path as people read it: relative to the working directory when inside it."""
    try:
        return str(Path(path).absolute().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


# ---------------------------------------------------------------------------- lookup

Where = Union[Path, str, tuple[Path, ...], None]


def search_path() -> tuple[Path, ...]:
    """The directories a file is looked for in, first first (cached per environment and
    working directory). Found once in a command's or a worker's run
    (models/keeping.for_the_run): every file of the run (the configuration, the agreements,
    the reminder ladder, the document settings) comes from one search path, and asking the
    environment for an unset name (os.environ raises and catches two KeyErrors) and the
    working directory at every step was 3% of a persisted step."""
    return for_the_run("config search path", _looked_up)


def _looked_up() -> tuple[Path, ...]:
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    return _search_path(os.environ.get(ENV, ""), cwd)


@lru_cache(maxsize=16)
def _search_path(env: str, cwd: str) -> tuple[Path, ...]:
    dirs = []
    if env:
        given = Path(cwd, env) if cwd else Path(env)
        if not given.is_dir():
            raise ConfigError([ConfigIssue(env, "(directory)", "", f"{ENV} names no directory")])
        dirs.append(given)
    if cwd and (Path(cwd) / "config").is_dir():
        dirs.append(Path(cwd) / "config")
    return _unique([*dirs, DEFAULT_DIR])


def as_search(where: Where) -> tuple[Path, ...]:
    """None: the lookup; a directory given in code: that directory, then the packaged defaults."""
    if where is None:
        return search_path()
    if isinstance(where, tuple):
        return where
    return _unique([Path(where), DEFAULT_DIR])


def _unique(dirs: list[Path]) -> tuple[Path, ...]:
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return tuple(out)


def find(name: str, search: tuple[Path, ...]) -> Path | None:
    """The first `dir/name` of the search path that exists (a file, or the agreements folder)."""
    return next((d / name for d in search if (d / name).exists()), None)


def find_stamped(name: str, search: tuple[Path, ...]) -> tuple[Path | None, tuple | None]:
    """`find`, with the file's stamp (change time, size, inode) for a cache that reads the
    file again when it changes: (None, None) when there is no such file."""
    path = find(name, search)
    if path is None:
        return None, None
    try:
        st = path.stat()
    except OSError:
        return None, None
    return path, (st.st_mtime_ns, st.st_size, st.st_ino)



# ---------------------------------------------------------------------------- words

@dataclass(frozen=True)
class Label:
    sv: str
    en: str

    def __call__(self, lang: str = "sv") -> str:
        return self.en if lang == "en" else self.sv
