"""Evaluate one design point: override the hardware, simulate, measure area; a row of metrics.

Runs in worker processes (a local pool, Dask workers, any Executor), so it is a plain
module-level function over picklable arguments. The base hardware and workload travel as
pickled bytes and are unpickled once per worker process (a small cache keyed by the bytes).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import pickle
from typing import Any

from pysim.energy.model import COMPONENTS, RUN_COMPONENTS

ENERGY_COMPONENTS = COMPONENTS + RUN_COMPONENTS

METRICS: tuple[str, ...] = (
    "latency_s",
    "latency_cycles",
    "energy_j",
    "edp",
    "area_mm2",
    "dram_bytes",
    "dram_read_bytes",
    "dram_write_bytes",
    "utilization",
    "macs",
    "dram_row_hit_rate",
    "host_read_bytes",
    *(f"energy_{c}_j" for c in ENERGY_COMPONENTS),
)
"""Metric columns of a sweep frame, in order; all float64 (NaN on a row with an error)."""


def fingerprint(data: Any) -> str:
    """A stable hex digest of plain (JSON-able) data: the same data, the same digest."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def point_id(point: dict[str, Any], workload_fp: str, hardware_fp: str) -> str:
    """The key of one row: a hash of the point, the workload and the base hardware."""
    return fingerprint({"point": point, "workload": workload_fp, "hardware": hardware_fp})[:16]


@functools.lru_cache(maxsize=16)
def _unpickle(blob: bytes) -> Any:
    return pickle.loads(blob)


def evaluate_blobs(hw_blob: bytes, wl_blob: bytes, point: dict[str, Any],
                   training: dict[str, Any] | None = None) -> dict[str, Any]:
    """``evaluate`` with the hardware and workload given pickled (cached per process)."""
    return evaluate(_unpickle(hw_blob), _unpickle(wl_blob), point, training)


def evaluate(hw: Any, wl: Any, point: dict[str, Any],
             training: dict[str, Any] | None = None) -> dict[str, Any]:
    """Metrics of ``wl`` on ``hw.with_overrides(point)`` (with ``training``, ``step``'s
    keyword arguments: of one training step of ``wl``, ``pysim.training.step``), plus
    ``error``: None, or the message of the ValueError (ConfigError, WorkloadError) that made
    the point invalid."""
    from pysim.area import area_mm2
    from pysim.simulate import simulate

    try:
        design = hw.with_overrides(point)
        if training is None:
            res = simulate(design, wl)
        else:
            from pysim.training import step

            res = step(design, wl, **training).result
        area = area_mm2(design)["total"]
    except ValueError as exc:  # ConfigError / WorkloadError: an invalid point, not a crash
        row: dict[str, Any] = dict.fromkeys(METRICS, math.nan)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row = {
        "latency_s": res.latency_s,
        "latency_cycles": res.latency_cycles,
        "energy_j": res.energy_j,
        "edp": res.edp,
        "area_mm2": area,
        "dram_bytes": res.dram_bytes,
        "dram_read_bytes": res.dram_read_bytes,
        "dram_write_bytes": res.dram_write_bytes,
        "utilization": res.utilization,
        "macs": res.macs,
        "dram_row_hit_rate": res.dram_row_hit_rate,
        "host_read_bytes": res.host_read_bytes,  # weights copied in (host.offload)
    }
    for component in ENERGY_COMPONENTS:
        row[f"energy_{component}_j"] = res.energy_breakdown_j.get(component, 0.0)
    row = {k: float(v) for k, v in row.items()}
    row["error"] = None
    return row
