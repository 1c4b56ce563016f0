"""The benchmarks' own plumbing (issue 17 items 6 and 7), never their figures: nothing here
is timed. `python -m benchmarks peers` prints etablera, SpiffWorkflow and the transitions +
SQLAlchemy ORM baseline with their ratios to etablera (when the `bench` extra is
installed), says in one line that the extra is missing otherwise, and every benchmark
starts with the load average (benchmarks/rounds.py)."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPREAD = r"\d[\d,.]*/\d[\d,.]*/\d[\d,.]*"
EXTRA_MISSING = [name for name in ("SpiffWorkflow", "transitions") if importlib.util.find_spec(name) is None]


@pytest.fixture
def bench(monkeypatch):
    """The repository's `benchmarks` package, importable as `python -m benchmarks` sees it."""
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks.rounds
    return benchmarks


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
@pytest.mark.skipif(bool(EXTRA_MISSING), reason=f"the bench extra is not installed ({', '.join(EXTRA_MISSING)} "
                    "missing): pip install -c constraints.txt -e '.[bench]'")
def test_peers_prints_the_three_contestants_and_their_ratios(tmp_path):
    done = _run(["peers", "--cases", "20", "--rounds", "1", "--workdir", str(tmp_path)], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# load average at start:")
    rows = {line.split()[0]: line for line in lines[3:-1]}
    assert re.search(rf"^etablera\s+{SPREAD}\s+1\.00/1\.00/1\.00\s+[\d,]+\s+1\.00$", rows["etablera"])
    for name in ("SpiffWorkflow", "transitions"):
        assert re.search(rf"\s{SPREAD}\s+\d+\.\d\d/\d+\.\d\d/\d+\.\d\d\s+[\d,]+\s+\d+\.\d\d$", rows[name]), rows[name]
    assert "SQLAlchemy" in rows["transitions"] and "ORM" in rows["transitions"]
    assert re.search(rf"^raw SQL floor .*\s{SPREAD}\s+\d+\.\d\d/\d+\.\d\d/\d+\.\d\d$", rows["raw"])
    assert re.search(r"^etablera / raw floor: \d+\.\d\d/\d+\.\d\d/\d+\.\d\d;", lines[-1])


def test_peers_without_the_extra_says_so_in_one_line(bench, monkeypatch, capsys):
    import benchmarks.peers as peers
    monkeypatch.setattr(peers, "_installed", lambda name: name != "SpiffWorkflow")
    assert peers.main(["--cases", "1"]) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "SpiffWorkflow" in err and "[bench]" in err


def test_every_benchmark_starts_with_the_load_line(bench, monkeypatch, capsys, tmp_path):
    """python -m benchmarks prints the load line before each module it runs (the modules
    themselves replaced by stand-ins here), and the table starts with it."""
    import benchmarks.__main__ as runner
    # The runner sets the benchmarks' audit key file in the environment when none is set:
    # this test's own, so that no later test finds its key moved (tests/test_backup.py did).
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    ran = []

    def stand_in(name):
        ran.append(name)
        return types.SimpleNamespace(run=lambda options: [bench.Result(name, 1.0, "s", floor=0.5)])
    monkeypatch.setattr(runner.importlib, "import_module", stand_in)
    monkeypatch.setattr(sys, "argv", ["python -m benchmarks"])
    runner.main()
    out, err = capsys.readouterr()
    modules = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert [name.removeprefix("benchmarks.") for name in ran] == modules
    lines = err.splitlines()
    for name in modules:
        at = lines.index(f"# {name} ...")
        assert lines[at - 1].startswith("# load average at start:"), name
    assert out.splitlines()[0].startswith("# load average at start:")


@pytest.mark.slow
def test_a_real_benchmark_starts_with_the_load_line(tmp_path):
    """The cheapest one, as a user runs it: the load line first, min/median/max and the
    ratio to its floor in the table."""
    done = _run(["request_log", "--scale", "0.05", "--workdir", str(tmp_path)], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.splitlines()[0].startswith("# load average at start:")
    assert done.stdout.splitlines()[0].startswith("# load average at start:")
    row = next(line for line in done.stdout.splitlines() if line.startswith("request log"))
    assert re.search(rf"\d+\.\d\d×.*3 rounds, min/median/max {SPREAD} µs; ratio {SPREAD}", row)


def test_rounds_interleave_and_summarise(bench):
    from benchmarks.rounds import interleaved, load_line, result, spread
    assert re.fullmatch(r"# load average at start: [\d.]+ [\d.]+ [\d.]+ \(\d+ CPUs\)", load_line())
    order = []
    figures = interleaved({"a": lambda r: order.append(("a", r)) or 10.0 + r,
                           "b": lambda r: order.append(("b", r)) or 5.0}, rounds=3)
    assert order == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert figures == {"a": [10.0, 11.0, 12.0], "b": [5.0, 5.0, 5.0]}
    assert spread([3.0, 1.0, 2.0], 2) == "1.00/2.00/3.00"
    row = result("x", figures["a"], figures["b"], "s", goal="≤ 20 s", met=True)
    assert (row.value, row.floor, row.ratio) == (11.0, 5.0, 2.2)
    assert "3 rounds, min/median/max 10.0/11.0/12.0 s; ratio 2.00/2.20/2.40" in row.note
    assert row.row()[3] == "2.20×"
