"""Local agreements (överenskommelser om fördjupad samverkan) and their local job tracks
(lokala jobbspår), read from the agreements folder of the configuration (`agreements/*.toml`,
looked up like every configuration file: `config_files.py`).

One file per municipality or group of collaborating municipalities. Its schema and the
model's rules are in `agreement_schema.py` (at least three tracks, one of them for people
with short education; the municipality and AF among the parties and the signatories;
yearly revision; for every track employers, a responsible person at AF and at the
municipality, and an estimated length), and every violation of a file is reported at
once, naming the file, the key path and the rule. A broken file never stops the others:
`AgreementBook` keeps the valid agreements and, separately, why the broken ones were
refused, so the engine can say why it refuses a track.

Pure Python, no database. Field reference (TOML; `etablera config schema` has all of it):

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
Points convert by the rule in `components.toml` (20 points a week full time,
100 p ≈ 5 weeks), rounded up to whole days.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from etablera.models.agreement_schema import (COMPONENT_KINDS, DEFAULT_POINTS_PER_WEEK, PARTY_KINDS, RULE_AT, RULES,
                                              SFI_LEVELS, AgreementFile, Component, Party, Prerequisites, Signatory,
                                              Track, points_frame)
from etablera.models.config_files import (ConfigError, ConfigIssue, Where, as_search, find, issues_of, load,
                                          search_path, shown)
from etablera.models.config_schema import ComponentsFile
from etablera.statemachine.messages import Code, Words, render

__all__ = ["COMPONENT_KINDS", "DEFAULT_POINTS_PER_WEEK", "PARTY_KINDS", "SFI_LEVELS", "Agreement", "AgreementBook",
           "AgreementError", "AgreementIssue", "BrokenFile", "Component", "Party", "Prerequisites", "Signatory",
           "Track",
           "TrackRefused", "agreements_dir", "clear_cache", "component_plan", "load_agreement", "load_book",
           "points_frame", "points_per_week", "track_due", "unmet_prerequisites", "validate_agreement_file",
           "validate_agreement_files"]

AgreementIssue = ConfigIssue        # file, field (key path), rule, message


class TrackRefused(Exception):
    """A track cannot be chosen for this municipality on this date: a `code` of the message
    catalogue (statemachine/messages.py) and its `params`. `text(lang)` (or `words`, both
    languages) says why; `str(exc)` is the English, for logs."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code, self.params = code, params

    def text(self, lang: str = "en") -> str:
        return render(self.code, self.params, lang)

    @property
    def words(self) -> Words:
        return Words(self.text("sv"), self.text("en"))

    def __str__(self) -> str:
        return self.text("en")

    def __reduce__(self):
        return _track_refused, (self.code, self.params)


def _track_refused(code: str, params: dict) -> "TrackRefused":
    return TrackRefused(code, **params)


class AgreementError(ConfigError):
    """An agreement file breaks one or more rules; `issues` lists them all."""


@dataclass(frozen=True)
class Agreement:
    """An agreement on deepened cooperation (överenskommelse om fördjupad samverkan): the
    fields of its file (`AgreementFile`) and the file it was read from."""
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

    @classmethod
    def of(cls, model: AgreementFile, file: str) -> "Agreement":
        return cls(file=file, **{name: getattr(model, name) for name in AgreementFile.model_fields})

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

def agreements_dir(directory: Where = None) -> Path:
    """The agreements folder: `agreements/` of the first directory of the lookup that has one."""
    return _agreements_of(as_search(directory))[1]


@lru_cache(maxsize=16)
def _agreements_of(search: tuple[Path, ...]) -> tuple[Path, Path]:
    """`config_dir() / "agreements"` of a search path, and the agreements folder it means."""
    return search[0] / "agreements", find("agreements", search) or search[-1] / "agreements"


def points_per_week(directory: Where = None) -> int:
    """The points-to-weeks rule of `components.toml` (looked up; 20 when no directory has one)."""
    return _points_per_week(as_search(directory))


@lru_cache(maxsize=8)
def _points_per_week(search: tuple[Path, ...]) -> int:
    return load(ComponentsFile, "components.toml", search, required=False)[0].points.points_per_week


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


