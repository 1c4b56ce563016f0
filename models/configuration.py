"""The effective configuration, read from the TOML files in `config/`.

What a municipality may change lives there (reason codes and their labels, measure
types and durations, target-group bounds, national fast tracks, time frames); this
module turns it into frozen values and refuses a broken file with a message naming the
file and the field. `ETABLERA_CONFIG_DIR` points elsewhere (tests, another municipality).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from etablera.models.timeframes import Frame, FrameError

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "config"
REASON_CATEGORIES = ("skip", "pause", "close", "drop_track", "cancel_measure")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Label:
    sv: str
    en: str

    def __call__(self, lang: str = "sv") -> str:
        return self.en if lang == "en" else self.sv


@dataclass(frozen=True)
class MeasureType:
    code: str
    label: Label
    frame: Frame


@dataclass(frozen=True)
class TargetGroup:
    code: str
    label: Label
    min_age: int
    max_age: int
    requires_no_upper_secondary: bool

    def admits(self, age: int, no_upper_secondary: bool) -> bool:
        if self.requires_no_upper_secondary and not no_upper_secondary:
            return False
        return self.min_age <= age <= self.max_age


@dataclass(frozen=True)
class FastTrack:
    code: str
    label: Label
    professions: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    directory: Path
    reasons: dict[str, dict[str, Label]]
    measure_types: dict[str, MeasureType]
    measure_states: dict[str, Label]
    target_groups: tuple[TargetGroup, ...]
    fast_tracks: dict[str, FastTrack]
    stage_frames: dict[str, dict[str, Frame]]      # stage -> target group ("*" = all) -> frame
    establishment_frame: Frame
    counties: dict[str, str]
    municipalities: dict[str, str]
    extra: dict = field(default_factory=dict)      # sections later features read

    def stage_frame(self, stage: str, target_group: str) -> Frame | None:
        frames = self.stage_frames.get(stage)
        if not frames:
            return None
        return frames.get(target_group) or frames.get("*")

    def target_group_for(self, age: int, no_upper_secondary: bool) -> TargetGroup | None:
        return next((g for g in self.target_groups if g.admits(age, no_upper_secondary)), None)

    def as_dict(self, lang: str = "sv") -> dict:
        """The effective configuration as one JSON-able document (`etablera config show`)."""
        return {
            "directory": str(self.directory),
            "reasons": {cat: {code: {"sv": l.sv, "en": l.en} for code, l in codes.items()}
                        for cat, codes in self.reasons.items()},
            "measure_types": {m.code: {"sv": m.label.sv, "en": m.label.en, "duration": str(m.frame)}
                              for m in self.measure_types.values()},
            "target_groups": [{"code": g.code, "sv": g.label.sv, "en": g.label.en, "min_age": g.min_age,
                               "max_age": g.max_age,
                               "requires_no_upper_secondary": g.requires_no_upper_secondary}
                              for g in self.target_groups],
            "fast_tracks": {t.code: {"sv": t.label.sv, "en": t.label.en, "professions": list(t.professions)}
                            for t in self.fast_tracks.values()},
            "time_frames": {"stages": {stage: {g: str(f) for g, f in frames.items()}
                                       for stage, frames in self.stage_frames.items()},
                            "establishment": str(self.establishment_frame)},
        }


def config_dir() -> Path:
    return Path(os.environ.get("ETABLERA_CONFIG_DIR", DEFAULT_DIR))


def get_config() -> Config:
    return _config_at(os.environ.get("ETABLERA_CONFIG_DIR", ""))


@lru_cache(maxsize=8)
def _config_at(directory: str) -> Config:
    return load_config(Path(directory) if directory else DEFAULT_DIR)


@lru_cache(maxsize=8)
def load_config(directory: Path) -> Config:
    directory = Path(directory)
    reasons_doc = read_toml(directory / "reasons.toml")
    measures_doc = read_toml(directory / "measures.toml")
    groups_doc = read_toml(directory / "target_groups.toml")
    fast_doc = read_toml(directory / "fast_tracks.toml")
    frames_doc = read_toml(directory / "timeframes.toml")
    places_doc = read_toml(directory / "municipalities.toml")

    reasons = {}
    for category in REASON_CATEGORIES:
        section = _need(reasons_doc, category, "reasons.toml", category)
        reasons[category] = {code: _label(v, "reasons.toml", f"{category}.{code}") for code, v in section.items()}

    types = _need(measures_doc, "types", "measures.toml", "types")
    measure_types = {code: MeasureType(code, _label(v, "measures.toml", f"types.{code}"),
                                       _frame(_need(v, "duration", "measures.toml", f"types.{code}.duration"),
                                              "measures.toml", f"types.{code}.duration"))
                     for code, v in types.items()}
    measure_states = {code: _label(v, "measures.toml", f"states.{code}")
                      for code, v in _need(measures_doc, "states", "measures.toml", "states").items()}

    groups = []
    for i, g in enumerate(_need(groups_doc, "groups", "target_groups.toml", "groups")):
        where = f"groups[{i}]"
        groups.append(TargetGroup(
            code=str(_need(g, "code", "target_groups.toml", where + ".code")),
            label=_label(g, "target_groups.toml", where),
            min_age=int(_need(g, "min_age", "target_groups.toml", where + ".min_age")),
            max_age=int(_need(g, "max_age", "target_groups.toml", where + ".max_age")),
            requires_no_upper_secondary=bool(g.get("requires_no_upper_secondary", False))))

    fast_tracks = {code: FastTrack(code, _label(v, "fast_tracks.toml", f"tracks.{code}"),
                                   tuple(v.get("professions", ())))
                   for code, v in _need(fast_doc, "tracks", "fast_tracks.toml", "tracks").items()}

    stage_frames: dict[str, dict[str, Frame]] = {}
    for stage, value in _need(frames_doc, "stages", "timeframes.toml", "stages").items():
        per_group = value if isinstance(value, dict) else {"*": value}
        stage_frames[stage] = {g: _frame(v, "timeframes.toml", f"stages.{stage}.{g}") for g, v in per_group.items()}
    establishment = _frame(_need(_need(frames_doc, "establishment", "timeframes.toml", "establishment"),
                                 "frame", "timeframes.toml", "establishment.frame"),
                           "timeframes.toml", "establishment.frame")

    return Config(
        directory=directory, reasons=reasons, measure_types=measure_types,
        measure_states=measure_states, target_groups=tuple(groups), fast_tracks=fast_tracks,
        stage_frames=stage_frames, establishment_frame=establishment,
        counties=dict(places_doc.get("counties", {})),
        municipalities=dict(places_doc.get("municipalities", {})),
        extra={"timeframes": frames_doc},
    )


def read_toml(path: Path) -> dict:
    """A configuration file's document; `ConfigError` naming the file if it is missing or not TOML."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _need(doc: dict, key: str, file: str, where: str):
    if not isinstance(doc, dict) or key not in doc:
        raise ConfigError(f"config/{file}: {where} is missing")
    return doc[key]


def _label(doc: dict, file: str, where: str) -> Label:
    return Label(sv=str(_need(doc, "sv", file, where + ".sv")), en=str(_need(doc, "en", file, where + ".en")))


def _frame(text: str, file: str, where: str) -> Frame:
    try:
        return Frame.parse(text)
    except FrameError as exc:
        raise ConfigError(f"config/{file}: {where}: {exc}") from None
