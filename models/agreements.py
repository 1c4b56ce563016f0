"""Local agreements (överenskommelser om fördjupad samverkan) and their local job tracks
(lokala jobbspår), read from `config/agreements/*.toml`.

One file per municipality or group of collaborating municipalities. The model's rules
are checked here and every violation of a file is reported at once: at least three
tracks, one of them for people with short education (kortutbildade); the municipality
and Arbetsförmedlingen (AF) among the parties and the signatories; yearly revision; and
for every track employers, a responsible person at AF and at the municipality, and an
estimated length. A broken file never stops the others: `AgreementBook` keeps the valid
agreements and, separately, why the broken ones were refused, so the engine can say why
it refuses a track.

Pure Python, no database. Field reference (TOML):

    municipalities = ["0581"]          # 4-digit kommunkoder
    name = "..."
    parties = [{ name = "...", kind = "kommun" }, { name = "...", kind = "af" }, ...]
    valid_from = 2018-03-01            # TOML dates, not strings
    valid_to = 2027-12-31              # optional
    last_revision = 2026-03-01         # optional
    next_revision = 2027-03-01         # within a year of last_revision (or valid_from)
    signatories = [{ name = "...", role = "...", party = "<a party's name>" }, ...]
    [[tracks]]
    id = "svets"                       # lowercase letters, digits, '-' and '_'
    name = "Svets"; name_en = "Welding"; sector = "Industri"
    short_education = false; open = true; estimated_length = "P10M"
    components = [{ kind = "course", name = "Svetsgrund", points = 100 }, ...]
    employers = [...]; education_providers = [...]; other_actors = [...]
    responsible = { af = "...", kommun = "..." }
    follow_up = "..."
    [tracks.prerequisites]
    target_groups = ["A", "B"]; min_age = 18; max_age = 64; sfi_level = "C"
    requires_no_upper_secondary = false; other = ["shown to officers, not checked"]

Component lengths: `duration` (ISO 8601) wins over `weeks`, which wins over `points`.
Points convert by the rule in `config/components.toml` (20 points a week full time,
100 p ≈ 5 weeks), rounded up to whole days.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from etablera.models.configuration import ConfigError, Label, config_dir
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
DEFAULT_POINTS_PER_WEEK = 20            # used when config/components.toml is absent
_CODE = re.compile(r"^\d{4}$")
_TRACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_TOP_FIELDS = {"municipalities", "name", "parties", "valid_from", "valid_to", "next_revision",
               "last_revision", "signatories", "tracks"}
_TRACK_FIELDS = {"id", "name", "name_en", "sector", "short_education", "open", "estimated_length",
                 "components", "employers", "education_providers", "other_actors", "prerequisites",
                 "responsible", "follow_up"}
_COMPONENT_FIELDS = {"kind", "name", "points", "weeks", "duration"}
_PREREQ_FIELDS = {"target_groups", "min_age", "max_age", "sfi_level", "requires_no_upper_secondary", "other"}


class TrackRefused(Exception):
    """A track cannot be chosen for this municipality on this date; the message says why."""


@dataclass(frozen=True)
class AgreementIssue:
    file: str
    field: str          # dotted path, e.g. "tracks[2].employers"
    rule: str           # short rule id, e.g. "min_three_tracks"
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message} [rule {self.rule}]"

    def as_dict(self) -> dict:
        return {"file": self.file, "field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Party:
    name: str
    kind: str


@dataclass(frozen=True)
class Signatory:
    name: str
    role: str
    party: str


@dataclass(frozen=True)
class Component:
    """One step of a track (a course, internship, sfi, employment...)."""
    kind: str
    name: str
    frame: Frame                  # the length used for planning
    points: int | None = None
    weeks: int | None = None
    duration: str | None = None

    @property
    def parallel(self) -> bool:
        """Sfi runs alongside the other components, from the track's start."""
        return self.kind == "sfi"


