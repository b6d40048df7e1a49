"""Bad hardware YAML: every mistake is a ConfigError naming the file, the field path
(``units[0].rows``) and the value, with what is allowed; nothing else escapes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pysim import simulate, zoo
from pysim.config import load_hardware
from pysim.config.yaml_io import format_validation_error
from pysim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "configs" / "edge_npu.yaml").read_text())

Edit = Callable[[dict[str, Any]], Any]


def load_edited(tmp_path: Path, edit: Edit) -> Path:
    data = copy.deepcopy(BASE)
    edit(data)
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def unit(d: dict[str, Any]) -> dict[str, Any]:
    return d["units"][0]


def spad(d: dict[str, Any]) -> dict[str, Any]:
    return d["scratchpads"][0]


# (case id, edit, field path, value text that must appear, phrase of what is allowed)
CASES: list[tuple[str, Edit, str, str, str]] = [
    ("missing field", lambda d: unit(d).pop("rows"), "units[0].rows", "missing", "required"),
    ("missing section", lambda d: d.pop("dram"), "dram", "missing", "required"),
    ("wrong type", lambda d: unit(d).update(rows="lots"), "units[0].rows", "'lots'", "integer"),
    ("float for int", lambda d: unit(d).update(rows=32.5), "units[0].rows", "32.5", "integer"),
    ("bool for int", lambda d: unit(d).update(cols=True), "units[0].cols", "True", "number"),
    ("too large", lambda d: unit(d).update(rows=5000), "units[0].rows", "5000", "<= 4096"),
    ("zero clock", lambda d: d.update(clock_ghz=0), "clock_ghz", "got 0", "> 0"),
    ("negative clock network", lambda d: d.setdefault("energy", {}).update(
        clock_pj_per_cycle=-5), "energy.clock_pj_per_cycle", "-5", ">= 0"),
    ("nan clock network", lambda d: d.setdefault("energy", {}).update(
        clock_pj_per_cycle=float("nan")), "energy.clock_pj_per_cycle", "nan", "finite"),
    ("control share of one", lambda d: d.setdefault("energy", {}).update(control_fraction=1),
     "energy.control_fraction", "1", "< 1"),
    ("unknown kind", lambda d: unit(d).update(kind="dsp_slice"), "units[0]",
     "'dsp_slice'", "systolic_array"),
    ("no kind", lambda d: unit(d).pop("kind"), "units[0]", "'mac_array'", "kind"),
    ("unknown dataflow", lambda d: unit(d).update(dataflow="xs"), "units[0].dataflow", "'xs'",
     "'os', 'ws', 'is' or 'rs'"),
    ("spatial dims equal", lambda d: unit(d).update(spatial={"rows": "k", "cols": "k"}),
     "units[0].spatial.cols", "'k'", "must differ from rows"),
    ("spatial unknown dim", lambda d: unit(d).update(spatial={"rows": "c", "cols": "n"}),
     "units[0].spatial.rows", "'c'", "'m', 'n' or 'k'"),
    ("spatial against dataflow", lambda d: unit(d).update(dataflow="os",
                                                         spatial={"rows": "k", "cols": "n"}),
     "units[0].dataflow", "'os'", "must be 'ws' (or left out)"),
    ("spatial on rs", lambda d: unit(d).update(dataflow="rs", spatial={"rows": "k", "cols": "n"}),
     "units[0].spatial", "'rows'", "does not apply to rs"),
    ("unknown timing", lambda d: unit(d).update(timing="fast"), "units[0].timing", "'fast'",
     "'scalesim' or 'pipelined'"),
    ("unknown field", lambda d: unit(d).update(colz=3), "units[0].colz", "3", "'cols'"),
    ("unknown top field", lambda d: d.update(freq_mhz=3), "freq_mhz", "3", "'clock_ghz'"),
    ("mac narrower than operands", lambda d: unit(d).update(mac_bits=4), "units[0].mac_bits",
     "4", ">= the widest precision"),
    ("unknown dram preset", lambda d: d["dram"].update(preset="gddr6"), "dram.preset",
     "'gddr6'", "lpddr4_3200"),
    ("wrong unit string", lambda d: d["dram"].update(bandwidth_gb_per_s="12.8 parsecs"),
     "dram.bandwidth_gb_per_s", "'12.8 parsecs'", "GB/s"),
    ("bits not bytes", lambda d: d["dram"].update(bandwidth_gb_per_s="100 Gb/s"),
     "dram.bandwidth_gb_per_s", "'100 Gb/s'", "GB/s"),
    ("zero bandwidth", lambda d: d["dram"].update(bandwidth_gb_per_s=0),
     "dram.bandwidth_gb_per_s", "0", "> 0"),
    ("negative dram field", lambda d: d["dram"].update(channels=-2), "dram.channels", "-2",
     ">= 1"),
    ("inconsistent dram timing", lambda d: d["dram"].update(t_ras_ns=5), "dram.t_ras_ns",
     "5", ">= t_rcd_ns"),
    ("negative size", lambda d: spad(d).update(size_kib=-5), "scratchpads[0].size_kib", "-5",
     "> 0"),
    ("size not whole bytes", lambda d: spad(d).update(size_kib=100.3),
     "scratchpads[0].size_kib", "100.3", "whole number of bytes"),
    ("size not a multiple of banks x word", lambda d: spad(d).update(size_kib=0.125),
     "scratchpads[0].size_kib", "got 0.125", "multiple of banks x word bytes"),
    ("size unit MB is ambiguous", lambda d: spad(d).update(size_kib="0.5 MB"),
     "scratchpads[0].size_kib", "'0.5 MB'", "MiB"),
    ("word bits not bytes", lambda d: spad(d).update(word_bits=12), "scratchpads[0].word_bits",
     "12", "multiple of 8"),
    ("zero banks", lambda d: spad(d).update(banks=0), "scratchpads[0].banks", "0", ">= 1"),
    ("unknown operand", lambda d: spad(d).update(holds=["input", "weight", "psum"]),
     "scratchpads[0].holds[2]", "'psum'", "'input', 'weight' or 'output'"),
    ("operands not covered", lambda d: spad(d).update(holds=["input", "weight"]),
     "scratchpads", "'output': []", "exactly once"),
    ("operand held twice", lambda d: d["scratchpads"].append(
        {"name": "extra", "size_kib": 64, "holds": ["weight"]}), "scratchpads",
     "'weight': ['unified', 'extra']", "exactly once"),
    ("duplicate unit names", lambda d: d["units"].append(dict(unit(d))), "units",
     "['mac_array', 'mac_array']", "unique"),
    ("empty units", lambda d: d.update(units=[]), "units", "[]", "at least 1"),
    ("units not a list", lambda d: d.update(units={"rows": 3}), "units", "{'rows': 3}",
     "list"),
    ("node out of range", lambda d: d.update(technology_nm=1), "technology_nm", "1", ">= 3"),
    ("unknown energy table", lambda d: d["energy"].update(table="nope.yaml"), "energy.table",
     "nope.yaml'", "built-in table"),
    ("unknown energy entry", lambda d: d["energy"].update(overrides={"int9_add_pj": 1}),
     "energy.overrides.int9_add_pj", "1", "int8_add_pj"),
    ("negative energy override", lambda d: d["energy"].update(overrides={"int8_add_pj": -1}),
     "energy.overrides.int8_add_pj", "-1", ">= 0"),
    # The DRAM model's own limits are checked when the file loads, not inside a simulation.
    ("refresh interval past the DRAM model's range",
     lambda d: d["dram"].update(t_refi_ns=1e9), "dram.t_refi_ns", "1000000000",
     "[0, 1e6] ns"),
    ("refresh longer than its interval", lambda d: d["dram"].update(t_refi_ns=100),
     "dram.t_refi_ns", "100", "must exceed t_rp_ns + t_rfc_ns"),
    ("no time left to open a row between refreshes", lambda d: d["dram"].update(
        t_rp_ns=10, t_rfc_ns=100, t_rcd_ns=20, t_ras_ns=40, t_refi_ns=120),
     "dram.t_refi_ns", "120", "must exceed t_rfc_ns + t_rp_ns + t_rcd_ns"),
    ("data rate below the DRAM model's range", lambda d: d["dram"].update(data_rate_mtps=0.5),
     "dram.data_rate_mtps", "0.5", "[1, 1e5] MT/s"),
    ("unknown mapper objective", lambda d: d.update(mapper={"objective": "speed"}),
     "mapper.objective", "'speed'", "'latency'"),
    ("zero weights per PE", lambda d: unit(d).update(pe_weights=0), "units[0].pe_weights",
     "0", ">= 1"),
    ("negative register energy", lambda d: unit(d).update(
        registers={"weight": {"read_pj": -1, "write_pj": 0}}),
     "units[0].registers.weight.read_pj", "-1", ">= 0"),
    ("register without its energies", lambda d: unit(d).update(registers={"input": {}}),
     "units[0].registers.input.read_pj", "missing", "required"),
    ("backed by an unknown scratchpad", lambda d: spad(d).update(backed_by="l3"),
     "scratchpads.0.backed_by", "'l3'", "another scratchpad"),
    ("backed by itself", lambda d: spad(d).update(backed_by="unified"),
     "scratchpads.0.backed_by", "'unified'", "another scratchpad"),
    ("backing lacks an operand", lambda d: (d["scratchpads"].append(
        {"name": "outer", "size_kib": 1024, "holds": ["input"]}),
        spad(d).update(backed_by="outer")), "scratchpads.0.backed_by", "'outer'",
     "lacks ['weight', 'output']"),
    ("two levels not chained", lambda d: d["scratchpads"].append(
        {"name": "outer", "size_kib": 1024, "holds": ["input", "weight", "output"]}),
     "scratchpads", "'input': ['unified', 'outer']", "backed_by"),
]


@pytest.mark.parametrize(("edit", "field", "value", "allowed"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_field_names_file_field_value_and_allowed(
        tmp_path: Path, edit: Edit, field: str, value: str, allowed: str) -> None:
    path = load_edited(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    message = str(info.value)
    assert f"({path}: {field})" in message, message
    assert value in message, message
    assert allowed in message, message


def test_several_errors_are_all_reported(tmp_path: Path) -> None:
    path = load_edited(tmp_path, lambda d: (d.update(clock_ghz=-1), unit(d).update(cols=0)))
    message = str(pytest.raises(ConfigError, load_hardware, path).value)
    assert message.startswith(f"2 errors in {path}")
    assert "clock_ghz must be > 0, got -1" in message
    assert "units[0].cols must be >= 1, got 0" in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nunits: [\n  - rows: 1\n")
    with pytest.raises(ConfigError, match=rf"{path}: invalid YAML: line 3"):
        load_hardware(path)


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: x\nclock_ghz: 1\nclock_ghz: 2\n")
    with pytest.raises(ConfigError, match=rf"{path}: .*line 3.*duplicate key 'clock_ghz'"):
        load_hardware(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match=rf"{path}: cannot read file: not found"):
        load_hardware(path)


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"{path}: expected a mapping"):
        load_hardware(path)


def test_bad_energy_table_file_names_table_entry(tmp_path: Path) -> None:
    table = (ROOT / "configs" / "energy" / "45nm.yaml").read_text()
    (tmp_path / "bad_table.yaml").write_text(table.replace("value: 0.2\n", "value: -0.2\n"))
    path = load_edited(tmp_path, lambda d: d["energy"].update(table="bad_table.yaml"))
    message = str(pytest.raises(ConfigError, load_hardware, path).value)
    assert "energy.table" in message and "entries.int8_mult_pj.value" in message
    assert "-0.2" in message and ">= 0" in message


# --- overrides ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hw() -> Any:
    return load_hardware(ROOT / "configs" / "edge_npu.yaml")


@pytest.mark.parametrize(("path", "level", "valid"), [
    ("units.0.rowz", "units.0", "'rows'"),
    ("dram.speed", "dram", "'data_rate_mtps'"),
    ("nope", "<top level>", "'clock_ghz'"),
    ("units.3.rows", "units", "indices 0..0"),
    ("units.first.rows", "units", "indices 0..0"),
    ("clock_ghz.mhz", "clock_ghz", "no keys"),
])
def test_unknown_override_path_lists_valid_keys(hw: Any, path: str, level: str,
                                                valid: str) -> None:
    with pytest.raises(ConfigError) as info:
        hw.with_overrides({path: 1})
    message = str(info.value)
    assert f"unknown override path {path!r}" in message and level in message
    assert valid in message


@pytest.mark.parametrize(("path", "value", "field", "allowed"), [
    ("units.0.rows", -1, "units[0].rows", ">= 1"),
    ("units.0.rows", "x", "units[0].rows", "integer"),
    ("units.0.kind", "dsp_slice", "units[0]", "systolic_array"),
    ("dram.bandwidth_gb_per_s", "1 parsec", "dram.bandwidth_gb_per_s", "GB/s"),
    ("scratchpads.0.size_kib", 0, "scratchpads[0].size_kib", "> 0"),
    ("dram.preset", "ddr9", "dram.preset", "hbm3"),
])
def test_bad_override_value_is_a_config_error(hw: Any, path: str, value: Any, field: str,
                                              allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        hw.with_overrides({path: value})
    message = str(info.value)
    assert f"edge_npu.yaml with overrides {path!r}: {field})" in message
    assert repr(value) in message
    assert allowed in message


def test_overrides_must_be_a_mapping(hw: Any) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        hw.with_overrides([("clock_ghz", 1)])  # type: ignore[arg-type]


# --- the formatter with a registry of several kinds (future unit kinds) ----------------------


class _A(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a"]
    x: int


class _B(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["b"]
    y: int


class _Holder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    units: list[Annotated[Union[_A, _B], Field(discriminator="kind")]]  # noqa: UP007


def test_formatter_strips_union_tags_and_lists_fields_of_the_right_kind() -> None:
    data = {"units": [{"kind": "a", "x": 1}, {"kind": "b", "y": "q", "z": 2}]}
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate(data)
    message = str(format_validation_error(info.value, "f.yaml", _Holder, data, tags={"a", "b"}))
    assert "units[1].y must be an integer, got 'q' (f.yaml: units[1].y)" in message
    assert "units[1].z is not a known field; allowed fields here: ['kind', 'y']" in message
    bad = {"units": [{"kind": "c"}]}
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate(bad)
    message = str(format_validation_error(info.value, "f.yaml", _Holder, bad, tags={"a", "b"}))
    assert "units[0] has unknown kind 'c'; known kinds: 'a', 'b'" in message


def test_a_scratchpad_too_small_for_an_ops_smallest_tile_names_file_field_and_minimum(
        tmp_path: Path) -> None:
    # found when an op is mapped, not at load time (it depends on the workload), but reported
    # as a field error all the same: the file, the field, the least size and the value
    path = tmp_path / "tpu.yaml"
    path.write_text((ROOT / "configs" / "tpu_v1.yaml").read_text())
    hw = load_hardware(path).with_overrides({"scratchpads.1.size_kib": 1})
    with pytest.raises(ConfigError) as info:
        simulate(hw, zoo.load("resnet18"))
    message = str(info.value)
    assert "\n" not in message
    assert "scratchpads[1].size_kib must be >= 2 KiB for op 'layer3.0.conv1'" in message
    assert "M=196 N=256 K=1152: weight, double-buffered), got 1 (" in message
    assert f"{path} with overrides 'scratchpads.1.size_kib': scratchpads[1].size_kib)" in message
