"""`python -m benchmarks peers [--cases N] [--rounds R]`: etablera beside its peers on the
same work, in one process, interleaved.

Every contestant gets a fresh SQLite file per round and the same N newcomers (1,000 by
default): each is registered, then taken through four persisted steps (hold the talk,
establish the plan, put on hold, resume), step by step across the cases, one committed
transaction per step with its history row:

- etablera: the use cases themselves (`register`, `advance`: version check, hash-chained
  audit event, due dates), as benchmarks/bench_core.py measures them, registration and
  steps alike on one connection kept for the slice (models/keeping.py), as a command or a
  worker runs them and as the SpiffWorkflow peer keeps its own; followed in the same round
  by bench_core's raw-SQL floor over the same cases;
- SpiffWorkflow: process.bpmn with user tasks, the workflow serialized per step
  (peers/spiff.py);
- transitions + SQLAlchemy ORM: a python-transitions machine and an ORM model, one
  session commit per step (peers/orm.py).

The contestants take turns within a round, a slice of 100 cases at a time (registration,
then each step), the order turning every slice, and each one's time is summed over its
slices: a burst of load on the shared machine falls on all of them alike. The raw floor
runs its slices on a copy of etablera's database taken after registration. Each figure
is printed as a ratio to etablera in the same round, min/median/max over the rounds. The peers are the
optional `bench` extra (`pip install -e '.[bench]'`), never a runtime dependency.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from benchmarks.rounds import print_load, spread

EXTRA = ("SpiffWorkflow", "transitions")
SLICE = 100


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks peers")
    parser.add_argument("--cases", type=int, default=1_000, help="newcomers per contestant and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each on fresh databases")
    parser.add_argument("--workdir", default="var/bench", help="where the SQLite files go")
    options = parser.parse_args(argv)
    missing = [name for name in EXTRA if not _installed(name)]
    if missing:
        print(f"python -m benchmarks peers needs the bench extra ({', '.join(missing)} not installed): "
              "pip install -e '.[bench]'", file=sys.stderr)
        return 1
    if options.cases < 1 or options.rounds < 1:
        parser.error("--cases and --rounds must be at least 1")
    print_load(sys.stdout)
    from benchmarks.bench_core import people

    workdir = Path(options.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    versions = {name: importlib.metadata.version(name) for name in (*EXTRA, "SQLAlchemy")}
    names = {"etablera": "etablera", "spiff": f"SpiffWorkflow {versions['SpiffWorkflow']} (BPMN, serialized)",
             "orm": f"transitions {versions['transitions']} + SQLAlchemy {versions['SQLAlchemy']} ORM",
             "floor": "raw SQL floor (bench_core's, steps only)"}
    print(f"{options.cases:,} cases each registered and taken through 4 persisted steps, SQLite; "
          f"{options.rounds} round(s), the contestants taking turns {SLICE} cases at a time", flush=True)
    started = time.perf_counter()
    newcomers = people(options.cases)
    _round(workdir, newcomers[:20])            # warm-up: imports, the parsed BPMN, etablera's configuration
    figures = [_round(workdir, newcomers) for _ in range(options.rounds)]
    rows = [("", "steps/s min/median/max", "× etablera min/median/max", "registrations/s median", "× etablera")]
    for key, label in names.items():
        steps = [f[key]["steps"] for f in figures]
        ratios = [f[key]["steps"] / f["etablera"]["steps"] for f in figures]
        registered = [f[key]["registered"] for f in figures if "registered" in f[key]]
        rows.append((label, spread(steps, 0), spread(ratios, 2),
                     f"{statistics.median(registered):,.0f}" if registered else "",
                     f"{statistics.median(r / f['etablera']['registered'] for r, f in zip(registered, figures)):.2f}"
                     if registered else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"etablera / raw floor: {spread([f['etablera']['steps'] / f['floor']['steps'] for f in figures], 2)}; "
          f"{time.perf_counter() - started:.0f} s; load average at end: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _round(workdir: Path, newcomers: list[str]) -> dict:
    """One round on fresh databases: registration, then each step of WALK, the
    contestants taking turns a slice at a time. Returns each one's rates."""
    from benchmarks.bench_core import WALK
    from benchmarks.peers.orm import Orm
    from benchmarks.peers.spiff import Spiff

    contestants = {"etablera": Etablera(_fresh(workdir / "peers-etablera.sqlite3")),
                   "spiff": Spiff(_fresh(workdir / "peers-spiff.sqlite3")),
                   "orm": Orm(_fresh(workdir / "peers-orm.sqlite3"))}
    spent = {key: {"registered": 0.0, "steps": 0.0} for key in (*contestants, "floor")}
    ids: dict[str, list[int]] = {key: [] for key in (*contestants, "floor")}
    slices = [newcomers[i:i + SLICE] for i in range(0, len(newcomers), SLICE)]
    turn = 0
    try:
        for part in slices:
            for key in _turn(list(contestants), turn):
                contestant = contestants[key]
                started = time.perf_counter()
                ids[key] += contestant.registers(part, "0581")
                spent[key]["registered"] += time.perf_counter() - started
            turn += 1
        contestants["floor"] = Floor(contestants["etablera"], workdir / "peers-floor.sqlite3")
        ids["floor"] = ids["etablera"]
        for k, (step, data) in enumerate(WALK):
            for start in range(0, len(newcomers), SLICE):
                for key in _turn(list(contestants), turn):
                    contestant, part = contestants[key], ids[key][start:start + SLICE]
                    started = time.perf_counter()
                    contestant.steps(part, step, data, k)
                    spent[key]["steps"] += time.perf_counter() - started
                turn += 1
        for key, end in (("etablera", "module2.preparing"), ("spiff", "assess"), ("orm", "module2.preparing")):
            if contestants[key].where(ids[key][-1]) != end:
                raise RuntimeError(f"{key} ended in {contestants[key].where(ids[key][-1])}, not {end}")
    finally:
        for contestant in contestants.values():
            contestant.close()
    count = len(newcomers)
    return {key: {"steps": count * len(WALK) / spent[key]["steps"]}
            | ({"registered": count / spent[key]["registered"]} if key != "floor" else {}) for key in spent}


