"""The agreements (överenskommelser) in force, read from the configuration directory."""

from __future__ import annotations

from etablera.models.agreements import AgreementBook
from etablera.models.configuration import config_dir


def agreement_book() -> AgreementBook:
    return AgreementBook.load(config_dir() / "agreements")
