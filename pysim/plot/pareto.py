"""Pareto scatter: every design point, the non-dominated ones highlighted and labelled."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import rcParams
from matplotlib.axes import Axes

from pysim.plot._style import (
    fmt_value,
    format_axis,
    label,
    new_axes,
    short_names,
    unit_of,
    wants_log,
)
from pysim.sweep.pareto import pareto as pareto_front

_SKIP = {"trial"}


def _label_columns(df: pd.DataFrame) -> list[str]:
    """The space-key columns of a sweep frame: those before ``workload``."""
    if "workload" not in df.columns:
        return []
    cols = list(df.columns[: list(df.columns).index("workload")])
    return [c for c in cols if c not in _SKIP]


def pareto(df: pd.DataFrame, front: pd.DataFrame | None = None, x: str = "latency_s",
           y: str = "energy_j", *, maximize: Sequence[str] = (), labels: Sequence[str] | None
           = None, max_labels: int = 15, logx: bool | None = None, logy: bool | None = None,
           ax: Axes | None = None, sweep: str | None = None) -> Axes:
    """Scatter ``y`` against ``x`` for every row of ``df`` (a sweep frame), with the Pareto
    front drawn as a staircase of larger markers, each labelled with its design point.

    ``front``: rows of ``df`` to highlight (default: ``pysim.pareto`` of ``x`` and ``y``,
    minimised unless named in ``maximize``; per workload when ``df`` has several).
    ``labels``: columns describing a design (default: the space keys, the columns before
    ``workload``); front points are numbered and listed beside the axes with those values
    (at most ``max_labels`` per front, evenly spread).
    ``logx`` / ``logy``: log axes (default: when the values span more than 20x). ``sweep``:
    the id of the sweep to plot when ``df`` holds several (a file a widened space was resumed
    into; ``pysim.sweep.stored``), as ``pysim plot pareto --sweep`` takes it. Returns the
    Axes; ``ax.figure.savefig("pareto.png")`` writes it.

    Raises ValueError if ``x`` or ``y`` is not a numeric column of ``df``, or if ``df`` holds
    several sweeps and ``sweep`` names none of them (the message lists each id and space).
    """
    from pysim.sweep import stored

    found = stored.sweeps(df)
    if sweep is not None or len(found) > 1:
        if sweep is None:
            listed = "; ".join(stored.describe(k, v) for k, v in found.items())
            raise ValueError(f"the frame holds {len(found)} sweeps; pass sweep= one of: "
                             f"{listed}")
        df = stored.select(df, sweep)
    for col in (x, y):
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in the frame; columns: {list(df.columns)}")
    unknown = [m for m in maximize if m not in (x, y)]
    if unknown:
        raise ValueError(f"maximize names {unknown}, which are not the axes {x!r}, {y!r}")
    ax = new_axes(ax, (10.0, 5.5))
    valid = df[np.isfinite(df[x].to_numpy(dtype=float, na_value=np.nan))
               & np.isfinite(df[y].to_numpy(dtype=float, na_value=np.nan))]
    groups = (list(valid.groupby("workload", sort=False)) if "workload" in valid.columns
              and valid["workload"].nunique() > 1 else [(None, valid)])
    label_cols = list(labels) if labels is not None else _label_columns(df)
    short = short_names(label_cols)
    lo = [c for c in (x, y) if c not in maximize]
    hi = [c for c in (x, y) if c in maximize]
    cycle = rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    n_front = 0
    number = 0
    key: list[str] = []
    for i_group, (name, rows) in enumerate(groups):
        color = cycle[i_group % len(cycle)]
        suffix = f" — {name}" if name is not None else ""
        ax.scatter(rows[x], rows[y], s=14, color=color, alpha=0.35, linewidths=0,
                   label=f"design points{suffix} ({len(rows)})")
        best = (rows.loc[rows.index.intersection(front.index)] if front is not None
                else pareto_front(rows, minimize=lo, maximize=hi))
        best = best.sort_values(x)
        n_front += len(best)
        if len(best) > 1:  # the boundary of the dominated region
            ax.step(best[x], best[y], where="pre" if x in hi else "post", color=color,
                    linewidth=1.2, alpha=0.8)
        ax.scatter(best[x], best[y], s=46, color=color, edgecolors="black", linewidths=0.8,
                   zorder=3, label=f"Pareto front{suffix} ({len(best)})")
        if label_cols and len(best):
            picks = np.unique(np.linspace(0, len(best) - 1, min(max_labels, len(best)))
                              .round().astype(int))
            if len(groups) > 1:
                key.append(f"{name}:")
            for i in picks:
                row = best.iloc[i]
                number += 1
                ax.annotate(str(number), (row[x], row[y]), xytext=(5, 4), fontsize=8,
                            textcoords="offset points", color=color, fontweight="bold",
                            zorder=4)
                key.append(f"{number:>2}  " + ", ".join(f"{short[c]}={fmt_value(row[c])}"
                                                        for c in label_cols))
            if len(picks) < len(best):
                key.append(f"    ({len(best) - len(picks)} more front points not numbered)")
    format_axis(ax.xaxis, unit_of(x), wants_log(valid[x].to_numpy(float))
                if logx is None else logx)
    format_axis(ax.yaxis, unit_of(y), wants_log(valid[y].to_numpy(float))
                if logy is None else logy)
    ax.set_xlabel(label(x) + (" (higher is better)" if x in hi else ""))
    ax.set_ylabel(label(y) + (" (higher is better)" if y in hi else ""))
    skipped = len(df) - len(valid)
    note = f"; {skipped} invalid points not shown" if skipped else ""
    ax.set_title(f"Pareto front of {label(y)} vs {label(x)}: "
                 f"{n_front} of {len(valid)} points{note}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if key:  # the numbered front points, beside the axes
        ax.text(1.02, 1.0, "Pareto-optimal designs\n" + "\n".join(key),
                transform=ax.transAxes, va="top", ha="left", fontsize=7.5, family="monospace")
    return ax
