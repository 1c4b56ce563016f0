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
CSRF-checked form). `router` is all of them, for the application to include.
"""

from __future__ import annotations

from fastapi import APIRouter

from etablera.interfaces.http.pages import audit, case, login, person, queues, register, report, search, worklist
from etablera.interfaces.http.pages import journal
from etablera.interfaces.http.pages import corrections
from etablera.interfaces.http.pages import assignment
from etablera.interfaces.http.pages import sso
from etablera.interfaces.http.pages import extract

router = APIRouter(include_in_schema=False)
for _module in (login, worklist, case, register, audit, report, person, search, queues, journal, corrections,
                assignment, sso, extract):
    router.include_router(_module.router)
