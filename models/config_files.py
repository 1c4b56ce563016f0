"""How the configuration files are read and validated (where they are looked up, and the
errors: config_lookup.py).

A file is taken whole from one directory, never merged key by key, so the file a section
came from is the source of each of its values. Every file is validated by a pydantic
model (`config_schema.py`, `agreement_schema.py`, `ladder.py`, `grant.py`); a broken file
raises `ConfigError`, one line per problem, each naming the file and the key path:

    config/measures.toml: types.sfi.duration: not a time frame: 'P12X' (...)
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from functools import lru_cache
from typing import Annotated, Any, Mapping, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, Strict, TypeAdapter
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

# The lookup and the errors live apart, without pydantic (config_lookup.py); named here too
# for the readers of every file.
from etablera.models.config_lookup import (DEFAULT_DIR, ENV, ConfigError, ConfigIssue, Label, Where,  # noqa: F401
                                           as_search, find, find_stamped, search_path, shown)
from etablera.models.timeframes import Frame, FrameError


# ---------------------------------------------------------------------------- reading

M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path) -> dict:
    """A configuration file's document; `ConfigError` naming the file if it is missing or not TOML."""
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), "(file)", "", "missing configuration file")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigIssue(str(path), "(file)", "", f"not valid TOML ({exc})")]) from None


def load(model: type[M], name: str, search: tuple[Path, ...], *, context: dict | None = None,
         required: bool = True) -> tuple[M, Path | None]:
    """File `name` from the search path, validated by `model`, and the file it came from.
    An optional file that no directory has gives the model's defaults and no source."""
    path = find(name, search)
    if path is None:
        if required:
            where = ", ".join(shown(d) for d in search)
            raise ConfigError([ConfigIssue(name, "(file)", "", f"missing configuration file (looked in {where})")])
        return model(), None
    return validate(model, read_toml(path), path, context=context), path


def validate(model: type[M], doc: Any, file: str | Path, *, context: dict | None = None,
             rules: Mapping | None = None) -> M:
    try:
        return model.model_validate(doc, context=context)
    except ValidationError as exc:
        raise ConfigError(issues_of(exc, str(file), model, rules)) from None


def issues_of(exc: ValidationError, file: str, model: type[BaseModel], rules: Mapping | None = None,
              rule_names: frozenset = frozenset()) -> list[ConfigIssue]:
    """Pydantic's errors as issues. With `rules` (a key path pattern like "tracks[].employers"
    -> rule or (rule, message when missing)) every issue names the agreement rule it breaks:
    a custom error whose type is in `rule_names` is that rule, then `rules` by key path, then
    missing -> required_field, an unknown key -> unknown_field, anything else -> field_type.
    A message given with a rule explains pydantic's own errors at that key path."""
    issues = []
    errors = exc.errors(include_url=False)
    for e in errors:
        if e["type"] == "too_short" and any(o["loc"][:len(e["loc"])] == e["loc"] and len(o["loc"]) > len(e["loc"])
                                            for o in errors):
            continue        # pydantic counts the valid items only: the broken item is the problem
        loc = tuple(k for k in e["loc"] if k != "[key]")
        path, kind = key_path(loc), e["type"]
        entry = (rules or {}).get(re.sub(r"\[\d+\]", "[]", path))
        rule, explained = entry if isinstance(entry, tuple) else (entry, None)
        message = explained if explained and kind in _KNOWN else _message(e, model, loc)
        if rules is None:
            rule = ""
        elif kind in rule_names:
            rule = kind
        elif rule is None:
            rule = {"missing": "required_field", "extra_forbidden": "unknown_field"}.get(kind, "field_type")
        issues.append(ConfigIssue(file, path, rule, message))
    return issues


_PLAIN = {"string_type": "must be a text", "int_type": "must be a whole number",
          "bool_type": "must be true or false", "date_type": "must be a date (YYYY-MM-DD, unquoted)",
          "float_type": "must be a number", "list_type": "must be a list [...]", "tuple_type": "must be a list [...]",
          "dict_type": "must be a table", "model_type": "must be a table", "model_attributes_type": "must be a table"}


