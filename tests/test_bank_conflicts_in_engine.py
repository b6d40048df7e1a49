"""Scratchpad bank conflicts and DRAM row-buffer behaviour reach the simulator's results."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.mapping.bank_conflicts import fold_fetch_stalls

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def edge() -> pysim.Hardware:
    return pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")


def test_wide_enough_scratchpad_has_no_fetch_conflicts(edge: pysim.Hardware) -> None:
    # 32 int8 lanes = 32 B per step = 2 words of 16 B on 16 word-interleaved banks.
    assert fold_fetch_stalls(edge.scratchpads[0], lanes=32, elements=500, elem_bits=8) == 0


def test_narrow_scratchpad_stalls_exactly_as_predicted(edge: pysim.Hardware) -> None:
    # 2 banks x 1 port of 16-byte words: a 32-byte step needs 2 words, one per bank -> no
    # stall; 64 int8 lanes need 4 words, 2 per bank -> 1 stall cycle per step.
    narrow = edge.with_overrides({"scratchpads.0.banks": 2}).scratchpads[0]
    assert fold_fetch_stalls(narrow, lanes=32, elements=100, elem_bits=8) == 0
    assert fold_fetch_stalls(narrow, lanes=64, elements=100, elem_bits=8) == 100
    # a second port per bank serves both words of a bank in one cycle
    dual = edge.with_overrides({"scratchpads.0.banks": 2,
                                "scratchpads.0.ports_per_bank": 2}).scratchpads[0]
    assert fold_fetch_stalls(dual, lanes=64, elements=100, elem_bits=8) == 0


def test_bank_stalls_show_up_in_latency(edge: pysim.Hardware) -> None:
    wl = pysim.zoo.load("gemm", m=256, n=256, k=256)
    wide = pysim.simulate(edge, wl)
    # one bank, one 16-byte port: the 32 lanes' 32-byte step takes 2 cycles
    narrow_hw = edge.with_overrides({"scratchpads.0.banks": 1})
    narrow = pysim.simulate(narrow_hw, wl)
    assert wide.layers["bank_stall_cycles"].sum() == 0
    assert narrow.layers["bank_stall_cycles"].sum() > 0
    assert narrow.latency_cycles > wide.latency_cycles


def test_row_hit_rate_is_reported(edge: pysim.Hardware) -> None:
    res = pysim.simulate(edge, pysim.zoo.load("resnet18"))
    assert 0.0 < res.dram_row_hit_rate <= 1.0
    assert res.layers["dram_row_hit_rate"].between(0.0, 1.0).all()
    assert "dram_row_hit_rate" in res.summary()


@pytest.mark.parametrize("spad", [(1 << 20, 16, 1, 32), (4096, 4, 2, 8), (1008, 3, 1, 7)])
@pytest.mark.parametrize("lanes", [1, 3, 14, 64, 147, 256])
def test_fetch_words_are_each_steps_run_of_words(spad: tuple[int, int, int, int],
                                                 lanes: int) -> None:
    # _stalls lays every step's words out at once (np.repeat); the same stalls as a step at
    # a time, word by word
    import math

    import numpy as np

    from pysim import _core
    from pysim.mapping.bank_conflicts import SAMPLE, _stalls

    size, banks, ports, word = spad
    for elements, elem_bytes in ((1, 1), (49, 2), (200, 1), (3136, 4)):
        steps, step_bytes = min(elements, SAMPLE), lanes * elem_bytes
        runs = [range(s * step_bytes // word, (s * step_bytes + step_bytes - 1) // word + 1)
                for s in range(steps)]
        offsets = np.cumsum([0] + [len(r) for r in runs], dtype=np.int64)
        words = np.array([w for r in runs for w in r], dtype=np.int64)
        stats = _core.count_bank_conflicts(_core.ScratchpadSpec(size, banks, ports, word),
                                           (words * word) % size, offsets)
        want = math.ceil(stats.conflict_stall_cycles * elements / steps)
        assert _stalls.__wrapped__(spad, lanes, elements, elem_bytes) == want
