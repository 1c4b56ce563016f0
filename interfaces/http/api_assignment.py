"""The API of responsibility (/api/v1): assign, take, and move all of one officer's cases.
Each handler calls one use case of cases/assignment.py with the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from etablera.cases import assignment
from etablera.interfaces.http.api import ERRORS, CaseId, Who
from etablera.interfaces.http.auth import engine_of

router = APIRouter(responses=ERRORS, tags=["etablera"])
OfficerId = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[\w.@:-]+$",
                                description="the officer whose cases move")]


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kommun_officer: str | None = Field(None, max_length=60, description="the municipal officer; null or \"\": "
                                                                        "nobody; left out: unchanged")
    af_officer: str | None = Field(None, max_length=60, description="the AF officer; null or \"\": nobody; "
                                                                    "left out: unchanged")
    expect_version: int | None = Field(None, description="the case's version when you read it (409 if changed)")


class TakeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expect_version: int | None = Field(None, description="the case's version when you read it (409 if changed)")


class ReassignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: list[str] = Field(min_length=1, max_length=50, description="the officer(s) to move the cases to; several: "
                                                                   "round-robin in case order")
    preview: bool = Field(True, description="true: only say which case would go where (nothing is written)")
    expect: list[int] | None = Field(None, max_length=100_000, description="the case ids the preview showed: "
                                     "409 if the cases to move are no longer exactly these")


class Change(BaseModel):
    org: str
    from_: str | None = Field(alias="from")
    to: str | None


class Responsibility(BaseModel):
    model_config = ConfigDict(extra="allow")
    case: int
    kommun_officer: str | None
    af_officer: str | None
    version: int
    changed: list[Change]


class Move(BaseModel):
    case: int
    municipality: str
    field: str
    org: str
    from_: str = Field(alias="from")
    to: str


class Reassignment(BaseModel):
    model_config = ConfigDict(extra="allow")
    from_: str = Field(alias="from")
    to: list[str]
    preview: bool
    count: int
    cases: list[Move]


@router.post("/cases/{case_id}/assign", response_model=Responsibility, response_model_by_alias=True,
             summary="A coordinator assigns, reassigns or unassigns the case's responsible officers")
def assign(request: Request, who: Who, case_id: CaseId, body: AssignRequest):
    given = {field: getattr(body, field) for field in assignment.OFFICER_FIELDS if field in body.model_fields_set}
    return assignment.assign(engine_of(request), who, case_id, expect_version=body.expect_version, **given)


@router.post("/cases/{case_id}/take", response_model=Responsibility, response_model_by_alias=True,
             summary="An officer takes an unassigned case of their municipality")
def take(request: Request, who: Who, case_id: CaseId, body: TakeRequest | None = None):
    return assignment.take(engine_of(request), who, case_id,
                           expect_version=body.expect_version if body is not None else None)


@router.post("/officers/{officer_id}/reassign", response_model=Reassignment, response_model_by_alias=True,
             summary="A coordinator moves all of one officer's active cases (preview first)")
def reassign(request: Request, who: Who, officer_id: OfficerId, body: ReassignRequest):
    return assignment.reassign_all(engine_of(request), who, officer_id, body.to, preview=body.preview,
                                   expect=body.expect)
