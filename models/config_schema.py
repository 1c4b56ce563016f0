"""The schemas of the configuration files a case reads: reason codes, measure types, target
groups, fast tracks, time frames, municipalities, the points rule of track components and
Arbetsförmedlingen's offices. One model per file, shaped exactly like the file; the
engine's values are built from them in `configuration.py` (and `access/accounts.py`).

The agreements' schema is in `agreement_schema.py`, the reminders' in `ladder.py`, the
grant's in `grant.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WrapValidator, model_validator

from etablera.models.config_files import (Bool, Count, FrameText, MunicipalityCode, Positive, Section, Text,
                                          error_at, frame)
from etablera.models.document_types import KNOWN_TYPES, MB


class LabelEntry(Section):
    """A code's Swedish and English label."""
    sv: Text = Field(description="Swedish label")
    en: Text = Field(description="English label")


Labels = dict[str, LabelEntry]


class ReasonsFile(Section):
    """reasons.toml: reason codes by category. A code is what the audit trail stores: retire
    a code by keeping it, never by removing it."""
    skip: Labels = Field(description="why a module (or the joint assessment) was skipped")
    pause: Labels = Field(description="why a case is put on hold (vilande)")
    close: Labels = Field(description="why a case leaves the process without an establishment outcome")
    drop_track: Labels = Field(description="why someone leaves a local job track")
    cancel_measure: Labels = Field(description="why a measure (insats) is cancelled")
    correct: Labels = Field(description="why a mistaken step is corrected (rättelse)")


class MeasureTypeEntry(LabelEntry):
    duration: FrameText = Field(description="typical duration: sets a measure's due date")


class MeasuresFile(Section):
    """measures.toml: measure types (insatser) with their typical duration, and a measure's states."""
    types: dict[str, MeasureTypeEntry]
    states: Labels


class TargetGroupEntry(LabelEntry):
    code: Text
    min_age: Count
    max_age: Count
    requires_no_upper_secondary: Bool = False

    @model_validator(mode="after")
    def _ages(self):
        if self.max_age < self.min_age:
            raise error_at(("max_age",), "ages", f"max_age {self.max_age} is below min_age {self.min_age}",
                           self.max_age)
        return self


class TargetGroupsFile(Section):
    """target_groups.toml: checked in order; the first group that fits is the person's."""
    groups: tuple[TargetGroupEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self):
        seen = set()
        for i, group in enumerate(self.groups):
            if group.code in seen:
                raise error_at(("groups", i, "code"), "unique", f"target group {group.code!r} is listed twice",
                               group.code)
            seen.add(group.code)
        return self


class FastTrackEntry(LabelEntry):
    professions: tuple[Text, ...] = ()


class FastTracksFile(Section):
    """fast_tracks.toml: the national fast tracks (nationella snabbspår), by id."""
    tracks: dict[str, FastTrackEntry]


def _per_group(value, handler):
    """`stage = "P6M"` is `stage = { "*" = "P6M" }`: the same frame for every target group."""
    return handler(value) if isinstance(value, dict) else {"*": frame(value)}


StageFrames = Annotated[dict[str, FrameText],
                        WrapValidator(_per_group, json_schema_input_type=FrameText | dict[str, FrameText])]


class EstablishmentEntry(Section):
    frame: FrameText = Field(description="the whole establishment, from the permit or, if later, the reception date")


class TimeframesFile(Section):
    """timeframes.toml: how long each stage should normally take, per target group if it differs."""
    stages: dict[str, StageFrames] = Field(description="stage -> frame, or stage -> { target group -> frame }")
    establishment: EstablishmentEntry


CountyCode = Annotated[str, Field(pattern=r"^\d{2}$")]


class MunicipalitiesFile(Section):
    """municipalities.toml: county (län) and municipality (kommun) codes with names, for display."""
    counties: dict[CountyCode, Text] = {}
    municipalities: dict[MunicipalityCode, Text] = {}

    @model_validator(mode="after")
    def _in_a_county(self):
        for code in self.municipalities:
            if code[:2] not in self.counties:
                raise error_at(("municipalities", code), "county", f"no county {code[:2]} in [counties]", code)
        return self


class PointsEntry(Section):
    points_per_week: Positive = Field(20, description="full-time study: 20 points a week, so 100 p is 5 weeks")


class ComponentsFile(Section):
    """components.toml: how long a track component given only in points takes."""
    points: PointsEntry = PointsEntry()


OfficeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class OfficeEntry(Section):
    name: Text | None = Field(None, description="the office's name (default: its id)")
    municipalities: tuple[MunicipalityCode, ...] = Field(min_length=1, description="the municipalities it covers")


class OfficesFile(Section):
    """af_offices.toml: Arbetsförmedlingen's offices and the municipalities each covers. An AF
    user belongs to one office and sees the cases of those municipalities only."""
    offices: dict[OfficeId, OfficeEntry] = {}


ContentType = Literal[tuple(KNOWN_TYPES)]  # type: ignore[valid-type]


class DocumentsFile(Section):
    """documents.toml: the document store of attached files."""
    directory: str = Field("", description="where the files are kept (relative to the working directory); empty: "
                                           "documents/ beside the SQLite database, or ./var/documents for "
                                           "PostgreSQL. ETABLERA_DOCUMENTS_DIR overrides it")
    max_bytes: Positive = Field(20 * MB, description="the largest file taken, in bytes")
    types: tuple[ContentType, ...] = Field(tuple(KNOWN_TYPES), min_length=1,
                                           description="the content types taken (each is also checked against "
                                                       "the file's own first bytes)")
