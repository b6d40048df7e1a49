"""A design space: hardware parameters (dotted paths) and the values each may take.

A list gives the values of a grid axis; a ``(low, high)`` tuple gives a range, which only
random sampling (``Space.random``) and the optimiser (``pysim.search``) can use. Keys are the
dotted paths of ``Hardware.with_overrides`` (``units.0.rows``, ``dram.bandwidth_gb_per_s``);
``Space.check(hw)`` refuses any that the hardware does not have, before any work starts.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np

from pysim.errors import ConfigError
from pysim.yamlfile import read_yaml

Scalar = bool | int | float | str
Axis = list[Scalar] | tuple[float, float]


def _scalar(key: str, value: Any) -> Scalar:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"space key {key!r}: values must be finite, got {value!r}")
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"space key {key!r}: values must be numbers, strings or booleans, "
                         f"got {value!r} ({type(value).__name__})")
    return value


def _number(key: str, value: Any) -> int | float:
    value = _scalar(key, value)
    if isinstance(value, (bool, str)):
        raise ValueError(f"space key {key!r}: a (low, high) range takes numbers, got {value!r}")
    return value


def _axis(key: Any, values: Any) -> Axis:
    if not isinstance(key, str) or not key:
        raise ValueError(f"space keys must be non-empty dotted paths, got {key!r}")
    if isinstance(values, tuple):
        if len(values) != 2:
            raise ValueError(f"space key {key!r}: a tuple is a (low, high) range and needs two "
                             f"numbers, got {values!r}; give the values as a list")
        low, high = (_number(key, v) for v in values)
        if not low < high:
            raise ValueError(f"space key {key!r}: range needs low < high, got {values!r}")
        return (low, high)
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ValueError(f"space key {key!r} must map to a list of values or a (low, high) "
                         f"range, got {values!r}")
    out = [_scalar(key, v) for v in values]
    if not out:
        raise ValueError(f"space key {key!r} has no values")
    seen: set[tuple[type, Scalar]] = set()
    for v in out:
        if (type(v), v) in seen:
            raise ValueError(f"space key {key!r} lists {v!r} twice")
        seen.add((type(v), v))
    return out


class Space:
    """Hardware parameters to vary, by dotted path.

    ``Space({"units.0.rows": [16, 32, 64], "dram.bandwidth_gb_per_s": [12.8, 25.6]})`` is a
    grid of 6 points (the last key varies fastest). A ``(low, high)`` tuple is a range:
    ``Space({"clock_ghz": (0.5, 2.0)}).random(20, seed=0)`` samples it (ints if both bounds
    are ints, else floats, uniformly). Iterating a space yields its points as dicts.

    Raises ValueError if the space is empty, a key has no values, lists a value twice, or a
    value is not a finite number, string or boolean.
    """

    def __init__(self, params: Mapping[str, Axis],
                 points: Sequence[Mapping[str, Scalar]] | None = None) -> None:
        if isinstance(params, Space):
            params, points = params.params, params._points if points is None else points
        if not isinstance(params, Mapping):
            raise ValueError(f"a space is a mapping of dotted path -> list of values, "
                             f"got {type(params).__name__}")
        if not params:
            raise ValueError("the space is empty: give at least one dotted path and its values")
        self.params: dict[str, Axis] = {k: _axis(k, v) for k, v in params.items()}
        self._points = None if points is None else [dict(p) for p in points]

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | PathLike) -> Space:
        """Read a space from YAML: a mapping of dotted path -> list of values, or -> a mapping
        ``{low: L, high: H}`` for a range. Raises ConfigError for a missing or malformed file."""
        data = read_yaml(path, ConfigError, "space file")
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a space file is a mapping of dotted path -> list of "
                              f"values, got {type(data).__name__}")
        params: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                if set(value) != {"low", "high"}:
                    raise ConfigError(f"{path}: {key}: expected a list of values or a range "
                                      f"{{low: L, high: H}}, got {value!r} (a space file maps "
                                      "dotted hardware paths to them, e.g. units.0.rows: "
                                      "[16, 32])")
                value = (value["low"], value["high"])
            params[key] = value
        try:
            return cls(params)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def random(self, n: int, seed: int | None = 0) -> Space:
        """``n`` distinct points drawn at random (deterministic for a given ``seed``): each
        list axis uniformly among its values, each range uniformly within it. Raises
        ValueError if ``n`` < 1 or the space has fewer than ``n`` distinct points."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        rng = np.random.default_rng(seed)
        if self.is_grid:
            size = self.grid_size
            if n > size:
                raise ValueError(f"the space has {size} points; cannot draw {n} distinct ones")
            if size <= 1_000_000:
                picks = sorted(int(i) for i in rng.choice(size, n, replace=False))
            else:
                chosen: set[int] = set()
                while len(chosen) < n:
                    chosen.add(int(rng.integers(size)))
                picks = sorted(chosen)
            grid = list(self.params.values())
            return Space(self.params, [self._grid_point(i, grid) for i in picks])
        points: dict[tuple, dict[str, Scalar]] = {}
        for _ in range(100 * n):
            point = {k: self._draw(rng, axis) for k, axis in self.params.items()}
            points.setdefault(tuple(point.values()), point)
            if len(points) == n:
                return Space(self.params, list(points.values()))
        raise ValueError(f"could not draw {n} distinct points from {self!r}")

    @staticmethod
    def _draw(rng: np.random.Generator, axis: Axis) -> Scalar:
        if isinstance(axis, list):
            return axis[int(rng.integers(len(axis)))]
        low, high = axis
        if isinstance(low, int) and isinstance(high, int):
            return int(rng.integers(low, high + 1))
        return float(rng.uniform(low, high))

    # -- views -------------------------------------------------------------------------------

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.params)

    @property
    def sampled(self) -> bool:
        """True if the space is a list of drawn points (``random``), not its whole grid."""
        return self._points is not None

    @property
    def is_grid(self) -> bool:
        """True if every axis is a list of values (no ranges)."""
        return all(isinstance(v, list) for v in self.params.values())

    @property
    def grid_size(self) -> int:
        if not self.is_grid:
            raise ValueError("a space with (low, high) ranges has no grid; sample it with "
                             ".random(n, seed=...) or search it with pysim.search")
        return math.prod(len(v) for v in self.params.values())

    def _grid_point(self, index: int, grid: list) -> dict[str, Scalar]:
        point: dict[str, Scalar] = {}
        for key, values in reversed(list(zip(self.params, grid, strict=True))):
            index, j = divmod(index, len(values))
            point[key] = values[j]
        return {k: point[k] for k in self.params}

    def points(self) -> list[dict[str, Scalar]]:
        """The points: the sampled ones, else the whole grid (last key fastest)."""
        if self._points is not None:
            return [dict(p) for p in self._points]
        self.grid_size  # noqa: B018 - raises for ranges
        return [dict(zip(self.params, combo, strict=True))
                for combo in itertools.product(*self.params.values())]

    def to_dict(self) -> dict[str, Any]:
        """The axes as a space file writes them: dotted path -> list of values, or -> ``{low:
        L, high: H}`` for a range (``Space.from_yaml`` reads it back; sampled points are not
        included)."""
        return {k: list(v) if isinstance(v, list) else {"low": v[0], "high": v[1]}
                for k, v in self.params.items()}

    def __iter__(self) -> Iterator[dict[str, Scalar]]:
        return iter(self.points())

    def __len__(self) -> int:
        return len(self._points) if self._points is not None else self.grid_size

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {v!r}" for k, v in self.params.items())
        sampled = f", {len(self._points)} sampled points" if self._points is not None else ""
        return f"Space({{{shown}}}{sampled})"

    def column_kind(self, key: str) -> str:
        """How the key's column is stored: "bool", "int", "float", "str" or "mixed"."""
        axis = self.params[key]
        values = list(axis) if isinstance(axis, tuple) else axis
        kinds = {type(v) for v in values}
        if kinds == {bool}:
            return "bool"
        if kinds == {int}:
            return "int"
        if kinds <= {int, float}:
            return "float"
        return "str" if kinds == {str} else "mixed"

    # -- checks against a hardware description ------------------------------------------------

    def check(self, hw: Any) -> None:
        """Raise ConfigError naming the first key that is not a parameter of ``hw`` (with the
        nearest valid keys), before any point is evaluated."""
        from pysim.config.overrides import apply_overrides

        flat = hw.flat_params()
        for key, axis in self.params.items():
            if key in flat:
                continue
            first = axis[0]
            try:
                apply_overrides(hw, {key: first})  # paths flat_params leaves out (energy.overrides)
            except ConfigError as exc:
                near = difflib.get_close_matches(key, list(flat), n=3, cutoff=0.6)
                hint = f"did you mean {', '.join(map(repr, near))}? " if near else ""
                raise ConfigError(f"space key {key!r} is not a parameter of hardware "
                                  f"{hw.name!r}; {hint}({exc}; hw.flat_params() lists the "
                                  f"valid keys)") from None
