"""The API's documents as pydantic models: they are the published OpenAPI schema, and a
response that does not fit them is a bug (the schemathesis test checks it).

The documents themselves are built by the service layer (statemachine/queries.py and
friends); these models only describe them. `extra="allow"` lets the service add a key
without breaking clients."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Doc(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    code: str = Field(description="what went wrong, a stable snake_case code (not_a_date, unknown_choice, "
                                  "trigger_not_permitted, ...)")
    status: int = Field(description="the HTTP status")
    exit_code: int | None = Field(None, description="the CLI's exit code for the same error (2, 3, 4)")
    field: str | None = Field(None, description="the field the error is about, when there is one")
    message: str = Field(description="the code's words, in the language of the `lang` query parameter "
                                     "(sv | en) when given, else English")


class ErrorDoc(BaseModel):
    error: ErrorBody


class Me(Doc):
    id: str
    name: str
    role: str
    organisation: str
    municipalities: list[str] | None
    municipality: str | None
    office: str | None
    can_change: bool
    can_audit: bool


class WorklistItem(Doc):
    id: int
    given_name: str | None = Field(description="the person's name (personal data)")
    family_name: str | None
    municipality: str
    municipality_name: str | None
    target_group: str
    state: str
    state_label: str
    state_since: str | None
    due: str | None = Field(description="the current stage's due date (none for an ended case)")
    establishment_due: str
    overdue: bool
    days_late: int
    reminder: str | None = Field(description="the highest reminder step recorded for the current stage")
    escalated: bool
    track: str | None
    kommun_officer: str | None
    af_officer: str | None
    version: int


class Worklist(Doc):
    today: str
    mine: bool
    queue: str | None = Field(None, description="the queue listed, if any")
    sort: str = "due"
    query: dict = Field(default_factory=dict, description="the list's filters, as query parameters")
    total: int = Field(description="how many cases the list holds (all pages; a count of 1,000 or more may be "
                                   "up to 30 s old)")
    limit: int
    offset: int
    next_offset: int | None
    prev_offset: int | None = None
    items: list[WorklistItem]


class MeasureDoc(Doc):
    id: int
    type: str
    type_label: str
    module: str
    component: str | None
    state: str
    state_label: str
    due: str | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    reason: str | None
    version: int


class CaseDoc(Doc):
    id: int
    person: str = Field(description="12-digit identity or coordination number (personal data: access is logged)")
    given_name: str | None
    family_name: str | None
    language: str | None = Field(description="preferred language")
    interpreter: bool = Field(description="needs an interpreter")
    phone: str | None
    email: str | None
    municipality: str
    municipality_name: str | None
    target_group: str
    target_group_label: str | None
    no_upper_secondary: bool
    permit_date: str | None
    reception_date: str | None
    state: str
    state_label: str
    module: str | None
    state_since: str | None
    stage_started: str | None
    due: str | None
    establishment_due: str | None
    paused_from: str | None
    plan: str | None
    track: str | None
    kommun_officer: str | None
    af_officer: str | None
    active: bool
    measures: list[MeasureDoc]
    version: int


class TransitionDoc(Doc):
    """What every audit event says: which step of the case's chain, when, who, from where to where."""
    seq: int
    at: str | None
    actor: str
    trigger: str
    from_state: str | None
    to_state: str
    municipality: str


class EventDoc(TransitionDoc):
    reason: str | None
    note: str | None
    skipped: list[str]
    data: dict[str, Any]
    trigger_label: str | None = None
    to_state_label: str | None = None
    from_state_label: str | None = None
    reason_label: str | None = None
    corrected_by: int | None = None             # the correction's seq, for a corrected step
    correction: str | None = None               # "corrected by event N" / "corrects event N (...)"


class FieldDoc(Doc):
    name: str
    label: str
    kind: str
    give_as: str | None = None
    required: bool
    required_when: dict[str, list[str]] | None = None
    choices: list[str] | dict[str, str] | None = None
    must_include: list[str] | None = None


class StateRef(BaseModel):
    state: str
    label: str


class PermittedEvent(Doc):
    trigger: str
    label: str
    leads_to: list[StateRef]
    skips: list[str]
    fields: list[FieldDoc]


class PermittedEvents(Doc):
    case: int
    state: str
    state_label: str
    version: int
    events: list[PermittedEvent]


class AdvanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: str = Field(min_length=1, max_length=40, description="a trigger permitted now (GET .../events)")
    data: dict[str, Any] = Field(default_factory=dict, description="the trigger's fields by name, "
                                 "including `reason` and `note` where it takes them")
    expect_version: int = Field(description="the case's version when you read it: if someone changed the case "
                                            "since, nothing is written and the answer is 409 'reload'")
    at: str | None = Field(None, max_length=40, description="when it happened (ISO date or datetime, Stockholm "
                                                            "time unless a zone is given); default now")


class AdvanceResult(Doc):
    case: int
    version: int
    event: EventDoc


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(max_length=20, description="personnummer or samordningsnummer, YYYYMMDD-NNNC")
    municipality: str = Field(max_length=10)
    permit_date: str = Field(max_length=20)
    reception_date: str | None = Field(None, max_length=20)
    no_upper_secondary: bool = False
    kommun_officer: str | None = Field(None, max_length=60)
    af_officer: str | None = Field(None, max_length=60)
    note: str | None = Field(None, max_length=4000)
    # The person's details (optional; changed later with PATCH /cases/{id}/person).
    given_name: str | None = Field(None, max_length=200)
    family_name: str | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=100, description="preferred language (a name or a code)")
    interpreter: bool = False
    phone: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=300)


class Created(Doc):
    id: int


class Warning(Doc):
    code: str = Field(description="stable, e.g. registered_late (the establishment time was already over)")
    message: str


class Registered(Created):
    warnings: list[Warning] = []


class MeasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=40, description="a measure type (config/measures.toml)")
    due: str | None = Field(None, max_length=20, description="YYYY-MM-DD; default from the type's typical length")


class MeasureAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(max_length=20, description="start | complete | cancel")
    reason: str | None = Field(None, max_length=40, description="cancel only: a cancel reason code")
    note: str | None = Field(None, max_length=4000)


class MeasureResult(Doc):
    id: int
    case: int
    state: str


class SkipDoc(TransitionDoc):
    case_id: int
    to_state_label: str
    skipped: list[str]
    reason: str | None
    reason_label: str | None
    justification: str | None
    decision: str | None
    participants: list[str] | None


class ReminderDoc(Doc):
    id: int
    kind: str
    step: str
    case_id: int | None
    measure_id: int | None
    municipality: str
    stage: str
    stage_label: str
    due: str
    detected_on: str
    days_late: int
    status: str


class AccessEntry(Doc):
    id: int
    at: str | None
    actor: str
    role: str | None
    organisation: str | None
    case_id: int | None
    action: str
    detail: str | None


class PersonQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(max_length=20, description="the person's identity number (sent in the body, never in a URL)")


class PersonExtract(Doc):
    generated_at: str | None
    cases: list[int]
    entries: list[AccessEntry]