@dataclass(frozen=True)
class Prerequisites:
    """Förkunskapskrav. Everything but `other` is checked by `unmet_prerequisites`."""
    target_groups: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    sfi_level: str | None = None
    requires_no_upper_secondary: bool = False
    other: tuple[str, ...] = ()


@dataclass(frozen=True)
class Track:
    """A local job track (lokalt jobbspår)."""
    id: str
    name: str
    name_en: str
    sector: str
    short_education: bool
    open: bool
    estimated_frame: Frame
    components: tuple[Component, ...]
    employers: tuple[str, ...]
    education_providers: tuple[str, ...]
    other_actors: tuple[str, ...]
    prerequisites: Prerequisites
    responsible_af: str
    responsible_kommun: str
    follow_up: str

    @property
    def label(self) -> Label:
        return Label(self.name, self.name_en)

    @property
    def estimated_length(self) -> str:
        return str(self.estimated_frame)

    def as_dict(self, lang: str = "sv") -> dict:
        p = self.prerequisites
        return {
            "id": self.id, "name": self.label(lang), "name_sv": self.name, "name_en": self.name_en,
            "sector": self.sector, "short_education": self.short_education, "open": self.open,
            "estimated_length": self.estimated_length,
            "components": [{"kind": c.kind, "kind_label": COMPONENT_KINDS[c.kind](lang), "name": c.name,
                            "points": c.points, "weeks": c.weeks, "duration": c.duration,
                            "length": str(c.frame), "parallel": c.parallel} for c in self.components],
            "employers": list(self.employers), "education_providers": list(self.education_providers),
            "other_actors": list(self.other_actors),
            "prerequisites": {"target_groups": list(p.target_groups), "min_age": p.min_age,
                              "max_age": p.max_age, "sfi_level": p.sfi_level,
                              "requires_no_upper_secondary": p.requires_no_upper_secondary,
                              "other": list(p.other)},
            "responsible": {"af": self.responsible_af, "kommun": self.responsible_kommun},
            "follow_up": self.follow_up,
        }


@dataclass(frozen=True)
class Agreement:
    """An agreement on deepened cooperation (överenskommelse om fördjupad samverkan)."""
    file: str
    municipalities: tuple[str, ...]
    name: str
    parties: tuple[Party, ...]
    valid_from: date
    valid_to: date | None
    next_revision: date
    last_revision: date | None
    signatories: tuple[Signatory, ...]
    tracks: tuple[Track, ...]

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def revision_overdue(self, day: date) -> bool:
        return day > self.next_revision

    def track(self, track_id: str) -> Track | None:
        return next((t for t in self.tracks if t.id == track_id), None)

    @property
    def open_tracks(self) -> tuple[Track, ...]:
        return tuple(t for t in self.tracks if t.open)

    @property
    def validity(self) -> str:
        return f"{self.valid_from.isoformat()}–{self.valid_to.isoformat() if self.valid_to else ''}"

    def as_dict(self, lang: str = "sv") -> dict:
        return {
            "file": self.file, "municipalities": list(self.municipalities), "name": self.name,
            "parties": [{"name": p.name, "kind": p.kind, "kind_label": PARTY_KINDS[p.kind](lang)}
                        for p in self.parties],
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "last_revision": self.last_revision.isoformat() if self.last_revision else None,
            "next_revision": self.next_revision.isoformat(),
            "signatories": [{"name": s.name, "role": s.role, "party": s.party} for s in self.signatories],
            "tracks": [t.as_dict(lang) for t in self.tracks],
        }


# ---------------------------------------------------------------------------- reading

def points_per_week(directory: Path | None = None) -> int:
    """The points-to-weeks rule from `components.toml` in the configuration directory."""
    return _points_per_week(Path(directory or config_dir()))


@lru_cache(maxsize=8)
def _points_per_week(directory: Path) -> int:
    path = directory / "components.toml"
    try:
        with path.open("rb") as fh:
            value = tomllib.load(fh).get("points", {}).get("points_per_week", DEFAULT_POINTS_PER_WEEK)
    except FileNotFoundError:
        return DEFAULT_POINTS_PER_WEEK
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{path}: points.points_per_week must be a positive integer")
    return value


