"""Reading YAML configs and turning pydantic validation errors into ConfigError messages that
name the file, the field path (``units[0].rows``), the value and what is allowed."""

from __future__ import annotations

import types
import typing
from collections.abc import Collection, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pysim.errors import ConfigError
from pysim.yamlfile import excerpt, read_yaml


class FieldError(ValueError):
    """Raised inside a model validator to blame one field of that model: the message then
    names ``<model path>.<field>`` and ``value``."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.field, self.value = field, value


def read_yaml_mapping(path: str | PathLike[str]) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path``. Raises ConfigError naming the file
    (and line) if it is missing, unreadable, not a regular file, too large, not valid YAML or
    not a mapping (pysim/yamlfile.py)."""
    data = read_yaml(path, ConfigError, "file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top level, "
                          f"got {type(data).__name__} {excerpt(data)}")
    return data


def format_loc(loc: Sequence[str | int]) -> str:
    """('units', 0, 'rows') -> 'units[0].rows'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _unwrap(tp: Any, data: Any) -> Any:
    """Strip Annotated / Optional and pick the union member whose ``kind`` matches data."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            kind = data.get("kind") if isinstance(data, dict) else None
            pick = [m for m in members if _kind_of(m) == kind]
            tp = pick[0] if pick else members[0]
        else:
            return tp


def _kind_of(tp: Any) -> Any:
    """The ``kind`` literal of a tagged model class, else None."""
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)) or "kind" not in tp.model_fields:
        return None
    literal = typing.get_args(tp.model_fields["kind"].annotation)
    return literal[0] if len(literal) == 1 else None


def model_at(model: type[BaseModel], loc: Sequence[str | int], data: Any) -> Any:
    """The type found at ``loc`` inside ``model`` (a model class, or None if not a model)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp, data)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            if part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
        elif origin in (list, tuple, Sequence) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
        data = _child(data, part)
    tp = _unwrap(tp, data)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _child(data: Any, part: str | int) -> Any:
    if isinstance(data, dict):
        return data.get(part)
    if isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
        return data[part]
    return None


def _num(value: Any) -> Any:
    """0.0 -> 0 in messages; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _spurious(err: ErrorDetails) -> bool:
    """pydantic also reports ``too_short`` for a tuple whose items failed; drop that one."""
    items, ctx = err.get("input"), err.get("ctx") or {}
    return (err["type"] == "too_short" and isinstance(items, (list, tuple))
            and len(items) >= ctx.get("min_length", 0))


def _describe(err: ErrorDetails, model: type[BaseModel], data: Any,
              loc: tuple[str | int, ...]) -> tuple[str, bool]:
    """(what is wrong and what is allowed, whether to append 'got <value>')."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "is required (missing)", False
    if kind == "extra_forbidden":
        parent = model_at(model, loc[:-1], data)
        allowed = sorted(parent.model_fields) if parent else []
        return f"is not a known field; allowed fields here: {allowed}", True
    simple = {
        "greater_than": "must be > {gt}", "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}", "less_than_equal": "must be <= {le}",
        "literal_error": "must be one of {expected}",
        "too_short": "must have at least {min_length} item(s)",
        "string_too_short": "must have at least {min_length} character(s)",
        "union_tag_invalid": "has unknown kind {tag!r}; known kinds: {expected_tags}",
        "union_tag_not_found": "needs a {discriminator} field",
        "finite_number": "must be a finite number",
    }
    if kind in simple:
        ctx = {k: _num(v) for k, v in ctx.items()}
        return simple[kind].format(**ctx), kind != "union_tag_invalid"
    by_type = {"int": "must be an integer", "float": "must be a number",
               "bool": "must be true or false", "string": "must be a string",
               "list": "must be a list", "tuple": "must be a list", "dict": "must be a mapping",
               "model": "must be a mapping of fields"}
    for prefix, text in by_type.items():
        if kind.startswith(prefix + "_"):
            return text, True
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg, not isinstance(err.get("input"), (dict, list))


def format_validation_error(err: ValidationError, source: str | Path, model: type[BaseModel],
                            data: Any, tags: Collection[str] = ()) -> ConfigError:
    """One ConfigError listing every problem in ``err`` as
    ``<field> <what is wrong>, got <value> (<source>: <field>)``.

    ``tags`` are discriminator values pydantic inserts into locations of tagged unions
    (``units.0.systolic_array.rows``); they are dropped from the printed path.
    """
    lines = []
    for e in err.errors():
        if _spurious(e):
            continue
        raw = tuple(e["loc"])
        loc = tuple(p for i, p in enumerate(raw)
                    if not (p in tags and i > 0 and isinstance(raw[i - 1], int)))
        text, show_value = _describe(e, model, data, loc)
        value = e.get("input")
        original = (e.get("ctx") or {}).get("error")
        if isinstance(original, FieldError):
            loc, value, show_value = (*loc, original.field), original.value, True
        where = format_loc(loc)
        shown = excerpt(value) if isinstance(value, str) else repr(value)  # a long string: cut
        got = f", got {shown}" if show_value else ""
        lines.append(f"{where} {text}{got} ({source}: {where})")
    if len(lines) == 1:
        return ConfigError(lines[0])
    return ConfigError(f"{len(lines)} errors in {source}:\n" + "\n".join(f"  - {line}"
                                                                       for line in lines))
