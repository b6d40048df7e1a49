"""Hostile hardware, workload and space files through the API and the CLI: each gets a
one-line error naming the file and field, exit code 2, and no traceback (issue 17, items 6-7)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import pysim
from pysim.cli import main
from pysim.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"


def _edited(tmp_path: Path, edit: Callable[[dict], None]) -> Path:
    data = copy.deepcopy(yaml.safe_load(EDGE.read_text()))
    edit(data)
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _spad(d: dict) -> dict:
    return d["scratchpads"][0]


CASES = [
    ("size 1e308", lambda d: _spad(d).update(size_kib=1.0e308), "scratchpads[0].size_kib",
     "must be <= 1073741824"),
    ("size 2**63", lambda d: _spad(d).update(size_kib=2**63), "scratchpads[0].size_kib",
     "must be <= 1073741824"),
    ("nan override", lambda d: d["energy"].update(overrides={"sram_leakage_mw_per_kib":
                                                             float("nan")}),
     "energy.overrides.sram_leakage_mw_per_kib", "must be a finite number"),
    ("inf override", lambda d: d["energy"].update(overrides={"pe_leakage_mw": float("inf")}),
     "energy.overrides.pe_leakage_mw", "must be a finite number"),
    ("nan clock", lambda d: d.update(clock_ghz=float("nan")), "clock_ghz",
     "must be a finite number"),
    ("inf bandwidth", lambda d: d["dram"].update(bandwidth_gb_per_s=float("inf")),
     "dram.bandwidth_gb_per_s", "must be a finite number"),
    ("table /dev/zero", lambda d: d["energy"].update(table="/dev/zero"), "energy.table",
     "not a regular file"),
]


@pytest.mark.parametrize(("edit", "field", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_hardware_fields_fail_at_load_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, field: str,
        reason: str) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        pysim.load_hardware(path)
    message = str(info.value)
    assert field in message and reason in message and "\n" not in message
    assert main(["run", str(path), str(TINY)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_file_that_is_not_yaml_is_quoted_briefly(tmp_path: Path) -> None:
    text = "root:x:0:0:root:/root:/bin/bash " * 40  # a long line, e.g. /etc/passwd
    bad = tmp_path / "table.yaml"
    bad.write_text(text)
    path = _edited(tmp_path, lambda d: d["energy"].update(table=str(bad)))
    with pytest.raises(ConfigError) as info:
        pysim.load_hardware(path)
    assert "expected a mapping" in str(info.value) and len(str(info.value)) < 400


@pytest.mark.parametrize("loader", ["hardware", "workload", "space"])
def test_deep_or_duplicate_yaml_is_a_clear_error(tmp_path: Path, loader: str) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nname: b\n")
    load = {"hardware": pysim.load_hardware, "workload": pysim.load_workload,
            "space": pysim.Space.from_yaml if hasattr(pysim, "Space") else None}[loader]
    if load is None:
        from pysim.sweep.space import Space
        load = Space.from_yaml
    with pytest.raises((pysim.ConfigError, pysim.WorkloadError), match="nested too deeply"):
        load(deep)
    with pytest.raises((pysim.ConfigError, pysim.WorkloadError), match="duplicate key 'name'"):
        load(dup)


def test_a_device_or_huge_file_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(pysim.WorkloadError, match="not a regular file"):
        pysim.load_workload("/dev/zero")
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as fh:
        fh.truncate((64 << 20) + 1)  # sparse: no disk used
    with pytest.raises(ConfigError, match="at most"):
        pysim.load_hardware(huge)


def test_the_cli_turns_a_bug_into_one_line_and_exit_1(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import pysim.cli as cli

    def boom(*_a, **_k):
        raise KeyError("internal")

    monkeypatch.setattr(cli, "_load_hardware_arg", boom)
    assert main(["run", str(EDGE), str(TINY)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pysim run: internal error (KeyError") and "\n" not in err
    monkeypatch.setenv("PYSIM_TRACEBACK", "1")
    with pytest.raises(KeyError):
        main(["run", str(EDGE), str(TINY)])
