"""``pysim.simulate``: physical sanity of the whole pipeline on the three shipped configs and
several workloads (latency bounds, monotonicity in bandwidth and clock, energy and traffic
bookkeeping, an op that fits on chip touching DRAM exactly once), determinism, the Result's
JSON and per-op table, and errors on bad input.

Every simulation here takes well under 0.2 s; results are cached per (config, workload,
overrides) so each is simulated once per session.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path

import pytest

import pysim
from pysim import zoo
from pysim.errors import ConfigError, WorkloadError
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("edge_npu", "tpu_v1", "eyeriss")
WORKLOADS = ("tiny_cnn", "resnet18", "mobilenet_v2", "bert_base", "gemm")


@cache
def _workload(name: str) -> pysim.Workload:
    if name == "tiny_cnn":
        return pysim.load_workload(ROOT / "workloads" / "tiny_cnn.yaml")
    if name == "bert_base":
        return zoo.load("bert_base", seq_len=32)
    if name == "gemm":
        return zoo.load("gemm", m=200, n=96, k=300)
    return zoo.load(name)


@cache
def _hardware(config: str, overrides: tuple[tuple[str, float], ...] = ()) -> pysim.Hardware:
    hw = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")
    return hw.with_overrides(dict(overrides)) if overrides else hw


@cache
def _run(config: str, workload: str, overrides: tuple[tuple[str, float], ...] = ()):
    return pysim.simulate(_hardware(config, overrides), _workload(workload))


CASES = [(c, w) for c in CONFIGS for w in WORKLOADS]


def _ids(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


# -- latency bounds and monotonicity ---------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_latency_at_least_compute_and_compulsory_dram_bounds(case):
    config, workload = case
    hw, res = _hardware(config), _run(config, workload)
    peak = sum(u.rows * u.cols for u in hw.units)
    compute_bound = res.macs / peak
    bytes_per_cycle = hw.dram.bandwidth_gb_per_s * 1e9 / hw.clock_hz
    dram_bound = res.compulsory_dram_bytes / bytes_per_cycle
    assert res.latency_cycles >= compute_bound, (
        f"{case}: {res.latency_cycles} cycles < MACs / peak = {compute_bound:.1f}")
    assert res.latency_cycles >= dram_bound, (
        f"{case}: {res.latency_cycles} cycles < compulsory bytes / bytes per cycle "
        f"= {dram_bound:.1f}")
    assert res.latency_s == pytest.approx(res.latency_cycles / hw.clock_hz)
    # The run ends when its last op does (rounded up to a whole cycle).
    assert res.latency_cycles == math.ceil(res.layers["end_cycle"].max())


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("factor", [0.5, 0.25])
def test_less_dram_bandwidth_never_faster(case, factor):
    config, workload = case
    base = _run(config, workload)
    bw = _hardware(config).dram.bandwidth_gb_per_s * factor
    slow = _run(config, workload, (("dram.bandwidth_gb_per_s", bw),))
    assert slow.latency_s >= base.latency_s, (
        f"{case}: DRAM bandwidth x{factor} gave {slow.latency_s:.6g} s < {base.latency_s:.6g} s")


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("factor", [0.5, 0.25])
def test_slower_clock_never_faster(case, factor):
    config, workload = case
    base = _run(config, workload)
    clock = _hardware(config).clock_ghz * factor
    slow = _run(config, workload, (("clock_ghz", clock),))
    assert slow.latency_s >= base.latency_s, (
        f"{case}: clock x{factor} gave {slow.latency_s:.6g} s < {base.latency_s:.6g} s")


# -- energy and traffic bookkeeping ----------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_energy_breakdown_and_per_op_energy_add_up(case):
    res = _run(*case)
    breakdown = res.energy_breakdown_j
    assert set(breakdown) == {"mac", "register_file", "sram", "dram", "vector", "host",
                              "leakage", "clock", "control"}
    assert breakdown["host"] == 0  # no weights copied in from host memory
    assert all(v >= 0 for v in breakdown.values()), breakdown
    assert res.energy_j > 0
    assert res.energy_j == pytest.approx(sum(breakdown.values()), rel=1e-12)
    per_op = res.layers["energy_j"].sum()
    run = breakdown["leakage"] + breakdown["clock"] + breakdown["control"]
    assert per_op + run == pytest.approx(res.energy_j, rel=1e-9)
    for comp in ("mac", "register_file", "sram", "dram", "vector"):
        assert res.layers[f"{comp}_j"].sum() == pytest.approx(breakdown[comp], rel=1e-9,
                                                              abs=1e-18), comp


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_dram_traffic_at_least_compulsory(case):
    res = _run(*case)
    assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes
    assert res.dram_bytes == res.dram_read_bytes + res.dram_write_bytes
    assert res.layers["dram_read_bytes"].sum() == res.dram_read_bytes
    assert res.layers["dram_write_bytes"].sum() == res.dram_write_bytes
    assert res.layers["compulsory_bytes"].sum() == res.compulsory_dram_bytes
    # Compulsory traffic: every weight, the graph inputs and outputs, at least once.
    wl = _workload(case[1])
    graph_io = sum(wl.tensors[t.name].bytes for t in wl.inputs if t.role == "input")
    graph_io += sum(wl.tensors[name].bytes for name in wl.outputs)
    assert res.compulsory_dram_bytes == wl.weight_bytes + graph_io


def test_strided_pointwise_conv_reads_only_the_pixels_it_touches():
    wl = workload_from_dict({
        "name": "strided_1x1",
        "inputs": [{"name": "x", "shape": [1, 32, 32, 64]}],
        "ops": [{"name": "c", "type": "conv2d", "inputs": ["x"], "in_h": 32, "in_w": 32,
                 "in_c": 64, "out_c": 64, "kernel": 1, "stride": 2}],
    })
    res = pysim.simulate(_hardware("tpu_v1"), wl)
    # x: 65,536 B, of which the stride-2 1x1 kernel touches every other row and column: a
    # quarter (each touched pixel's 64 channels are one 64-byte burst, so the DMA gathers
    # them); weights 4,096 B, output 16 x 16 x 64 = 16,384 B.
    assert res.compulsory_dram_bytes == 65_536 // 4 + 4_096 + 16_384
    assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes, (
        f"DRAM traffic {res.dram_read_bytes} read + {res.dram_write_bytes} written "
        f"< compulsory {res.compulsory_dram_bytes}")


def _single_gemm(m: int, n: int, k: int, bias: bool) -> pysim.Workload:
    return workload_from_dict({
        "name": "one_gemm",
        "inputs": [{"name": "a", "shape": [m, k]}],
        "ops": [{"name": "g", "type": "gemm", "inputs": ["a"], "m": m, "n": n, "k": k,
                 "bias": bias}],
    })


@pytest.mark.parametrize("bias", [False, True])
def test_gemm_that_fits_on_chip_touches_dram_once(bias):
    # TPU v1: 24 MiB unified buffer, 256 KiB weight FIFO, 4 MiB accumulators, 64-byte bursts.
    # A 128 x 64 (8 KiB), W 64 x 256 (16 KiB) + bias 256 x 32 bit (1 KiB), C 128 x 256 (32 KiB)
    # all fit with double buffering, and every size is a multiple of the burst.
    m, n, k = 128, 256, 64
    wl = _single_gemm(m, n, k, bias)
    res = pysim.simulate(_hardware("tpu_v1"), wl)
    a_bytes, w_bytes, c_bytes = m * k, k * n + (4 * n if bias else 0), m * n
    assert wl.weight_bytes == w_bytes
    assert res.dram_read_bytes == a_bytes + w_bytes
    assert res.dram_write_bytes == c_bytes
    assert res.compulsory_dram_bytes == res.dram_read_bytes + res.dram_write_bytes
    assert res.macs == m * n * k
    (row,) = res.layers.to_dict("records")
    assert row["op"] == "g" and row["unit"] == "mxu"
    # Weight-stationary: K (64) on the rows and N (256) on the columns in one fold, so no
    # tile splits K or N; M may be split so loads overlap compute (latency objective).
    assert row["tiling"].startswith(f"1x[{m},{n},{k}] tile ")
    assert row["tiling"].split()[2].endswith(f"x{n}x{k}")


# -- tiles fit the scratchpads ---------------------------------------------------------------


def _conv_tile_bytes(op, mt: int, kt: int, burst: int) -> int:
    """On-chip bytes of a convolution's A tile: the input rows (and, when a strided kernel
    skips columns in burst-sized pixel groups, columns) touched by the tile's output rows, for
    kt / K of the channels. Tiles start at multiples of their row count, as the DMA walks them."""
    def touched(size, out, kernel, stride, pad, dil, starts, width):
        return max(len({o * stride - pad + dil * t for o in range(s, min(out, s + width))
                        for t in range(kernel)} & set(range(size))) for s in starts)

    image = op.out_h * op.out_w
    span_w = op.dilation[1] * (op.kernel[1] - 1) + 1
    group = (op.kernel[1] * op.in_c // op.groups * op.act_bits + 7) // 8
    gathers = op.stride[1] > span_w and op.dilation[1] == 1 and group >= burst
    cols = (touched(op.in_w, op.out_w, op.kernel[1], op.stride[1], op.padding[1], 1, [0],
                    op.out_w) if gathers else op.in_w)
    h = (op.in_h, op.out_h, op.kernel[0], op.stride[0], op.padding[0], op.dilation[0])
    if mt >= image:
        rows = -(-mt // image) * touched(*h, [0], op.out_h)
    else:
        width = min(op.out_h, -(-mt // op.out_w) + (mt % op.out_w > 0))
        rows = touched(*h, range(0, op.out_h, width), width)
    k = op.kernel[0] * op.kernel[1] * op.in_c // op.groups
    return math.ceil(kt * rows * cols * op.in_c // op.groups * op.act_bits / 8 / k)


def _scratchpad_use(hw: pysim.Hardware, wl: pysim.Workload, res, double: bool) -> list[tuple]:
    """(op, scratchpad, bytes its tiles need, size) for every MAC op: each operand's tile (A
    Mt x Kt, B Kt x Nt, C Mt x Nt partial sums) in the scratchpad holding it, twice when
    ``double`` and that scratchpad is double buffered; operands resident on chip take none."""
    spads = {role: hw.for_operand(role) for role in ("input", "weight", "output")}
    out = []
    for row in res.layers.to_dict("records"):
        match = re.search(r"tile (\d+)x(\d+)x(\d+)", row["tiling"])
        if not match:
            continue
        mt, nt, kt = map(int, match.groups())
        op = wl.op(row["op"])
        b_bits = op.act_bits if op.type == "matmul" else op.weight_bits
        resident = set(filter(None, row["resident_inputs"].split(",")))
        a_bytes = (mt * kt * op.act_bits + 7) // 8
        if op.type == "conv2d":  # the input rows the tile's output rows touch, not im2col
            a_bytes = min(a_bytes, _conv_tile_bytes(op, mt, kt, hw.dram.burst_bytes))
        need = {
            "input": 0 if op.inputs[0] in resident else a_bytes,
            "weight": 0 if op.inputs[1:2] and op.inputs[1] in resident
            else (kt * nt * b_bits + 7) // 8,
            "output": (mt * nt * hw.unit(row["unit"]).mac_bits + 7) // 8,
        }
        holders = dict(spads)
        mapping = row.get("mapping")
        if mapping is not None and mapping.output_level:  # C's tile at an outer level
            holders["output"] = next(s for s in hw.scratchpads
                                     if s.name == mapping.output_level)
        use: dict[str, int] = {}
        for role, spad in holders.items():
            use[spad.name] = use.get(spad.name, 0) + need[role] * (
                2 if double and spad.double_buffered else 1)
        out.extend((op.name, spad.name, use[spad.name], spad.size_bytes)
                   for spad in {s.name: s for s in holders.values()}.values())
    return out




@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_tiles_fit_the_scratchpads_that_hold_them(case):
    config, workload = case
    hw, wl = _hardware(config), _workload(workload)
    over = [u for u in _scratchpad_use(hw, wl, _run(config, workload), double=True)
            if u[2] > u[3]]
    assert not over, f"{len(over)} tiles overflow (op, scratchpad, bytes, size): {over[:3]}"


def test_scratchpad_shared_by_two_operands_holds_both_tiles():
    # Eyeriss, one 200 x 96 x 300 GEMM in one tile: A 60,000 B + C (32-bit) 76,800 B
    # = 136,800 B in the 110,592 B global buffer, even single-buffered.
    hw, wl = _hardware("eyeriss"), _workload("gemm")
    use = _scratchpad_use(hw, wl, _run("eyeriss", "gemm"), double=False)
    over = [u for u in use if u[2] > u[3]]
    assert not over, f"tiles overflow (op, scratchpad, bytes, size): {over}"


# -- determinism, JSON, per-op table ---------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS)
def test_deterministic(config):
    hw = _hardware(config)
    first = pysim.simulate(hw, _workload("tiny_cnn")).to_json()
    # A freshly loaded hardware and workload give the identical result.
    again = pysim.simulate(ROOT / "configs" / f"{config}.yaml",
                           ROOT / "workloads" / "tiny_cnn.yaml").to_json()
    assert first == again


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_result_json_and_layers_one_row_per_op(case):
    res = _run(*case)
    wl = _workload(case[1])
    names = [op.name for op in wl.ops]
    assert res.macs == wl.macs
    assert list(res.layers["op"]) == names
    assert res.layers["macs"].sum() == wl.macs
    data = json.loads(res.to_json())
    assert [layer["op"] for layer in data["layers"]] == names
    assert data["latency_cycles"] == res.latency_cycles
    assert data["macs"] == wl.macs
    assert data["energy_j"] == pytest.approx(res.energy_j)
    assert data["energy_breakdown_j"] == pytest.approx(res.energy_breakdown_j)
    assert data["dram_read_bytes"] == res.dram_read_bytes
    assert data["compulsory_dram_bytes"] == res.compulsory_dram_bytes
    assert data["hardware"] == case[0] and data["workload"] == wl.name


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_layers_respect_dependencies_and_units(case):
    config, workload = case
    res, wl, hw = _run(config, workload), _workload(workload), _hardware(config)
    rows = {r["op"]: r for r in res.layers.to_dict("records")}
    unit_names = {u.name for u in hw.units} | {hw.vector.name}
    for op in wl.ops:
        row = rows[op.name]
        assert row["unit"] in unit_names
        assert row["end_cycle"] >= row["start_cycle"] + row["compute_cycles"] - 1e-6
        assert row["stall_cycles"] >= 0
        for t in op.inputs:
            producer = wl.producers.get(t)
            if producer is not None:
                assert row["start_cycle"] >= rows[producer]["end_cycle"] - 1e-9, (
                    f"{op.name} starts before its producer {producer} ends")


# -- bad input -------------------------------------------------------------------------------


def test_op_wider_than_every_unit_is_a_workload_error_naming_it():
    wl = workload_from_dict({
        "name": "wide",
        "inputs": [{"name": "x", "shape": [8, 8], "bits": 16}],
        "ops": [{"name": "wide_gemm", "type": "gemm", "inputs": ["x"], "m": 8, "n": 8, "k": 8,
                 "act_bits": 16, "weight_bits": 16}],
    })
    for config in ("edge_npu", "tpu_v1"):  # both 8-bit only
        with pytest.raises(WorkloadError, match="'wide_gemm'.*16-bit"):
            pysim.simulate(_hardware(config), wl)
    # Eyeriss runs 16-bit operands.
    assert pysim.simulate(_hardware("eyeriss"), wl).macs == 512


def test_scratchpad_too_small_for_any_tile_names_the_op():
    tiny = _hardware("edge_npu").with_overrides({
        "scratchpads.0.size_kib": "8 B", "scratchpads.0.banks": 1, "scratchpads.0.word_bits": 8,
    })
    with pytest.raises(ValueError) as info:
        pysim.simulate(tiny, _single_gemm(64, 64, 64, bias=False))
    assert isinstance(info.value, (ConfigError, WorkloadError)), (
        f"a bare {type(info.value).__name__}: {info.value}")
    assert "'g'" in str(info.value), str(info.value)
