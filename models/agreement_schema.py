"""The schema of an agreement file (`config/agreements/*.toml`) and the model's rules.

The tracks, components, prerequisites, parties and signatories validated here are the
values the engine uses (`Track`, `Component`...); the agreement itself becomes the
`Agreement` of `agreements.py`. Every violation names its rule (`RULES`), so a refusal can
say which rule a file breaks:

- field by field: municipality codes, track ids, party and component kinds, sfi levels,
  lengths (ISO 8601, positive), employers and the responsible persons of every track;
- per component: a length (points, weeks or duration; not weeks and duration);
- per agreement (`AgreementFile._rules`, checked even when another field is broken, so that
  every violation of a file is reported at once): at least three tracks, one for people with
  short education; the municipality and AF among the parties and the signatories; yearly
  revision; unique track ids.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from etablera.models.config_files import (Bool, Int, Label, MunicipalityCode, Positive, Section, Text,
                                          fields_that_validate, with_rules)
from etablera.models.timeframes import Frame, FrameError

PARTY_KINDS = {
    "kommun": Label("Kommun", "Municipality"),
    "af": Label("Arbetsförmedlingen", "Public Employment Service"),
    "employer": Label("Arbetsgivare", "Employer"),
    "union": Label("Facklig organisation", "Trade union"),
    "civil_society": Label("Civilsamhälle", "Civil society"),
    "folk_high_school": Label("Folkhögskola", "Folk high school"),
    "education_provider": Label("Utbildningsanordnare", "Education provider"),
    "other": Label("Övrig", "Other"),
}
COMPONENT_KINDS = {
    "course": Label("Kurs", "Course"),
    "internship": Label("Praktik", "Internship"),
    "sfi": Label("Sfi", "SFI (Swedish for immigrants)"),
    "employment": Label("Anställning", "Employment"),
    "validation": Label("Validering", "Validation"),
    "other": Label("Övrigt", "Other"),
}
SFI_LEVELS = ("A", "B", "C", "D")       # sfi courses, in order
DEFAULT_POINTS_PER_WEEK = 20            # used when no components.toml is found

# The rule an error at a key path breaks when the error is pydantic's own (a missing key, an
# empty list, a value not among the allowed ones), and what to say then.
RULE_AT = {
    "municipalities": "municipality_code",
    "municipalities[]": "municipality_code",
    "parties[].kind": "party_kind",
    "tracks[].id": "track_id",
    "tracks[].employers": ("track_employer", "every track needs at least one participating employer"),
    "tracks[].estimated_length": ("track_estimated_length", "every track needs an estimated length"),
    "tracks[].responsible": ("track_responsible", "every track needs a responsible person at AF and at the "
                                                  "municipality: responsible = { af = \"...\", kommun = \"...\" }"),
    "tracks[].responsible.af": ("track_responsible", "every track needs a responsible person at AF"),
    "tracks[].responsible.kommun": ("track_responsible", "every track needs a responsible person at the municipality"),
    "tracks[].components": "component",
    "tracks[].components[]": "component",
    "tracks[].components[].kind": "component",
    "tracks[].components[].points": "component",
    "tracks[].components[].weeks": "component",
    "tracks[].components[].duration": "component_length",
    "tracks[].prerequisites.sfi_level": "sfi_level",
}
# Rules raised by the validators below (the error's type is the rule).
RULES = frozenset({"municipality_code", "min_three_tracks", "short_education_track", "parties_kommun_af",
                   "signatories_kommun_af", "signatory_party", "revision_yearly", "valid_to_after_valid_from",
                   "track_id", "duplicate_track_id", "component_length", "prerequisite_ages"})


def _track_id(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        raise PydanticCustomError("track_id", f"{value!r} must be lowercase letters, digits, '-' or '_'")
    return value


def _length(value: str) -> str:
    """A positive calendar length, normalised ("P10M", "P12W")."""
    try:
        frame = Frame.parse(value)
    except FrameError:
        frame = None
    if frame is None or frame.working_days or frame == Frame():
        raise PydanticCustomError("length", f"{value!r} must be a positive ISO 8601 duration like 'P10M' or 'P12W'")
    return str(frame)


Day = Annotated[date, Field(strict=True)]
TrackId = Annotated[str, Field(strict=True, json_schema_extra={"pattern": "^[a-z0-9][a-z0-9_-]*$"}),
                    AfterValidator(_track_id)]
Length = Annotated[str, Field(strict=True, json_schema_extra={"pattern": "^P(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?$"}),
                   AfterValidator(_length)]


class Party(Section):
    name: Text
    kind: Literal[tuple(PARTY_KINDS)]


class Signatory(Section):
    name: Text
    role: Text
    party: Text = Field(description="the name of one of the agreement's parties")


class Responsible(Section):
    af: Text = Field(description="the responsible person at Arbetsförmedlingen")
    kommun: Text = Field(description="the responsible person at the municipality")


class Prerequisites(Section):
    """Förkunskapskrav. Everything but `other` is checked by `unmet_prerequisites`."""
    target_groups: tuple[Text, ...] = ()
    min_age: Int | None = None
    max_age: Int | None = None
    sfi_level: Literal[SFI_LEVELS] | None = None
    requires_no_upper_secondary: Bool = False
    other: tuple[Text, ...] = Field((), description="shown to officers, never checked")

    @field_validator("max_age")
    @classmethod
    def _ages(cls, value, info: ValidationInfo):
        low = info.data.get("min_age")
        if value is not None and low is not None and low > value:
            raise PydanticCustomError("prerequisite_ages", f"max_age {value} is below min_age {low}")
        return value


def points_frame(points: int, per_week: int) -> Frame:
    """Full-time length of `points` (100 p at 20 p/week = 5 weeks), whole days rounded up."""
    days = math.ceil(points * 7 / per_week)
    return Frame(weeks=days // 7) if days % 7 == 0 else Frame(days=days)


class Component(Section):
    """One step of a track (a course, internship, sfi, employment...). Its length: `duration`
    wins over `weeks`, which wins over `points` (converted by config/components.toml)."""
    kind: Literal[tuple(COMPONENT_KINDS)]
    name: Text
    points: Positive | None = None
    weeks: Positive | None = None
    duration: Length | None = None
    _frame: Frame = PrivateAttr()

    @model_validator(mode="after")
    def _planned_length(self, info: ValidationInfo):
        if self.points is None and self.weeks is None and self.duration is None:
            raise PydanticCustomError("component_length", "a component needs points, weeks or duration")
        if self.weeks is not None and self.duration is not None:
            raise PydanticCustomError("component_length", "give weeks or duration, not both")
        per_week = (info.context or {}).get("points_per_week", DEFAULT_POINTS_PER_WEEK)
        self._frame = (Frame.parse(self.duration) if self.duration else Frame(weeks=self.weeks) if self.weeks
                       else points_frame(self.points, per_week))
        return self

    @property
    def frame(self) -> Frame:
        """The length used for planning."""
        return self._frame

    @property
    def parallel(self) -> bool:
        """Sfi runs alongside the other components, from the track's start."""
        return self.kind == "sfi"


