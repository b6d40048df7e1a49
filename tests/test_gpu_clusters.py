"""Thread-block clusters (TMA multicast), Hopper's nvjet tiles and the power-limited tensor clock
of the GPU GEMM model, against the H200 data they come from (docs/tensor_cores.md)."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim import _core, gpu
from pysim.errors import ConfigError
from pysim.gpu.presets import MMA_CLOCK_MHZ, MMA_EFFICIENCY
from tests.test_gpu_gemm_model import assert_same

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "h200_kernels"


def test_multicast_reads_each_shared_operand_once_per_cluster() -> None:
    # A 1 x 2 cluster: the two CTAs of a tile row share A's k-block, each reads half of it.
    p = gpu.preset("h200")
    alone = p.gemm_cost(1024, 1024, 1024, "fp16", tile=(128, 128, 64, 1))
    pair = p.gemm_cost(1024, 1024, 1024, "fp16", tile=(128, 128, 64, 1, 1, 2))
    a_block = b_block = 128 * 64 * 2
    per_block = alone.l2_read_bytes // (alone.ctas * 1024 // 64)
    assert per_block == a_block + b_block
    assert pair.l2_read_bytes == alone.l2_read_bytes * (a_block // 2 + b_block) // per_block
    # the same CTAs, MMAs, shared-memory reads and HBM panels
    for field in ("ctas", "waves", "mma_instructions", "smem_read_bytes", "hbm_read_bytes",
                  "hbm_write_bytes", "issued_macs"):
        assert getattr(pair, field) == getattr(alone, field), field
    assert (pair.cluster_m, pair.cluster_n) == (1, 2)
    col = p.gemm_cost(1024, 1024, 1024, "fp16", tile=(128, 64, 64, 1, 2, 1))
    solo = p.gemm_cost(1024, 1024, 1024, "fp16", tile=(128, 64, 64, 1))
    assert col.l2_read_bytes * (128 * 64 * 2 + 64 * 64 * 2) == solo.l2_read_bytes * (
        128 * 64 * 2 + 64 * 64)


def test_the_grid_is_padded_to_whole_clusters() -> None:
    # 3 x 4 tiles of 128x128 in 2 x 1 clusters: a fourth tile row of padding CTAs
    p = gpu.preset("h100")
    c = p.gemm_cost(384, 512, 256, "bf16", tile=(128, 128, 64, 1, 2, 1))
    assert c.ctas == 4 * 4
    assert c.issued_macs == 16 * 128 * 128 * 256
    assert c.macs == 384 * 512 * 256


@pytest.mark.parametrize("name", ["h100", "h200", "b200"])
@pytest.mark.parametrize(("m", "n", "k", "dtype", "sparse"), [
    (1024, 1024, 1024, "fp16", False), (384, 512, 256, "bf16", False),
    (1000, 700, 900, "fp8_e4m3", True), (256, 4096, 512, "bf16", False),
])
def test_the_cta_reference_equals_the_closed_form_with_clusters(
    name: str, m: int, n: int, k: int, dtype: str, sparse: bool,
) -> None:
    p = gpu.preset(name)
    clustered = [t for t in p.gemm_candidates(m, n, k, dtype, sparse) if t[4] * t[5] > 1]
    assert clustered
    for tile in clustered[:12]:
        closed = p.gemm_cost(m, n, k, dtype, sparse, tile=tile)
        stepped = p.simulate_gemm(m, n, k, dtype, sparse, tile=tile)
        assert_same(closed, stepped)


def test_few_sms_leave_the_slots_past_the_last_whole_cluster_idle() -> None:
    p = gpu.preset("h100").replace(sms=5)
    c = p.gemm_cost(1024, 1024, 512, "fp16", tile=(128, 128, 64, 1, 2, 1))
    ref = p.simulate_gemm(1024, 1024, 512, "fp16", tile=(128, 128, 64, 1, 2, 1))
    assert c.waves == math.ceil(c.ctas / (4 * c.ctas_per_sm))  # 2 clusters of 2 on 5 SMs
    assert_same(c, ref)


def test_candidates_offer_clusters_only_where_cublas_runs_them() -> None:
    h200 = gpu.preset("h200")
    tiles = h200.gemm_candidates(4096, 4096, 4096, "bf16")
    assert all(len(t) == 6 for t in tiles)
    assert {t[4:] for t in tiles} == {(1, 1), (2, 1), (1, 2)}
    assert (128, 320) in {t[:2] for t in tiles}  # nvjet's 320x128, this model's orientation
    # tf32 runs sm90_xmma / sm80 kernels: no clusters, no nvjet tiles
    tf32 = h200.gemm_candidates(4096, 4096, 4096, "tf32")
    assert {t[4:] for t in tf32} == {(1, 1)}
    assert len({t[:2] for t in tf32}) == 16
    # no TMA multicast before Hopper
    assert {t[4:] for t in gpu.preset("a100").gemm_candidates(4096, 4096, 4096)} == {(1, 1)}
    # a one-tile side has nothing to share
    assert all(t[4] == 1 for t in h200.gemm_candidates(16, 8192, 8192, "fp16") if t[0] >= 16)


@pytest.mark.parametrize(("m", "n", "k", "picked"), [
    (1024, 1024, 1024, {(64, 128), (128, 64)}),   # nvjet 128x64, 1x2
    (768, 3072, 2048, {(96, 192), (192, 96)}),    # nvjet 192x96, 1x2
])
def test_the_search_picks_cublas_tiles_in_pairs(m: int, n: int, k: int,
                                                picked: set[tuple[int, int]]) -> None:
    # h200_kernels/gemm.csv: the bf16 kernels cuBLAS ran for these shapes (names carry the tile
    # in cuBLAS's column-major orientation, and the cluster)
    with (DATA / "gemm.csv").open() as f:
        kernels = {r["kernels"] for r in csv.DictReader(f)
                   if r["dtype"] == "bf16" and (int(r["m"]), int(r["n"]), int(r["k"])) == (m, n, k)}
    (name,) = kernels
    tile = name.split("_")[3]
    assert tuple(int(v) for v in tile.split("x")) in picked and name.split("_")[5] == "1x2"
    c = gpu.preset("h200").gemm_cost(m, n, k, "bf16")
    assert (c.tile_m, c.tile_n) in picked
    assert c.cluster_m * c.cluster_n == 2


def test_large_tiles_take_as_many_stages_as_fit() -> None:
    # sm90 kernels size the pipeline to shared memory: 4 stages of (256 + 256) x 64 fp16 need
    # 256 KiB, three fit in 228 KiB (with fp16 accumulators the tile fits the register file)
    h200 = gpu.preset("h200")
    assert h200.gemm_cost(4096, 4096, 4096, tile=(256, 256, 64, 1), acc="fp16").stages == 3
    assert h200.gemm_cost(4096, 4096, 4096, tile=(256, 128, 64, 1)).stages == 4
    # nvjet's 320x128 with fp32 accumulators: 160 KiB of the 256 KiB register file
    assert h200.gemm_cost(8192, 8192, 8192, tile=(128, 320, 64, 1)).ctas_per_sm == 1
    with pytest.raises(ValueError, match="accumulators do not fit the register file"):
        h200.gemm_cost(4096, 4096, 4096, tile=(256, 256, 64, 1))


@pytest.mark.parametrize(("preset", "tile", "match"), [
    ("a100", (128, 128, 32, 1, 2, 1), "thread-block clusters need TMA multicast"),
    ("h100", (128, 128, 64, 1, 3, 3), r"cluster_m x cluster_n must be 1\.\.8"),
    ("h100", (128, 128, 64, 1, 0, 1), r"cluster_m x cluster_n must be 1\.\.8"),
    ("h100", (128, 128, 64, 1, 2), r"tile must be \(tile_m, tile_n, tile_k, split_k"),
    ("h100", (128, 128, 64, 1, 2, 1.0), r"tile must be"),
])
def test_bad_clusters_are_one_line_errors(preset: str, tile: tuple[int, ...],
                                          match: str) -> None:
    p = gpu.preset(preset)
    for call in (p.gemm_cost, p.simulate_gemm):
        with pytest.raises(ValueError, match=match) as err:
            call(1024, 1024, 1024, "fp16", tile=tile)
        assert "\n" not in str(err.value)


def test_unaligned_rows_run_sm80_kernels_without_clusters() -> None:
    # K = 4095 bf16 values a row: 2-byte aligned, no TMA (h200_kernels/gemm.csv: cuBLAS ran
    # cutlass_75_tensorop_bf16_s1688gemm_bf16_256x128_nn_align1)
    p = gpu.preset("h200")
    with pytest.raises(ValueError, match="2-byte aligned, TMA needs 16"):
        p.gemm_cost(4096, 4096, 4095, "bf16", tile=(128, 128, 32, 1, 1, 2))
    assert p.gemm_cost(4096, 4096, 4095, "bf16").cluster_n == 1


def test_a_cluster_larger_than_the_gpu_is_refused() -> None:
    p = gpu.preset("h100").replace(sms=1)
    with pytest.raises(ValueError, match="a cluster of more CTAs than the GPU has SMs"):
        p.gemm_cost(1024, 1024, 1024, "fp16", tile=(128, 128, 64, 1, 1, 2))


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 3000), n=st.integers(1, 375).map(lambda x: 8 * x),
       k=st.integers(1, 512).map(lambda x: 8 * x),
       cm=st.sampled_from([1, 2]), cn=st.sampled_from([1, 2]))
def test_multicast_never_reads_more_from_the_l2(m: int, n: int, k: int, cm: int,
                                                cn: int) -> None:
    # rows 16-byte aligned (K and N multiples of 8 bf16 values): TMA, so clusters
    p = gpu.preset("h200")
    tile = (128, 128, 64, 1)
    solo = p.gemm_cost(m, n, k, "bf16", tile=tile)
    pair = p.gemm_cost(m, n, k, "bf16", tile=(*tile, cm, cn))
    # per CTA and k-block no more L2 bytes; the padded grid may add CTAs
    assert pair.l2_read_bytes / pair.ctas <= solo.l2_read_bytes / solo.ctas
    assert pair.ctas >= solo.ctas
    # the search over a superset of configurations is never slower
    assert p.gemm_time(m, n, k, "bf16") <= min(solo.time_s, pair.time_s)


# --- the power-limited tensor clock ----------------------------------------------------------


def test_the_mma_clock_is_the_h200_measurement() -> None:
    with (DATA / "sustained.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["fill"] == "randn"]
    assert {r["clock_event_reasons"] for r in rows} == {"0x4"}  # the software power cap
    assert len(rows) == 4
    assert round(statistics.median(float(r["sm_mhz_median"]) for r in rows), -1) == MMA_CLOCK_MHZ
    assert gpu.preset("h200").mma_clock_mhz == MMA_CLOCK_MHZ
    assert gpu.preset("h100").mma_clock_mhz == MMA_CLOCK_MHZ  # the same GH100 and 700 W
    assert gpu.preset("a100").mma_clock_mhz == 0  # unmeasured: the boost clock


def test_only_the_compute_term_runs_at_the_mma_clock() -> None:
    h200 = gpu.preset("h200")
    boost = h200.replace(mma_clock_mhz=0)
    tile = (256, 128, 64, 1)
    slow, fast = (p.gemm_cost(8192, 8192, 8192, "bf16", tile=tile) for p in (h200, boost))
    assert slow.compute_s == pytest.approx(fast.compute_s * 1830 / MMA_CLOCK_MHZ, rel=1e-12)
    for field in ("smem_s", "l2_s", "hbm_s", "epilogue_s", "latency_s"):
        assert getattr(slow, field) == pytest.approx(getattr(fast, field), rel=1e-12), field
    assert slow.bound == "compute" and slow.time_s > fast.time_s
    # a decode GEMV is HBM-bound: the clock does not move it
    assert h200.gemm_time(1, 8192, 8192) == boost.gemm_time(1, 8192, 8192)
    # utilization stays against the datasheet peak (the boost clock)
    assert h200.peak_tflops("bf16") == boost.peak_tflops("bf16")


def test_fused_attention_computes_at_the_mma_clock() -> None:
    from pysim.gpu.attention import fused_attention_cost
    from pysim.workload.attention import Attention

    op = Attention.model_validate({"name": "attn", "inputs": ["q", "k", "v"], "batch": 4,
                                   "heads": 16, "q_len": 4096, "kv_len": 4096, "head_dim": 128})
    slow = fused_attention_cost(gpu.preset("h200"), op, "fp16")
    fast = fused_attention_cost(gpu.preset("h200").replace(mma_clock_mhz=0), op, "fp16")
    assert slow.compute_s == pytest.approx(fast.compute_s * 1830 / MMA_CLOCK_MHZ, rel=1e-12)


def test_the_mma_efficiency_is_the_h200_measurement() -> None:
    """Each sustained.csv row's modelled main loop at its own median clock over its measured
    time less the model's other terms; the median, rounded to 0.01, is the preset's."""
    h200 = gpu.preset("h200")
    with (DATA / "sustained.csv").open() as f:
        rows = list(csv.DictReader(f))
    effs = []
    for r in rows:
        n = int(r["n"])
        c = h200.replace(mma_clock_mhz=float(r["sm_mhz_median"]), mma_efficiency=1.0).gemm_cost(
            n, n, n, r["dtype"])
        rest = c.time_s - c.launch_s - c.mainloop_s
        effs.append(c.mainloop_s / (float(r["time_s"]) - rest))
    assert len(effs) == 5 and all(0.85 < e < 0.9 for e in effs)
    assert round(statistics.median(effs), 2) == MMA_EFFICIENCY
    assert h200.mma_efficiency == gpu.preset("h100").mma_efficiency == MMA_EFFICIENCY
    assert gpu.preset("a100").mma_efficiency == 1.0  # unmeasured


def test_only_the_mma_term_runs_at_the_efficiency() -> None:
    h200 = gpu.preset("h200")
    full = h200.replace(mma_efficiency=1.0)
    tile = (256, 128, 64, 1)
    slow, fast = (p.gemm_cost(8192, 8192, 8192, "bf16", tile=tile) for p in (h200, full))
    assert slow.compute_s == pytest.approx(fast.compute_s / MMA_EFFICIENCY, rel=1e-12)
    for field in ("smem_s", "l2_s", "hbm_s", "epilogue_s", "latency_s"):
        assert getattr(slow, field) == pytest.approx(getattr(fast, field), rel=1e-12), field
    # the closed form and the CTA-level reference agree with it
    ref = h200.simulate_gemm(1024, 1024, 512, "bf16", tile=tile)
    assert ref.time_s == pytest.approx(h200.gemm_cost(1024, 1024, 512, "bf16", tile=tile).time_s,
                                       rel=1e-12)
    # a decode GEMV is HBM-bound: the efficiency does not move it
    assert h200.gemm_time(1, 8192, 8192) == full.gemm_time(1, 8192, 8192)
    # sustained GEMMs at their own clocks: within 6 % of the measurements (19 % and 15 % fast
    # at full efficiency)
    with (DATA / "sustained.csv").open() as f:
        for r in csv.DictReader(f):
            n = int(r["n"])
            clocked = h200.replace(mma_clock_mhz=float(r["sm_mhz_median"]))
            c = clocked.gemm_cost(n, n, n, r["dtype"])
            assert abs((c.time_s - c.launch_s) / float(r["time_s"]) - 1) < 0.06, r


def hopper_spec(**fields: float) -> _core.GpuSpec:
    """The C++ GPU spec of an H200-like part with ``fields`` set (validated by the C++ side)."""
    spec = gpu.preset("h200").spec
    return _core.GpuSpec(arch="hopper", sms=132, clock_mhz=1830.0,
                         register_file_bytes_per_sm=spec.register_file_bytes_per_sm,
                         smem_bytes_per_sm=spec.smem_bytes_per_sm, l2_bytes=spec.l2_bytes,
                         hbm_bandwidth_gb_per_s=4000.0, l2_bandwidth_bytes_per_clk=5120.0,
                         smem_bandwidth_bytes_per_clk=128.0, launch_overhead_us=4.0, **fields)


@pytest.mark.parametrize("value", [0.0, -0.5, 1.5, float("nan"), True])
def test_bad_mma_efficiency_is_a_one_line_error(value: object) -> None:
    with pytest.raises(ConfigError, match=r"mma_efficiency must be in \(0, 1\]"):
        gpu.preset("h200").replace(mma_efficiency=value)
    if not isinstance(value, bool):
        with pytest.raises(ValueError, match=r"mma_efficiency must be in \(0, 1\]"):
            hopper_spec(mma_efficiency=float(value))  # type: ignore[arg-type]
    data = gpu.preset("h200").hardware_dict()
    data["units"][0]["mma_efficiency"] = value  # type: ignore[index]
    with pytest.raises(ConfigError, match="mma_efficiency"):
        from pysim.config.loader import hardware_from_dict
        hardware_from_dict(data, source="test")


def test_the_mma_clock_never_exceeds_the_boost_clock() -> None:
    slow = gpu.preset("h200").replace(boost_clock_mhz=1000.0)
    assert slow.tensor_clock_mhz == 1000.0
    fast = gpu.preset("h200").replace(boost_clock_mhz=1000.0, mma_clock_mhz=0)
    assert slow.gemm_time(4096, 4096, 4096) == fast.gemm_time(4096, 4096, 4096)


@pytest.mark.parametrize("value", [-1.0, 2e5, 0.5, float("nan"), True])
def test_bad_mma_clock_is_a_one_line_error(value: object) -> None:
    with pytest.raises(ConfigError, match=r"mma_clock_mhz must be 0 .* or in 1\.\.100000"):
        gpu.preset("h200").replace(mma_clock_mhz=value)
    if not isinstance(value, bool):
        with pytest.raises(ValueError, match="mma_clock_mhz must be 0"):
            hopper_spec(mma_clock_mhz=float(value))  # type: ignore[arg-type]


def test_int8_on_hopper_runs_cublas_sm80_kernels() -> None:
    # h200_kernels/gemm.csv: every int8 GEMM ran cutlass_80_tensorop_i16832gemm_s8_* (Ampere's
    # tiles and cp.async pipeline, mma.sync at 2/3 of the wgmma rate), none split K
    h200 = gpu.preset("h200")
    tiles = h200.gemm_candidates(128, 128, 65536, "int8")
    assert {t[3] for t in tiles} == {1} and {t[4:] for t in tiles} == {(1, 1)}
    assert {t[:2] for t in tiles} <= {t[:2] for t in gpu.preset("a100").gemm_candidates(
        4096, 4096, 4096, "int8")}
    assert all(t[2] == 64 for t in tiles)  # 64 B of K a k-block, not TMA's 128
    c = h200.gemm_cost(8192, 8192, 8192, "int8")
    mma = h200.macs_per_clk_per_sm("int8")
    per_sm = c.compute_s * h200.tensor_clock_mhz * 1e6 / c.waves  # cycles of a wave
    tile_cycles = c.tile_m * c.tile_n * 8192 / (mma * 2 / 3)  # not the wgmma kernels' 0.87
    assert per_sm == pytest.approx(tile_cycles * c.ctas_per_sm, rel=1e-9)
    with pytest.raises(ValueError, match="cuBLAS runs int8 on hopper through sm80"):
        h200.gemm_cost(1024, 1024, 1024, "int8", tile=(128, 128, 64, 1, 2, 1))
    # fp8 keeps Hopper's wgmma kernels
    assert (2, 1) in {t[4:] for t in h200.gemm_candidates(4096, 4096, 4096, "fp8")}


@pytest.mark.parametrize(("m", "n", "k", "sm80"), [
    (512, 512, 512, True), (640, 640, 640, True), (512, 512, 4096, True),
    (16, 8192, 8192, True), (12544, 64, 576, True), (64, 22016, 4096, True),
    (128, 128, 65536, True),
    (768, 768, 768, False), (784, 512, 2304, False), (196, 2048, 4608, False),
    (512, 512, 16384, False), (4096, 4096, 4096, False),
])
def test_tf32_on_hopper_runs_sm80_kernels_where_cublas_does(m: int, n: int, k: int,
                                                            sm80: bool) -> None:
    """h200_kernels/gemm.csv's tf32 kernel names: cutlass_80_tensorop_s1688gemm (mma.sync, with
    split-K: a splitKreduce kernel follows) where min(M, N) <= 128 or the output is at most
    640 square with K <= 4096, sm90_xmma (wgmma, no clusters) elsewhere. Ampere's tile list has
    a 16 x 256 tile Hopper's lacks; Hopper's first 16 have a 32 x 64 one Ampere's lacks."""
    h200 = gpu.preset("h200")
    tiles = {t[:2] for t in h200.gemm_candidates(m, n, k, "tf32")}
    if sm80:
        assert (32, 64) not in tiles and tiles <= {t[:2] for t in gpu.preset(
            "a100").gemm_candidates(4096, 4096, 4096, "tf32")}
    else:
        assert (16, 256) not in tiles
    # the sm80 kernels split K where the grid leaves a wave's slots empty (int8's never do)
    if (m, n, k) == (16, 8192, 8192):
        assert max(t[3] for t in h200.gemm_candidates(m, n, k, "tf32")) > 1


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 6000), n=st.integers(1, 6000), k=st.integers(1, 8192),
       dtype=st.sampled_from(["fp16", "bf16", "fp8", "int8", "tf32"]),
       batch=st.sampled_from([1, 3]), factor=st.floats(1.0, 4.0))
def test_faster_clocks_and_bandwidths_are_never_slower(m: int, n: int, k: int, dtype: str,
                                                       batch: int, factor: float) -> None:
    # every candidate's time is a max of terms each falling with its rate, and the search
    # takes the least of the same candidates: more HBM or L2 bandwidth, or a faster tensor
    # clock (up to the boost clock), never makes a GEMM slower
    h200 = gpu.preset("h200")
    base = h200.gemm_time(m, n, k, dtype, batch=batch)
    for faster in (h200.replace(hbm_bandwidth_gb_per_s=h200.hbm_bandwidth_gb_per_s * factor),
                   h200.replace(l2_bandwidth_bytes_per_clk=h200.l2_bandwidth_bytes_per_clk
                                * factor),
                   h200.replace(mma_clock_mhz=min(1830.0, h200.mma_clock_mhz * factor)),
                   h200.replace(l2_kb=int(h200.l2_kb * factor))):
        assert faster.gemm_time(m, n, k, dtype, batch=batch) <= base * (1 + 1e-12)
