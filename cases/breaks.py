"""What `audit verify` finds: a break of a chain (`Break`) or a note about the whole
database (`Note`), each a code of the message catalogue with its parameters, worded in the
reader's language only when shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from etablera.statemachine.messages import Code, render


@dataclass(frozen=True)
class Break:
    """One break of a chain: the case (None: the database as a whole), the event (None: the
    case as a whole), and what is wrong as a code of the message catalogue (`audit_*`) with
    its parameters."""
    case_id: int | None
    seq: int | None
    code: str
    params: dict = field(default_factory=dict)

    @property
    def problem(self) -> str:
        return render(self.code, self.params, "en")

    def text(self, lang: str = "en") -> str:
        """`case N event S: problem` in `lang` (sv | en)."""
        problem = render(self.code, self.params, lang)
        if self.case_id is None:
            return render("audit_break_database", {"problem": Code(problem)}, lang)
        if self.seq is None:
            return render("audit_break_case", {"case": self.case_id, "problem": Code(problem)}, lang)
        return render("audit_break_event", {"case": self.case_id, "seq": self.seq, "problem": Code(problem)}, lang)

    def __str__(self) -> str:
        return self.text("en")


@dataclass(frozen=True)
class Note:
    """Something verify could not check, said once for the whole database (not a break)."""
    code: str
    params: dict = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        return render(self.code, self.params, lang)
