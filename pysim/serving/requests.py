"""Requests: Poisson arrivals with a seed, or a trace file (CSV or JSON Lines).

A trace has one request per row with ``arrival_s`` (seconds from the start, >= 0),
``prompt_tokens`` (>= 1) and ``output_tokens`` (>= 1); CSV with a header row, JSON Lines with
one object per line. Extra columns are ignored. Rows are sorted by arrival time.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from pysim.errors import WorkloadError

FIELDS = ("arrival_s", "prompt_tokens", "output_tokens")
# The most requests ``poisson`` draws (rate x duration, or n): about 1 KB of Python objects
# each through a run, so 2 GB, and half an hour at ~1,000 simulated requests per wall second.
MAX_REQUESTS = 2_000_000


@dataclass(frozen=True)
class Request:
    """One request: arrives at ``arrival_s`` (a finite number >= 0), brings ``prompt_tokens``
    (an int >= 1), wants ``output_tokens`` (an int >= 1) generated (the first by the prefill,
    the rest one per decode step). ``source``: where it was read ("trace.csv:7"), named by
    errors; not compared. Raises WorkloadError naming the request and field on a bad value."""

    id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f"request {self.id}" + (f" ({self.source})" if self.source else "")
        a = self.arrival_s
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not math.isfinite(a) \
                or a < 0:
            raise WorkloadError(f"{where}: arrival_s must be a finite number >= 0 (seconds), "
                                f"got {a!r}")
        object.__setattr__(self, "arrival_s", float(a))
        for name in ("prompt_tokens", "output_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise WorkloadError(f"{where}: {name} must be an int >= 1, got {v!r}")
            object.__setattr__(self, name, int(v))

    @property
    def label(self) -> str:
        """``request ID`` and, when read from a trace, its ``file:line``."""
        return f"request {self.id}" + (f" ({self.source})" if self.source else "")


def _lengths(spec: int | Sequence[int] | tuple[str, float, float], n: int,
             rng: np.random.Generator, name: str) -> np.ndarray:
    """``spec``: an int (every request), a sequence to sample from uniformly, or
    ("uniform", lo, hi) / ("lognormal", median, sigma) drawn with rng."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec < 1:
            raise WorkloadError(f"{name} must be >= 1, got {spec}")
        return np.full(n, int(spec))
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        kind, a, b = spec
        if kind == "uniform" and 1 <= a <= b:
            return rng.integers(int(a), int(b) + 1, size=n)
        if kind == "lognormal" and a >= 1 and b >= 0:
            return np.maximum(1, np.rint(rng.lognormal(math.log(a), b, size=n))).astype(int)
        raise WorkloadError(f"{name}: ('uniform', lo, hi) with 1 <= lo <= hi or "
                            f"('lognormal', median >= 1, sigma >= 0), got {spec!r}")
    values = np.asarray(list(spec), dtype=np.int64)
    if values.size == 0 or (values < 1).any():
        raise WorkloadError(f"{name}: a sequence of lengths >= 1, got {spec!r}")
    return rng.choice(values, size=n)


