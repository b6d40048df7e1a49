"""Reading a YAML file a user names, safely: refuses what is not a regular file or is larger
than ``MAX_BYTES``, a key given twice in one mapping, and nesting too deep to parse; quotes at
most ``EXCERPT`` characters of a bad file in its messages. Each error is the caller's error
class (ConfigError, WorkloadError) with a one-line message naming the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 64 << 20  # a hardware, workload or space file is kilobytes; ONNX has its own path
EXCERPT = 60


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode,
                       deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def excerpt(value: Any) -> str:
    """``repr(value)`` cut to ``EXCERPT`` characters."""
    text = repr(value)
    return text if len(text) <= EXCERPT else text[:EXCERPT - 3] + "..."


def parse_yaml(text: str, source: str, error: type[Exception]) -> Any:
    """The YAML document ``text`` (from ``source``, for messages)."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split()).replace(
            ' in "<unicode string>",', " at")  # a ReaderError (a NUL byte ...): one line
        raise error(f"{source}: invalid YAML: {where}{problem}") from None
    except RecursionError:
        raise error(f"{source}: invalid YAML: nested too deeply to parse") from None


def read_yaml(path: str | os.PathLike[str], error: type[Exception], what: str = "file") -> Any:
    """The YAML document in the file ``path``. Raises ``error`` if it is missing, not a
    regular file, larger than MAX_BYTES, unreadable or not valid YAML."""
    source = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{source}: cannot read {what}: not found") from None
    except OSError as exc:
        raise error(f"{source}: cannot read {what}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{source}: cannot read {what}: not a regular file") from None
    if info.st_size > MAX_BYTES:
        raise error(f"{source}: {what} is {info.st_size:,} bytes; at most {MAX_BYTES:,} "
                    "are read") from None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).split(":")[0]
        raise error(f"{source}: cannot read {what}: {reason}") from None
    return parse_yaml(text, source, error)
