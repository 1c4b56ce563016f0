"""The state grant (statsbidrag) for drawing up an agreement on deepened cooperation.

The maximum amount a municipality may apply for depends on how many newcomers it
received (kommunmottagna); the table lives in `config/grant.toml` and is checked to be
contiguous from 0 with one open-ended last band.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from etablera.models.configuration import ConfigError, config_dir, read_toml


@dataclass(frozen=True)
class GrantBand:
    min: int
    max: int | None         # None: open-ended ("over 1000")
    amount: int             # kronor

    def covers(self, received: int) -> bool:
        return self.min <= received and (self.max is None or received <= self.max)

    def __str__(self) -> str:
        return f"{self.min}–{self.max}" if self.max is not None else f"{self.min}–"


def max_grant(received: int, *, directory: Path | None = None) -> int:
    """The maximum grant in kronor for a municipality that received `received` people."""
    if not isinstance(received, int) or isinstance(received, bool):
        raise ValueError(f"received must be a whole number of people, not {received!r}")
    if received < 0:
        raise ValueError(f"received must not be negative, got {received}")
    return band_for(received, directory=directory).amount


def band_for(received: int, *, directory: Path | None = None) -> GrantBand:
    bands = grant_bands(Path(directory or config_dir()))
    return next(b for b in bands if b.covers(received))   # contiguous and open-ended: always found


@lru_cache(maxsize=8)
def grant_bands(directory: Path) -> tuple[GrantBand, ...]:
    """The bands of `<directory>/grant.toml`; `ConfigError` naming the field if they are not
    contiguous from 0 with only the last band open-ended."""
    path = Path(directory) / "grant.toml"
    doc = read_toml(path)
    return parse_bands(doc.get("bands"), str(path))


def parse_bands(raw, file: str = "grant.toml") -> tuple[GrantBand, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{file}: bands: must be a non-empty array of tables [[bands]]")
    errors = []
    bands = []
    for i, b in enumerate(raw):
        where = f"bands[{i}]"
        if not isinstance(b, dict):
            errors.append(f"{where}: must be a table with min, max and amount")
            continue
        values = {}
        for key in ("min", "max", "amount"):
            v = b.get(key)
            if v is None and key == "max":
                values[key] = None
            elif not isinstance(v, int) or isinstance(v, bool) or v < 0:
                errors.append(f"{where}.{key}: must be a non-negative integer, not {v!r}")
            else:
                values[key] = v
        if len(values) == 3:
            bands.append(GrantBand(values["min"], values["max"], values["amount"]))
    if not errors:
        expected = 0
        for i, band in enumerate(bands):
            where = f"bands[{i}]"
            if band.min != expected:
                errors.append(f"{where}.min: is {band.min}, expected {expected} (bands must be contiguous from 0)")
            if band.max is None and i != len(bands) - 1:
                errors.append(f"{where}.max: only the last band may be open-ended")
            elif band.max is not None and band.max < band.min:
                errors.append(f"{where}.max: {band.max} is below min {band.min}")
            expected = (band.max + 1) if band.max is not None else expected
        if bands[-1].max is not None:
            errors.append(f"bands[{len(bands) - 1}].max: the last band must be open-ended (leave out max)")
    if errors:
        raise ConfigError("\n".join(f"{file}: {e}" for e in errors))
    return tuple(bands)


def clear_cache() -> None:
    grant_bands.cache_clear()