def _turn(keys: list[str], turn: int) -> list[str]:
    k = turn % len(keys)
    return keys[k:] + keys[:k]


def _fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


class Etablera:
    """etablera's use cases as bench_core drives them (`register`, `advance`)."""
    name = "etablera"

    def __init__(self, path: Path):
        from benchmarks.bench_core import registrar, stepper
        from etablera.models.database import make_engine, upgrade

        self.path = path
        self.engine = make_engine(f"sqlite:///{path}")
        upgrade(self.engine)
        self._register, self._step = registrar(self.engine), stepper(self.engine)

    def registers(self, people: list[str], municipality: str) -> list[int]:
        from etablera.models.keeping import keep_connections

        with keep_connections():            # one connection for the run, as for the steps below
            return [self._register(person) for person in people]

    def steps(self, ids: list[int], step: str, data: dict, k: int) -> None:
        from etablera.models.keeping import keep_connections

        with keep_connections():            # one connection for the run, as the SpiffWorkflow peer keeps its own
            for case_id in ids:
                self._step(case_id, step, dict(data))

    def where(self, case_id: int) -> str:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT state FROM cases WHERE id = ?", (case_id,)).scalar_one()

    def close(self) -> None:
        self.engine.dispose()


class Floor:
    """bench_core's raw floor (plain SQL: read, version-checked update, history insert,
    commit per step) on a copy of etablera's database as registration left it."""
    name = "raw SQL floor"

    def __init__(self, registered: Etablera, path: Path):
        from etablera.models.database import make_engine

        source, target = sqlite3.connect(registered.path), sqlite3.connect(_fresh(path))
        source.backup(target)
        source.close()
        target.close()
        self.engine = make_engine(f"sqlite:///{path}")

    def steps(self, ids: list[int], step: str, data: dict, k: int) -> None:
        from benchmarks.bench_core import raw_floor
        raw_floor(self.engine, ids, 1, first=k)

    def close(self) -> None:
        self.engine.dispose()