def _parse_file(path: Path, per_week: int | None) -> tuple[Agreement | None, list[AgreementIssue]]:
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        return None, [AgreementIssue(str(path), "(file)", "file_missing", "no such file")]
    except tomllib.TOMLDecodeError as exc:
        return None, [AgreementIssue(str(path), "(file)", "toml_syntax", f"not valid TOML ({exc})")]
    context = {"points_per_week": per_week if per_week is not None else points_per_week()}
    try:
        model = AgreementFile.model_validate(doc, context=context)
    except ValidationError as exc:
        return None, issues_of(exc, str(path), AgreementFile, RULE_AT, RULES)
    return Agreement.of(model, str(path)), []


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
                        f"{', '.join(shared)} also in {shown(other.file)} for an overlapping period "
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
        """The agreements of `directory`. None, or `config_dir() / "agreements"` (how callers
        say "the configured agreements"), is the agreements folder of the lookup."""
        given, found = _agreements_of(search_path())
        if directory is None or directory == given or Path(directory) == given:
            return load_book(found)
        return load_book(Path(directory))

    @property
    def issues(self) -> list[AgreementIssue]:
        return [i for b in self.broken for i in b.issues]

    def issues_for(self, municipality: str) -> list[AgreementIssue]:
        return [i for b in self.broken if municipality in b.municipalities for i in b.issues]

    def agreements_for(self, municipality: str) -> list[Agreement]:
        return [a for a in self.agreements if municipality in a.municipalities]

    def agreement_for(self, municipality: str, on: date) -> Agreement | None:
        return next((a for a in self.agreements_for(municipality) if a.valid_on(on)), None)

    def no_agreement(self, municipality: str, on: date) -> TrackRefused:
        """Why `agreement_for(municipality, on)` is None, as a `TrackRefused` to raise or to
        read: broken file, expired or not yet valid, or no agreement at all."""
        broken = self.issues_for(municipality)
        where = Code(municipality)
        if broken:
            first = broken[0]
            # The first issue's own words come from the configuration's validation (English):
            # the Swedish text names where it is, the English one quotes it.
            issue = Words(f"{shown(first.file)}: {first.field}", str(first))
            return TrackRefused("agreement_file_broken", municipality=where,
                                files=[Code(f) for f in sorted({shown(i.file) for i in broken})],
                                rules=[Code(r) for r in sorted({i.rule for i in broken})], issue=issue)
        others = self.agreements_for(municipality)
        if not others:
            unread = sorted(shown(b.file) for b in self.broken if not b.municipalities)
            if unread:
                return TrackRefused("no_agreement_unreadable", municipality=where, files=[Code(f) for f in unread])
            return TrackRefused("no_agreement", municipality=where)
        periods = Code("; ".join(a.validity for a in sorted(others, key=lambda a: a.valid_from)))
        code = "agreement_not_yet_valid" if all(on < a.valid_from for a in others) else "agreement_expired"
        return TrackRefused(code, municipality=where, on=on, periods=periods)

    def check_track(self, municipality: str, track_id: str, on: date) -> Track:
        """The track a case in `municipality` may start on `on`, or `TrackRefused` saying why."""
        agreement = self.agreement_for(municipality, on)
        if agreement is None:
            raise self.no_agreement(municipality, on)
        track = agreement.track(track_id)
        open_ids = [Code(t.id) for t in agreement.open_tracks] or Words("inga", "none")
        where, quoted = Code(municipality), Code(repr(track_id))
        if track is None:
            elsewhere = sorted({c for a in self.agreements if a.track(track_id) for c in a.municipalities}
                               - set(agreement.municipalities))
            if elsewhere:
                raise TrackRefused("track_in_other_agreement", municipality=where, track=quoted,
                                   elsewhere=[Code(c) for c in elsewhere], open=open_ids)
            raise TrackRefused("track_not_in_agreement", municipality=where, track=quoted, open=open_ids)
        if not track.open:
            raise TrackRefused("track_closed", municipality=where, track=quoted, open=open_ids)
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
    _agreements_of.cache_clear()


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
                        sfi_level: str | None = None) -> list[Words]:
    """The prerequisites the person does not meet, each as `Words` (Swedish and English;
    empty: admissible).

    Free-text `other` prerequisites are shown to officers, never checked. An sfi level
    requirement is checked only when `sfi_level` is given.
    """
    p = track.prerequisites
    unmet = []
    if p.target_groups and target_group not in p.target_groups:
        unmet.append(_said("prerequisite_target_group", group=Code(target_group),
                           groups=[Code(g) for g in p.target_groups]))
    if p.min_age is not None and age < p.min_age:
        unmet.append(_said("prerequisite_min_age", age=age, min=p.min_age))
    if p.max_age is not None and age > p.max_age:
        unmet.append(_said("prerequisite_max_age", age=age, max=p.max_age))
    if p.requires_no_upper_secondary and not no_upper_secondary:
        unmet.append(_said("prerequisite_no_upper_secondary"))
    if p.sfi_level and sfi_level is not None:
        if sfi_level not in SFI_LEVELS or SFI_LEVELS.index(sfi_level) < SFI_LEVELS.index(p.sfi_level):
            unmet.append(_said("prerequisite_sfi_level", level=Code(sfi_level), required=Code(p.sfi_level)))
    return unmet


def _said(code: str, **params) -> Words:
    return Words(render(code, params, "sv"), render(code, params, "en"))


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
