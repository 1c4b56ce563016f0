"""The API of the person and search: change the person's details on a case
(PATCH /cases/{id}/person) and find cases by identity number, name or case id
(POST /search: the query travels in the body, never in a URL), and the person's register
extract (POST /extract, admins and auditors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from etablera.cases import person, search as searching
from etablera.interfaces.http.api import ERRORS, CaseId, Lang, caller
from etablera.interfaces.http.auth import engine_of
from etablera.interfaces.http.schemas import Doc
from etablera.access.scope import Principal

Who = Annotated[Principal, Depends(caller)]
router = APIRouter(responses=ERRORS, tags=["etablera"])


class PersonRequest(BaseModel):
    """The details to change (only those given; an empty text clears one)."""
    model_config = ConfigDict(extra="forbid")
    given_name: str | None = Field(None, max_length=200)
    family_name: str | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=100, description="preferred language (a name or a code)")
    interpreter: bool | None = Field(None, description="needs an interpreter")
    phone: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=300)
    expect_version: int | None = Field(None, description="the case's version when you read it: if someone changed "
                                                         "the case since, nothing is written (409 'reload')")


class Change(BaseModel):
    old: Any = None
    new: Any = None


class PersonResult(Doc):
    case: int
    version: int
    changed: dict[str, Change] = Field(description="per changed detail, its old and new value")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(max_length=200, description="an identity or coordination number (12 or 10 digits, with or "
                                                   "without - or +), a name (each word a prefix of the given or "
                                                   "family name, accents folded) or a case id (123 or #123)")
    limit: int = Field(searching.DEFAULT_LIMIT, ge=1, le=searching.MAX_LIMIT)


class SearchItem(Doc):
    id: int
    given_name: str | None
    family_name: str | None
    person: str
    municipality: str
    municipality_name: str | None
    state: str
    state_label: str
    active: bool
    version: int


class SearchResult(Doc):
    by: str = Field(description="how the query was read: number | name | case")
    limit: int
    more: bool = Field(description="more cases match than `limit`")
    items: list[SearchItem]


@router.patch("/cases/{case_id}/person", response_model=PersonResult,
              summary="Change the person's name, language, interpreter need, phone or e-mail (audited)")
def update_person(request: Request, who: Who, case_id: CaseId, body: PersonRequest):
    changes = body.model_dump(exclude_unset=True, exclude={"expect_version"})
    return person.update_person(engine_of(request), who, case_id, changes, expect_version=body.expect_version)


@router.post("/search", response_model=SearchResult,
             summary="Find cases in your municipalities by identity number, name or case id (access-logged)")
def search(request: Request, who: Who, body: SearchRequest, lang: Lang = "sv"):
    return searching.search(engine_of(request), who, body.query, limit=body.limit, lang=lang)


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(max_length=20, description="the identity or coordination number (12 or 10 digits)")


@router.post("/extract", summary="The person's register extract (GDPR article 15): every stored row about them, "
                                 "as JSON (admins and auditors; access-logged)")
def register_extract(request: Request, who: Who, body: ExtractRequest) -> dict:
    from etablera.cases.extract import extract
    return extract(engine_of(request), who, body.person)
