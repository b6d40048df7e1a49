"""Dotted-path overrides (``"units.0.rows": 64``) and flat parameter views of a model."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from pysim.errors import ConfigError


def _check_path(model: BaseModel, path: str) -> list[str | int]:
    """The parts of ``path``, each checked against the live model. Raises ConfigError naming
    the first unknown part and the valid keys at that level."""
    if not isinstance(path, str) or not path:
        raise ConfigError(f"override paths must be non-empty dotted strings, got {path!r}")
    parts: list[str | int] = []
    obj: Any = model
    for i, part in enumerate(path.split(".")):
        where = ".".join(str(p) for p in parts) or "<top level>"
        if isinstance(obj, BaseModel):
            fields = type(obj).model_fields
            if part not in fields:
                raise ConfigError(f"unknown override path {path!r}: {where} has no field "
                                  f"{part!r}; valid keys at {where}: {sorted(fields)}")
            parts.append(part)
            obj = getattr(obj, part)
        elif isinstance(obj, (tuple, list)):
            if not part.isdigit() or int(part) >= len(obj):
                raise ConfigError(f"unknown override path {path!r}: {where} is a list; valid "
                                  f"keys at {where}: indices 0..{len(obj) - 1}")
            parts.append(int(part))
            obj = obj[int(part)]
        elif isinstance(obj, dict) and i == len(path.split(".")) - 1:
            parts.append(part)  # a free-form mapping (energy.overrides): the value validates
            obj = None
        elif obj is None:  # an optional section the hardware leaves out (interconnect, host)
            raise ConfigError(f"override path {path!r}: this hardware has no {where}; add a "
                              f"{where!r} section to its file, or override {where!r} whole "
                              "with a mapping")
        else:
            raise ConfigError(f"unknown override path {path!r}: {where} is a value "
                              f"({obj!r}), it has no keys")
    return parts


def apply_overrides(model: BaseModel, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the user set on ``model`` (``model_dump(exclude_unset=True)``) with each
    dotted path of ``overrides`` replaced by its value: ready to validate again."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping of dotted path -> value, "
                          f"got {type(overrides).__name__}")
    checked = [(_check_path(model, path), value) for path, value in overrides.items()]
    data = model.model_dump(mode="json", exclude_unset=True)
    for parts, value in checked:
        node: Any = data
        for part in parts[:-1]:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(value)
    return data


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts / lists of dicts -> {dotted path: value}; lists of plain values become
    tuples (kept whole, so they stay one parameter); empty mappings are left out."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, (list, tuple)) and any(isinstance(v, dict) for v in data):
        for i, value in enumerate(data):
            out.update(flatten(value, f"{prefix}.{i}"))
    elif isinstance(data, (list, tuple)):
        out[prefix] = tuple(data)
    else:
        out[prefix] = data
    return out
