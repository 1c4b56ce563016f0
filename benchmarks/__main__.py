"""Run every benchmark (or those named) and print one table.

    python -m benchmarks                 # all, default sizes
    python -m benchmarks transitions     # only bench_transitions.py
    python -m benchmarks --scale 0.1     # smaller cohorts for a quick look
    python -m benchmarks --postgres URL  # PostgreSQL server to use (default 127.0.0.1:5432/test)
    python -m benchmarks --rounds 5      # rounds of value and floor, interleaved (default 3)
    python -m benchmarks peers [--cases N] [--rounds N]   # etablera beside SpiffWorkflow and
                                         # transitions + SQLAlchemy ORM (needs the bench extra)

Each module starts with the load average (benchmarks/rounds.py), on stderr, and so does the table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time

import benchmarks
from benchmarks.rounds import load_line, print_load


def main() -> None:
    if sys.argv[1:2] == ["peers"]:
        from benchmarks.peers import main as peers
        sys.exit(peers(sys.argv[2:]))
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="benchmark modules to run (without bench_)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply cohort sizes")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workdir", default="var/bench", help="where benchmark databases go")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of value and floor, interleaved")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    # A PostgreSQL cohort's audit key defaults to ./var/audit.key in the working directory
    # (cases/audit_key.py): the benchmarks keep theirs in their own folder, for themselves
    # and the servers they start, unless one is chosen.
    os.environ.setdefault("ETABLERA_AUDIT_KEY_FILE", os.path.abspath(os.path.join(options.workdir, "audit.key")))
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if options.only:
        names = [n for n in names if n.removeprefix("bench_") in options.only]
    results = []
    first_load = load_line()
    for name in names:
        started = time.perf_counter()
        print_load()
        print(f"# {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        results += module.run(options)
        print(f"# {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if options.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
        return
    print(f"{first_load}; at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    headings = ["benchmark", "value", "raw floor", "ratio", "goal", "", "note"]
    rows = [headings] + [r.row() for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headings))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
