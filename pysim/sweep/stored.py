"""The sweeps a Parquet file written by ``sweep(..., out=FILE)`` holds, and one sweep's rows.

A file can hold several sweeps (a widened space resumed into it, another workload): each row
carries its sweep's ``sweep_id`` (8 hex digits) and ``sweep_space`` (JSON: the space as a space
file writes it, its number of points, the hardware and workload names, a search's settings).

    df = pd.read_parquet("runs.parquet")
    sweeps(df)               # {"3f9c01ab": {"space": {...}, "points": 4, ...}, ...}
    select(df, "3f9c01ab")   # that sweep's rows, with the columns sweep() returned
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pysim.sweep._worker import METRICS

if TYPE_CHECKING:
    import pandas as pd


def sweeps(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Each sweep's id and description, in the order the file first lists them; empty for a
    file written before sweeps had ids (rows without one are left out)."""
    if "sweep_id" not in df.columns:
        return {}
    out: dict[str, dict[str, Any]] = {}
    spaces = df["sweep_space"] if "sweep_space" in df.columns else [None] * len(df)
    for sweep_id, text in zip(df["sweep_id"], spaces, strict=True):
        if isinstance(sweep_id, str) and sweep_id not in out:
            out[sweep_id] = json.loads(text) if isinstance(text, str) else {}
    return out


def describe(sweep_id: str, described: dict[str, Any]) -> str:
    """One line naming a sweep: ``3f9c01ab (units.0.rows x3, clock_ghz 0.5..2: 3 points on
    tiny_cnn)``."""
    axes = []
    for key, axis in described.get("space", {}).items():
        if isinstance(axis, dict):
            axes.append(f"{key} {axis.get('low')}..{axis.get('high')}")
        else:
            axes.append(f"{key} x{len(axis)}")
    points = described.get("points")
    where = ", ".join(described.get("workloads", []))
    what = f"{points} points" if points is not None else "points"
    search = described.get("search")
    if isinstance(search, dict):
        what = f"search of {search.get('n_trials')} trials"
    return f"{sweep_id} ({', '.join(axes)}: {what}" + (f" on {where})" if where else ")")


def select(df: pd.DataFrame, sweep_id: str) -> pd.DataFrame:
    """The rows of sweep ``sweep_id``, with the columns ``sweep`` returned (its space keys,
    workload, metrics, point_id, error, sweep_id; other sweeps' keys dropped). Raises
    ValueError naming the sweeps the frame holds if ``sweep_id`` is not one of them."""
    found = sweeps(df)
    if sweep_id not in found:
        listed = "; ".join(describe(k, v) for k, v in found.items()) or "none (the file was " \
            "written before sweeps had ids)"
        raise ValueError(f"no sweep {sweep_id!r} in the file; sweeps: {listed}")
    rows = df[df["sweep_id"] == sweep_id]
    space = found[sweep_id].get("space")
    keys = list(space) if isinstance(space, dict) else [
        c for c in df.columns[: list(df.columns).index("workload")]]
    tail = ["workload", *METRICS, "point_id", "error", "sweep_id"]
    rows = rows[[c for c in (*keys, *tail) if c in rows.columns]].reset_index(drop=True)
    for key in keys:  # an int axis read back as float (NaN in another sweep's rows)
        axis = space.get(key) if isinstance(space, dict) else None
        values = list(axis.values()) if isinstance(axis, dict) else axis
        if (values and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
                and rows[key].dtype.kind == "f"):
            rows[key] = rows[key].astype("int64")
    return rows


__all__ = ["describe", "select", "sweeps"]
