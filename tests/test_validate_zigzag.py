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
