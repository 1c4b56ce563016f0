"""The process as Markdown, generated from the process table (`etablera process docs`)."""

from __future__ import annotations

from etablera.models.configuration import get_config
from etablera.statemachine.fields import describe
from etablera.statemachine.process import STATES, TRIGGERS


def markdown(lang: str = "sv") -> str:
    config = get_config()
    en = lang == "en"
    out = ["# " + ("The module process" if en else "Modulprocessen"), "",
           "| state | " + ("label" if en else "benämning") + " | stage | terminal |", "|---|---|---|---|"]
    out += [f"| `{s.name}` | {s.en if en else s.sv} | {s.stage or ''} | {'yes' if s.terminal else ''} |"
            for s in STATES]
    out += ["", "| trigger | " + ("label" if en else "benämning") + " | from | to | skips | data |",
            "|---|---|---|---|---|---|"]
    for t in TRIGGERS:
        for r in t.routes:
            sources = ", ".join(f"`{s}`" for s in r.sources) or "(new)"
            dest = f"`{r.dest}`" if r.dest else "same state"
            if r.match:
                dest += f" when {r.match[0]}={r.match[1]}"
            fields = ", ".join(
                f"{d['name']}{'' if d['required'] and 'required_when' not in d else '?'} ({d['give_as']})"
                for d in (describe(f, config, lang) for f in t.fields))
            out.append(f"| `{t.name}` | {t.en if en else t.sv} | {sources} | {dest} | {', '.join(r.skips)} | {fields} |")
    return "\n".join(out) + "\n"
