"""The pages: login, the worklist, the case page with its forms and timeline, registering
a newcomer, the skip audit, the access log and the report. Server-rendered (Jinja2),
Swedish by default, every form protected by the session's CSRF token.

The forms are generated from `service.permitted_events`: only the triggers permitted now,
with exactly the fields each needs. A refused form comes back with the refusal's words
(from the catalogue, statemachine/messages.py, in the page's language) next to the field
it names, linked; nothing is validated here that the service does not decide.

One module per what a page shows: `login` (login, logout, language), `worklist`, `case`
(the case page and its forms), `register`, `audit` (skip audit, access log), `report`;
`common` holds what they share (rendering, the error page, refusals beside a form, the
CSRF-checked form, and `router`, on which every module declares its routes). Importing the
modules here declares them all; `router` is what the application includes.
"""

from __future__ import annotations

# The order the modules are imported in is the order their routes are tried in: the start
# page and the case page, which officers open all day, first.
from etablera.interfaces.http.pages import worklist, case
from etablera.interfaces.http.pages import audit, login, person, queues, register, report, search
from etablera.interfaces.http.pages import journal
from etablera.interfaces.http.pages import corrections
from etablera.interfaces.http.pages import assignment
from etablera.interfaces.http.pages import sso
from etablera.interfaces.http.pages import extract
from etablera.interfaces.http.pages.common import router

__all__ = ["router", "audit", "case", "login", "person", "queues", "register", "report", "search", "worklist",
           "journal", "corrections", "assignment", "sso", "extract"]
