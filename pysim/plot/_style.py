"""Shared helpers of the plots: axis labels with units, formatters, figures without pyplot."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullFormatter

LABELS: dict[str, tuple[str, str | None]] = {
    "latency_s": ("latency", "s"),
    "latency_cycles": ("latency (cycles)", None),
    "energy_j": ("energy", "J"),
    "edp": ("energy-delay product", "J·s"),
    "area_mm2": ("area (mm²)", None),
    "dram_bytes": ("DRAM traffic", "B"),
    "dram_read_bytes": ("DRAM reads", "B"),
    "dram_write_bytes": ("DRAM writes", "B"),
    "utilization": ("MAC utilisation", None),
    "macs": ("MACs", None),
    "dram_row_hit_rate": ("DRAM row-hit rate", None),
}


def label(column: str) -> str:
    """Axis label of a frame column (the tick labels carry the unit where there is one)."""
    text = LABELS.get(column, (column, None))[0]
    if column.startswith("energy_") and column.endswith("_j") and column not in LABELS:
        text = f"{column[7:-2].replace('_', ' ')} energy"
    return text


def unit_of(column: str) -> str | None:
    return LABELS.get(column, (None, "J" if column.endswith("_j") else None))[1]


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new Figure (made without pyplot: no global figure registry,
    no GUI; ``ax.figure.savefig(path)`` renders with Agg)."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def format_axis(axis: Any, unit: str | None, log: bool) -> None:
    """Engineering prefixes (ms, mJ, MB) for unit-bearing axes, plain numbers otherwise; on a
    log scale (if asked), ticks at 1, 2 and 5 of each decade and no minor labels."""
    if log:
        axis.axes.set_xscale("log") if axis is axis.axes.xaxis else axis.axes.set_yscale("log")
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
    if unit:
        axis.set_major_formatter(EngFormatter(unit=unit, places=None))
    elif log:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def wants_log(values: np.ndarray) -> bool:
    """Log scale when all values are positive and span more than 20x."""
    values = values[np.isfinite(values)]
    return bool(values.size) and values.min() > 0 and values.max() / values.min() > 20


def short_names(columns: list[str]) -> dict[str, str]:
    """Last dotted component of each column where that is unambiguous, else the full path."""
    last = [c.rsplit(".", 1)[-1] for c in columns]
    return {c: (s if last.count(s) == 1 else c) for c, s in zip(columns, last, strict=True)}


def fmt_value(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)
