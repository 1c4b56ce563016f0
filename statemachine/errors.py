"""What can go wrong, as exceptions an interface maps to exit codes and HTTP statuses.

A refusal is data: a `code` (stable snake_case, a key of the catalogue in
statemachine/messages.py), the `field` at fault (or None) and its `params`. Its words, in
Swedish and English, live only in the catalogue; `text(lang)` renders them, with the
parameters localized (a state by its label, a trigger by its label, numbers by Babel).
Each interface adds its own hints around that text: the CLI names the flag that gives the
field, the web page links the field. No message names a CLI flag, a name or an identity
number.

How to raise (the new form):

    raise BadInput("not_a_date", field="permit_date")
    raise BadInput("unknown_choice", field="plan", choices=field.choices)
    raise NotPermitted("track_prerequisites_unmet", field="track", track=track_id, unmet=[...])
    raise NotPermitted("trigger_not_permitted", field="trigger", trigger=name, state=state,
                       permitted=[t.name for t in permitted(state)])
    raise NotFound("no_such_case", field="id", case=case_id)
    raise ConcurrentChange("case_changed", case=case_id)

The first argument is the code; add it with its Swedish and English templates to
`messages.CATALOGUE` (tests/test_messages.py checks both exist and take the same
parameters). Keyword arguments other than `field` are the parameters: pass values, not
words (a state's name, a trigger's name, a list of codes, a number, a date, an object with
`.sv`/`.en` such as a process Field); the catalogue localizes them. `field` is the name
the interfaces know the input by (a trigger field, an option, a form field).

How to render:

    exc.text("sv")      # "inte ett datum (ÅÅÅÅ-MM-DD)"
    exc.line("en")      # "permit_date: not a date (YYYY-MM-DD)"
    str(exc)            # exc.line("en"): logs and old callers
    exc.as_dict("sv")   # {"code", "field", "message", "exit_code"}: the JSON error shape

The old form keeps working while raise sites are converted:
`BadInput("field", "english text", sv="svensk text")`, `NotPermitted("english text", sv=...)`.
It gets the code `legacy` and renders the texts as given (English where no Swedish was
written); convert it to a code.
"""

from __future__ import annotations

import re

LEGACY = "legacy"
_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")


class EtableraError(Exception):
    exit_code = 1
    http_status = 500

    def __init__(self, code: str, *legacy: str, field: str | None = None, sv: str | None = None, **params):
        super().__init__()
        self._legacy: tuple[str | None, str] | None = None
        if legacy or sv is not None or not _CODE.match(str(code)):
            # The old form: (field, english) for a field error, (english,) otherwise.
            if legacy:
                field, english = str(code), str(legacy[0])
            else:
                english = str(code)
            self._legacy = (sv, english)
            code = LEGACY
        self.code = code
        self.field = field
        self.params = params

    def text(self, lang: str = "en") -> str:
        """The refusal's words in `lang` (sv | en), without the field's name."""
        if self._legacy is not None:
            sv, english = self._legacy
            return sv if lang == "sv" and sv else english
        from etablera.statemachine.messages import render
        return render(self.code, self.params, lang)

    def line(self, lang: str = "en") -> str:
        """`field: text`, or the text when no field is at fault."""
        text = self.text(lang)
        return f"{self.field}: {text}" if self.field else text

    def as_dict(self, lang: str = "en") -> dict:
        return {"code": self.code, "field": self.field, "message": self.text(lang), "exit_code": self.exit_code}

    # What older callers read.
    @property
    def message(self) -> str:
        return self.text("en")

    @property
    def sv(self) -> str | None:
        if self._legacy is not None:
            return self._legacy[0]
        return self.text("sv")

    def __str__(self) -> str:
        return self.line("en")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, field={self.field!r}, params={self.params!r})"

    def __reduce__(self):
        return _rebuild, (type(self), self.code, self.field, self.params, self._legacy)


def _rebuild(cls, code, field, params, legacy):
    exc = cls.__new__(cls)
    Exception.__init__(exc)
    exc.code, exc.field, exc.params, exc._legacy = code, field, params, legacy
    return exc


class FieldError(EtableraError):
    """A refusal that names the field (or option) it is about."""


class BadInput(FieldError):
    """The input is wrong; nothing was written. Names the field."""
    exit_code = 2
    http_status = 400


class NotFound(BadInput):
    http_status = 404


class NotPermitted(EtableraError):
    """The trigger may not fire in the case's state, or a rule of the process refuses it."""
    exit_code = 3
    http_status = 409


class ConcurrentChange(EtableraError):
    """Someone else changed the case first; nothing was written. Safe to retry."""
    exit_code = 4
    http_status = 409


class Forbidden(FieldError):
    """The user's role or scope may not do this (an auditor changing a case, an officer
    reading the access log); nothing was written."""
    exit_code = 3
    http_status = 403
