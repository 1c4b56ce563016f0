"""The agreements (överenskommelser) in force, read from the configuration directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etablera.models.agreements import AgreementBook


def agreement_book() -> AgreementBook:
    """Imports the agreements' models (pydantic) when a command first asks for them: reading
    a case outside a track never does."""
    from etablera.models.agreements import AgreementBook

    return AgreementBook.load()