class Track(Section):
    """A local job track (lokalt jobbspår)."""
    id: TrackId = Field(description="lowercase letters, digits, '-' and '_'")
    name: Text
    name_en: Text
    sector: Text
    short_education: Bool = Field(description="for people with short education (kortutbildade)")
    open: Bool = Field(description="open for new participants")
    estimated_length: Length = Field(description="ISO 8601, e.g. \"P10M\"")
    components: tuple[Component, ...] = Field(min_length=1)
    employers: tuple[Text, ...] = Field(min_length=1)
    education_providers: tuple[Text, ...] = ()
    other_actors: tuple[Text, ...] = ()
    prerequisites: Prerequisites = Prerequisites()
    responsible: Responsible
    follow_up: Text = Field(description="how the participants are followed up")
    _frame: Frame = PrivateAttr()

    @model_validator(mode="after")
    def _estimated_frame(self):
        self._frame = Frame.parse(self.estimated_length)
        return self

    @property
    def label(self) -> Label:
        return Label(self.name, self.name_en)

    @property
    def estimated_frame(self) -> Frame:
        return self._frame

    @property
    def responsible_af(self) -> str:
        return self.responsible.af

    @property
    def responsible_kommun(self) -> str:
        return self.responsible.kommun

    def as_dict(self, lang: str = "sv") -> dict:
        return {
            "id": self.id, "name": self.label(lang), "name_sv": self.name, "name_en": self.name_en,
            "sector": self.sector, "short_education": self.short_education, "open": self.open,
            "estimated_length": self.estimated_length,
            "components": [{"kind": c.kind, "kind_label": COMPONENT_KINDS[c.kind](lang), "name": c.name,
                            "points": c.points, "weeks": c.weeks, "duration": c.duration,
                            "length": str(c.frame), "parallel": c.parallel} for c in self.components],
            "employers": list(self.employers), "education_providers": list(self.education_providers),
            "other_actors": list(self.other_actors),
            "prerequisites": self.prerequisites.model_dump(mode="json"),
            "responsible": self.responsible.model_dump(),
            "follow_up": self.follow_up,
        }


