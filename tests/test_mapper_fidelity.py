"""The dataflow-aware mapper (issue 11): tile grains follow the spatial unrolling, the tile
model equals the C++ closed form, the search minimises its objective over every candidate,
and the TPU v1 config runs compute-bound work near its peak."""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core
from pysim.mapping.tile_model import ConvWindow, SystolicTiles
from pysim.mapping.tiling import ORDERS, Capacity, Objective, _candidates, plan_gemm
from pysim.memo import clear_caches

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = settings(deadline=None, derandomize=True, max_examples=150)


@SETTINGS
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), df=st.sampled_from(["os", "ws", "is"]),
       timing=st.sampled_from(["scalesim", "pipelined"]),
       shapes=st.lists(st.tuples(*[st.integers(1, 300)] * 3), min_size=1, max_size=6))
def test_tile_model_equals_the_cpp_closed_form(rows, cols, df, timing, shapes):
    model = SystolicTiles(rows, cols, df, timing)
    m, n, k = (np.array(x) for x in zip(*shapes, strict=True))
    got = model.evaluate(m, n, k)
    spec = _core.SystolicSpec(rows, cols, df, timing)
    for i, (mm, nn, kk) in enumerate(shapes):
        c = _core.systolic_cost(spec, _core.GemmShape(mm, nn, kk))
        assert got.cycles[i] == c.cycles and got.folds[i] == c.folds
        assert (got.a_reads[i], got.b_reads[i], got.c_writes[i], got.c_reads[i]) == (
            c.ifmap_reads, c.filter_reads, c.ofmap_writes, c.ofmap_reads)
        assert got.macs[i] == c.macs


@pytest.mark.parametrize(("dataflow", "grains"), [("os", (32, 16, 1)), ("ws", (1, 16, 32)),
                                                  ("is", (16, 1, 32))])
def test_grains_follow_the_spatial_unrolling(dataflow, grains):
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"units.0.rows": 32, "units.0.cols": 16, "units.0.dataflow": dataflow})
    assert hw.units[0].grains() == grains


@SETTINGS
@given(m=st.integers(1, 200), n=st.integers(1, 200), k=st.integers(1, 200),
       size=st.integers(64, 1 << 16), bpc=st.sampled_from([0.5, 4.0, 64.0]),
       df=st.sampled_from(["os", "ws", "is"]))
def test_latency_objective_is_monotone_in_capacity_and_bandwidth(m, n, k, size, bpc, df):
    model = SystolicTiles(8, 8, df, "pipelined")
    grains = {"os": (8, 8, 1), "ws": (1, 8, 8), "is": (8, 1, 8)}[df]

    def latency(size: int, bpc: float) -> float:
        cap = Capacity(size, size, 4 * size)
        try:
            return plan_gemm(m, n, k, 8, 8, 8, 32, cap, *grains, False, 1, 0, model,
                             Objective(kind="latency", bytes_per_cycle=bpc)).latency_cycles
        except ValueError:
            return np.inf

    base = latency(size, bpc)
    assert latency(2 * size, bpc) <= base * (1 + 1e-12)
    assert latency(size, 2 * bpc) <= base * (1 + 1e-12)


def test_latency_objective_picks_the_fastest_candidate():
    model = SystolicTiles(16, 16, "ws", "pipelined")
    cap = Capacity(4096, 2048, 16384)
    obj = Objective(kind="latency", bytes_per_cycle=2.0)
    t = plan_gemm(100, 70, 90, 8, 8, 8, 32, cap, 1, 16, 16, False, 1, 0, model, obj)
    # Every (tile, order) the search could take, scored by the same objective.
    mts, nts, kts = _candidates(100, 1), _candidates(70, 16), _candidates(90, 16)
    scores = []
    for mt, nt, kt in product(mts, nts, kts):
        one = Capacity(groups=((("input",), 2 * int(mt * kt), True),
                               (("weight",), 2 * int(kt * nt), True),
                               (("output",), 2 * 4 * int(mt * nt), True)))
        if 2 * mt * kt > 4096 or 2 * kt * nt > 2048 or 8 * mt * nt > 16384:
            continue
        got = plan_gemm(100, 70, 90, 8, 8, 8, 32, one, int(mt), int(nt), int(kt), False, 1, 0,
                        model, obj)
        if (got.mt, got.nt, got.kt) == (mt, nt, kt):
            scores.append(got.latency_cycles)
    assert scores and t.latency_cycles <= min(scores) + 1e-9
    assert t.order in ORDERS


