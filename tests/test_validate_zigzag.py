"""benchmarks/validate_zigzag.py from its recorded ZigZag fixtures (ZigZag not needed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import pysim
from pysim.config.units import SystolicArrayUnit

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "validate_zigzag.py"
FIXTURES = sorted((ROOT / "tests" / "data" / "zigzag").glob("*.json"))


def _module():
    spec = importlib.util.spec_from_file_location("validate_zigzag", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(("accel", "mac", "rf_per_mac"),
                         [("tpu_like", 0.04, 0.137), ("eyeriss_like", 0.5, 7.0)])
def test_configs_carry_zigzag_energies(accel: str, mac: float, rf_per_mac: float) -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "validation" / f"zigzag_{accel}.yaml")
    unit = hw.units[0]
    assert isinstance(unit, SystolicArrayUnit) and unit.registers is not None
    assert unit.mac_energy_pj == pytest.approx(mac)
    # One MAC's register energy, no weight loaded: ZigZag's per-MAC register accesses.
    assert unit.registers.pj(1, 0) == pytest.approx(rf_per_mac)
    assert hw.energy_table.leakage_mw(sram_kib=1024, pes=1024) == 0


def test_fixtures_cover_both_accelerators() -> None:
    names = {p.stem for p in FIXTURES}
    for accel in ("tpu_like", "eyeriss_like"):
        assert {f"{accel}__resnet18", f"{accel}__gemm_256x256x256"} <= names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_layers_run_in_pysim(path: Path) -> None:
    mod = _module()
    rec = json.loads(path.read_text())
    assert rec["zigzag_version"] == "3.9.1"
    if path.stem.endswith("resnet18"):
        assert len(rec["layers"]) == 21
        assert mod.check_zoo_shapes(rec["layers"]) == []
    accel = path.stem.split("__")[0]
    hw = pysim.load_hardware(ROOT / "configs" / "validation" / f"zigzag_{accel}.yaml")
    layer = rec["layers"][-1]
    res, _ = mod.run_pysim(hw, layer, 1)
    assert res.layers.iloc[0]["macs"] == layer["macs"]
    assert layer["cycles"] > 0 and layer["energy_pj"] > layer["mac_energy_pj"] > 0


@pytest.mark.parametrize("accel", ["tpu_like", "eyeriss_like"])
def test_resnet18_agrees_with_zigzag(accel: str) -> None:
    # Issue 11's targets against the recorded ZigZag 3.9.1 runs: total cycles within 10 %
    # (without the stem conv, where ZigZag's fixed spatial mapping keeps 3 PEs of a row busy),
    # energy within 15 %, per-layer median cycles within 10 %.
    mod = _module()
    rec = json.loads((ROOT / "tests" / "data" / "zigzag" / f"{accel}__resnet18.json")
                     .read_text())
    a = mod.agreement(accel, rec)
    assert abs(a["cycles_without_degenerate"] - 1) <= 0.10, a
    assert abs(a["energy"] - 1) <= 0.15, a
    assert abs(a["median_layer_cycles"] - 1) <= 0.10, a


@pytest.mark.parametrize(("accel", "layer", "rel"), [
    ("tpu_like", "conv3x3_dW_56x56_c64_k64", 1e-3),
    ("eyeriss_like", "conv3x3_dW_56x56_c64_k64", 1e-3),
    # pysim writes each of the 96 per-channel dW GEMMs' 9 bytes as a whole 64-byte burst
    # (6,144 B against ZigZag's 864); on tpu_like ZigZag's K x C spatial mapping leaves a
    # depthwise layer one PE and re-reads dY 9 times (docs/validation.md): not compared
    ("eyeriss_like", "dwconv3x3_dW_56x56_g96", 0.01),
])
def test_a_weight_gradient_reads_what_zigzag_reads(accel: str, layer: str, rel: float) -> None:
    # A 3x3 convolution's dW (X^T dY) as ZigZag's sliding-window relations read X: its DRAM
    # bytes equal ZigZag's (X and dY once, dW written once). pysim read the kh x kw times
    # larger patch matrix before (2,044 KB against 438 KB for the dense layer).
    mod = _module()
    rec = json.loads((ROOT / "tests" / "data" / "zigzag" / f"{accel}__{layer}.json").read_text())
    zz = rec["layers"][0]
    hw = pysim.load_hardware(ROOT / "configs" / "validation" / f"zigzag_{accel}.yaml")
    res, _ = mod.run_pysim(hw, zz, 1)
    zigzag = zz["dram_read_bytes"] + zz["dram_write_bytes"]
    assert res.dram_read_bytes + res.dram_write_bytes == pytest.approx(zigzag, rel=rel)
    assert res.dram_read_bytes == pytest.approx(zz["dram_read_bytes"], rel=1e-3)


@pytest.mark.parametrize("kib", [128, 64, 32])
def test_a_weight_gradient_on_small_buffers_reads_no_more_than_zigzag(kib: int) -> None:
    # The 3x3 dW on the Eyeriss-like accelerator with sram_1M (input and output) shrunk, both
    # tools at least energy (ZigZag's records: --record). pysim's row tile is then narrower
    # than M = taps x C (the channel-major rows); counted as ZigZag counts (8-byte words, no
    # data layout) it moves less DRAM than ZigZag's mapping, whose spatial K x C unrolling
    # re-reads X per K tile (docs/validation.md); with the DDR4's 64-byte bursts a slice of an
    # NHWC pixel costs the whole pixel, and pysim moves 1.0-2.5x ZigZag's.
    mod = _module()
    rec = json.loads(mod.small_buffer_fixture(kib).read_text())
    assert rec["opt"] == "energy" and f"sram_1M.size {kib} KiB" in rec["accelerator"]
    zigzag = mod.zigzag_dram(rec["layers"][0])
    words = mod.pysim_dram(mod.small_buffer_pysim(kib, 8), mod.WEIGHT_GRAD)
    bursts = mod.small_buffer_pysim(kib, None)
    assert words[3] <= 0.9 * zigzag[3]
    assert zigzag[3] <= mod.pysim_dram(bursts, mod.WEIGHT_GRAD)[3] <= 2.5 * zigzag[3]
    assert int(bursts.layers.iloc[0].tiling.split(" tile ")[1].split("x")[0]) < 576