def _unique_codes(codes: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise PydanticCustomError("municipality_code", f"{', '.join(twice)} listed twice")
    return codes


class AgreementFile(Section):
    """An agreement on deepened cooperation (överenskommelse om fördjupad samverkan) between a
    municipality (or several) and Arbetsförmedlingen, with its local job tracks."""
    municipalities: Annotated[tuple[MunicipalityCode, ...], Field(min_length=1), AfterValidator(_unique_codes)]
    name: Text
    parties: tuple[Party, ...] = Field(description="the municipality and AF at least")
    valid_from: Day
    valid_to: Day | None = Field(None, description="leave out: until further notice")
    last_revision: Day | None = None
    next_revision: Day = Field(description="within a year of last_revision (or valid_from)")
    signatories: tuple[Signatory, ...] = Field(description="the municipal executive board's chair and the "
                                                           "responsible manager at AF, at least")
    tracks: tuple[Track, ...] = Field(description="at least three, one for people with short education")

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data, handler):
        """The agreement's rules over the fields that are valid, so that a broken field does not
        hide them; the tracks count as written (a broken track is still a track)."""
        try:
            agreement, broken = handler(data), None
        except ValidationError as exc:
            agreement, broken = None, exc
        values = agreement.__dict__ if agreement is not None else fields_that_validate(cls, data)
        violations = list(_agreement_rules(values, data.get("tracks") if isinstance(data, dict) else None))
        if violations or broken:
            raise with_rules(broken, violations) if violations else broken
        return agreement


def _agreement_rules(v: dict, tracks):
    parties, signatories = v.get("parties"), v.get("signatories")
    if parties is not None:
        kinds = {p.name: p.kind for p in parties}
        for needed in ("kommun", "af"):
            if needed not in kinds.values():
                yield ("parties",), "parties_kommun_af", ("the municipality and Arbetsförmedlingen must be parties; "
                                                          f"no party of kind {needed!r}")
        if signatories is not None:
            for i, s in enumerate(signatories):
                if s.party not in kinds:
                    yield (("signatories", i, "party"), "signatory_party",
                           f"{s.party!r} is not one of the agreement's parties")
            signed = {kinds.get(s.party) for s in signatories}
            who = {"kommun": "the municipal executive board's chair (kommunstyrelsens ordförande)",
                   "af": "the responsible manager at Arbetsförmedlingen"}
            for needed in ("kommun", "af"):
                if needed not in signed:
                    yield ("signatories",), "signatories_kommun_af", (f"must be signed by {who[needed]}; no signatory "
                                                                      f"for a party of kind {needed!r}")
    start, end, last, upcoming = (v.get(k) for k in ("valid_from", "valid_to", "last_revision", "next_revision"))
    if start and end and end <= start:
        yield ("valid_to",), "valid_to_after_valid_from", f"{end} must be after valid_from ({start})"
    if start and last and last < start:
        yield ("last_revision",), "revision_yearly", f"{last} is before valid_from ({start})"
    if start and upcoming:
        base, base_name = (last, "last_revision") if last else (start, "valid_from")
        if upcoming <= base or upcoming > _add_year(base):
            yield ("next_revision",), "revision_yearly", (f"{upcoming} must be after {base_name} ({base}) and at most "
                                                          f"a year later (by {_add_year(base)}): the agreement is "
                                                          "revised every year")
    if isinstance(tracks, list | tuple):
        yield from _track_rules(tracks)


def _track_rules(tracks):
    def get(t, key):
        return t.get(key) if isinstance(t, dict) else getattr(t, key, None)

    if len(tracks) < 3:
        yield (("tracks",), "min_three_tracks",
               f"an agreement needs at least three local tracks; this one has {len(tracks)}")
    if not any(get(t, "short_education") is True for t in tracks):
        yield ("tracks",), "short_education_track", ("at least one track must be for people with short education "
                                                     "(short_education = true)")
    seen: dict[str, int] = {}
    for i, t in enumerate(tracks):
        tid = get(t, "id")
        if isinstance(tid, str) and tid in seen:
            yield ("tracks", i, "id"), "duplicate_track_id", f"track id {tid!r} is already used by tracks[{seen[tid]}]"
        elif isinstance(tid, str):
            seen[tid] = i


def _add_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:                      # 29 February
        return day.replace(year=day.year + 1, day=28)