def test_tpu_v1_weight_stationary_tiles_fill_the_rows():
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    res = pysim.simulate(hw, pysim.zoo.load("gemm", m=16384, n=2048, k=2048))
    (row,) = res.layers.to_dict("records")
    mapping = row["mapping"]
    assert mapping.kt % 256 == 0 and mapping.nt % 256 == 0  # whole folds of the 256 x 256 MXU
    # Compute alone runs within 1 % of the MACs / 65,536 PEs (tiles pipelined back to back).
    assert row["compute_cycles"] <= 1.01 * res.macs / (256 * 256)
    assert "spatial_for k in [0:256), n in [0:256)" in mapping.loop_nest()


def test_mapping_is_part_of_the_result_and_serialises():
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    res = pysim.simulate(hw, ROOT / "workloads" / "tiny_cnn.yaml")
    mac_rows = res.layers[res.layers["macs"] > 0]
    assert all(m is not None for m in mac_rows["mapping"])
    for mapping, macs in zip(mac_rows["mapping"], mac_rows["macs"], strict=True):
        # the mapping covers the op's GEMM, its tiles fit inside it, and its loop nest walks
        # every DRAM-level loop in its order with that loop's trip count
        assert mapping.count * mapping.m * mapping.n * mapping.k == macs
        assert mapping.mt <= mapping.m and mapping.nt <= mapping.n and mapping.kt <= mapping.k
        nest = mapping.loop_nest().splitlines()
        loops = [line.split()[1] for line in nest[1:] if line.strip().startswith("for ")]
        assert [d for d in loops if len(d) == 2 and d[0] == d[1]] == [d * 2 for d in
                                                                      mapping.order]
        for d in mapping.order:
            assert f"for {d}{d} in [0:{mapping.trips[d]})" in mapping.loop_nest()
    layers = res.to_dict()["layers"]
    first_mac = next(i for i, row in enumerate(layers) if row["macs"] > 0)
    assert layers[first_mac]["mapping"] == str(mac_rows["mapping"].iloc[0])


def test_dram_reads_and_writes_priced_apart():
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("gemm", m=64, n=64, k=64)
    base = pysim.simulate(hw, wl)
    pricier = pysim.simulate(hw.with_overrides({"dram.write_energy_pj_per_bit": 100.0}), wl)
    rd, wr = base.dram_read_bytes, base.dram_write_bytes
    e_bit = hw.dram.energy_pj_per_bit
    assert base.energy_breakdown_j["dram"] == pytest.approx(8 * (rd + wr) * e_bit * 1e-12)
    assert pricier.energy_breakdown_j["dram"] == pytest.approx(
        8 * (rd * e_bit + wr * 100.0) * 1e-12)


def test_weight_fills_are_charged_to_the_weight_buffer():
    # TPU v1 has a separate weight FIFO: a weight-only change moves only its SRAM energy.
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    wl = pysim.zoo.load("gemm", m=256, n=512, k=512)
    res = pysim.simulate(hw, wl)
    costly = pysim.simulate(hw.with_overrides({"scratchpads.1.write_energy_pj": 1000.0}), wl)
    words = wl.weight_bytes * 8 / hw.scratchpads[1].word_bits  # each weight byte filled once
    extra = (costly.energy_breakdown_j["sram"] - res.energy_breakdown_j["sram"]) * 1e12
    per_word = 1000.0 - hw.scratchpads[1].write_pj(hw.energy_table)
    assert extra == pytest.approx(words * per_word, rel=1e-9)
    assert res.dram_read_bytes >= wl.weight_bytes


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_weights_held_per_pe_keep_partial_sums_in_the_array(dataflow):
    # K = 1000 on 32 rows: 32 row folds. Holding 8 weights per PE, partial sums leave the
    # array once per 8 row folds (4 times), not 32; cycles and operand reads do not change.
    one = SystolicTiles(32, 16, dataflow, "pipelined")
    deep = SystolicTiles(32, 16, dataflow, "pipelined", pe_weights=8)
    a, b = one.evaluate(100, 50, 1000), deep.evaluate(100, 50, 1000)
    assert (a.cycles, a.a_reads, a.b_reads) == (b.cycles, b.a_reads, b.b_reads)
    assert a.c_writes == 32 * 100 * 50 and b.c_writes == 4 * 100 * 50
    assert b.c_reads == 3 * 100 * 50
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"units.0.dataflow": dataflow})
    wl = pysim.zoo.load("gemm", m=256, n=256, k=1024)
    base = pysim.simulate(hw, wl)
    kept = pysim.simulate(hw.with_overrides({"units.0.pe_weights": 16}), wl)
    assert kept.energy_breakdown_j["sram"] < base.energy_breakdown_j["sram"]
    # ... and fewer accesses through the scratchpad's ports: never slower
    assert kept.latency_cycles <= base.latency_cycles


