"""The event feed and webhooks in the API: GET /events (a token with the scope
`events:read`: the state changes of its user's municipalities after a cursor, no personal
data; cases/feed.py) and /webhooks (admins: add, list, remove; cases/webhooks.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from etablera.access.scope import Principal
from etablera.cases import feed, webhooks
from etablera.interfaces.http.api import ERRORS, caller
from etablera.interfaces.http.auth import api_principal, bearer, engine_of
from etablera.interfaces.http.schemas import Doc

router = APIRouter(responses=ERRORS, tags=["etablera"])
Who = Annotated[Principal, Depends(caller)]


def reader(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    return api_principal(request, credentials, scope="events:read")


class FeedItem(BaseModel):
    position: str = Field(description="this event's place in the feed (a cursor)")
    event_id: int
    case_id: int
    seq: int = Field(description="the event's number in its case's history")
    trigger: str
    from_state: str | None
    to_state: str
    at: str = Field(description="when it happened (UTC, ISO 8601)")
    municipality: str


class FeedPage(BaseModel):
    events: list[FeedItem]
    next: str = Field(description="ask with after=next for what follows (the same cursor when nothing new came)")


@router.get("/events", response_model=FeedPage,
            summary="State changes after a cursor (a token with the scope events:read)")
def events(request: Request, who: Annotated[Principal, Depends(reader)],
           after: Annotated[str | None, Query(max_length=60, description="the `next` of the previous page; "
                                                                         "none: from the start")] = None,
           limit: Annotated[int, Query(description=f"at most {feed.MAX_LIMIT}")] = feed.DEFAULT_LIMIT):
    return feed.read(engine_of(request), who, after, limit)


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=60)
    url: str = Field(max_length=500)
    municipalities: list[str] = Field(default_factory=list, max_length=300)
    from_start: bool = Field(False, description="also every earlier event in the feed")


@router.post("/webhooks", response_model=Doc, status_code=201,
             summary="Subscribe a URL to the state changes (admins); the signing secret is shown this once")
def add_webhook(request: Request, who: Who, body: WebhookRequest):
    return webhooks.add(engine_of(request), who, body.name, body.url, municipalities=body.municipalities,
                        from_start=body.from_start)


@router.get("/webhooks", response_model=list[Doc], summary="The webhook subscriptions (admins)")
def list_webhooks(request: Request, who: Who):
    return webhooks.subscriptions(engine_of(request), who)


@router.delete("/webhooks/{name}", response_model=Doc, summary="Remove a webhook subscription (admins)")
def remove_webhook(request: Request, who: Who, name: str):
    return webhooks.remove(engine_of(request), who, name)
