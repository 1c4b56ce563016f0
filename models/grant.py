"""The state grant (statsbidrag) for drawing up an agreement on deepened cooperation.

The maximum amount a municipality may apply for depends on how many newcomers it
received (kommunmottagna); the table lives in `grant.toml` (looked up like every
configuration file) and is checked to be contiguous from 0 with one open-ended last band.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from etablera.models.config_files import Count, Section, Where, as_search, error_at, load, validate


class GrantBand(Section):
    min: Count
    max: Count | None = Field(None, description="leave out in the last band: open-ended (\"over 1000\")")
    amount: Count = Field(description="kronor")

    def covers(self, received: int) -> bool:
        return self.min <= received and (self.max is None or received <= self.max)

    def __str__(self) -> str:
        return f"{self.min}–{self.max}" if self.max is not None else f"{self.min}–"


class GrantFile(Section):
    """grant.toml: the maximum grant by the number of people received. Bands are contiguous:
    the first starts at 0, each next at the previous max + 1, and only the last leaves out max."""
    bands: tuple[GrantBand, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _contiguous(self):
        expected = 0
        for i, band in enumerate(self.bands):
            if band.min != expected:
                raise error_at(("bands", i, "min"), "contiguous",
                               f"is {band.min}, expected {expected} (bands must be contiguous from 0)", band.min)
            if band.max is None and i != len(self.bands) - 1:
                raise error_at(("bands", i, "max"), "contiguous", "only the last band may be open-ended")
            if band.max is not None and band.max < band.min:
                raise error_at(("bands", i, "max"), "contiguous", f"{band.max} is below min {band.min}", band.max)
            expected = band.max + 1 if band.max is not None else expected
        if self.bands[-1].max is not None:
            raise error_at(("bands", len(self.bands) - 1, "max"), "contiguous",
                           "the last band must be open-ended (leave out max)", self.bands[-1].max)
        return self


def max_grant(received: int, *, directory: Path | None = None) -> int:
    """The maximum grant in kronor for a municipality that received `received` people."""
    if not isinstance(received, int) or isinstance(received, bool):
        raise ValueError(f"received must be a whole number of people, not {received!r}")
    if received < 0:
        raise ValueError(f"received must not be negative, got {received}")
    return band_for(received, directory=directory).amount


def band_for(received: int, *, directory: Path | None = None) -> GrantBand:
    bands = grant_bands(directory)
    return next(b for b in bands if b.covers(received))   # contiguous and open-ended: always found


def grant_bands(directory: Where = None) -> tuple[GrantBand, ...]:
    """The bands of `grant.toml` (looked up, or in `directory` over the packaged defaults);
    `ConfigError` naming the file and the key path if they are not contiguous from 0 with
    only the last band open-ended."""
    return _grant_file(as_search(directory))[0].bands


def grant_source(directory: Where = None) -> Path | None:
    return _grant_file(as_search(directory))[1]


@lru_cache(maxsize=8)
def _grant_file(search: tuple[Path, ...]) -> tuple[GrantFile, Path | None]:
    return load(GrantFile, "grant.toml", search)


def parse_bands(raw, file: str = "grant.toml") -> tuple[GrantBand, ...]:
    return validate(GrantFile, {"bands": raw}, file).bands


def clear_cache() -> None:
    _grant_file.cache_clear()