@SETTINGS
@given(size=st.integers(1, 60), kernel=st.integers(1, 7), stride=st.integers(1, 5),
       dilation=st.sampled_from([1, 2, 3]), pad=st.integers(0, 3), data=st.data())
def test_tile_counts_equal_a_walk_of_the_taps(size, kernel, stride, dilation, pad, data):
    from pysim.mapping.planner import _tile_counts

    out = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        return
    rows = data.draw(st.integers(1, out))
    expected = []
    for first in range(0, out, rows):
        taps = {o * stride - pad + dilation * t for o in range(first, min(out, first + rows))
                for t in range(kernel)}
        expected.append(len(taps & set(range(size))))
    assert _tile_counts(size, out, kernel, stride, pad, dilation, rows).tolist() == expected



@SETTINGS
@given(size=st.integers(1, 300), kernel=st.integers(1, 11), stride=st.integers(1, 12),
       dilation=st.sampled_from([1, 1, 2]), pad=st.integers(0, 6), extra=st.integers(-1, 3),
       data=st.data())
def test_tile_stats_are_the_sum_and_max_of_tile_counts(size, kernel, stride, dilation, pad,
                                                       extra, data):
    # _tile_stats counts the range case (dilation 1, stride <= kernel) in closed form; the
    # others, and every case here, must equal _tile_counts' sum and max to the index
    from pysim.mapping.planner import _tile_counts, _tile_stats

    out = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1 + extra
    if out < 1:
        return
    rows = data.draw(st.sampled_from([1, 2, 3, out, 2 * out, max(1, out // 3)])
                     | st.integers(1, out))
    counts = _tile_counts(size, out, kernel, stride, pad, dilation, rows)
    assert _tile_stats.__wrapped__(size, out, kernel, stride, pad, dilation, rows) == (
        int(counts.sum()), int(counts.max()))


@pytest.mark.parametrize(("config", "workload"), [("tpu_v1", "resnet50"),
                                                  ("edge_npu", "mobilenet_v2")])
def test_a_search_reused_for_the_same_fitting_tilings_is_the_search(config, workload,
                                                                   monkeypatch):
    # plan_gemm reuses a search (tiling._searched) for a GEMM whose scratchpad room differs
    # but fits the same tilings (ResNet-50 on tpu_v1: 5 of 29 searches); every figure is as
    # when each op searches on its own (the mapper's own reuse by room, which skips such a
    # search altogether, off: pysim/mapping/mac_memo.py's ByRoom)
    import pysim.mapping.tiling as tiling
    from pysim.mapping.mac_memo import ByRoom

    hw = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")
    wl = pysim.zoo.load(workload)
    monkeypatch.setattr(ByRoom, "recall_at", lambda self, key, room: None)
    clear_caches()
    shared = pysim.simulate(hw, wl)
    assert tiling._searched.cache_info().hits > 0
    clear_caches()
    monkeypatch.setattr(tiling, "_searched", lambda key: [])
    alone = pysim.simulate(hw, wl)
    assert alone.to_json() == shared.to_json()
    assert [str(m) for m in alone.layers["mapping"]] == [str(m) for m in shared.layers["mapping"]]

def test_pe_registers_priced_per_access():
    regs = {"input": {"read_pj": 1.0, "write_pj": 1.5}, "weight": {"read_pj": 1.0, "write_pj": 0.0},
            "output": {"read_pj": 1.5, "write_pj": 2.0}}
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"units.0.registers": regs, "units.0.mac_energy_pj": 0.5})
    wl = pysim.zoo.load("gemm", m=64, n=96, k=80)
    res = pysim.simulate(hw, wl)
    macs = 64 * 96 * 80
    assert res.energy_breakdown_j["mac"] == pytest.approx(macs * 0.5e-12)
    assert res.energy_breakdown_j["register_file"] == pytest.approx(macs * 7.0e-12)
    # Each weight loaded into a PE is one weight-register write: at least every weight once.
    regs["weight"]["write_pj"] = 1.0
    loaded = pysim.simulate(hw.with_overrides({"units.0.registers": regs}), wl)
    extra = (loaded.energy_breakdown_j["register_file"]
             - res.energy_breakdown_j["register_file"]) * 1e12
    assert extra >= 96 * 80 and extra == pytest.approx(round(extra))
    # An operand with no register costs nothing: TPU-like inputs come straight from SRAM.
    del regs["input"]
    bare = pysim.simulate(hw.with_overrides({"units.0.registers": regs}), wl)
    assert bare.energy_breakdown_j["register_file"] == pytest.approx(
        loaded.energy_breakdown_j["register_file"] - macs * 2.5e-12)


def test_an_outer_level_serves_what_the_inner_one_cannot_keep():
    # 1 KiB input and weight buffers backed by a 64 KiB one: A (kept across n) and B (kept
    # across m) live there, so DRAM moves each operand once; the outer level serves the
    # re-reads (A 3 more passes of 4 KiB, one per n tile after the first).
    groups = ((("input",), 1024, True), (("weight",), 1024, True), (("output",), 4096, True),
              ((), 65536, True))
    alone = plan_gemm(64, 64, 64, 8, 8, 8, 32, Capacity(groups=groups), 1, 1, 1)
    backed = plan_gemm(64, 64, 64, 8, 8, 8, 32,
                       Capacity(groups=groups, outer=(("input", 3), ("weight", 3))), 1, 1, 1)
    assert alone.read_bytes + alone.write_bytes == 28672
    assert backed.read_bytes + backed.write_bytes == 3 * 4096  # A, B, C once each
    assert dict(backed.kept_outer) == {"A": 3, "B": 3}
    refill = dict(backed.refill_bytes)
    assert refill["A"] == 4096 * (64 // backed.nt - 1)


@SETTINGS
@given(m=st.integers(1, 96), n=st.integers(1, 96), k=st.integers(1, 96),
       sizes=st.tuples(*[st.integers(64, 4096)] * 3), outer=st.integers(0, 1 << 16))
def test_an_outer_level_never_adds_traffic(m, n, k, sizes, outer):
    groups = tuple(((role,), size, True) for role, size in zip(
        ("input", "weight", "output"), sizes, strict=True)) + (((), outer, True),)
    try:
        alone = plan_gemm(m, n, k, 8, 8, 8, 32, Capacity(groups=groups), 1, 1, 1)
    except ValueError:
        return
    backed = plan_gemm(m, n, k, 8, 8, 8, 32, Capacity(groups=groups, outer=(
        ("input", 3), ("weight", 3), ("output", 3))), 1, 1, 1)
    assert backed.read_bytes + backed.write_bytes <= alone.read_bytes + alone.write_bytes


def test_dram_traffic_passes_through_the_outer_levels():
    # An accumulator backed by a unified buffer (TPU v1's shape): the results leave through
    # the unified buffer, written and read there once each on their way to DRAM.
    from pysim.config.loader import hardware_from_dict

    chained = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    data = chained.to_dict()
    data["scratchpads"][0]["holds"] = ["input"]
    data["scratchpads"][2]["backed_by"] = None
    base = hardware_from_dict(data, source="test")
    assert [s.name for s in chained.chain("output")] == ["accumulators", "unified_buffer"]
    wl = pysim.zoo.load("gemm", m=512, n=512, k=512)
    a, b = pysim.simulate(base, wl), pysim.simulate(chained, wl)
    assert b.dram_write_bytes == a.dram_write_bytes
    (m_a,), (m_b,) = (pysim.mapping.map_workload(h, wl) for h in (base, chained))
    ub = "unified_buffer"
    extra_w = m_b.sram_write_bits[ub] - m_a.sram_write_bits[ub]
    extra_r = m_b.sram_read_bits[ub] - m_a.sram_read_bits[ub]
    assert extra_w == extra_r == 8 * b.dram_write_bytes  # no partial sums reloaded here


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_several_arrays_split_the_column_dimension(dataflow):
    # Four 32 x 16 arrays side by side run a 64-wide column dimension as four 16-wide slices
    # at once: the cycles of one slice on one array; the operand streamed along the rows is
    # broadcast (read once per column fold of a slice), the others are read in full.
    four = SystolicTiles(32, 16, dataflow, "pipelined", arrays=4)
    one = SystolicTiles(32, 16, dataflow, "pipelined")
    m, n, k = 48, 64, 80
    shape = {"os": (m, n, k), "ws": (m, n, k), "is": (n, m, k)}[dataflow]  # IS: M on columns
    slice_ = {"os": (m, n // 4, k), "ws": (m, n // 4, k), "is": (n // 4, m, k)}[dataflow]
    wide, narrow, whole = four.evaluate(*shape), one.evaluate(*slice_), one.evaluate(*shape)
    assert wide.cycles == narrow.cycles and wide.macs == whole.macs
    broadcast = {"os": "a_reads", "ws": "a_reads", "is": "b_reads"}[dataflow]
    assert getattr(wide, broadcast) == getattr(narrow, broadcast)
    assert wide.c_writes == whole.c_writes  # every output written once per row fold
    # (four ports per bank: the edge NPU's single-ported scratchpad cannot feed four arrays,
    # and the arrays' own speed-up is the point here)
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"units.0.dataflow": dataflow, "scratchpads.0.ports_per_bank": 4})
    wl = pysim.zoo.load("gemm", m=512, n=512, k=512)
    base = pysim.simulate(hw, wl)
    quad = pysim.simulate(hw.with_overrides({"units.0.arrays": 4}), wl)
    assert hw.with_overrides({"units.0.arrays": 4}).units[0].peak_macs_per_cycle == \
        4 * hw.units[0].peak_macs_per_cycle
    c1 = base.layers["compute_cycles"].sum()
    c4 = quad.layers["compute_cycles"].sum()
    # Faster, and about half the array cycles or fewer: under the latency objective the mapper may
    # trade array time for DRAM time (IS: a 64-wide tile below the four arrays' 128 grain,
    # 65630 array cycles but 98235 in all, against 32862 and 115388 with a 256-wide tile).
    assert quad.latency_cycles < base.latency_cycles
    assert c4 < 0.6 * c1


def test_traffic_is_reported_per_level():
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    res = pysim.simulate(hw, pysim.zoo.load("gemm", m=1024, n=512, k=512))
    levels = res.level_bytes
    assert set(levels) == {"unified_buffer", "weight_fifo", "accumulators", "dram"}
    moved = res.dram_read_bytes + res.dram_write_bytes
    assert levels["dram"] == {"read": res.dram_read_bytes, "write": res.dram_write_bytes,
                              "compulsory": res.compulsory_dram_bytes,
                              "non_compulsory": moved - res.compulsory_dram_bytes}
    # Transfers per level: the weights' one fill of the FIFO is compulsory, and so is each
    # result's one drain from the accumulators into the unified buffer.
    assert levels["weight_fifo"]["in"] == levels["weight_fifo"]["write"]
    assert levels["weight_fifo"]["compulsory"] == 512 * 512
    acc = levels["accumulators"]
    assert acc["out"] >= acc["compulsory"] >= 1024 * 512
    assert all(v["non_compulsory"] >= 0 for v in levels.values())
    # Weights: filled from DRAM into the FIFO once each, read into the array at least once.
    assert 512 * 512 <= levels["weight_fifo"]["write"] <= res.dram_read_bytes
    assert levels["weight_fifo"]["read"] >= 512 * 512
    # Results leave the accumulators through the unified buffer on their way to DRAM.
    assert levels["unified_buffer"]["write"] >= res.dram_write_bytes
    assert res.to_dict()["level_bytes"]["dram"]["write"] == res.dram_write_bytes


def test_k_tiles_add_into_the_partial_sums_they_find():
    # K = 2048 on TPU v1's weight FIFO (128 KiB per half: K tiles of at most 512 x 256): every
    # K tile after a C tile's first reads that tile's partial sums back from the accumulators.
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    m, n, k = 256, 256, 2048
    res = pysim.simulate(hw, pysim.zoo.load("gemm", m=m, n=n, k=k))
    mapping = res.layers["mapping"].iloc[0]
    k_tiles = -(-k // mapping.kt)
    assert k_tiles > 1
    psum_reads = res.level_bytes["accumulators"]["read"]
    assert psum_reads >= (k_tiles - 1) * m * n * 4  # 32-bit partial sums


def test_outputs_kept_on_chip_move_into_the_input_buffer():
    # An MLP on TPU v1: each layer's result is kept for the next, so it is read out of the
    # accumulators and written into the unified buffer instead of going to DRAM.
    wl = pysim.workload.workload_from_dict({
        "name": "two", "inputs": [{"name": "x", "shape": [256, 256]}],
        "ops": [{"name": "a", "type": "gemm", "inputs": ["x"], "m": 256, "n": 256, "k": 256},
                {"name": "b", "type": "gemm", "inputs": ["a"], "m": 256, "n": 256, "k": 256}]})
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    (first, second) = pysim.mapping.map_workload(hw, wl)
    assert "a" in second.resident_inputs and first.dram_write_bytes == 0
    assert first.sram_write_bits["unified_buffer"] >= 8 * 256 * 256


def test_a_c_tile_too_big_for_the_innermost_level_lives_at_the_next():
    # 1 KiB accumulators backed by 1 MiB: a 64 x 64 x 64 GEMM keeps its whole C (16 KiB of
    # 32-bit partial sums) at the outer level instead of tiling it to fit 1 KiB.
    groups = ((("input",), 1 << 20, True), (("weight",), 1 << 20, True),
              (("output",), 1024, True), ((), 1 << 20, True))
    alone = plan_gemm(64, 64, 64, 8, 8, 8, 32, Capacity(groups=groups), 1, 1, 1)
    backed = plan_gemm(64, 64, 64, 8, 8, 8, 32,
                       Capacity(groups=groups, outer=(("output", 3),)), 1, 1, 1)
    assert alone.mt * alone.nt * 4 * 2 <= 1024  # tiled down to the accumulators
    assert backed.c_level == 3 and backed.mt * backed.nt * 4 * 2 > 1024
    assert backed.read_bytes + backed.write_bytes <= alone.read_bytes + alone.write_bytes


def test_the_search_core_refuses_mismatched_arrays():
    prices = dict.fromkeys(("bytes_per_cycle", "transfer_latency", "dram_read_pj_per_byte",
                            "dram_write_pj_per_byte", "input_write_pj_per_bit",
                            "weight_write_pj_per_bit", "input_through_pj_per_bit",
                            "weight_through_pj_per_bit", "fixed_pj", "run_overhead_bytes",
                            "latency_tie"), 1.0)
    prices.update(halves=2, a_on_chip=False)
    good = dict(candidates=np.ones((20, 4)), refetch=np.zeros((3, 2), np.int64),
                served=np.zeros((3, 2), np.uint8), slice_pj=np.zeros((6, 2)),
                kept=np.zeros(2, np.int64), fits=np.ones((2, 4), np.uint8))
    flat, latency, _ = _core.search_plans(1, prices, **good)
    assert 0 <= flat < 8 and latency > 0
    for name, bad in (("candidates", np.ones((19, 4))), ("refetch", np.zeros((3, 3), np.int64)),
                      ("fits", np.ones((2, 5), np.uint8)),
                      ("refetch", np.full((3, 2), 7, np.int64))):
        with pytest.raises(ValueError, match="candidates|refetch|fits"):
            _core.search_plans(1, prices, **{**good, name: bad})
    with pytest.raises(ValueError, match="kind"):
        _core.search_plans(9, prices, **good)


def test_row_stationary_grains_and_loop_nest_follow_the_conv_window():
    hw = pysim.load_hardware(ROOT / "configs" / "eyeriss.yaml")
    wl = pysim.load_workload(ROOT / "workloads" / "alexnet_conv.yaml")
    unit = hw.units[0]
    conv3 = next(op for op in wl.ops if op.name == "CONV3")
    # whole output rows, one 14-row strip of them (M), whole 3 x 3 filter planes (K)
    assert unit.grains(conv3) == (13 * 14, 1, 9)
    assert unit.grains() == (14, 1, 1)  # a GEMM: M rows of width 1, channels on the rows
    array = unit.build()  # the C++ row-stationary model, equal to the tile model
    cost = array.cost(676, 16, 9 * 256, conv3_window := ConvWindow.of(conv3))
    t = unit.tile_model(conv3).evaluate(676, 16, 9 * 256)
    assert (cost.steady, cost.ifmap_reads) == (int(t.steady), int(t.a_reads))
    assert conv3_window.kernel == (3, 3)
    res = pysim.simulate(hw, wl)
    mapping = res.layers.set_index("op").at["CONV3", "mapping"]
    assert mapping.dataflow == "rs" and mapping.kt % 9 == 0 and mapping.mt % 13 == 0
    assert "filter rows on the PE rows, output rows on the columns" in mapping.loop_nest()


def test_row_stationary_gemm_fills_the_array_with_channels():
    # R = S = 1: a 12 x 14 array stacks 12 channels on its rows, 14 output rows on its columns.
    # At the pins' bandwidth, so that the array decides: behind Eyeriss's 0.48 GB/s link the op
    # is DRAM-bound, and the latency objective gives up 4 % of the array (a 256-row tile) for
    # 0.5 MB fewer partial-sum writes, 3.8 % faster.
    hw = pysim.load_hardware(ROOT / "configs" / "eyeriss.yaml")
    hw = hw.with_overrides({"dram.bandwidth_gb_per_s": hw.dram.peak_bandwidth_gb_per_s})
    wl = pysim.workload.workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [1400, 1200], "bits": 16}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 1400, "n": 64,
                 "k": 1200, "weight_bits": 16, "act_bits": 16}]})
    row = pysim.simulate(hw, wl).layers.iloc[0]
    assert row["macs"] / row["compute_cycles"] == pytest.approx(168, rel=0.01)


