"""Long CLI jobs show a progress bar with an estimate, on a terminal only: never inside
--json (stdout stays exactly one document) and never when stderr is a file or a pipe."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from conftest import ROOT


def _run(args: list[str], env: dict, *, terminal: bool) -> tuple[str, str]:
    """`etablera ARGS` with stderr on a pseudo-terminal (or a pipe); returns (stdout, stderr)."""
    command = [sys.executable, "-m", "etablera.interfaces.cli.main", *args]
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=env, cwd=ROOT) as process:
        os.close(follower)
        err = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:            # the terminal closed with the process
                break
            if not chunk:
                break
            err += chunk
        out = process.stdout.read()
        if process.wait(timeout=120) != 0:
            raise AssertionError(err.decode(errors="replace"))
    os.close(leader)
    return out.decode(), err.decode(errors="replace")


def test_demo_shows_a_bar_with_an_estimate_on_a_terminal_only(cli_env):
    subprocess.run([sys.executable, "-m", "etablera.interfaces.cli.main", "init"], env=cli_env, cwd=ROOT,
                   check=True, capture_output=True)
    out, err = _run(["demo", "--cases", "6000"], cli_env, terminal=True)
    assert "Skapar ärenden" in err and "100%" in err and "6000/6000" in err
    assert "Skapar ärenden" not in out
    out, err = _run(["demo", "--cases", "3000", "--json", "--lang", "en"], cli_env, terminal=True)
    assert json.loads(out)["cases"] == 3000            # stdout: exactly one document
    assert "Creating cases" not in err and "%" not in err
    out, err = _run(["demo", "--cases", "3000"], cli_env, terminal=False)
    assert "Skapar ärenden" not in err and "%" not in err


def test_recompute_shows_its_bar_on_a_terminal(cli_env):
    subprocess.run([sys.executable, "-m", "etablera.interfaces.cli.main", "demo", "--cases", "3000"], env=cli_env,
                   cwd=ROOT, check=True, capture_output=True)
    out, err = _run(["deadlines", "recompute", "--dry-run", "--lang", "en"], cli_env, terminal=True)
    assert "Recomputing" in err and "100%" in err
    assert "Recomputing" not in out and "running cases" in out
