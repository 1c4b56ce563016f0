"""The process as a mermaid `stateDiagram-v2`, generated from the process table."""

from __future__ import annotations

from etablera.statemachine.process import CASE_TRIGGERS, INITIAL, PARENTS, STATES, TERMINAL


def _node(name: str) -> str:
    return name.replace(".", "_")


def mermaid(lang: str = "sv") -> str:
    pick = (lambda o: o.en) if lang == "en" else (lambda o: o.sv)
    lines = ["stateDiagram-v2"]
    for parent in PARENTS:
        lines.append(f"    state \"{pick(parent)}\" as {parent.name} {{")
        for state in STATES:
            if state.name.startswith(parent.name + "."):
                lines.append(f"        {_node(state.name)} : {pick(state)}")
        lines.append("    }")
    for state in STATES:
        if "." not in state.name:
            lines.append(f"    {_node(state.name)} : {pick(state)}")
    lines.append(f"    [*] --> {_node(INITIAL)} : register")
    edges: dict[tuple[str, str], list[str]] = {}
    for trigger in CASE_TRIGGERS:
        for route in trigger.routes:
            for source in route.sources:
                dest = route.dest or source
                label = trigger.name + (f" [{route.match[1]}]" if route.match and route.match[0] != "paused_from" else "")
                if route.skips:
                    label += " (skips " + ", ".join(route.skips) + ")"
                edges.setdefault((source, dest), []).append(label)
    for (source, dest), labels in edges.items():
        lines.append(f"    {_node(source)} --> {_node(dest)} : {' / '.join(dict.fromkeys(labels))}")
    for name in TERMINAL:
        lines.append(f"    {_node(name)} --> [*]")
    return "\n".join(lines) + "\n"