def test_a_c_subtile_in_the_accumulators_saves_energy_not_cycles(monkeypatch):
    # TPU v1 with 1 MiB of accumulators: a 4096 x 128 int32 C tile (2 MiB) lives in the
    # Unified Buffer behind them (double-buffered: 512 KiB); the array walks it in sub-tiles
    # they hold, so its per-fold partial sums hit the accumulators and each sub-tile reaches
    # the UB once.
    from pysim.mapping import planner

    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml").with_overrides(
        {"scratchpads.2.size_kib": 1024})
    wl = pysim.workload.workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [16384, 2048]}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 16384, "n": 2048,
                 "k": 2048}]})
    res = pysim.simulate(hw, wl)
    mapping = res.layers["mapping"].iloc[0]
    assert mapping.output_level == "unified_buffer" and mapping.c_subtile
    sm, sn = mapping.c_subtile
    assert sm * sn * 4 <= 2**19 and sm < mapping.mt
    assert f"C sub-tiles {sm}x{sn} kept in accumulators" in mapping.loop_nest()
    monkeypatch.setattr(planner, "choose_c_subtile", lambda *a, **k: None)
    clear_caches()  # the mapped op is remembered (pysim/mapping/mac_memo.py)
    whole = pysim.simulate(hw, wl)
    assert res.latency_cycles <= whole.latency_cycles  # fewer UB accesses: no slower
    assert res.energy_j < whole.energy_j
    ub = lambda r: sum(r.level_bytes["unified_buffer"].values())  # noqa: E731
    assert ub(res) < ub(whole)


