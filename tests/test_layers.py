"""Imports go one way: interfaces -> flows -> use cases (cases, access, reminders, reports,
demo) -> statemachine -> models, and no module imports one that imports it back, not even
inside a function (where a cycle hides until the day the order of imports changes).

Read from the source with `ast`, every import statement of every module counted, those in
functions included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = {".venv", "tests", "benchmarks", "build", "dist"}
LAYER = {"models": 0, "statemachine": 1, "cases": 2, "access": 2, "reminders": 2, "reports": 2, "demo": 2,
         "flows": 3, "interfaces": 4, "stack": 4}
# The catalogue of words and the refusal types are the product's vocabulary: a configuration
# schema in models/ names its refusals with them. They import no model (the cycle test holds).
VOCABULARY = {"statemachine.errors", "statemachine.messages"}
# A data migration is a snapshot of its day that may rehash the chains with the code of its day.
MIGRATIONS = "models.migrations."


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if LEFT_OUT & set(parts):
            continue
        name = ".".join(parts)
        found[name.removesuffix(".__init__") if name != "__init__" else ""] = path
    found.pop("", None)
    return found


def _imports() -> dict[str, set[str]]:
    modules = _modules()

    def resolve(name: str) -> str | None:
        name = name.removeprefix("etablera.")
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                # `from package import module` imports the module; `from module import name` the module
                names = [f"{base}.{a.name}" for a in node.names] if base else []
                names = [n for n in names if resolve(n) == n.removeprefix("etablera.")] or [base]
            else:
                continue
            for name in names:
                if not (name.startswith("etablera.") or name.split(".")[0] in LAYER):
                    continue
                target = resolve(name)
                if target and target != module:
                    targets.add(target)
        edges[module] = targets
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_reader_sees_imports_inside_functions():
    edges = _imports()
    assert "cases.audit" in edges["access.scope"]                      # at the top
    assert "cases.replay" in edges["cases.audit"]                      # inside check()
    assert "interfaces.cli.hints" in edges["interfaces.cli.main"]      # inside _refuse()


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_imports()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_go_one_way():
    wrong = []
    for module, targets in _imports().items():
        layer = LAYER.get(module.split(".")[0])
        if layer is None or module.startswith(MIGRATIONS):
            continue
        for target in targets:
            if LAYER.get(target.split(".")[0], -1) > layer and not (layer == 0 and target in VOCABULARY):
                wrong.append(f"{module} -> {target}")
    assert wrong == []
