"""Pareto fronts: the rows of a frame that no other row beats in every objective.

Row ``q`` dominates row ``p`` when ``q`` is at least as good as ``p`` in every objective and
strictly better in one. Identical rows do not dominate each other, so duplicates on the front
are all kept. Two objectives take O(n log n) (sort, then one sweep); more take a sort and a
scan against the front found so far (O(n * front * objectives)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _names(arg: str | Sequence[str] | None, what: str) -> list[str]:
    if arg is None:
        return []
    if isinstance(arg, str):
        return [arg]
    names = list(arg)
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"{what} must be column names, got {arg!r}")
    return names


def pareto(df: pd.DataFrame, minimize: str | Sequence[str] | None = None,
           maximize: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The non-dominated rows of ``df`` for the objectives ``minimize`` and ``maximize``
    (column names; any mix), in their original order and with their original index. Rows
    with NaN in an objective (e.g. a sweep's invalid points) are left out.

    Raises ValueError if no objective is given, one is named twice, or a name is not a
    numeric column of ``df`` (naming it and listing the columns).
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"pareto takes a pandas DataFrame, got {type(df).__name__}")
    lo, hi = _names(minimize, "minimize"), _names(maximize, "maximize")
    objectives = lo + hi
    if not objectives:
        raise ValueError("give at least one objective: minimize=[...] and/or maximize=[...]")
    twice = sorted({n for n in objectives if objectives.count(n) > 1})
    if twice:
        raise ValueError(f"objectives named more than once: {twice}")
    missing = [n for n in objectives if n not in df.columns]
    if missing:
        raise ValueError(f"objectives not in the frame: {missing}; columns: {list(df.columns)}")
    for name in objectives:
        if not pd.api.types.is_numeric_dtype(df[name]) or pd.api.types.is_bool_dtype(df[name]):
            raise ValueError(f"objective {name!r} is not a numeric column "
                             f"(dtype {df[name].dtype})")
    values = np.column_stack(
        [df[n].to_numpy(dtype=float, na_value=np.nan) for n in lo]
        + [-df[n].to_numpy(dtype=float, na_value=np.nan) for n in hi]
    ) if len(df) else np.empty((0, len(objectives)))
    return df[non_dominated(values)]


def non_dominated(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``values`` (n x d, all minimised) that no other row
    dominates; rows with NaN are False."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D (rows x objectives), got shape {values.shape}")
    mask = np.zeros(len(values), dtype=bool)
    valid = np.flatnonzero(~np.isnan(values).any(axis=1))
    if valid.size == 0:
        return mask
    sub = values[valid]
    if sub.shape[1] == 1:
        keep = sub[:, 0] == sub[:, 0].min()
    elif sub.shape[1] == 2:
        keep = _front_2d(sub[:, 0], sub[:, 1])
    else:
        keep = _front_nd(sub)
    mask[valid[keep]] = True
    return mask


def _front_2d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sort by (x, y); a point survives if it has the least y of its x (ties kept) and that
    y is below every y seen at a smaller x."""
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])     # first index of each x group
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1       # group of each sorted point
    group_min = ys[starts]                                      # least y of each group
    best_before = np.r_[np.inf, np.minimum.accumulate(group_min)[:-1]]
    keep_sorted = (ys == group_min[group]) & ((group == 0) | (ys < best_before[group]))
    keep = np.empty_like(keep_sorted)
    keep[order] = keep_sorted
    return keep


def _front_nd(values: np.ndarray) -> np.ndarray:
    """Scan in lexicographic order: a dominator sorts before what it dominates, and every
    dominated point is dominated by some front point, so comparing with the front suffices."""
    order = np.lexsort(values.T[::-1])
    front: list[int] = []
    for i in order:
        p = values[i]
        if front:
            f = values[front]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
        front.append(int(i))
    keep = np.zeros(len(values), dtype=bool)
    keep[front] = True
    return keep