def test_no_c_subtile_when_partial_sums_stay_in_the_pes():
    # ZigZag's Eyeriss-like keeps partial sums in the PEs across 64 row folds (pe_weights):
    # a sub-tile in sram_8KB would only add a drain, so the whole tile is walked.
    hw = pysim.load_hardware(ROOT / "configs" / "validation" / "zigzag_eyeriss_like.yaml")
    wl = pysim.workload.workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [196, 2304]}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 196, "n": 256,
                 "k": 2304}]})
    mapping = pysim.simulate(hw, wl).layers["mapping"].iloc[0]
    assert mapping.output_level == "sram_1M" and mapping.c_subtile == ()


@settings(max_examples=200, deadline=None)
@given(r=st.integers(1, 64), c=st.integers(1, 64), pair=st.sampled_from(["mn", "kn", "km"]),
       m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 300),
       pe=st.integers(1, 8), arrays=st.integers(1, 3))
def test_a_transposed_unrolling_moves_what_its_preset_moves(r, c, pair, m, n, k, pe, arrays):
    # {rows: b, cols: a} on an R x C array reads and writes what preset {rows: a, cols: b}
    # does on a C x R array (the same folds of each dimension); their timing differs only in
    # which edge loads the stationary operand, so it is equal on a square array.
    df = {"mn": "os", "kn": "ws", "km": "is"}[pair]
    if arrays > 1:
        c = r  # several arrays split the column dimension: compare like with like
    preset = SystolicTiles(c, r, df, "pipelined", pe, 1).evaluate(m, n, k)
    flipped = SystolicTiles(r, c, df, "pipelined", pe, 1, (pair[1], pair[0])).evaluate(m, n, k)
    for field in ("folds", "macs", "a_reads", "b_reads", "c_writes", "c_reads"):
        assert getattr(flipped, field) == getattr(preset, field), field
    if r == c:
        assert flipped.cycles == preset.cycles