def _message(e: dict, model: type[BaseModel], loc: tuple) -> str:
    kind = e["type"]
    if kind == "missing":
        return "is missing"
    if kind == "too_short":
        least = e["ctx"]["min_length"]
        return "must not be empty" if least == 1 else f"needs at least {least} items"
    if kind == "extra_forbidden":
        owner = model_at(model, loc[:-1])
        expected = f" (expected one of: {', '.join(owner.model_fields)})" if owner else ""
        return f"unknown field{expected}"
    if kind not in _KNOWN:                                  # ours: the message says it all
        return e["msg"]
    text = _PLAIN.get(kind) or (e["msg"][:1].lower() + e["msg"][1:])
    return f"{text}, not {_show(e['input'])}"


_KNOWN = frozenset(get_args(core_schema.ErrorType))


def _show(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def key_path(loc: tuple) -> str:
    """A key path as written in TOML: `tracks[2].estimated_length`, `stages."module2.preparing".A`."""
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            part = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
            out += f".{part}" if out else part
    return out or "(top level)"


def model_at(model: type, loc: tuple) -> type[BaseModel] | None:
    """The model class at a key path below `model` (for naming the keys a table takes)."""
    current = model
    for key in loc:
        current = _bare(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (tuple, list):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _bare(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _bare(annotation):
    """Without Annotated and `| None`."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is Union:
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def error_at(loc: tuple, kind: str, message: str, value: Any = None) -> ValidationError:
    """An error at a key path below the model that raises it (pydantic prefixes the rest)."""
    return ValidationError.from_exception_data("configuration", [_detail(loc, kind, message, value)])


def _detail(loc: tuple, kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)   # no context: kept as is


def with_rules(exc: ValidationError | None, broken: list[tuple[tuple, str, str]]) -> ValidationError:
    """Pydantic's errors of a model (if any) and the rules it breaks, as one ValidationError."""
    again = [] if exc is None else [
        InitErrorDetails(type=e["type"], loc=e["loc"], input=e["input"], **({"ctx": e["ctx"]} if "ctx" in e else {}))
        if e["type"] in _KNOWN else _detail(e["loc"], e["type"], e["msg"], e["input"])
        for e in exc.errors(include_url=False)]
    return ValidationError.from_exception_data("configuration", again + [_detail(*b, None) for b in broken])


def fields_that_validate(model: type[BaseModel], data: Any) -> dict:
    """The fields of `data` that are valid on their own, validated (so that a model's rules
    can still be checked, and reported, when another of its fields is broken)."""
    if not isinstance(data, dict):
        return {}
    out = {}
    for name, value in data.items():
        adapter = _adapter(model, name)
        if adapter is not None:
            try:
                out[name] = adapter.validate_python(value)
            except ValidationError:
                pass
    return out


@lru_cache(maxsize=128)
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter | None:
    field = model.model_fields.get(name)
    if field is None:
        return None
    return TypeAdapter(Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation)


# ---------------------------------------------------------------------------- building blocks

class Section(BaseModel):
    """A table of a configuration file: unknown keys are refused, values never change."""
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


def frame(value: Any) -> Frame:
    """A time frame from its text (pydantic's validator of `FrameText`)."""
    if isinstance(value, Frame):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("frame", f"must be a time frame in quotes, like \"P3M\" or \"20 working days\", "
                                           f"not {_show(value)}")
    try:
        return Frame.parse(value)
    except FrameError as exc:
        raise PydanticCustomError("frame", str(exc)) from None


def _code(value: str) -> str:
    if not re.fullmatch(r"\d{4}", value):
        raise PydanticCustomError("municipality_code",
                                  f"{value!r} is not a municipality code (four digits, e.g. \"0581\")")
    return value


FRAME_PATTERN = r"^\s*(P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?|\d+\s+working\s+days?)\s*$"
Text = Annotated[str, Strict(), Field(min_length=1), AfterValidator(_not_blank)]
Int = Annotated[int, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]
Positive = Annotated[int, Strict(), Field(ge=1)]
Bool = Annotated[bool, Strict()]
MunicipalityCode = Annotated[str, Strict(), AfterValidator(_code), Field(json_schema_extra={"pattern": r"^\d{4}$"})]
FrameText = Annotated[Frame, PlainValidator(frame, json_schema_input_type=str),
                      PlainSerializer(str, return_type=str),
                      Field(description="ISO 8601 duration (\"P30D\", \"P6W\", \"P3M\", \"P1Y6M\") or "
                                        "\"N working days\" (Swedish working days)",
                            json_schema_extra={"pattern": FRAME_PATTERN})]
