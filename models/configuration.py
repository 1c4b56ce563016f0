"""The effective configuration: what a municipality may change (reason codes and their
labels, measure types and durations, target groups, national fast tracks, time frames,
municipality names), read from the TOML files of the configuration directory.

Each file is looked up along `search_path()` (`$ETABLERA_CONFIG_DIR`, then `./config`,
then the packaged defaults: `config_lookup.py`), validated by its model in
`config_schema.py`, and turned into the frozen values the engine uses. A broken file
raises `ConfigError` naming the file and the key path; `Config.sources` says which file
each section came from.

The values are kept in a snapshot between commands (snapshot.py), so a command whose
files have not changed imports no validator: the models are imported only to validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from etablera.models.config_lookup import (DEFAULT_DIR, ConfigError, ConfigIssue, Label, Where, as_search, find,
                                           find_stamped, search_path)
from etablera.models.snapshot import kept
from etablera.models.timeframes import Frame

__all__ = ["DEFAULT_DIR", "Config", "ConfigError", "ConfigIssue", "FastTrack", "Label", "MeasureType",
           "TargetGroup", "config_dir", "get_config", "load_config", "search_path"]

# The files and the model each is validated by (config_schema.py, imported to validate).
FILES = {"reasons.toml": "ReasonsFile", "measures.toml": "MeasuresFile", "target_groups.toml": "TargetGroupsFile",
         "fast_tracks.toml": "FastTracksFile", "timeframes.toml": "TimeframesFile",
         "municipalities.toml": "MunicipalitiesFile"}


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
    directory: Path                                 # the first directory of the lookup
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
    sources: dict[str, Path] = field(default_factory=dict)    # file name -> the file it was read from
    search: tuple[Path, ...] = ()                  # the lookup it was read along

    def stage_frame(self, stage: str, target_group: str) -> Frame | None:
        frames = self.stage_frames.get(stage)
        if not frames:
            return None
        return frames.get(target_group) or frames.get("*")

    def target_group_for(self, age: int, no_upper_secondary: bool) -> TargetGroup | None:
        return next((g for g in self.target_groups if g.admits(age, no_upper_secondary)), None)

    def as_dict(self, lang: str = "sv") -> dict:
        """The effective configuration as one JSON-able document (`etablera config show`):
        each section as its file has it, time frames per target group."""
        dump = {name: model.model_dump(mode="json") for name, model in validated_files(self.search)[0].items()}
        return {
            "directory": str(self.directory),
            "reasons": dump["reasons.toml"],
            "measure_types": dump["measures.toml"]["types"],
            "measure_states": dump["measures.toml"]["states"],
            "target_groups": dump["target_groups.toml"]["groups"],
            "fast_tracks": dump["fast_tracks.toml"]["tracks"],
            "time_frames": {"stages": {stage: {g: str(f) for g, f in frames.items()}
                                       for stage, frames in self.stage_frames.items()},
                            "establishment": str(self.establishment_frame)},
            "counties": dump["municipalities.toml"]["counties"],
            "municipalities": dump["municipalities.toml"]["municipalities"],
        }


def config_dir() -> Path:
    """Where a municipality's own files are: `$ETABLERA_CONFIG_DIR`, else `./config` if there
    is one, else the packaged defaults. A file it lacks comes from the next directory of
    `search_path()`; `config_dir() / "agreements"` given to `AgreementBook.load` means the
    agreements folder found the same way."""
    return search_path()[0]


def get_config() -> Config:
    return load_config(search_path())


@lru_cache(maxsize=8)
def load_config(directory: Where) -> Config:
    """The configuration of a search path (or of one directory over the packaged defaults);
    every broken file is reported at once. Read from the snapshot of the same files when
    there is one (snapshot.py)."""
    search = as_search(directory)
    stamps = tuple(find_stamped(name, search) for name in FILES)
    return kept("config", (tuple(map(str, search)), stamps), lambda: _built(search))


def file_models() -> dict:
    """Each file's model (config_schema.py, imported here: only to validate or describe)."""
    from etablera.models import config_schema

    return {name: getattr(config_schema, model) for name, model in FILES.items()}


def validated_files(search: tuple[Path, ...]) -> tuple[dict, dict]:
    """Each file validated by its model (file name -> model), and where each came from."""
    from etablera.models.config_files import load

    files, sources, issues = {}, {}, []
    for name, model in file_models().items():
        try:
            files[name], sources[name] = load(model, name, search)
        except ConfigError as exc:
            issues += exc.issues or [ConfigIssue(name, "(file)", "", str(exc))]
    if issues:
        raise ConfigError(issues)
    return files, sources


def _built(search: tuple[Path, ...]) -> Config:
    files, sources = validated_files(search)
    reasons, measures, groups = files["reasons.toml"], files["measures.toml"], files["target_groups.toml"]
    frames, places = files["timeframes.toml"], files["municipalities.toml"]

    def label(entry) -> Label:
        return Label(entry.sv, entry.en)

    return Config(
        directory=search[0],
        reasons={category: {code: label(e) for code, e in getattr(reasons, category).items()}
                 for category in type(reasons).model_fields},
        measure_types={code: MeasureType(code, label(e), e.duration) for code, e in measures.types.items()},
        measure_states={code: label(e) for code, e in measures.states.items()},
        target_groups=tuple(TargetGroup(g.code, label(g), g.min_age, g.max_age, g.requires_no_upper_secondary)
                            for g in groups.groups),
        fast_tracks={code: FastTrack(code, label(t), t.professions)
                     for code, t in files["fast_tracks.toml"].tracks.items()},
        stage_frames={stage: dict(per_group) for stage, per_group in frames.stages.items()},
        establishment_frame=frames.establishment.frame,
        counties=dict(places.counties),
        municipalities=dict(places.municipalities),
        extra={"timeframes": frames.model_dump(mode="json")},
        sources=sources,
        search=search,
    )


def find_file(name: str, directory: Where = None) -> Path | None:
    """The file `name` would be read from (None: no directory of the lookup has it)."""
    return find(name, as_search(directory))