def test_spatial_unrolling_is_the_general_form_of_the_presets():
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")  # 32 x 32 WS
    same = hw.with_overrides({"units.0.spatial": {"rows": "k", "cols": "n"}})
    assert same.units[0].preset_layout and same.units[0].dataflow == "ws"
    wl = ROOT / "workloads" / "tiny_cnn.yaml"
    assert pysim.simulate(same, wl).latency_cycles == pysim.simulate(hw, wl).latency_cycles
    flipped = hw.with_overrides({"units.0.spatial": {"rows": "n", "cols": "k"},
                                 "units.0.cols": 16})
    unit = flipped.units[0]
    assert (unit.dataflow, unit.on_rows_cols, unit.grains()) == ("ws", ("n", "k"), (1, 32, 16))
    assert unit.fetch_streams(64, 48, 40) == (("input", 16, 64),)  # A enters on the K edge
    with pytest.raises(pysim.ConfigError, match="another spatial"):
        unit.build()
    res = pysim.simulate(flipped, wl)
    mapping = res.layers["mapping"].dropna().iloc[1]
    assert mapping.spatial == ("n", "k") and "spatial_for n in" in mapping.loop_nest()
    for preset, fetch in (("os", (("input", 32, 40), ("weight", 32, 40))),
                          ("ws", (("input", 32, 64),)), ("is", (("weight", 32, 48),))):
        assert hw.with_overrides({"units.0.dataflow": preset}).units[0].fetch_streams(
            64, 48, 40) == fetch


