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
            runs: tuple[tuple[Any, int], ...] = ((simulate(design, wl), 1),)
        else:
            from pysim.training import step

            runs = step(design, wl, **training).runs()  # its micro batches, each x its count
        area = area_mm2(design)["total"]
    except ValueError as exc:  # ConfigError / WorkloadError: an invalid point, not a crash
        row: dict[str, Any] = dict.fromkeys(METRICS, math.nan)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row = _metrics(runs)
    row["area_mm2"] = area
    for component in ENERGY_COMPONENTS:
        row[f"energy_{component}_j"] = sum(n * res.energy_breakdown_j.get(component, 0.0)
                                            for res, n in runs)
    row = {k: float(row[k]) for k in METRICS if k != "error"}
    row["error"] = None
    return row


def _metrics(runs: tuple[tuple[Any, int], ...]) -> dict[str, Any]:
    """A row's figures of one simulation, or summed over a training step's micro batches
    (each simulation times how many micro batches it stands for)."""
    if len(runs) == 1 and runs[0][1] == 1:
        res = runs[0][0]
        return {"latency_s": res.latency_s, "latency_cycles": res.latency_cycles,
                "energy_j": res.energy_j, "edp": res.edp, "dram_bytes": res.dram_bytes,
                "dram_read_bytes": res.dram_read_bytes,
                "dram_write_bytes": res.dram_write_bytes, "utilization": res.utilization,
                "macs": res.macs, "dram_row_hit_rate": res.dram_row_hit_rate,
                "host_read_bytes": res.host_read_bytes}  # weights copied in (host.offload)

    def total(field: str) -> float:
        return sum(n * float(getattr(res, field)) for res, n in runs)

    out = {f: total(f) for f in ("latency_s", "latency_cycles", "energy_j", "dram_bytes",
                                 "dram_read_bytes", "dram_write_bytes", "macs",
                                 "host_read_bytes")}
    out["edp"] = out["energy_j"] * out["latency_s"]
    # each run's MACs over its peak cycles, pooled; the row-hit rate weighted by the bytes
    busy = sum(n * res.macs / res.utilization for res, n in runs if res.utilization > 0)
    out["utilization"] = out["macs"] / busy if busy else 0.0
    out["dram_row_hit_rate"] = (sum(n * res.dram_row_hit_rate * res.dram_bytes
                                    for res, n in runs) / out["dram_bytes"]
                                if out["dram_bytes"] else 0.0)
    return out