def poisson(rate_per_s: float, *, n: int | None = None, duration_s: float | None = None,
            prompt_tokens: int | Sequence[int] | tuple[str, float, float] = 512,
            output_tokens: int | Sequence[int] | tuple[str, float, float] = 128,
            seed: int = 0) -> list[Request]:
    """Requests arriving as a Poisson process at ``rate_per_s`` (exponential gaps), ``n`` of
    them or as many as arrive within ``duration_s``. Lengths: see ``_lengths``. Deterministic
    in ``seed``. Raises WorkloadError on a rate <= 0 or neither / both of n and duration_s."""
    if not (isinstance(rate_per_s, (int, float)) and math.isfinite(rate_per_s)
            and rate_per_s > 0):
        raise WorkloadError(f"rate_per_s must be a number > 0, got {rate_per_s!r}")
    if (n is None) == (duration_s is None):
        raise WorkloadError("give exactly one of n (requests) and duration_s")
    rng = np.random.default_rng(seed)
    if n is None:
        assert duration_s is not None
        if not duration_s > 0:
            raise WorkloadError(f"duration_s must be > 0, got {duration_s!r}")
        if rate_per_s * duration_s > MAX_REQUESTS:
            raise WorkloadError(
                f"rate_per_s x duration_s (--rate x --duration) = {rate_per_s:g} x "
                f"{duration_s:g} = {rate_per_s * duration_s:.3g} expected requests; at most "
                f"{MAX_REQUESTS:,} (lower the rate or the duration)")
        count = max(16, int(rate_per_s * duration_s * 1.5 + 10 * math.sqrt(rate_per_s
                                                                         * duration_s)))
        times = np.cumsum(rng.exponential(1.0 / rate_per_s, size=count))
        while times[-1] < duration_s:
            times = np.concatenate([times, times[-1] + np.cumsum(
                rng.exponential(1.0 / rate_per_s, size=count))])
        times = times[times < duration_s]
    else:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not \
                1 <= n <= MAX_REQUESTS:
            raise WorkloadError(f"n must be an int in [1, {MAX_REQUESTS:,}], got {n!r}")
        times = np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))
    k = len(times)
    prompts = _lengths(prompt_tokens, k, rng, "prompt_tokens")
    outputs = _lengths(output_tokens, k, rng, "output_tokens")
    return [Request(i, float(t), int(p), int(o))
            for i, (t, p, o) in enumerate(zip(times, prompts, outputs, strict=True))]


def _field(path: Path, line: int, row: dict, name: str) -> float:
    value = row.get(name)
    where = f"{path}:{line}: {name}"
    if value is None or value == "":
        raise WorkloadError(f"{where} is missing (a trace row needs {', '.join(FIELDS)})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WorkloadError(f"{where} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise WorkloadError(f"{where} must be finite, got {value!r}")
    if name == "arrival_s":
        if number < 0:
            raise WorkloadError(f"{where} must be >= 0, got {value!r}")
        return number
    if number < 1 or number != int(number):
        raise WorkloadError(f"{where} must be an integer >= 1, got {value!r}")
    return number


def load_trace(path: str | PathLike) -> list[Request]:
    """Requests from a CSV (header row) or JSON Lines trace (by suffix: .csv, .jsonl/.json).
    Raises WorkloadError naming the file, line and field of the first bad value."""
    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"trace {path}: no such file")
    rows: list[tuple[int, dict]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise WorkloadError(f"trace {path}: not a text (UTF-8) file") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise WorkloadError(f"{path}:1: header lacks {', '.join(missing)} (has "
                                f"{', '.join(reader.fieldnames or [])})")
        rows = [(reader.line_num, row) for row in reader]
        rows = [(i + 2, row) for i, (_, row) in enumerate(rows)]
    elif path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WorkloadError(f"{path}:{i}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise WorkloadError(f"{path}:{i}: a JSON object per line, got "
                                    f"{type(obj).__name__}")
            rows.append((i, obj))
    else:
        raise WorkloadError(f"trace {path}: suffix must be .csv or .jsonl, got "
                            f"{path.suffix!r}")
    if not rows:
        raise WorkloadError(f"trace {path}: no requests")
    parsed = [(_field(path, i, r, "arrival_s"), int(_field(path, i, r, "prompt_tokens")),
               int(_field(path, i, r, "output_tokens")), i) for i, r in rows]
    parsed.sort(key=lambda t: t[0])
    return [Request(k, a, p, o, source=f"{path}:{line}")
            for k, (a, p, o, line) in enumerate(parsed)]


def write_trace(requests: Sequence[Request], path: str | PathLike) -> Path:
    """Write ``requests`` as a CSV trace (load_trace reads it back)."""
    path = Path(path)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in requests:
            w.writerow([repr(r.arrival_s), r.prompt_tokens, r.output_tokens])
    return path


__all__ = ["FIELDS", "MAX_REQUESTS", "Request", "load_trace", "poisson", "write_trace"]