def test_a_kept_output_is_neither_priced_nor_written():
    # C stays on chip for its consumers (the residency plan): the search prices no final write
    # (nor its DMA latency); the planner drops all of it, whatever bursts its tiles would write.
    model = SystolicTiles(16, 16, "ws", "pipelined")
    cap = Capacity(1 << 14, 1 << 14, 1 << 16)
    args = (64, 200, 64, 8, 8, 8, 32, cap, 1, 16, 16, False, 64, 0, model)
    obj = Objective(kind="latency", bytes_per_cycle=4.0, transfer_latency=30.0)
    written = plan_gemm(*args, obj)
    kept = plan_gemm(*args, replace(obj, c_kept=True))
    assert kept.latency_cycles < written.latency_cycles
    # the tiling still reports C's final write (the planner drops it) and says how much it is
    assert 0 < kept.c_final_bytes <= kept.c_write_bytes
    # (end to end: test_physical_properties' traffic example, where a kept output's 4-column
    # tiles still wrote 3,648 B of bursts)


def test_more_arrays_search_the_tiles_of_fewer():
    # N = 300 on a weight-stationary array: one array (grain 256) tiles it 256 + 44; two
    # (grain 512, wider than N) offer 256 too, from the one-array candidates and from the
    # power-of-two tiles below N. Every grain at least as wide as a dimension offers the same
    # tiles of it: N = 33's halvings down to an eighth of 33 and the power-of-two tiles of
    # the 32 below it (a 64-column array lacked 47 columns' 8-wide tiles of N = 35, and at
    # 2 KiB ran 16 % slower: tests/test_physical_properties.py).
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml").with_overrides(
        {"units.0.arrays": 2})
    unit = hw.units[0]
    assert unit.fewer_array_grains() == ((1, 256, 256),)
    assert 256 in _candidates(300, 512) and 256 in _candidates(300, 256)
    assert list(_candidates(33, 512)) == list(_candidates(33, 256)) == \
        list(_candidates(33, 47)) == [3, 4, 5, 8, 9, 16, 17, 32, 33]
    assert list(_candidates(35, 64)) == list(_candidates(35, 47))
