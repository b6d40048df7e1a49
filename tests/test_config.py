"""Hardware YAML: the shipped configs load with the values their sources give, overrides make
new validated descriptions, and DRAM presets have the peak bandwidth their standards give."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pysim.config import (
    DRAM_PRESETS,
    Hardware,
    SystolicArrayUnit,
    hardware_from_dict,
    load_hardware,
)
from pysim.units.row_stationary import RowStationaryArray
from pysim.units.systolic_array import SystolicArray

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def load(name: str) -> Hardware:
    return load_hardware(CONFIGS / f"{name}.yaml")


@pytest.mark.parametrize("path", sorted([*CONFIGS.glob("*.yaml"), *CONFIGS.glob("gpu/*.yaml"),
                                          *CONFIGS.glob("validation/*.yaml")]),
                         ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_hardware_config_validates(path: Path) -> None:
    hw = load_hardware(path)
    assert hw.units and hw.leakage_mw() >= 0  # the ZigZag validation chips have none
    assert {hw.for_operand(role).name for role in ("input", "weight", "output")}


def test_the_top_level_configs_are_the_documented_ones() -> None:
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == [
        "edge_npu", "eyeriss", "lowp_edge", "lowp_float_edge", "tpu_v1"]


@pytest.mark.parametrize("name", ["tpu_v1", "eyeriss", "edge_npu", "lowp_edge",
                                  "lowp_float_edge"])
def test_shipped_configs_load_and_cover_every_operand(name: str) -> None:
    hw = load(name)
    assert hw.name == name
    assert {hw.for_operand(role).name for role in ("input", "weight", "output")}
    want = RowStationaryArray if hw.units[0].dataflow == "rs" else SystolicArray
    assert isinstance(hw.units[0].build(), want)
    assert hw.dram.bandwidth_gb_per_s <= hw.dram.peak_bandwidth_gb_per_s
    assert hw.leakage_mw() > 0
    assert hw.energy_table.technology_nm == hw.technology_nm


def test_tpu_v1_matches_the_paper() -> None:
    hw = load("tpu_v1")
    mxu = hw.units[0]
    assert (mxu.rows, mxu.cols, mxu.dataflow, mxu.precisions, mxu.mac_bits) == (
        256, 256, "ws", (8,), 32)
    assert hw.clock_ghz == 0.7 and hw.clock_hz == 0.7e9
    assert hw.technology_nm == 28
    assert hw.for_operand("input").size_bytes == 24 * 2**20
    assert hw.for_operand("output").size_bytes == 4 * 2**20
    assert hw.for_operand("weight").size_bytes == 4 * 64 * 1024
    assert hw.dram.preset == "ddr3_1600" and hw.dram.channels == 2
    assert hw.dram.peak_bandwidth_gb_per_s == pytest.approx(2 * 8 * 2133 / 1000)
    assert hw.dram.bandwidth_gb_per_s == 34.0
    assert hw.dram.bandwidth_bytes_per_s == 34e9


def test_eyeriss_and_edge_npu_shapes() -> None:
    eyeriss = load("eyeriss")
    assert (eyeriss.units[0].rows, eyeriss.units[0].cols) == (12, 14)
    assert eyeriss.units[0].pes == 168
    assert eyeriss.for_operand("input") is eyeriss.for_operand("output")
    assert eyeriss.for_operand("input").size_bytes == 108 * 1024
    assert eyeriss.for_operand("weight").size_bytes == 168 * 224 * 2
    assert eyeriss.clock_ghz == 0.2 and eyeriss.technology_nm == 65
    edge = load("edge_npu")
    unified = edge.for_operand("input")
    assert unified is edge.for_operand("weight") is edge.for_operand("output")
    assert unified.size_bytes == 512 * 1024 and unified.bytes_per_cycle == 256
    assert edge.dram.preset == "lpddr4_3200"
    assert edge.dram.bandwidth_gb_per_s == pytest.approx(12.8)


def test_unit_builds_the_systolic_array_model() -> None:
    unit = load("edge_npu").units[0]
    assert isinstance(unit, SystolicArrayUnit)
    array = unit.build()
    assert (array.rows, array.cols, array.dataflow, array.timing) == (32, 32, "ws", "pipelined")
    assert array.cost(64, 64, 64).cycles > 0


def test_with_overrides_returns_a_new_validated_hardware() -> None:
    hw = load("edge_npu")
    new = hw.with_overrides({"dram.bandwidth_gb_per_s": 6.4, "clock_ghz": 0.8,
                             "units.0.rows": 64, "scratchpads.0.size_kib": 256})
    assert (new.dram.bandwidth_gb_per_s, new.clock_ghz) == (6.4, 0.8)
    assert (new.units[0].rows, new.scratchpads[0].size_kib) == (64, 256)
    assert (hw.units[0].rows, hw.clock_ghz) == (32, 1.0)  # the original is untouched
    assert new.units[0].cols == hw.units[0].cols and new.vector == hw.vector


def test_with_overrides_accepts_suffixed_strings_and_numpy_numbers() -> None:
    hw = load("edge_npu")
    assert hw.with_overrides({"dram.bandwidth_gb_per_s": "10240 MB/s"}).dram.bandwidth_gb_per_s \
        == pytest.approx(10.24)
    new = hw.with_overrides({"units.0.rows": np.int64(16), "clock_ghz": np.float64(0.5)})
    assert (new.units[0].rows, new.clock_ghz) == (16, 0.5)
    assert type(new.units[0].rows) is int


def test_with_overrides_changing_the_preset_brings_its_defaults() -> None:
    hw = load("edge_npu").with_overrides({"dram.preset": "hbm2"})
    assert hw.dram.channels == 8 and hw.dram.bus_bits == 128
    assert hw.dram.bandwidth_gb_per_s == pytest.approx(256.0)
    # fields the YAML set stay set: TPU's two channels at 2133 MT/s survive a preset change
    tpu = load("tpu_v1").with_overrides({"dram.preset": "ddr4_2400"})
    assert (tpu.dram.channels, tpu.dram.data_rate_mtps, tpu.dram.banks_per_channel) == (
        2, 2133, 16)


def test_energy_overrides_through_with_overrides() -> None:
    hw = load("edge_npu").with_overrides({"technology_nm": 45,
                                          "energy.overrides.int8_mult_pj": 0.5})
    assert hw.energy_table.mac_pj(8, 8) == pytest.approx(0.5 + 0.1)
    assert hw.energy_table.entries["int8_mult_pj"].source == "user override"


def test_flat_params_round_trips_through_with_overrides() -> None:
    hw = load("tpu_v1")
    flat = hw.flat_params()
    assert flat["units.0.rows"] == 256
    assert flat["dram.channels"] == 2 and flat["dram.banks_per_channel"] == 8
    assert flat["scratchpads.0.holds"] == ("input", "output")
    assert flat["scratchpads.2.backed_by"] == "unified_buffer"
    assert flat["dram.bandwidth_gb_per_s"] == 34.0
    top = {"name", "clock_ghz", "technology_nm", "dispatch"}
    assert all("." in key or key in top for key in flat)
    assert hw.with_overrides(flat) == hw
    assert hw.to_dict()["units"][0]["rows"] == 256


def test_same_file_twice_gives_equal_hardware() -> None:
    assert load("eyeriss") == load("eyeriss")
    assert load("eyeriss") != load("edge_npu")


def test_names_are_case_insensitive() -> None:
    data = load("edge_npu").to_dict()
    data["units"][0]["dataflow"] = "WS"
    data["units"][0]["timing"] = "ScaleSim"
    data["dram"]["preset"] = "LPDDR4-3200"
    hw = hardware_from_dict(data)
    assert (hw.units[0].dataflow, hw.units[0].timing, hw.dram.preset) == (
        "ws", "scalesim", "lpddr4_3200")


def test_size_and_bandwidth_strings_are_converted() -> None:
    data = load("edge_npu").to_dict()
    data["scratchpads"][0]["size_kib"] = "0.5 MiB"
    data["dram"] = {"preset": "ddr4_2400", "bandwidth_gb_per_s": "16 GiB/s"}
    hw = hardware_from_dict(data)
    assert hw.scratchpads[0].size_kib == 512
    assert hw.dram.bandwidth_gb_per_s == pytest.approx(16 * 2**30 / 1e9)


def test_relative_energy_table_resolves_next_to_the_yaml(tmp_path: Path) -> None:
    table = (CONFIGS / "energy" / "45nm.yaml").read_text().replace("value: 0.2\n",
                                                                   "value: 0.25\n")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "mine.yaml").write_text(table)
    yaml_text = (CONFIGS / "edge_npu.yaml").read_text().replace(
        "table: 45nm", "table: tables/mine.yaml").replace("technology_nm: 16", "technology_nm: 45")
    (tmp_path / "hw.yaml").write_text(yaml_text)
    hw = load_hardware(tmp_path / "hw.yaml")
    assert hw.energy_table.value("int8_mult_pj") == 0.25


# --- DRAM presets ---------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "peak_gb_per_s"), [
    ("ddr4_2400", 19.2),     # 1 channel x 64 bit x 2400 MT/s
    ("lpddr4_3200", 12.8),   # 2 channels x 16 bit x 3200 MT/s (one x32 package)
    ("hbm2", 256.0),         # 8 channels x 128 bit x 2000 MT/s (one stack)
    ("hbm3", 819.2),         # 32 pseudo-channels x 32 bit x 6400 MT/s (one stack)
    ("ddr3_1600", 12.8),     # 1 channel x 64 bit x 1600 MT/s
])
def test_preset_peak_bandwidth_matches_hand_computed(preset: str, peak_gb_per_s: float) -> None:
    assert DRAM_PRESETS[preset].peak_bandwidth_gb_per_s == pytest.approx(peak_gb_per_s)
    data = load("edge_npu").to_dict()
    data["dram"] = {"preset": preset}
    dram = hardware_from_dict(data).dram
    assert dram.bandwidth_gb_per_s == pytest.approx(peak_gb_per_s)
    assert dram.peak_bandwidth_gb_per_s == pytest.approx(peak_gb_per_s)


def test_every_preset_field_is_overridable() -> None:
    data = load("edge_npu").to_dict()
    fields = DRAM_PRESETS["ddr4_2400"].fields()
    changed = {k: v * 2 for k, v in fields.items()}
    data["dram"] = {"preset": "ddr4_2400", **changed}
    dram = hardware_from_dict(data).dram
    for key, value in changed.items():
        assert getattr(dram, key) == value, key
    assert dram.peak_bandwidth_gb_per_s == pytest.approx(2 * 128 / 8 * 4800 / 1000)


def test_user_bandwidth_is_used_below_and_above_the_pin_peak() -> None:
    hw = load("edge_npu").with_overrides({"dram.bandwidth_gb_per_s": 10})
    assert hw.dram.bandwidth_gb_per_s == 10 and hw.dram.peak_bandwidth_gb_per_s == 12.8
    # above the pins: modelled as more channels of the same device (docs/hardware_config.md)
    hw = load("edge_npu").with_overrides({"dram.bandwidth_gb_per_s": 25.6})
    assert hw.dram.bandwidth_gb_per_s == 25.6 and hw.dram.peak_bandwidth_gb_per_s == 12.8


def test_dram_latency_helpers() -> None:
    dram = load("edge_npu").dram
    assert dram.row_hit_latency_ns == 17.5
    assert dram.row_miss_latency_ns == 18.0 + 17.5
    assert dram.row_conflict_latency_ns == 18.0 + 18.0 + 17.5
    assert dram.burst_ns == pytest.approx(32 / (2 * 3200) * 1e3)  # 5 ns for BL16 x16
    assert dram.refresh_fraction == pytest.approx(280 / 3904)


def test_dram_energy_binds_into_the_energy_table() -> None:
    hw = load("tpu_v1")
    assert hw.energy_table.dram_pj_per_bit() == hw.dram.energy_pj_per_bit
    assert math.isclose(hw.dram.energy_pj_per_bit, 17.5 * (1.5 / 1.2) ** 2)
