"""Anchors: every case's chain head kept in a signed file outside the database, so that a
database whose chains were rewritten (every hash recomputed after a change) is found.

A chain alone cannot show a rewrite: whoever can write the database can recompute every
hash after the event they changed. `etablera audit anchor` writes the heads as they are
(case id, last seq, last hash, by case id) with the time, signed with an HMAC-SHA256 under
the audit key (cases/audit_key.py, the same file that binds the identity numbers, under
its own domain prefix). `audit verify --anchor FILE` then requires each anchored head to
be on its chain still: the event at the anchored seq must have the anchored hash, so any
change at or before it is found, while events added since are fine (a chain only grows).

Keep anchors where the database's writers cannot reach them (another machine, write-once
storage, the auditor's mail): the signature shows that an anchor was made with the key;
the copy kept elsewhere is what shows that the database was not rewritten since. No
RFC 3161 time-stamping is done: no well-kept time-stamp protocol library is installed
with etablera (the `cryptography` package has none), so the time in an anchor is the
writer's own clock.

The file is JSON Lines, one canonical JSON value a line:

    {"created_at": ..., "format": "etablera-audit-anchor/1", "key_id": ...}
    [case_id, last_seq, "last_hash"]                       (one a case, by case id)
    {"cases": N, "events": E, "heads_sha256": ..., "signature": ...}

`signature` = HMAC-SHA256(key, "etablera/anchor/v1\\0" + every line before the last, as
written + the last line's JSON without `signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.cases.audit import CASES
from etablera.models.database import transaction
from etablera.models.timestamps import utcnow
from etablera.statemachine.binding import key_id, same
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code

FORMAT = "etablera-audit-anchor/1"
CONTEXT = b"etablera/anchor/v1\x00"
_CANONICAL = json.JSONEncoder(ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def _line(value) -> bytes:
    return (_CANONICAL.encode(value) + "\n").encode("ascii")


def default_name(now: datetime) -> Path:
    return Path(f"audit-anchor-{now.strftime('%Y%m%dT%H%M%SZ')}.jsonl")


def write_anchor(engine: Engine, key: bytes, output: Path | None = None, *, now: datetime | None = None) -> dict:
    """Write the anchor of every chain head to `output` (default: audit-anchor-TIME.jsonl in
    the working directory); never over an existing file. Returns what was written."""
    now = now or utcnow()
    path = Path(output or default_name(now)).absolute()
    if path.exists():
        raise BadInput("anchor_exists", field="output", file=Code(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = hmac.new(key, CONTEXT, hashlib.sha256)
    heads = hashlib.sha256()
    cases = events = 0
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".anchor-")
    try:
        with os.fdopen(fd, "wb") as out:
            def put(data: bytes) -> None:
                out.write(data)
                signer.update(data)
            put(_line({"format": FORMAT, "created_at": now.isoformat(), "key_id": key_id(key)}))
            with transaction(engine, write=False) as conn:
                query = select(CASES.c.id, CASES.c.last_seq, CASES.c.last_hash).order_by(CASES.c.id)
                for row in conn.execution_options(yield_per=10_000).execute(query):
                    line = _line([row.id, row.last_seq, row.last_hash])
                    put(line)
                    heads.update(line)
                    cases += 1
                    events += row.last_seq
            trailer = {"cases": cases, "events": events, "heads_sha256": heads.hexdigest()}
            signer.update(_CANONICAL.encode(trailer).encode("ascii"))
            out.write(_line({**trailer, "signature": signer.hexdigest()}))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        try:
            os.link(temp, path)
        except FileExistsError:
            raise BadInput("anchor_exists", field="output", file=Code(str(path))) from None
    finally:
        os.unlink(temp)
    return {"file": str(path), "created_at": now.isoformat(), "cases": cases, "events": events,
            "key_id": key_id(key), "heads_sha256": trailer["heads_sha256"]}


@dataclass
class Anchor:
    """An anchor file read and its signature checked: `problem` (a catalogue code) says why
    it cannot be trusted, None when it can; `heads()` reads its heads again."""
    path: Path
    created_at: str
    cases: int
    events: int
    key_id: str
    problem: str | None = None
    problem_params: dict = field(default_factory=dict)

    def heads(self) -> Iterator[tuple[int, int, str]]:
        with self.path.open("rb") as lines:
            next(lines)
            previous = next(lines, None)
            for line in lines:
                case_id, seq, digest = json.loads(previous)
                yield case_id, seq, digest
                previous = line

    def as_dict(self) -> dict:
        return {"file": str(self.path), "created_at": self.created_at, "cases": self.cases, "events": self.events,
                "key_id": self.key_id, "signature_ok": self.problem is None}


def read_anchor(path: Path, key: bytes | None) -> Anchor:
    """The anchor in `path`, its shape checked (BadInput naming `anchor` otherwise) and its
    signature checked under `key` (a mismatch is the anchor's `problem`, for verify to
    report as a break)."""
    path = Path(path).absolute()

    def refuse(problem: str) -> BadInput:
        return BadInput("anchor_not_valid", field="anchor", file=Code(str(path)), problem=Code(problem))
    signer = hmac.new(key or b"", CONTEXT, hashlib.sha256)
    heads = hashlib.sha256()
    try:
        lines = path.open("rb")
    except OSError:
        raise BadInput("anchor_not_readable", field="anchor", file=Code(str(path))) from None
    with lines:
        first = lines.readline()
        try:
            header = json.loads(first)
        except ValueError:
            raise refuse("the first line is not JSON") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise refuse(f"the first line does not name {FORMAT}")
        signer.update(first)
        count, last_id, previous = 0, None, None
        for line in lines:
            if previous is not None:
                try:
                    case_id, seq, digest = json.loads(previous)
                except ValueError:
                    raise refuse(f"line {count + 2} is not a chain head") from None
                if not (isinstance(case_id, int) and isinstance(seq, int) and isinstance(digest, str)) or \
                        (last_id is not None and case_id <= last_id):
                    raise refuse(f"line {count + 2} is not a chain head in case order")
                signer.update(previous)
                heads.update(previous)
                last_id, count = case_id, count + 1
            previous = line
        try:
            trailer = json.loads(previous or b"")
        except ValueError:
            raise refuse("the last line is not JSON") from None
        if not isinstance(trailer, dict) or not {"cases", "events", "signature"} <= set(trailer):
            raise refuse("the last line is not the anchor's signature")
    anchor = Anchor(path, str(header.get("created_at")), trailer["cases"], trailer["events"],
                    str(header.get("key_id")))
    signer.update(_CANONICAL.encode({k: v for k, v in trailer.items() if k != "signature"}).encode("ascii"))
    if key is None:
        anchor.problem = "audit_anchor_no_key"
    elif anchor.key_id != key_id(key):
        anchor.problem, anchor.problem_params = "audit_anchor_other_key", {"anchored": Code(anchor.key_id),
                                                                           "current": Code(key_id(key))}
    elif not same(signer.hexdigest(), str(trailer["signature"])) or trailer["cases"] != count or \
            trailer.get("heads_sha256") != heads.hexdigest():
        anchor.problem = "audit_anchor_signature"
    return anchor
