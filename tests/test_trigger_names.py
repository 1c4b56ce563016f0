"""A trigger is named once: in the process table. Anywhere else the code takes its name
from the table (`TRIGGER[...]`, `T.hold_talk`, `DECIDE`), so that renaming or removing a
trigger is one change, and a misspelt name fails at import instead of matching nothing.
The tests, the message catalogue and the documentation may spell them out."""

from __future__ import annotations

import ast
from pathlib import Path

from etablera.statemachine.process import TRIGGERS

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {ROOT / "statemachine" / "process.py", ROOT / "statemachine" / "messages.py"}
NAMES = {t.name for t in TRIGGERS}


def _literals(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    # `__all__` lists a module's own names (the function `decide`), not triggers.
    docstrings |= {id(c) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                   for c in ast.walk(node.value)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if node.value in NAMES:
                yield node.lineno, node.value


def test_no_trigger_name_is_spelt_outside_the_table():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in ("tests", ".venv", "var", "build") or path in ALLOWED:
            continue
        # A migration is a snapshot of its day: it names what was, not what the table says now.
        # The benchmark's peers are other implementations, written as their own authors would.
        if parts[:3] == ("models", "migrations", "versions") or parts[:2] == ("benchmarks", "peers"):
            continue
        found += [f"{path.relative_to(ROOT)}:{line}: {name!r}" for line, name in _literals(path)]
    assert not found, "trigger names spelt outside the process table:\n" + "\n".join(found)
