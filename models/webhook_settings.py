"""webhooks.toml: webhook subscriptions kept in configuration (cases/webhooks.py), beside
those made with `etablera webhook add` or the API. A subscription here names the
environment variable that holds its signing secret, never the secret itself."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field

from etablera.models.config_files import MunicipalityCode, Section, Where, as_search, load

Name = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,60}$", description="1–60 of a–z, 0–9, . _ -")]
Url = Annotated[str, Field(pattern=r"^https?://\S+$", max_length=500, description="where the events are POSTed")]
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,99}$",
                               description="the environment variable holding the whsec_ signing secret")]


class ConfiguredWebhook(Section):
    """One subscription: a receiving URL and where its secret is."""
    name: Name
    url: Url
    secret_env: EnvName
    municipalities: tuple[MunicipalityCode, ...] = Field((), description="only these municipalities' cases "
                                                                         "(none: all)")
    from_start: bool = Field(False, description="when first seen: also every earlier event (default: from then on)")


class WebhooksFile(Section):
    """webhooks.toml: [[subscription]] tables (none by default)."""
    subscription: tuple[ConfiguredWebhook, ...] = ()


def webhook_settings(directory: Where = None) -> WebhooksFile:
    return _load(as_search(directory))


@lru_cache(maxsize=8)
def _load(search: tuple) -> WebhooksFile:
    return load(WebhooksFile, "webhooks.toml", search, required=False)[0]
