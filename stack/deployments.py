"""`python -m etablera.stack.deployments POOL`: the stack's one-shot step that registers
the flows' deployments to the work pool POOL (etablera/flows/deploy.py: the pool is
created if missing; the entrypoints are module paths of the installed package, so the
workers need no source folder and no image)."""

from __future__ import annotations

import sys

from etablera.flows.deploy import register

if __name__ == "__main__":
    names = register(sys.argv[1])
    print(f"registered to the work pool {sys.argv[1]}: {', '.join(names)}")
