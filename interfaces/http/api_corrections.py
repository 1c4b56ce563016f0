"""The HTTP API of corrections: a coordinator corrects a case's latest step
(POST /api/v1/cases/{id}/corrections), through cases/corrections.correct."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from etablera.cases import corrections
from etablera.cases.queries import event_doc
from etablera.interfaces.http import schemas as s
from etablera.interfaces.http.api import ERRORS, CaseId, Lang, Who
from etablera.interfaces.http.auth import engine_of
from etablera.models.configuration import get_config

router = APIRouter(responses=ERRORS, tags=["etablera"])


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=1, le=2_147_483_647, description="the mistaken step's event (its seq in the history)")
    reason: str = Field("", max_length=40, description="a reason code of the `correct` category "
                                                       "(config/reasons.toml)")
    note: str = Field("", max_length=4000, description="the justification (required)")
    expect_version: int | None = Field(None, description="refuse (409) if the case is no longer at this version")


class CorrectionResult(s.Doc):
    case: int
    event: s.EventDoc


@router.post("/cases/{case_id}/corrections", response_model=CorrectionResult, status_code=201,
             summary="Correct the case's latest step (coordinators): the case goes back to where it was before it")
def correct(request: Request, who: Who, case_id: CaseId, body: CorrectionRequest, lang: Lang = "sv"):
    event = corrections.correct(engine_of(request), who, case_id, body.seq, reason=body.reason, note=body.note,
                                expect_version=body.expect_version)
    return {"case": case_id, "event": event_doc(event, get_config(), lang)}
