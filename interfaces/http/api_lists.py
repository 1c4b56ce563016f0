"""The API's list exports and saved filters: GET /cases.csv (a list as CSV, each exported
case access-logged), GET/POST /filters and DELETE /filters/{id} (the caller's own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from etablera.cases import exports, saved_filters
from etablera.cases.list_query import parse_query
from etablera.interfaces.http import schemas as s
from etablera.interfaces.http.api import ERRORS, MAX_ID, Lang, Who, list_query
from etablera.interfaces.http.auth import engine_of

router = APIRouter(responses=ERRORS, tags=["etablera"])


class FilterRequest(BaseModel):
    name: str = Field(max_length=200, description="the filter's name (no personal data)")
    query: dict[str, str | list[str]] = Field(default_factory=dict,
                                              description="queue, state, municipality, overdue, sort")


class SavedFilterDoc(s.Doc):
    id: int
    name: str
    query: dict
    count: int | None = Field(None, description="how many cases the filter lists (a count of 1,000 or more "
                                                 "may be up to 30 s old)")


@router.get("/cases.csv", summary="A list of cases as CSV (the same filters as GET /cases; each exported case "
                                  "is access-logged)",
            response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def cases_csv(request: Request, who: Who, lang: Lang = "sv",
              queue: Annotated[str | None, Query()] = None, mine: bool = False):
    q = parse_query(list_query(request, queue or ("mine" if mine else None)))
    lines = exports.export_csv(engine_of(request), who, q, lang=lang)
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="cases.csv"'})


@router.get("/filters", response_model=list[SavedFilterDoc], summary="Your saved filters, with their counts")
def list_filters(request: Request, who: Who):
    return saved_filters.filters_with_counts(engine_of(request), who)


@router.post("/filters", response_model=SavedFilterDoc, status_code=201, summary="Save a filter of your own")
def save_filter(request: Request, who: Who, body: FilterRequest):
    return saved_filters.save_filter(engine_of(request), who, body.name, body.query)


@router.delete("/filters/{filter_id}", status_code=204, summary="Delete one of your saved filters")
def delete_filter(request: Request, who: Who, filter_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    saved_filters.delete_filter(engine_of(request), who, filter_id)
