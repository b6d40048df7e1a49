"""Quantization granularity: scale storage in weight bytes, dequantization on the vector unit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import pysim
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
K, N, M = 4096, 1024, 16


def wl(quant=None, **fields):
    op = {"name": "fc", "type": "gemm", "inputs": ["x"], "m": M, "n": N, "k": K,
          "weight_bits": 4, **fields}
    if quant is not None:
        op["quant"] = quant
    return workload_from_dict({"name": "q", "inputs": [{"name": "x", "shape": [M, K]}],
                               "ops": [op]})


@pytest.mark.parametrize("quant, scales, dequant", [
    (None, 0, 0),
    ({"granularity": "tensor"}, 1 * 2, M * N),
    ({"granularity": "channel"}, N * 2, M * N),
    ({"granularity": "group", "group_size": 128}, (K // 128) * N * 2, M * N * (K // 128)),
    ({"granularity": "group", "group_size": 32, "zero_point": True, "scale_bits": 8},
     2 * (K // 32) * N * 1, 2 * M * N * (K // 32)),
])
def test_scale_bytes_and_dequant_work(quant, scales, dequant) -> None:
    w = wl(quant)
    assert w.weight_bytes == K * N // 2 + scales  # int4 weights + the scales
    assert w.ops[0].dequant_work() == dequant


def test_scales_are_dram_traffic_and_dequant_runs_on_the_vector_unit() -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    plain = pysim.simulate(hw, wl())
    grouped = pysim.simulate(hw, wl({"granularity": "group", "group_size": 32}))
    assert grouped.compulsory_dram_bytes - plain.compulsory_dram_bytes == (K // 32) * N * 2
    assert grouped.dram_read_bytes > plain.dram_read_bytes
    ops = int(grouped.layers["vector_ops"].iloc[0])
    assert ops == M * N * (K // 32)
    assert grouped.energy_breakdown_j["vector"] > 0 == plain.energy_breakdown_j["vector"]
    assert grouped.latency_cycles >= math.ceil(ops / hw.vector.ops_per_cycle)


def test_round_trip_and_bad_granularity() -> None:
    w = wl({"granularity": "channel", "zero_point": True})
    assert pysim.workload.workload_from_dict(w.to_dict()) == w
    with pytest.raises(pysim.WorkloadError, match="granularity"):
        wl({"granularity": "row"})
    with pytest.raises(pysim.WorkloadError, match="group_size"):
        wl({"granularity": "group", "group_size": 0})
