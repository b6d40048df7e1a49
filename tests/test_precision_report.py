"""Precision accounting in results: MAC shares, bit operations, FLOP-equivalents."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent


def mixed(w_bits: tuple[int, int], a_bits: tuple[int, int]) -> pysim.Workload:
    return workload_from_dict({
        "name": "mixed",
        "inputs": [{"name": "x", "shape": [16, 256], "bits": a_bits[0]}],
        "ops": [
            {"name": "fc0", "type": "gemm", "inputs": ["x"], "m": 16, "n": 256, "k": 256,
             "weight_bits": w_bits[0], "act_bits": a_bits[0], "out_bits": a_bits[1]},
            {"name": "fc1", "type": "gemm", "inputs": ["fc0"], "m": 16, "n": 128, "k": 256,
             "weight_bits": w_bits[1], "act_bits": a_bits[1]},
        ],
    })


@pytest.fixture(scope="module")
def edge() -> pysim.Hardware:
    return pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")


def test_mac_share_bops_and_flop_equivalents(edge: pysim.Hardware) -> None:
    res = pysim.simulate(edge, mixed((4, 8), (8, 8)))
    macs0, macs1 = 16 * 256 * 256, 16 * 128 * 256
    assert res.mac_share_by_precision == pytest.approx(
        {"w4a8": macs0 / (macs0 + macs1), "w8a8": macs1 / (macs0 + macs1)})
    assert res.bops == macs0 * 4 * 8 + macs1 * 8 * 8
    assert res.flop_equivalents == pytest.approx(res.bops / 64)


def test_w1a4_has_16x_fewer_flop_equivalents_than_fp32() -> None:
    # binary-network convention: a float MAC counts 1, an integer MAC w x a / 64
    def flops(w: int, a: int, dtype: str) -> float:
        wl = workload_from_dict({
            "name": "one", "inputs": [{"name": "x", "shape": [8, 64], "bits": a,
                                        "dtype": dtype}],
            "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 8, "n": 64, "k": 64,
                     "weight_bits": w, "act_bits": a, "dtype": dtype}]})
        # the fp32 layer runs on a GPU's tensor cores (tf32): the edge NPU has no float unit
        hw = pysim.gpu.preset("a100") if dtype == "float" else pysim.load_hardware(
            ROOT / "configs" / "edge_npu.yaml")
        return pysim.simulate(hw, wl).flop_equivalents

    assert flops(32, 32, "float") / flops(1, 4, "int") == pytest.approx(16)
