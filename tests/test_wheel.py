"""The package as users get it: the wheel, installed into a fresh virtual environment outside
the repository, works from any directory (its configuration, templates, static files and
migrations travel inside it) and installs one top-level import name, `etablera`.

Also, without building anything: every third-party module the package imports comes from
a distribution that pyproject.toml declares (tests/ and benchmarks/ are dev-only)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from conftest import ROOT, free_port

DEV_ONLY = {"tests", "benchmarks"}
# Declared, never imported by name: another library loads them.
LOADED_BY_OTHERS = {
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect",
    "httptools": "uvicorn's HTTP parser, picked up when installed",
    "uvloop": "uvicorn's event loop, picked up when installed",
    "python-multipart": "starlette's request.form()",
}
NOT_SOURCE = {".venv", ".git", "build", "dist", "var", ".hypothesis", ".pytest_cache", "__pycache__"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _source_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in DEV_ONLY or NOT_SOURCE.intersection(parts) or parts[0].endswith(".egg-info"):
            continue
        files.append(path)
    return files


def _imported_modules(path: Path) -> set[str]:
    """The top-level names of every absolute import in a file, wherever it is (a function's
    lazy import counts as much as the module's)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normal(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group()) for req in project["dependencies"]}


def test_every_third_party_import_is_a_declared_dependency():
    declared = _declared()
    distributions = packages_distributions()
    undeclared, unknown = {}, {}
    for path in _source_files():
        for module in _imported_modules(path) - set(sys.stdlib_module_names) - {"__future__", "etablera"}:
            where = str(path.relative_to(ROOT))
            dists = {_normal(d) for d in distributions.get(module, ())}
            if not dists:
                unknown.setdefault(module, []).append(where)
            elif not dists & declared:
                undeclared.setdefault(f"{module} ({', '.join(sorted(dists))})", []).append(where)
    assert not unknown, f"imported, but no installed distribution provides it: {unknown}"
    assert not undeclared, f"imported by the package, not in pyproject.toml's dependencies: {undeclared}"


def test_every_declared_dependency_is_used():
    """A dependency nothing imports any more (transitions, once the process table replaced
    its machine) is dropped, not installed with every wheel for nothing."""
    distributions = packages_distributions()
    imported = set()
    for path in _source_files():
        for module in _imported_modules(path):
            imported.update(_normal(d) for d in distributions.get(module, ()))
    unused = _declared() - imported - set(LOADED_BY_OTHERS)
    assert not unused, f"declared in pyproject.toml, imported by nothing in the package: {sorted(unused)}"


# ------------------------------------------------------------------------------ the wheel

def _run(args: list, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-4000:])
    return result


def _copy_source(target: Path) -> Path:
    """The working tree as a clean source directory (pip builds in the tree it is given, so
    not in the repository: no build/ or egg-info left there, no checkout's caches packed)."""
    ignore = shutil.ignore_patterns(*NOT_SOURCE, "*.egg-info", "*.sqlite3*", "*.pyc", *DEV_ONLY)
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin directory of a fresh venv with the wheel installed, a working directory, its env)."""
    top = tmp_path_factory.mktemp("wheel")
    assert not top.resolve().is_relative_to(ROOT.resolve())
    timings = {}
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ETABLERA_", "PYTHON", "VIRTUAL_ENV", "PREFECT_"))}
    source = _copy_source(top / "source")
    wheels = top / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source], cwd=top, env=env)
    (wheel,) = wheels.glob("etablera-*.whl")
    timings["wheel"] = time.monotonic() - started

    # A venv without pip of its own (ensurepip costs more than the venv), filled by this
    # pip through --python, from pip's configured indexes; no byte-compiling of prefect & co.
    venv = top / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv], cwd=top, env=env)
    bin_dir = venv / "bin"
    _run([sys.executable, "-m", "pip", "--python", bin_dir / "python", "install", "-q", "--no-compile",
          "-c", ROOT / "constraints.txt", wheel], cwd=top, env=env, timeout=1800)
    timings["install"] = time.monotonic() - started - timings["wheel"]
    print(f"wheel built in {timings['wheel']:.0f} s, installed in {timings['install']:.0f} s")

    work = top / "work"
    work.mkdir()
    run_env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               "ETABLERA_DATABASE_URL": f"sqlite:///{work / 'etablera.sqlite3'}", "ETABLERA_ACTOR": "handl01",
               "PREFECT_HOME": str(top / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_API_URL": ""}
    return bin_dir, work, run_env


@pytest.mark.slow
def test_the_installed_wheel_works_outside_the_repository(installed):
    bin_dir, work, env = installed
    etablera = bin_dir / "etablera"

    _run([etablera, "init"], cwd=work, env=env)
    _run([etablera, "init"], cwd=work, env=env)                  # safe twice
    walk = _run([etablera, "demo", "--walkthrough"], cwd=work, env=env)
    assert walk.stdout.strip()
    doc = json.loads(_run([etablera, "config", "show", "--json"], cwd=work, env=env).stdout)
    site = _run([bin_dir / "python", "-c", "import etablera, pathlib; print(pathlib.Path(etablera.__file__).parent)"],
                cwd=work, env=env).stdout.strip()
    assert str(ROOT) not in site and site.startswith(str(bin_dir.parent))
    assert str(ROOT) not in json.dumps(doc), "the configuration came from the repository"
    assert site in json.dumps(doc), "the configuration did not come from the installed package"

    port = free_port()
    server = subprocess.Popen([etablera, "web", "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, f"etablera web exited: {server.stderr.read().decode()[-2000:]}"
                assert time.monotonic() < deadline, "etablera web did not listen within 60 s"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as page:
            assert page.status == 200
            html = page.read().decode()
        assert "<form" in html and 'name="password"' in html
        stylesheets = re.findall(r'href="(/static/[^"?]+)', html) or ["/static/app.css"]
        for static in stylesheets:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{static}", timeout=10) as response:
                assert response.status == 200 and response.read(), static
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    shown = _run([sys.executable, "-m", "pip", "--python", bin_dir / "python", "show", "-f", "etablera"],
                 cwd=work, env=env).stdout
    files = shown.split("Files:", 1)[1].split()
    top_level = {f.split("/", 1)[0] for f in files if not f.startswith("..")}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"etablera"}, sorted(top_level)
    for needed in ("etablera/config/timeframes.toml", "etablera/config/agreements/0581_norrkoping.toml",
                   "etablera/interfaces/http/templates/login.html", "etablera/interfaces/http/static/app.css",
                   "etablera/models/migrations/script.py.mako", "etablera/models/migrations/versions/0001_initial.py"):
        assert needed in files, needed
