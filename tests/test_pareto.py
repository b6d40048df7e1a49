"""pysim.pareto against a brute-force definition of dominance (hypothesis: ties, duplicates,
mixed senses, 1 to 4 objectives), plus its contract: original index and order, NaN rows out,
clear errors for bad objectives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim.sweep import non_dominated, pareto


def brute_force(values: np.ndarray) -> np.ndarray:
    """Row i is kept iff no row j is <= in every column and < in one (all minimised)."""
    n = len(values)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if np.isnan(values[i]).any():
            keep[i] = False
            continue
        for j in range(n):
            if j != i and not np.isnan(values[j]).any() and np.all(values[j] <= values[i]) \
                    and np.any(values[j] < values[i]):
                keep[i] = False
                break
    return keep


small_ints = st.integers(min_value=0, max_value=6)   # few values: many ties and duplicates


@st.composite
def frames(draw, min_dims=1, max_dims=4):
    dims = draw(st.integers(min_dims, max_dims))
    n = draw(st.integers(0, 40))
    cells = st.one_of(small_ints.map(float), st.just(np.nan)) if draw(st.booleans()) \
        else small_ints.map(float)
    data = [[draw(cells) for _ in range(dims)] for _ in range(n)]
    values = np.array(data, dtype=float).reshape(n, dims)
    senses = [draw(st.sampled_from(["min", "max"])) for _ in range(dims)]
    index = draw(st.permutations(list(range(100, 100 + n))))
    df = pd.DataFrame(values, columns=[f"o{i}" for i in range(dims)], index=index)
    df["tag"] = [f"row{i}" for i in range(n)]
    return df, senses


@settings(max_examples=200, deadline=None)
@given(frames())
def test_pareto_matches_brute_force(case):
    df, senses = case
    cols = [c for c in df.columns if c.startswith("o")]
    minimize = [c for c, s in zip(cols, senses, strict=True) if s == "min"]
    maximize = [c for c, s in zip(cols, senses, strict=True) if s == "max"]
    front = pareto(df, minimize=minimize, maximize=maximize)
    signs = np.array([1.0 if s == "min" else -1.0 for s in senses])
    signed = df[cols].to_numpy(dtype=float).reshape(len(df), len(cols)) * signs
    expected = df[brute_force(signed)]
    pd.testing.assert_frame_equal(front, expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(small_ints, small_ints), max_size=60))
def test_2d_fast_path_equals_the_general_scan(points):
    values = np.array(points, dtype=float).reshape(len(points), 2)
    assert np.array_equal(non_dominated(values), brute_force(values))
    padded = np.column_stack([values, np.zeros(len(values))])   # 3-D: the n-D scan
    assert np.array_equal(non_dominated(padded), brute_force(values))


def test_duplicates_on_the_front_are_all_kept_and_ties_resolved():
    df = pd.DataFrame({"lat": [1, 1, 1, 2, 0, 0], "en": [5, 5, 6, 1, 9, 9]},
                      index=list("abcdef"))
    front = pareto(df, minimize=["lat", "en"])
    assert list(front.index) == ["a", "b", "d", "e", "f"]


def test_maximize_and_infinities():
    df = pd.DataFrame({"lat": [1.0, 2.0, 3.0, np.inf], "util": [0.2, 0.9, 0.9, 1.0]})
    assert list(pareto(df, minimize="lat", maximize="util").index) == [0, 1, 3]
    assert list(pareto(df, maximize=["util"]).index) == [3]


def test_rows_with_nan_objectives_are_left_out():
    df = pd.DataFrame({"a": [1.0, np.nan, 0.5], "b": [1.0, 0.0, 2.0]})
    assert list(pareto(df, minimize=["a", "b"]).index) == [0, 2]


def test_bad_objectives_are_refused():
    df = pd.DataFrame({"a": [1.0], "b": [2.0], "name": ["x"]})
    with pytest.raises(ValueError, match=r"not in the frame: \['energy'\]"):
        pareto(df, minimize=["a", "energy"])
    with pytest.raises(ValueError, match="at least one objective"):
        pareto(df)
    with pytest.raises(ValueError, match="more than once"):
        pareto(df, minimize=["a"], maximize=["a"])
    with pytest.raises(ValueError, match="not a numeric column"):
        pareto(df, minimize=["name"])
    with pytest.raises(ValueError, match="DataFrame"):
        pareto([[1, 2]], minimize=["a"])


def test_empty_frame_gives_an_empty_front():
    df = pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=float)})
    assert pareto(df, minimize=["a", "b"]).empty


def test_2d_is_fast_on_a_large_frame():
    rng = np.random.default_rng(0)
    values = rng.random((200_000, 2))
    mask = non_dominated(values)           # O(n log n): well under a second
    order = np.argsort(values[mask, 0])
    assert np.all(np.diff(values[mask][order, 1]) < 0)
