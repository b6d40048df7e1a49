"""The room a GEMM's tiling search reports (``GemmTiling.room``): the bytes of the capacity's
varying group (the input scratchpad, less what the kept area holds) over which the same
candidates fit, so the mapper reuses a whole mapping at another kept-area size
(pysim/mapping/mac_memo.py's ``ByRoom``). Anywhere in the room the search finds the very same
tiling; the mapped figures of a training step equal those of mapping every op."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import training
from pysim.mapping.mac_memo import MAPPED, ByRoom, Remembered
from pysim.mapping.tiling import TRAFFIC, Capacity, _Setup, _setup, plan_gemm
from pysim.memo import clear_caches

ROOT = Path(__file__).resolve().parent.parent


def _capacity(layout: str, sizes: tuple[int, int, int], varying: int) -> Capacity:
    if layout == "unified":
        return Capacity(groups=((("input", "weight", "output"), sizes[0], True),),
                        varying=varying)
    if layout == "chained":  # TPU v1's shape: C's tile may live in an outer unified buffer
        groups = ((("input",), sizes[0], True), (("weight",), sizes[1], True),
                  (("output",), sizes[2], False))
        return Capacity(groups=groups, outer=(("output", 0),), varying=varying)
    separate: tuple[tuple[tuple[str, ...], int, bool], ...] = tuple(
        ((r,), s, True) for r, s in zip(("input", "weight", "output"), sizes, strict=True))
    return Capacity(groups=separate, varying=varying)


def _at(cap: Capacity, size: int) -> Capacity:
    groups = list(cap.groups)
    roles, _, db = groups[cap.varying]
    groups[cap.varying] = (roles, size, db)
    return Capacity(groups=tuple(groups), outer=cap.outer, varying=cap.varying)


@settings(derandomize=True, database=None, deadline=None, max_examples=150)
@given(m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 300),
       bits=st.sampled_from([(8, 8, 8, 32), (16, 16, 16, 32), (4, 4, 8, 32)]),
       sizes=st.tuples(*[st.integers(256, 1 << 16)] * 3),
       layout=st.sampled_from(["separate", "unified", "chained"]),
       grains=st.sampled_from([(1, 1, 1), (1, 16, 16), (8, 8, 8)]),
       a_on_chip=st.booleans(), where=st.floats(0, 1))
def test_the_same_tiling_anywhere_in_the_room(m, n, k, bits, sizes, layout, grains, a_on_chip,
                                              where) -> None:
    cap = _capacity(layout, sizes, 0)
    args = (m, n, k, *bits)
    try:
        t = plan_gemm(*args, cap, *grains, a_on_chip)
    except ValueError:
        return  # no tile fits
    assert t.room is not None
    lo, hi = t.room
    size = cap.groups[0][1]
    assert lo <= size <= hi
    setup = _setup_at(m, n, k, bits, cap, grains, a_on_chip)
    for other in {max(lo, 0), min(hi, 1 << 40), max(lo, 0) + int(where * (min(hi, 1 << 40)
                                                                         - max(lo, 0)))}:
        moved = _at(cap, other)
        assert plan_gemm(*args, moved, *grains, a_on_chip) == t  # room not compared
        again = _setup_at(m, n, k, bits, moved, grains, a_on_chip)
        assert np.array_equal(again.pos, setup.pos)
        assert np.array_equal(again.fits2, setup.fits2)


def _setup_at(m: int, n: int, k: int, bits: tuple[int, int, int, int], cap: Capacity,
              grains: tuple[int, int, int], a_on_chip: bool) -> _Setup:
    """plan_gemm's candidate set-up at its defaults (traffic objective, burst 1)."""
    return _setup(m, n, k, *bits, cap, *grains, a_on_chip, 1, TRAFFIC, None, None, 1.0, 1.0,
                  1.0, (), 1.0)


def test_no_varying_group_no_room() -> None:
    cap = _capacity("separate", (4096, 4096, 4096), -1)
    assert plan_gemm(64, 64, 64, 8, 8, 8, 32, cap).room is None


def test_a_training_step_maps_each_gemm_once_across_kept_area_sizes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """BERT-base's int8 training step on tpu_v1: its GEMMs run beside ~120 kept-area sizes;
    each distinct op (and operand residency) is searched once, the others reuse its mapping
    through the room, and the figures are those of mapping every op."""
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    clear_caches()
    first = training.step(hw, "bert_base", "adam", "int8").result
    memo = MAPPED.of(hw)
    assert 0 < len(memo) == len(memo.rooms) < 40
    with monkeypatch.context() as patch:
        patch.setattr(Remembered, "recall", lambda self, key: None)
        patch.setattr(ByRoom, "recall_at", lambda self, key, room: None)
        every = training.step(hw, "bert_base", "adam", "int8").result
    pd.testing.assert_frame_equal(first.layers, every.layers)
    assert (first.latency_cycles, first.energy_j, first.level_bytes, first.tensor_traffic) == \
        (every.latency_cycles, every.energy_j, every.level_bytes, every.tensor_traffic)
    clear_caches()
