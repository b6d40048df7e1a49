"""Banked scratchpad model (`_core.count_bank_conflicts` and friends): conflict counts against
closed forms and a Python oracle, broadcasts, ports, interleaving, double-buffer occupancy and
bad input.

Word interleave puts word w = address // word_bytes in bank w % B. A cycle in which L requesters
read distinct words at a stride of s words hits banks with period P = B / gcd(s, B), so it
stalls ceil(L / P / ports) - 1 cycles (docs/memory_models.md). A skewed systolic fetch of a
row-major tile with a pitch of p words reads, at cycle t, words base + t + l * (p - 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pysim import _core


def spad(banks: int = 16, ports: int = 1, word_bytes: int = 8, **kw) -> _core.ScratchpadSpec:
    size = kw.pop("size_bytes", banks * word_bytes * 4096)
    return _core.ScratchpadSpec(size, banks, ports_per_bank=ports, word_bytes=word_bytes, **kw)


def oracle_stalls(spec: _core.ScratchpadSpec, addresses, offsets) -> tuple[int, int]:
    """(stall cycles, distinct accesses) counted the slow, obvious way."""
    stalls = accesses = 0
    for c in range(len(offsets) - 1):
        words = {int(a) // spec.word_bytes for a in addresses[offsets[c] : offsets[c + 1]]}
        load: dict[int, int] = {}
        for w in words:
            bank = spec.bank_of(w * spec.word_bytes)
            load[bank] = load.get(bank, 0) + 1
        accesses += len(words)
        if load:
            stalls += math.ceil(max(load.values()) / spec.ports_per_bank) - 1
    return stalls, accesses


def formula(banks: int, ports: int, lanes: int, stride: int) -> int:
    if stride == 0 or lanes == 1:
        return 0
    period = banks // math.gcd(stride, banks)
    return math.ceil(math.ceil(lanes / period) / ports) - 1


def test_skewed_fetch_with_pitch_equal_to_banks_is_conflict_free():
    spec = spad(banks=16)
    addresses, offsets = _core.systolic_fetch_pattern(
        spec, lanes=16, elements=64, row_pitch_words=16
    )
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    assert stats.conflict_stall_cycles == 0
    assert stats.cycles_requested == 64 + 16 - 1
    assert stats.total_cycles == stats.cycles_requested
    assert stats.accesses == stats.requests == 16 * 64
    assert stats.max_bank_load == 1


def test_unskewed_fetch_with_padded_pitch_is_conflict_free():
    spec = spad(banks=16)
    addresses, offsets = _core.systolic_fetch_pattern(
        spec, lanes=16, elements=64, row_pitch_words=17, skewed=False
    )
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    assert stats.conflict_stall_cycles == 0
    assert stats.total_cycles == 64


def test_pathological_stride_adds_exactly_the_predicted_stalls():
    # Unskewed, pitch = banks: every lane of every cycle hits the same bank.
    spec = spad(banks=16)
    addresses, offsets = _core.systolic_fetch_pattern(
        spec, lanes=16, elements=64, row_pitch_words=16, skewed=False
    )
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    assert _core.strided_conflict_stalls(spec, 16, 16) == 15
    assert stats.conflict_stall_cycles == 64 * 15
    assert stats.max_bank_load == 16
    # Skewed, pitch = banks + 1: the skew turns the stride into 16 again; fill and drain have
    # fewer lanes active (n lanes stall n - 1).
    addresses, offsets = _core.systolic_fetch_pattern(
        spec, lanes=16, elements=64, row_pitch_words=17
    )
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    fill_drain = 2 * sum(n - 1 for n in range(1, 16))
    assert stats.conflict_stall_cycles == (64 - 16 + 1) * 15 + fill_drain
    assert stats.conflict_stall_cycles == _core.systolic_fetch_predicted_stalls(
        spec, lanes=16, elements=64, row_pitch_words=17
    )


@pytest.mark.parametrize("banks", [1, 4, 12, 16, 32])
@pytest.mark.parametrize("ports", [1, 2, 3])
@pytest.mark.parametrize("skewed", [False, True])
def test_counted_stalls_equal_closed_form_for_every_pitch(banks, ports, skewed):
    spec = spad(banks=banks, ports=ports)
    for lanes in (1, 5, 16):
        for pitch in range(0, 2 * banks + 3):
            addresses, offsets = _core.systolic_fetch_pattern(
                spec, lanes=lanes, elements=20, row_pitch_words=pitch, skewed=skewed
            )
            counted = _core.count_bank_conflicts(spec, addresses, offsets)
            predicted = _core.systolic_fetch_predicted_stalls(
                spec, lanes=lanes, elements=20, row_pitch_words=pitch, skewed=skewed
            )
            assert counted.conflict_stall_cycles == predicted, (lanes, pitch)
            if not skewed:
                per_cycle = formula(banks, ports, lanes, pitch)
                assert _core.strided_conflict_stalls(spec, lanes, pitch) == per_cycle
                assert predicted == 20 * per_cycle


def test_broadcast_of_one_word_is_not_a_conflict():
    spec = spad(banks=4)
    # 3 cycles; every requester in a cycle reads the same word (bytes 0..7 are one word).
    addresses = np.array([40, 40, 40, 40, 0, 1, 2, 7, 8, 8], dtype=np.int64)
    offsets = np.array([0, 4, 8, 10], dtype=np.int64)
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    assert stats.conflict_stall_cycles == 0
    assert stats.requests == 10
    assert stats.accesses == 3
    # Pitch 0: all lanes read the same row; unskewed, they share every word.
    addresses, offsets = _core.systolic_fetch_pattern(
        spec, lanes=8, elements=10, row_pitch_words=0, skewed=False
    )
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    assert stats.conflict_stall_cycles == 0
    assert stats.accesses == 10


def test_narrow_elements_share_words():
    # int8 operands in 8-byte words: a lane's 8 consecutive elements are one word.
    spec = spad(banks=4)
    addresses, offsets = _core.systolic_fetch_pattern(
        spec, lanes=4, elements=16, row_pitch_words=4, element_bytes=1, skewed=False
    )
    stats = _core.count_bank_conflicts(spec, addresses, offsets)
    assert stats.conflict_stall_cycles == 16 * 3  # pitch = banks: one bank per cycle
    assert (stats.accesses, stats.requests) == (64, 64)  # one word per lane per cycle


def test_two_ports_halve_the_conflicts():
    addr_offs = {}
    for ports in (1, 2):
        spec = spad(banks=16, ports=ports)
        addr_offs[ports] = _core.count_bank_conflicts(
            spec,
            *_core.systolic_fetch_pattern(
                spec, lanes=16, elements=32, row_pitch_words=16, skewed=False
            ),
        )
    assert addr_offs[1].total_cycles == 32 * 16
    assert addr_offs[2].total_cycles == 32 * 8
    assert addr_offs[2].conflict_stall_cycles == 32 * 7


def test_random_streams_match_a_python_oracle():
    rng = np.random.default_rng(7)
    specs = [
        _core.ScratchpadSpec(1 << 12, 8),
        _core.ScratchpadSpec(6 * 8 * 64, 6, ports_per_bank=2),
        _core.ScratchpadSpec(1 << 12, 4, interleave="block", block_bytes=64),
        _core.ScratchpadSpec(1 << 12, 4, ports_per_bank=2, interleave="block"),
    ]
    for spec in specs:
        sizes = rng.integers(0, 12, size=200)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        addresses = rng.integers(0, spec.size_bytes, size=int(offsets[-1]))
        stats = _core.count_bank_conflicts(spec, addresses, offsets)
        assert (stats.conflict_stall_cycles, stats.accesses) == oracle_stalls(
            spec, addresses, offsets
        )
        assert stats.bank_accesses.sum() == stats.accesses
        assert len(stats.bank_accesses) == spec.banks
        assert stats.to_dict()["total_cycles"] == 200 + stats.conflict_stall_cycles


def test_block_interleave_maps_blocks_to_banks():
    spec = _core.ScratchpadSpec(1 << 12, 4, interleave="block", block_bytes=64)
    assert [spec.bank_of(a) for a in (0, 63, 64, 255, 256)] == [0, 0, 1, 3, 0]
    whole = _core.ScratchpadSpec(1 << 12, 4, interleave="block")  # one region per bank
    assert [whole.bank_of(a) for a in (0, 1023, 1024, 4095)] == [0, 0, 1, 3]
    # stride of 8 words = 1 block: banks 0, 1, 2, 3 -> free; 32 words = 4 blocks: one bank.
    assert _core.strided_conflict_stalls(spec, 4, 8) == 0
    assert _core.strided_conflict_stalls(spec, 4, 32) == 3
    with pytest.raises(ValueError, match="multiple of the block's 8 words"):
        _core.strided_conflict_stalls(spec, 4, 3)


def test_double_buffer_ideal_pipeline_holds_two_tiles():
    spec = spad(size_bytes=1024)
    report = _core.double_buffer_occupancy(spec, [100, 400, 300, 512])
    assert report.buffers == 2
    assert report.capacity_per_buffer_bytes == 512
    assert report.peak_resident_tiles == 2
    assert report.peak_occupancy_bytes == 812
    assert report.fits and report.oversized_tiles == 0 and report.first_oversized_tile == -1


def test_double_buffer_flags_oversized_and_overlapping_tiles():
    spec = spad(size_bytes=1024)
    report = _core.double_buffer_occupancy(spec, [100, 600, 700])
    assert not report.fits
    assert (report.oversized_tiles, report.first_oversized_tile) == (2, 1)
    # Three tiles resident at once: tile 2 starts filling before tile 0 has drained.
    report = _core.double_buffer_occupancy(
        spec,
        [100, 100, 100],
        fill_start=[0, 1, 2],
        fill_end=[1, 2, 3],
        drain_start=[1, 2, 3],
        drain_end=[2.5, 3.5, 4.5],
    )
    assert report.peak_resident_tiles == 3 and report.peak_occupancy_bytes == 300
    assert not report.fits
    # A buffer drained at t can be refilled at t.
    report = _core.double_buffer_occupancy(
        spec,
        [100, 100, 100],
        fill_start=[0, 1, 2],
        fill_end=[1, 2, 3],
        drain_start=[1, 2, 3],
        drain_end=[2, 3, 4],
    )
    assert report.peak_resident_tiles == 2 and report.fits
    single = spad(size_bytes=1024, double_buffered=False)
    report = _core.double_buffer_occupancy(single, [1024, 1024])
    assert report.buffers == 1 and report.capacity_per_buffer_bytes == 1024
    assert report.peak_resident_tiles == 2 and not report.fits
    assert report.to_dict()["tiles"] == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size_bytes": 1024, "banks": 0}, "banks must be in 1..1048576, got 0"),
        ({"size_bytes": -8, "banks": 1}, "size_bytes must be >= 1, got -8"),
        ({"size_bytes": 1000, "banks": 16}, "multiple of banks \\* word_bytes = 128"),
        ({"size_bytes": 1024, "banks": 4, "ports_per_bank": 0}, "ports_per_bank must be >= 1"),
        ({"size_bytes": 1024, "banks": 4, "word_bytes": 0}, "word_bytes must be >= 1"),
        ({"size_bytes": 1024, "banks": 4, "interleave": "diag"}, "'word', 'block', got 'diag'"),
        ({"size_bytes": 1024, "banks": 4, "block_bytes": 64}, "block_bytes must be 0"),
        (
            {"size_bytes": 1024, "banks": 4, "interleave": "block", "block_bytes": 12},
            "multiple of word_bytes",
        ),
        (
            {"size_bytes": 1024, "banks": 4, "interleave": "block", "block_bytes": 512},
            "multiple of banks \\* block_bytes",
        ),
    ],
)
def test_bad_spec_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _core.ScratchpadSpec(**kwargs)


@pytest.mark.parametrize(
    ("addresses", "offsets", "match"),
    [
        ([0, 8, 16], [0, 2, 1, 3], "non-decreasing, got cycle_offsets\\[2\\] = 1"),
        ([0, 8], [1, 2], "cycle_offsets\\[0\\] must be 0, got 1"),
        ([0, 8], [0, 1], "cycle_offsets\\[-1\\] must equal len\\(addresses\\) = 2, got 1"),
        ([0, 8], [], "cycles \\+ 1 >= 1 entries"),
        ([0, 1 << 20], [0, 2], "addresses\\[1\\] = 1048576 is outside the scratchpad"),
        ([-8], [0, 1], "addresses\\[0\\] = -8"),
        ([0.0, 8.0], [0, 2], "addresses must hold integers, got dtype float64"),
        ([[0, 8]], [0, 2], "addresses must be 1-D, got ndim=2"),
    ],
)
def test_bad_streams_raise_value_error(addresses, offsets, match):
    with pytest.raises(ValueError, match=match):
        _core.count_bank_conflicts(spad(), addresses, offsets)


def test_empty_stream_and_empty_cycles():
    stats = _core.count_bank_conflicts(spad(), [], [0])
    assert (stats.cycles_requested, stats.total_cycles, stats.accesses) == (0, 0, 0)
    stats = _core.count_bank_conflicts(spad(), [], [0, 0, 0])
    assert stats.total_cycles == 2


def test_bad_fetch_and_buffer_plans_raise_value_error():
    spec = spad(size_bytes=1024, banks=4)
    with pytest.raises(ValueError, match="past size_bytes = 1024"):
        _core.systolic_fetch_pattern(spec, lanes=4, elements=33, row_pitch_words=32)
    with pytest.raises(ValueError, match="lanes must be in 1..2147483648, got 0"):
        _core.systolic_fetch_pattern(spec, lanes=0, elements=4, row_pitch_words=4)
    with pytest.raises(ValueError, match="lanes \\* elements must be <= 2\\^31"):
        _core.systolic_fetch_pattern(spec, lanes=1 << 20, elements=1 << 20, row_pitch_words=0)
    with pytest.raises(ValueError, match="stride_words must be in"):
        _core.strided_conflict_stalls(spec, 4, -(2**63))
    with pytest.raises(ValueError, match="element_bytes == word_bytes"):
        _core.systolic_fetch_predicted_stalls(spec, 4, 4, 4, element_bytes=2)
    with pytest.raises(ValueError, match="fill_end must have one entry per tile"):
        _core.double_buffer_occupancy(
            spec, [1, 2], fill_start=[0, 1], fill_end=[1], drain_start=[1, 2], drain_end=[2, 3]
        )
    with pytest.raises(ValueError, match="tile 1 needs finite times"):
        _core.double_buffer_occupancy(
            spec, [1, 2], fill_start=[0, 3], fill_end=[1, 2], drain_start=[1, 2], drain_end=[2, 3]
        )
    with pytest.raises(ValueError, match="tile_bytes\\[0\\] must be >= 0"):
        _core.double_buffer_occupancy(spec, [-1])
