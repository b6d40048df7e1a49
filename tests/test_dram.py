"""DRAM timing model (`_core.dram_simulate_stream`): exact times and counts for sequential and
pathological streams, refresh, bandwidth bounds, conservation, determinism and bad input.

Fixture: one DDR4-2400 x64 channel (JESD79-4 speed bin DDR4-2400R, 17-17-17): tCK = 0.833 ns,
tRCD = tCL = tRP = 14.16 ns (17 clocks), tRAS = 32 ns (39 clocks), 16 banks (4 groups x 4),
8 KiB row, 64-byte bursts (BL8 x 8 bytes = 8 beats = 4 clocks), tREFI = 7.8 us, tRFC = 350 ns
(8 Gb). Peak = 8 B x 2400 MT/s = 19.2 GB/s per channel. In beats (half clocks):
  row hit RD every tB = 8; miss gap tRCD - tB; conflict gap tRP + tRCD - tB; tRC = tRAS + tRP.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pysim
from pysim import _core

DDR4_2400 = dict(
    channels=1,
    banks_per_channel=16,
    row_bytes=8192,
    burst_bytes=64,
    data_rate_mtps=2400,
    bus_bits=64,
    tRCD_ns=14.16,
    tCL_ns=14.16,
    tRP_ns=14.16,
    tRAS_ns=32.0,
    tREFI_ns=7800.0,
    tRFC_ns=350.0,
)
TCK = 2000 / 2400  # ns
BEAT = TCK / 2
TB, RCD, CL, RP, RAS = 8, 34, 34, 34, 78  # beats


def ddr4(**overrides) -> _core.DramSpec:
    return _core.DramSpec(**{**DDR4_2400, **overrides})


def sequential(total_bytes: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    n = total_bytes // chunk
    return np.arange(n, dtype=np.int64) * chunk, np.full(n, chunk, dtype=np.int64)


def test_spec_derives_clocks_and_peak_bandwidth():
    spec = ddr4()
    assert spec.tck_ns == pytest.approx(TCK)
    assert spec.clocks == {
        "burst_beats": 8,
        "tRCD": 17,
        "tCL": 17,
        "tRP": 17,
        "tRAS": 39,
        "tREFI": 9360,
        "tRFC": 420,
    }
    assert spec.peak_bandwidth_gb_per_s == pytest.approx(19.2)
    assert _core.dram_peak_bandwidth_gb_per_s(ddr4(channels=4)) == pytest.approx(76.8)
    assert spec.to_dict()["mapping"] == "row:bank:column:channel"
    assert "tRCD_ns=14.16" in repr(spec)


def test_default_mapping_spreads_bursts_over_channels_then_columns_then_banks():
    spec = ddr4(channels=2)
    loc = [_core.dram_map_address(spec, 64 * g) for g in (0, 1, 2, 3, 256, 256 * 16)]
    assert [(d["channel"], d["column"], d["bank"], d["row"]) for d in loc] == [
        (0, 0, 0, 0),
        (1, 0, 0, 0),
        (0, 1, 0, 0),
        (1, 1, 0, 0),
        (0, 0, 1, 0),
        (0, 0, 0, 1),
    ]
    other = ddr4(channels=2, mapping="row:bank:channel:column")
    assert _core.dram_map_address(other, 8192) == {"channel": 1, "bank": 0, "row": 0, "column": 0}



@pytest.mark.parametrize("mapping", ["row:bank:column:channel", "row:bank:channel:column",
                                     "row:column:bank:channel", "row:column:channel:bank",
                                     "row:channel:bank:column", "row:channel:column:bank"])
def test_a_transfers_bursts_land_where_dram_map_address_puts_each(mapping):
    """A transfer's bursts are located by carrying from one to the next (no division per
    burst); cut into one-burst transfers, each located afresh, the stream schedules the same
    bursts on the same banks: identical counts and times (only the per-transfer latency
    differs). Odd channel and bank counts make every field carry."""
    spec = ddr4(channels=3, banks_per_channel=6, row_bytes=1024, mapping=mapping)
    rng = np.random.default_rng(7)
    addresses = np.sort(rng.integers(0, 1 << 20, 40)) + rng.integers(0, 64, 40)
    sizes = rng.integers(1, 5000, 40)
    whole = _core.dram_simulate_stream(spec, addresses, sizes)
    bursts = [g * 64 for a, n in zip(addresses.tolist(), sizes.tolist(), strict=True)
              for g in range(a // 64, (a + n - 1) // 64 + 1)]
    split = _core.dram_simulate_stream(spec, np.array(bursts, dtype=np.int64),
                                       np.full(len(bursts), 64, dtype=np.int64))
    for field in ("bursts", "row_hits", "row_misses", "row_conflicts", "refreshes", "time_ns",
                  "channel_time_ns"):
        assert getattr(whole, field) == getattr(split, field), field

def test_single_burst_and_row_hit_latency():
    spec = ddr4(tREFI_ns=0)
    one = _core.dram_simulate_stream(spec, [0], [64])
    assert one.time_ns == pytest.approx((RCD + CL + TB) * BEAT)
    assert one.avg_latency_ns == pytest.approx((RCD + CL + TB) * BEAT)
    assert (one.row_misses, one.row_hits, one.row_conflicts) == (1, 0, 0)
    two = _core.dram_simulate_stream(spec, [0, 64], [64, 64])  # tCL is paid once
    assert two.time_ns == pytest.approx((RCD + CL + 2 * TB) * BEAT)
    assert two.row_hits == 1


def test_sequential_read_time_is_exact_without_refresh():
    spec = ddr4(tREFI_ns=0)
    addresses, sizes = sequential(4 << 20)
    stats = _core.dram_simulate_stream(spec, addresses, sizes)
    bursts = (4 << 20) // 64
    rows = bursts // 128
    # First 16 rows find their bank closed, the rest find the bank's previous row open.
    misses, conflicts = 16, rows - 16
    assert (stats.bursts, stats.row_hits) == (bursts, bursts - rows)
    assert (stats.row_misses, stats.row_conflicts) == (misses, conflicts)
    beats = RCD + CL + bursts * TB + (misses - 1) * (RCD - TB) + conflicts * (RP + RCD - TB)
    assert stats.time_ns == pytest.approx(beats * BEAT)
    assert stats.row_hit_rate == pytest.approx(1 - 1 / 128)
    assert stats.refreshes == 0


def test_long_sequential_read_is_close_to_peak_with_refresh():
    spec = ddr4()
    addresses, sizes = sequential(32 << 20)
    stats = _core.dram_simulate_stream(spec, addresses, sizes)
    efficiency = stats.achieved_bandwidth_gb_per_s / stats.peak_bandwidth_gb_per_s
    refresh_overhead = spec.tRFC_ns / spec.tREFI_ns  # 4.5 %
    assert efficiency > 0.90
    assert efficiency < 1 - refresh_overhead
    # The bus moves every burst and sits idle through every refresh.
    assert stats.time_ns >= (stats.bursts * TB * BEAT + stats.refreshes * 420 * TCK) - 1e-6
    rows = stats.bursts // 128
    activations = stats.row_misses + stats.row_conflicts
    assert rows <= activations <= rows + stats.refreshes  # a refresh may close an open row
    assert stats.row_hit_rate == pytest.approx(1 - 1 / 128, abs=2e-3)


def test_pathological_stride_conflicts_every_burst():
    # Same channel, bank and column, next row: every burst precharges and activates.
    n = 4000
    stride = 16 * 8192
    spec = ddr4(tREFI_ns=0)
    stats = _core.dram_simulate_stream(spec, np.arange(n) * stride, np.full(n, 64))
    assert (stats.row_hits, stats.row_misses, stats.row_conflicts) == (0, 1, n - 1)
    assert stats.row_hit_rate == 0.0
    # One activation per tRC = tRAS + tRP (tRAS > tRCD + tB here).
    assert stats.time_ns == pytest.approx(((n - 1) * (RAS + RP) + RCD + CL + TB) * BEAT)
    assert stats.achieved_bandwidth_gb_per_s == pytest.approx(64 / ((RAS + RP) * BEAT), rel=1e-3)
    # With refresh, each refresh closes the row: the next burst is a miss, not a conflict.
    stats = _core.dram_simulate_stream(ddr4(), np.arange(n) * stride, np.full(n, 64))
    assert stats.refreshes > 0
    assert stats.row_misses == 1 + stats.refreshes
    assert stats.row_conflicts == n - 1 - stats.refreshes
    assert stats.achieved_bandwidth_gb_per_s < 0.1 * stats.peak_bandwidth_gb_per_s


def test_random_access_sits_between_strided_and_sequential():
    rng = np.random.default_rng(2024)
    n = 20000
    spec = ddr4()
    rand = _core.dram_simulate_stream(spec, rng.integers(0, 1 << 30, n) // 64 * 64, np.full(n, 64))
    seq = _core.dram_simulate_stream(spec, np.arange(n) * 64, np.full(n, 64))
    bad = _core.dram_simulate_stream(spec, np.arange(n) * 16 * 8192, np.full(n, 64))
    assert rand.row_hit_rate < 0.01
    assert rand.row_conflicts > 0.9 * n
    assert (
        bad.achieved_bandwidth_gb_per_s
        < rand.achieved_bandwidth_gb_per_s
        < seq.achieved_bandwidth_gb_per_s
    )


def test_refresh_count_follows_trefi_per_channel():
    spec = ddr4(channels=2)
    addresses, sizes = sequential(16 << 20)
    stats = _core.dram_simulate_stream(spec, addresses, sizes)
    assert stats.channel_bursts == [stats.bursts // 2] * 2
    for t, refreshes in zip(stats.channel_time_ns, stats.channel_refreshes, strict=True):
        assert abs(refreshes - math.floor(t / spec.tREFI_ns)) <= 1
    assert stats.refreshes == sum(stats.channel_refreshes)
    # Two channels in parallel: about twice one channel's bandwidth.
    one = _core.dram_simulate_stream(ddr4(), addresses, sizes)
    ratio = stats.achieved_bandwidth_gb_per_s / one.achieved_bandwidth_gb_per_s
    assert ratio == pytest.approx(2.0, rel=0.02)


def test_bytes_are_conserved_and_runs_are_deterministic():
    rng = np.random.default_rng(11)
    n = 3000
    addresses = rng.integers(0, 1 << 28, n)
    sizes = rng.integers(1, 5000, n)
    is_write = rng.random(n) < 0.3
    spec = ddr4(channels=2)
    a = _core.dram_simulate_stream(spec, addresses, sizes, is_write)
    b = _core.dram_simulate_stream(spec, addresses, sizes, is_write)
    assert a.to_dict() == b.to_dict()
    assert a.bytes == sizes.sum()
    assert a.write_bytes == sizes[is_write].sum()
    assert a.read_bytes + a.write_bytes == a.bytes
    bursts = ((addresses + sizes - 1) // 64 - addresses // 64 + 1).sum()
    assert a.bursts == bursts == sum(a.channel_bursts)
    assert a.bursts * 64 >= a.bytes
    assert a.row_hits + a.row_misses + a.row_conflicts == a.bursts
    assert a.time_ns == max(a.channel_time_ns)
    assert a.achieved_bandwidth_gb_per_s == pytest.approx(a.bytes / a.time_ns)
    # Writes are timed as reads (docs/memory_models.md): flags change counts, not time.
    c = _core.dram_simulate_stream(spec, list(addresses), list(sizes), [int(w) for w in is_write])
    reads = _core.dram_simulate_stream(spec, addresses, sizes)
    assert c.write_bytes == a.write_bytes and reads.time_ns == a.time_ns


def test_empty_stream():
    stats = _core.dram_simulate_stream(ddr4(), [], [])
    assert (stats.time_ns, stats.bursts, stats.achieved_bandwidth_gb_per_s) == (0.0, 0, 0.0)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"banks_per_channel": 0}, "banks_per_channel must be in 1..4096, got 0"),
        ({"channels": 0}, "channels must be in 1..4096, got 0"),
        ({"channels": 1 << 40}, "channels must be in 1..4096"),
        ({"row_bytes": -8192}, "row_bytes must be >= 1, got -8192"),
        ({"row_bytes": 1000}, "row_bytes must be a multiple of burst_bytes = 64"),
        ({"burst_bytes": 60}, "burst_bytes must be a multiple of the bus width \\(8 bytes\\)"),
        ({"bus_bits": 12}, "bus_bits must be a multiple of 8"),
        ({"data_rate_mtps": 0}, "data_rate_mtps must be in"),
        ({"tRCD_ns": float("nan")}, "tRCD_ns must be a finite time"),
        ({"tRP_ns": -1.0}, "tRP_ns must be a finite time"),
        ({"tRFC_ns": 8000.0}, "tRP_ns \\+ tRFC_ns must be < tREFI_ns"),
        ({"mapping": "bank:row:column:channel"}, "with row first"),
        ({"mapping": "row:bank:column"}, "row, bank, column and channel once each"),
        ({"mapping": "row:bank:bank:channel"}, "once each"),
    ],
)
def test_bad_spec_raises_value_error(overrides, match):
    with pytest.raises(ValueError, match=match):
        ddr4(**overrides)


@pytest.mark.parametrize(
    ("addresses", "sizes", "is_write", "match"),
    [
        ([0, 64], [64], None, "same length, got 2 and 1"),
        ([0, 64], [64, 64], [True], "is_write must have the length of addresses \\(2\\), got 1"),
        ([-64], [64], None, "addresses\\[0\\] must be >= 0, got -64"),
        ([0, 64], [64, 0], None, "sizes\\[1\\] must be >= 1, got 0"),
        ([0.5], [64], None, "addresses must hold integers, got dtype float64"),
        ([0], [64.0], None, "sizes must hold integers"),
        ([[0]], [[64]], None, "addresses must be 1-D"),
        ([0], [64], [0.5], "is_write must hold booleans or integers"),
        ([2**62], [2**62], None, "overflows 64-bit integers"),
        ([0], [2**40], None, "more than 2\\^28 bursts"),
    ],
)
def test_bad_streams_raise_value_error(addresses, sizes, is_write, match):
    with pytest.raises(ValueError, match=match):
        _core.dram_simulate_stream(ddr4(), addresses, sizes, is_write)



@pytest.mark.parametrize("preset", ["tpu_v1", "eyeriss"])
def test_the_search_prices_streams_per_size_pair_as_stream_efficiency_does(preset) -> None:
    # plan_gemm takes 1 / stream_efficiency per pair of candidate tile sizes
    # (tiling._inverse_efficiency), not per candidate: the same figure for every run shape
    from pysim.engine.dram import stream_efficiency
    from pysim.mapping.tiling import _inverse_efficiency

    hw = pysim.load_hardware(Path(__file__).resolve().parent.parent / "configs"
                             / f"{preset}.yaml")
    key, headroom = hw.dram.model_key(), hw.dram.headroom
    rows, cols = np.array([1, 3, 7, 32, 147, 1000]), np.array([1, 5, 8, 64, 100, 147, 300])
    for width, bits in ((147, 8), (300, 4), (64, 32), (1, 16)):
        grid = _inverse_efficiency(key, headroom, tuple(rows.tolist()), tuple(cols.tolist()),
                                   width, bits)
        r, c = np.meshgrid(rows, cols, indexing="ij")
        pitch = (width * bits + 7) // 8
        run = np.where(c >= width, pitch * r, (c * bits + 7) // 8)
        assert (grid == 1.0 / stream_efficiency(key, run, pitch, headroom)).all()

def test_a_narrow_link_runs_at_its_own_rate_unless_the_dram_falls_below_it() -> None:
    from pysim.engine.dram import stream_efficiency, transfer_timing

    root = Path(__file__).resolve().parent.parent
    hw = pysim.load_hardware(root / "configs" / "eyeriss.yaml")  # 0.48 GB/s to DDR3-1600
    assert hw.dram.headroom == pytest.approx(12.8 / 0.48)
    # short strided runs that DDR3 serves at a fraction of its pins still fill the link
    streams = ((1 << 20, 64, 4096), (1 << 20, 4096, 4096))
    timing = transfer_timing(hw, streams)
    assert timing.bytes_per_cycle == pytest.approx(0.48e9 / 0.2e9)
    key = hw.dram.model_key()
    raw = stream_efficiency(key, np.array([8]), 1 << 16)[0]
    assert raw < 1.0 / hw.dram.headroom  # 8-byte runs far apart: the DRAM itself is slower
    assert stream_efficiency(key, np.array([8]), 1 << 16, hw.dram.headroom)[0] == \
        pytest.approx(raw * hw.dram.headroom)
    # at the pins (no cap), the achieved fraction applies as before
    full = hw.with_overrides({"dram.bandwidth_gb_per_s": hw.dram.peak_bandwidth_gb_per_s})
    assert full.dram.headroom == 1.0
    assert transfer_timing(full, streams).bytes_per_cycle < 12.8e9 / 0.2e9