def points_frame(points: int, per_week: int) -> Frame:
    """Full-time length of `points` (100 p at 20 p/week = 5 weeks), whole days rounded up."""
    days = math.ceil(points * 7 / per_week)
    return Frame(weeks=days // 7) if days % 7 == 0 else Frame(days=days)


class _Reader:
    """Collects every issue of one file while building its values."""

    def __init__(self, file: str):
        self.file = file
        self.issues: list[AgreementIssue] = []

    def issue(self, where: str, rule: str, message: str) -> None:
        self.issues.append(AgreementIssue(self.file, where, rule, message))

    def get(self, doc: dict, key: str, kind, where: str, *, required: bool = True, default=None):
        """The value of `key` if present and of type `kind`; records an issue otherwise."""
        path = f"{where}.{key}" if where else key
        if key not in doc:
            if required:
                self.issue(path, "required_field", "is missing")
            return default
        value = doc[key]
        if not _is(value, kind):
            self.issue(path, "field_type", f"must be {_kind_name(kind)}, not {_show(value)}")
            return default
        return value

    def strings(self, doc: dict, key: str, where: str, *, required: bool = True) -> tuple[str, ...]:
        values = self.get(doc, key, list, where, required=required, default=[])
        path = f"{where}.{key}" if where else key
        out = []
        for i, v in enumerate(values):
            if isinstance(v, str) and v.strip():
                out.append(v)
            else:
                self.issue(f"{path}[{i}]", "field_type", f"must be a non-empty text, not {_show(v)}")
        return tuple(out)

    def unknown(self, doc: dict, allowed: set[str], where: str) -> None:
        for key in doc:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                self.issue(path, "unknown_field", f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def _is(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is date:
        return type(value) is date          # a TOML datetime is not an agreement date
    if kind is str:
        return isinstance(value, str) and bool(value.strip())
    return isinstance(value, kind)


def _kind_name(kind) -> str:
    return {str: "a non-empty text", int: "an integer", bool: "true or false", date: "a date (YYYY-MM-DD, unquoted)",
            list: "a list", dict: "a table"}[kind]


def _show(value) -> str:
    return f"{type(value).__name__} {value!r}"


def _add_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:                      # 29 February
        return day.replace(year=day.year + 1, day=28)


def load_agreement(path: str | Path, *, per_week: int | None = None) -> Agreement:
    """Read one agreement file; raises `AgreementError` listing every issue if it is broken."""
    agreement, issues = _parse_file(Path(path), per_week)
    if issues or agreement is None:
        raise AgreementError(issues)
    return agreement


def validate_agreement_file(path: str | Path, *, per_week: int | None = None) -> list[AgreementIssue]:
    """Every rule violation of one file (empty when valid)."""
    return _parse_file(Path(path), per_week)[1]


def validate_agreement_files(paths, *, per_week: int | None = None) -> list[AgreementIssue]:
    """Every issue of every file, plus municipalities covered by two files at once."""
    parsed = {Path(p): _parse_file(Path(p), per_week) for p in paths}
    issues = [i for _, file_issues in parsed.values() for i in file_issues]
    valid = [a for a, file_issues in parsed.values() if a is not None and not file_issues]
    return issues + _overlaps(valid)


class AgreementError(ValueError):
    """An agreement file breaks one or more rules; `issues` lists them all."""

    def __init__(self, issues: list[AgreementIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues) or "broken agreement")


def _parse_file(path: Path, per_week: int | None) -> tuple[Agreement | None, list[AgreementIssue]]:
    r = _Reader(str(path))
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        r.issue("(file)", "file_missing", "no such file")
        return None, r.issues
    except tomllib.TOMLDecodeError as exc:
        r.issue("(file)", "toml_syntax", f"not valid TOML ({exc})")
        return None, r.issues
    agreement = _parse(doc, r, per_week if per_week is not None else points_per_week())
    return (agreement if not r.issues else None), r.issues


def _parse(doc: dict, r: _Reader, per_week: int) -> Agreement | None:
    r.unknown(doc, _TOP_FIELDS, "")
    codes = r.strings(doc, "municipalities", "")
    if "municipalities" in doc and isinstance(doc["municipalities"], list) and not doc["municipalities"]:
        r.issue("municipalities", "municipality_code", "lists no municipality")
    for i, code in enumerate(codes):
        if not _CODE.match(code):
            r.issue(f"municipalities[{i}]", "municipality_code",
                    f"{code!r} is not a municipality code (four digits, e.g. \"0581\")")
    for code in {c for c in codes if codes.count(c) > 1}:
        r.issue("municipalities", "municipality_code", f"{code} is listed twice")
    name = r.get(doc, "name", str, "")

    parties = _parties(doc, r)
    signatories = _signatories(doc, r, parties)
    valid_from, valid_to, next_revision, last_revision = _dates(doc, r)

    tracks = []
    raw_tracks = r.get(doc, "tracks", list, "", default=[])
    for i, raw in enumerate(raw_tracks):
        where = f"tracks[{i}]"
        if not isinstance(raw, dict):
            r.issue(where, "field_type", f"must be a table, not {_show(raw)}")
            continue
        track = _track(raw, r, where, per_week)
        if track is not None:
            tracks.append(track)
    if "tracks" in doc and len(raw_tracks) < 3:
        r.issue("tracks", "min_three_tracks",
                f"an agreement needs at least three local tracks; this one has {len(raw_tracks)}")
    short = [t for t in raw_tracks if isinstance(t, dict) and t.get("short_education") is True]
    if "tracks" in doc and not short:
        r.issue("tracks", "short_education_track",
                "at least one track must be for people with short education (short_education = true)")
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_tracks):
        tid = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(tid, str):
            if tid in seen:
                r.issue(f"tracks[{i}].id", "duplicate_track_id", f"track id {tid!r} is already used by tracks[{seen[tid]}]")
            else:
                seen[tid] = i

    if r.issues:
        return None
    return Agreement(file=r.file, municipalities=codes, name=name, parties=parties, valid_from=valid_from,
                     valid_to=valid_to, next_revision=next_revision, last_revision=last_revision,
                     signatories=signatories, tracks=tuple(tracks))


def _parties(doc: dict, r: _Reader) -> tuple[Party, ...]:
    parties = []
    for i, raw in enumerate(r.get(doc, "parties", list, "", default=[])):
        where = f"parties[{i}]"
        if not isinstance(raw, dict):
            r.issue(where, "field_type", f"must be a table {{name, kind}}, not {_show(raw)}")
            continue
        r.unknown(raw, {"name", "kind"}, where)
        name, kind = r.get(raw, "name", str, where), r.get(raw, "kind", str, where)
        if kind is not None and kind not in PARTY_KINDS:
            r.issue(f"{where}.kind", "party_kind", f"{kind!r} is not a party kind ({', '.join(PARTY_KINDS)})")
        elif name is not None and kind is not None:
            parties.append(Party(name, kind))
    if "parties" in doc and isinstance(doc["parties"], list):
        kinds = {p.kind for p in parties}
        for needed in ("kommun", "af"):
            if needed not in kinds:
                r.issue("parties", "parties_kommun_af",
                        f"the municipality and Arbetsförmedlingen must be parties; no party of kind {needed!r}")
    return tuple(parties)


def _signatories(doc: dict, r: _Reader, parties: tuple[Party, ...]) -> tuple[Signatory, ...]:
    by_name = {p.name: p for p in parties}
    signatories = []
    for i, raw in enumerate(r.get(doc, "signatories", list, "", default=[])):
        where = f"signatories[{i}]"
        if not isinstance(raw, dict):
            r.issue(where, "field_type", f"must be a table {{name, role, party}}, not {_show(raw)}")
            continue
        r.unknown(raw, {"name", "role", "party"}, where)
        name, role = r.get(raw, "name", str, where), r.get(raw, "role", str, where)
        party = r.get(raw, "party", str, where)
        if party is not None and party not in by_name:
            r.issue(f"{where}.party", "signatory_party", f"{party!r} is not one of the agreement's parties")
        if None not in (name, role, party):
            signatories.append(Signatory(name, role, party))
    if "signatories" in doc and isinstance(doc["signatories"], list):
        signed = {by_name[s.party].kind for s in signatories if s.party in by_name}
        who = {"kommun": "the municipal executive board's chair (kommunstyrelsens ordförande)",
               "af": "the responsible manager at Arbetsförmedlingen"}
        for needed in ("kommun", "af"):
            if needed not in signed:
                r.issue("signatories", "signatories_kommun_af", f"must be signed by {who[needed]}; "
                        f"no signatory for a party of kind {needed!r}")
    return tuple(signatories)


def _dates(doc: dict, r: _Reader):
    valid_from = r.get(doc, "valid_from", date, "")
    valid_to = r.get(doc, "valid_to", date, "", required=False)
    next_revision = r.get(doc, "next_revision", date, "")
    last_revision = r.get(doc, "last_revision", date, "", required=False)
    if valid_from and valid_to and valid_to <= valid_from:
        r.issue("valid_to", "valid_to_after_valid_from",
                f"{valid_to} must be after valid_from ({valid_from})")
    if valid_from and last_revision and last_revision < valid_from:
        r.issue("last_revision", "revision_yearly", f"{last_revision} is before valid_from ({valid_from})")
    if valid_from and next_revision:
        base, base_name = (last_revision, "last_revision") if last_revision else (valid_from, "valid_from")
        if next_revision <= base or next_revision > _add_year(base):
            r.issue("next_revision", "revision_yearly",
                    f"{next_revision} must be after {base_name} ({base}) and at most a year later "
                    f"(by {_add_year(base)}): the agreement is revised every year")
    return valid_from, valid_to, next_revision, last_revision


def _track(raw: dict, r: _Reader, where: str, per_week: int) -> Track | None:
    before = len(r.issues)
    r.unknown(raw, _TRACK_FIELDS, where)
    tid = r.get(raw, "id", str, where)
    if tid is not None and not _TRACK_ID.match(tid):
        r.issue(f"{where}.id", "track_id", f"{tid!r} must be lowercase letters, digits, '-' or '_'")
    name, name_en = r.get(raw, "name", str, where), r.get(raw, "name_en", str, where)
    sector = r.get(raw, "sector", str, where)
    short = r.get(raw, "short_education", bool, where)
    is_open = r.get(raw, "open", bool, where)
    follow_up = r.get(raw, "follow_up", str, where)

    frame = None
    if "estimated_length" not in raw:
        r.issue(f"{where}.estimated_length", "track_estimated_length", "every track needs an estimated length")
    else:
        length = r.get(raw, "estimated_length", str, where)
        if length is not None:
            frame = _iso_frame(length, r, f"{where}.estimated_length", "track_estimated_length")

    if "employers" not in raw or raw.get("employers") == []:
        r.issue(f"{where}.employers", "track_employer", "every track needs at least one participating employer")
    employers = r.strings(raw, "employers", where, required=False)
    providers = r.strings(raw, "education_providers", where, required=False)
    actors = r.strings(raw, "other_actors", where, required=False)

    responsible = raw.get("responsible")
    resp = {"af": None, "kommun": None}
    if not isinstance(responsible, dict):
        r.issue(f"{where}.responsible", "track_responsible",
                "every track needs a responsible person at AF and at the municipality: responsible = { af = \"...\", kommun = \"...\" }")
    else:
        r.unknown(responsible, {"af", "kommun"}, f"{where}.responsible")
        for side in ("af", "kommun"):
            value = responsible.get(side)
            if _is(value, str):
                resp[side] = value
            else:
                r.issue(f"{where}.responsible.{side}", "track_responsible",
                        f"every track needs a responsible person at {'AF' if side == 'af' else 'the municipality'}")

    components = []
    raw_components = r.get(raw, "components", list, where, default=[])
    if "components" in raw and not raw_components:
        r.issue(f"{where}.components", "component", "a track needs at least one component")
    for j, rc in enumerate(raw_components):
        c = _component(rc, r, f"{where}.components[{j}]", per_week)
        if c is not None:
            components.append(c)

    prereq = _prerequisites(raw.get("prerequisites", {}), r, f"{where}.prerequisites")
    if len(r.issues) > before:
        return None
    return Track(id=tid, name=name, name_en=name_en, sector=sector, short_education=short, open=is_open,
                 estimated_frame=frame, components=tuple(components), employers=employers,
                 education_providers=providers, other_actors=actors, prerequisites=prereq,
                 responsible_af=resp["af"], responsible_kommun=resp["kommun"], follow_up=follow_up)


def _iso_frame(text: str, r: _Reader, where: str, rule: str) -> Frame | None:
    try:
        frame = Frame.parse(text)
    except FrameError as exc:
        r.issue(where, rule, str(exc))
        return None
    if frame.working_days or frame == Frame():
        r.issue(where, rule, f"{text!r} must be a positive ISO 8601 duration like 'P10M' or 'P12W'")
        return None
    return frame


def _component(raw, r: _Reader, where: str, per_week: int) -> Component | None:
    if not isinstance(raw, dict):
        r.issue(where, "component", f"must be a table {{kind, name, points|weeks|duration}}, not {_show(raw)}")
        return None
    before = len(r.issues)
    r.unknown(raw, _COMPONENT_FIELDS, where)
    kind = r.get(raw, "kind", str, where)
    if kind is not None and kind not in COMPONENT_KINDS:
        r.issue(f"{where}.kind", "component", f"{kind!r} is not a component kind ({', '.join(COMPONENT_KINDS)})")
    name = r.get(raw, "name", str, where)
    points = r.get(raw, "points", int, where, required=False)
    weeks = r.get(raw, "weeks", int, where, required=False)
    duration = r.get(raw, "duration", str, where, required=False)
    for key, value in (("points", points), ("weeks", weeks)):
        if value is not None and value <= 0:
            r.issue(f"{where}.{key}", "component", f"must be positive, not {value}")
    if not any(k in raw for k in ("points", "weeks", "duration")):
        r.issue(where, "component_length", "a component needs points, weeks or duration")
    if weeks is not None and duration is not None:
        r.issue(where, "component_length", "give weeks or duration, not both")
    frame = None
    if duration is not None:
        frame = _iso_frame(duration, r, f"{where}.duration", "component_length")
    elif weeks is not None and weeks > 0:
        frame = Frame(weeks=weeks)
    elif points is not None and points > 0:
        frame = points_frame(points, per_week)
    if len(r.issues) > before or frame is None:
        return None
    return Component(kind=kind, name=name, frame=frame, points=points, weeks=weeks, duration=duration)


def _prerequisites(raw, r: _Reader, where: str) -> Prerequisites:
    if not isinstance(raw, dict):
        r.issue(where, "field_type", f"must be a table, not {_show(raw)}")
        return Prerequisites()
    r.unknown(raw, _PREREQ_FIELDS, where)
    groups = r.strings(raw, "target_groups", where, required=False)
    min_age = r.get(raw, "min_age", int, where, required=False)
    max_age = r.get(raw, "max_age", int, where, required=False)
    if min_age is not None and max_age is not None and min_age > max_age:
        r.issue(f"{where}.max_age", "prerequisite_ages", f"max_age {max_age} is below min_age {min_age}")
    level = r.get(raw, "sfi_level", str, where, required=False)
    if level is not None and level not in SFI_LEVELS:
        r.issue(f"{where}.sfi_level", "sfi_level", f"{level!r} is not an sfi level ({', '.join(SFI_LEVELS)})")
    no_upper = r.get(raw, "requires_no_upper_secondary", bool, where, required=False, default=False)
    other = r.strings(raw, "other", where, required=False)
    return Prerequisites(target_groups=groups, min_age=min_age, max_age=max_age, sfi_level=level,
                         requires_no_upper_secondary=no_upper, other=other)


def _overlaps(agreements: list[Agreement]) -> list[AgreementIssue]:
    """A municipality may be in two files only if their validity periods do not overlap."""
    issues = []
    for i, a in enumerate(agreements):
        for b in agreements[i + 1:]:
            if a.file == b.file:
                continue
            shared = sorted(set(a.municipalities) & set(b.municipalities))
            a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
            if shared and a.valid_from <= b_end and b.valid_from <= a_end:
                for this, other in ((a, b), (b, a)):
                    issues.append(AgreementIssue(
                        this.file, "municipalities", "overlapping_agreements",
                        f"{', '.join(shared)} also in {other.file} for an overlapping period "
                        f"({this.validity} and {other.validity})"))
    return issues


# ---------------------------------------------------------------------------- the book

@dataclass(frozen=True)
class BrokenFile:
    file: str
    municipalities: tuple[str, ...]     # as far as they could be read
    issues: tuple[AgreementIssue, ...]


@dataclass(frozen=True)
class AgreementBook:
    """All agreement files of a directory: the valid agreements, and the broken files
    with their issues, so a refusal can name the rule a file breaks."""
    directory: Path
    agreements: tuple[Agreement, ...]
    broken: tuple[BrokenFile, ...] = field(default=())

    @classmethod
    def load(cls, directory: str | Path | None = None) -> "AgreementBook":
        return load_book(Path(directory) if directory else config_dir() / "agreements")

    @property
    def issues(self) -> list[AgreementIssue]:
        return [i for b in self.broken for i in b.issues]

    def issues_for(self, municipality: str) -> list[AgreementIssue]:
        return [i for b in self.broken if municipality in b.municipalities for i in b.issues]

    def agreements_for(self, municipality: str) -> list[Agreement]:
        return [a for a in self.agreements if municipality in a.municipalities]

    def agreement_for(self, municipality: str, on: date) -> Agreement | None:
        return next((a for a in self.agreements_for(municipality) if a.valid_on(on)), None)

    def why_no_agreement(self, municipality: str, on: date) -> str:
        """Why `agreement_for(municipality, on)` is None: broken file, expired or not yet
        valid, or no agreement at all."""
        broken = self.issues_for(municipality)
        if broken:
            files = sorted({i.file for i in broken})
            rules = sorted({i.rule for i in broken})
            return (f"municipality {municipality}: its agreement file {', '.join(files)} is broken "
                    f"(rule {', '.join(rules)}); first issue: {broken[0]}")
        others = self.agreements_for(municipality)
        if not others:
            unread = sorted(b.file for b in self.broken if not b.municipalities)
            return (f"municipality {municipality} has no agreement (överenskommelse) with local tracks"
                    + (f" (unreadable agreement files that might hold it: {', '.join(unread)})" if unread else ""))
        periods = "; ".join(a.validity for a in sorted(others, key=lambda a: a.valid_from))
        when = "not yet valid" if all(on < a.valid_from for a in others) else "expired"
        return (f"municipality {municipality}: no agreement valid on {on.isoformat()} "
                f"(agreement {when}; valid {periods})")

    def check_track(self, municipality: str, track_id: str, on: date) -> Track:
        """The track a case in `municipality` may start on `on`, or `TrackRefused` saying why."""
        agreement = self.agreement_for(municipality, on)
        if agreement is None:
            raise TrackRefused(self.why_no_agreement(municipality, on))
        track = agreement.track(track_id)
        if track is None:
            open_ids = ", ".join(t.id for t in agreement.open_tracks) or "none"
            elsewhere = sorted({c for a in self.agreements if a.track(track_id) for c in a.municipalities}
                               - set(agreement.municipalities))
            hint = f" ({track_id!r} belongs to municipality {', '.join(elsewhere)})" if elsewhere else ""
            raise TrackRefused(f"municipality {municipality}: no track {track_id!r} in its agreement{hint}; "
                               f"open tracks: {open_ids}")
        if not track.open:
            open_ids = ", ".join(t.id for t in agreement.open_tracks) or "none"
            raise TrackRefused(f"municipality {municipality}: track {track_id!r} is closed for new participants; "
                               f"open tracks: {open_ids}")
        return track


@lru_cache(maxsize=16)
def load_book(directory: Path) -> AgreementBook:
    """Read every `*.toml` in `directory` (cached by path; `clear_cache()` in tests)."""
    directory = Path(directory)
    per_week = points_per_week(directory.parent) if (directory.parent / "components.toml").exists() \
        else points_per_week()
    parsed = []
    for path in sorted(directory.glob("*.toml")):
        agreement, issues = _parse_file(path, per_week)
        parsed.append((path, agreement, issues))
    valid = [a for _, a, issues in parsed if a is not None and not issues]
    overlap = _overlaps(valid)
    overlapping_files = {i.file for i in overlap}
    agreements = tuple(a for a in valid if a.file not in overlapping_files)
    broken = []
    for path, agreement, issues in parsed:
        file_issues = list(issues) + [i for i in overlap if i.file == str(path)]
        if file_issues:
            broken.append(BrokenFile(str(path), _codes_of(path), tuple(file_issues)))
    return AgreementBook(directory=directory, agreements=agreements, broken=tuple(broken))


def clear_cache() -> None:
    load_book.cache_clear()
    _points_per_week.cache_clear()


def _codes_of(path: Path) -> tuple[str, ...]:
    """The municipality codes a broken file names, so its issues reach those municipalities;
    when it cannot be read at all, the codes its name starts with (`0581_norrkoping.toml`)."""
    try:
        with path.open("rb") as fh:
            codes = tomllib.load(fh).get("municipalities", [])
    except (OSError, tomllib.TOMLDecodeError):
        return tuple(re.findall(r"(?:^|_)(\d{4})(?=_|$)", path.stem))
    return tuple(str(c) for c in codes) if isinstance(codes, list) else ()


# ---------------------------------------------------------------------------- use

def unmet_prerequisites(track: Track, *, age: int, target_group: str, no_upper_secondary: bool,
                        sfi_level: str | None = None) -> list[str]:
    """Human-readable prerequisites the person does not meet (empty: admissible).

    Free-text `other` prerequisites are shown to officers, never checked. An sfi level
    requirement is checked only when `sfi_level` is given.
    """
    p = track.prerequisites
    unmet = []
    if p.target_groups and target_group not in p.target_groups:
        unmet.append(f"target group {target_group} is not admitted (track is for {', '.join(p.target_groups)})")
    if p.min_age is not None and age < p.min_age:
        unmet.append(f"age {age} is below the minimum age {p.min_age}")
    if p.max_age is not None and age > p.max_age:
        unmet.append(f"age {age} is above the maximum age {p.max_age}")
    if p.requires_no_upper_secondary and not no_upper_secondary:
        unmet.append("the track is for people without completed upper-secondary education")
    if p.sfi_level and sfi_level is not None:
        if sfi_level not in SFI_LEVELS or SFI_LEVELS.index(sfi_level) < SFI_LEVELS.index(p.sfi_level):
            unmet.append(f"sfi level {sfi_level} is below the required level {p.sfi_level}")
    return unmet


def component_plan(track: Track, start: date) -> list[tuple[Component, date]]:
    """Each component with its due date, in the agreement's order.

    Components follow one another from `start` (due = previous due + own length), except
    sfi, which runs in parallel with the rest from `start` (due = start + own length) and
    does not push the others back: the model wants the parts of a track to run in parallel
    and sfi alongside the vocational courses.
    """
    plan = []
    cursor = start
    for c in track.components:
        if c.parallel:
            plan.append((c, c.frame.due(start)))
        else:
            cursor = c.frame.due(cursor)
            plan.append((c, cursor))
    return plan


def track_due(track: Track, start: date) -> date:
    """Module 3's due date on this track: its estimated length from the start."""
    return track.estimated_frame.due(start)
