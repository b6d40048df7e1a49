"""Bad SCALE-Sim configs and topologies: a ConfigError / WorkloadError (both ValueError) that
names the file and the field or line, and through the CLI exit code 2 with a one-line
message, never a traceback."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from pysim.cli import main
from pysim.errors import ConfigError, WorkloadError
from pysim.scalesim import config as config_mod
from pysim.scalesim.config import load_config
from pysim.scalesim.runner import run
from pysim.scalesim.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
GOOD_CFG = (ROOT / "tests/data/scalesim/cases/gemm_8x16_os/config.cfg").read_text()
GOOD_TOPO = ROOT / "tests/data/scalesim/cases/conv_16x16_os/topology.csv"
CONV_HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
    "Num Filter, Strides,\n"
)


def cfg_with(**changes: str | None) -> str:
    """GOOD_CFG with `key = value` lines replaced (None removes the line)."""
    lines = []
    for line in GOOD_CFG.splitlines():
        key = line.split("=")[0].strip()
        if key in changes:
            if changes[key] is not None:
                lines.append(f"{key} = {changes[key]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


BAD_CONFIGS = {
    "missing_section": (
        GOOD_CFG.replace("[architecture_presets]", "[arch]"),
        r"missing section \[architecture_presets\]",
    ),
    "missing_field": (cfg_with(ArrayHeight=None), r"\[architecture_presets\].*ArrayHeight"),
    "non_integer": (cfg_with(ArrayWidth="16.5"), r"ArrayWidth = '16\.5' is not an integer"),
    "rows_zero": (cfg_with(ArrayHeight="0"), r"ArrayHeight = 0 .*1\.\.4096"),
    "cols_too_big": (cfg_with(ArrayWidth="4097"), r"ArrayWidth = 4097 .*1\.\.4096"),
    "sram_zero": (cfg_with(ofmapsramszkB="0"), r"ofmapsramszkB = 0 .*>= 1"),
    "negative_offset": (cfg_with(FilterOffset="-5"), r"FilterOffset = -5 .*>= 0"),
    "bad_dataflow": (cfg_with(Dataflow="rs"), r"Dataflow = 'rs' .*os, ws, is"),
    "bad_bw_mode": (cfg_with(InterfaceBandwidth="FAST"), r"InterfaceBandwidth = 'FAST'"),
    "user_without_bandwidth": (
        cfg_with(InterfaceBandwidth="USER", Bandwidth=None),
        r"Bandwidth is required when InterfaceBandwidth = USER",
    ),
    "user_bad_bandwidth": (
        cfg_with(InterfaceBandwidth="USER", Bandwidth="ten"),
        r"Bandwidth = 'ten'",
    ),
    "sparsity_on": (cfg_with(SparsitySupport="true"), r"\[sparsity\] SparsitySupport = true"),
    "not_ini": ("ArrayHeight = 4\n", r"not a valid SCALE-Sim \.cfg"),
    "duplicate_field": (
        GOOD_CFG.replace("ArrayHeight = 8", "ArrayHeight = 8\nArrayHeight = 9"),
        r"not a valid SCALE-Sim \.cfg.*arrayheight",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_raises_config_error(tmp_path: Path, case: str) -> None:
    text, pattern = BAD_CONFIGS[case]
    path = tmp_path / f"{case}.cfg"
    path.write_text(text)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_config(path)
    assert isinstance(info.value, ValueError)
    assert f"{case}.cfg" in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.cfg: config file not found"):
        load_config(tmp_path / "nope.cfg")


def test_user_bandwidth_mode_is_accepted_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_mod, "_warned_user_mode", False)
    path = tmp_path / "user.cfg"
    path.write_text(cfg_with(InterfaceBandwidth="USER", Bandwidth="10, 20"))
    with pytest.warns(UserWarning, match="CALC-mode figures"):
        cfg = load_config(path)
    assert (cfg.bandwidth_mode, cfg.bandwidths) == ("USER", (10, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second load must not warn again
        load_config(path)
    calc = load_config(ROOT / "tests/data/scalesim/cases/gemm_8x16_os/config.cfg")
    layers = load_topology(GOOD_TOPO)
    assert run(cfg, layers) == run(calc, layers)  # USER mode reports the CALC figures


BAD_TOPOLOGIES = {
    "empty": ("", False, r"empty"),
    "header_only": (CONV_HEADER, False, r"header but no layers"),
    "non_integer": (CONV_HEADER + "a, 8, x8, 3, 3, 1, 1, 1,\n", False, r":2: .*'IFMAP Width'"),
    "zero": (CONV_HEADER + "a, 8, 8, 3, 3, 0, 1, 1,\n", False, r":2: column 'Channels' = 0"),
    "negative": (CONV_HEADER + "\na, 8, 8, 3, 3, 1, 1, -2,\n", False, r":3: .*'Strides' = -2"),
    "filter_too_big": (
        CONV_HEADER + "a, 8, 8, 3, 3, 1, 1, 1,\nb, 8, 4, 3, 5, 1, 1, 1,\n",
        False,
        r":3: column 'Filter Width' = 5 is larger than 'IFMAP Width' = 4",
    ),
    "too_few_columns": (CONV_HEADER + "a, 8, 8, 3, 3, 1, 1,\n", False, r":2: 7 columns"),
    "too_many_columns": (
        CONV_HEADER + "a, 8, 8, 3, 3, 1, 1, 1, 1:1, 7,\n",
        False,
        r":2: 10 columns",
    ),
    "bad_sparsity": (CONV_HEADER + "a, 8, 8, 3, 3, 1, 1, 1, 4:2,\n", False, r":2: .*'Sparsity'"),
    "no_header": ("a, 8, 8, 3, 3, 1, 1, 1,\n", False, r":1: the first line looks like a layer"),
    "gemm_non_integer": ("Layer, M, N, K,\ng, 4, four, 4,\n", True, r":2: column 'N' = 'four'"),
    "gemm_too_few": ("Layer, M, N, K,\ng, 4, 4,\n", True, r":2: 3 columns, expected 4"),
    "beyond_int64": ("Layer, M, N, K,\ng, 100000000000000000000, 4, 4,\n", True,
                     r":2: column 'M' = 100000000000000000000 is too large; at most"),
    "gemm_of_conv_beyond_int64": (CONV_HEADER + "a, 4611686018427387903, 4611686018427387903, "
                                  "1, 1, 1, 1, 1,\n", False,
                                  r":2: layer 'a': its GEMM's M = .* is too large"),
    "depthwise_channels": (CONV_HEADER + "DP1, 8, 8, 3, 3, 1000000000, 1, 1,\n", False,
                           r":2: column 'Channels' = 1000000000 of a depthwise layer"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOPOLOGIES))
def test_bad_topology_raises_workload_error(tmp_path: Path, case: str) -> None:
    text, gemm, pattern = BAD_TOPOLOGIES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=pattern) as info:
        load_topology(path, gemm=gemm)
    assert isinstance(info.value, ValueError)
    assert f"{case}.csv" in str(info.value)


def test_missing_topology_file(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match=r"nope\.csv: topology file not found"):
        load_topology(tmp_path / "nope.csv")


def test_oversized_layer_is_a_workload_error_naming_the_layer(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("Layer, M, N, K,\nbig, 4000000000, 4000000000, 4000000000,\n")
    cfg = load_config(ROOT / "tests/data/scalesim/cases/gemm_8x16_os/config.cfg")
    with pytest.raises(WorkloadError, match=r"huge.csv:2: layer 0 \('big'\): .*overflow"):
        run(cfg, load_topology(path, gemm=True))


def test_layer_with_too_many_folds_is_refused_at_once(tmp_path: Path) -> None:
    """`big, 100000000, 100000000, 1,`: 7.8e13 folds on an 8 x 16 array; the per-fold averages
    looped over them with the GIL held (never returning, deaf to Ctrl-C)."""
    path = tmp_path / "big.csv"
    path.write_text("Layer, M, N, K,\nbig, 100000000, 100000000, 1,\n")
    cfg = load_config(ROOT / "tests/data/scalesim/cases/gemm_8x16_os/config.cfg")
    start = time.monotonic()
    with pytest.raises(WorkloadError, match=r"big.csv:2: layer 0 \('big'\): .*folds .* exceeds the "
                                            r"limit of 2\^32"):
        run(cfg, load_topology(path, gemm=True))
    assert time.monotonic() - start < 1.0


def _cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["scalesim", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


@pytest.mark.parametrize("case", ["rows_zero", "bad_dataflow", "missing_field"])
def test_cli_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    path = tmp_path / f"{case}.cfg"
    path.write_text(BAD_CONFIGS[case][0])
    code, err = _cli(["-c", str(path), "-t", str(GOOD_TOPO), "-o", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.startswith("pysim scalesim: error: ") and f"{case}.cfg" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case", ["non_integer", "filter_too_big", "empty"])
def test_cli_bad_topology_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    text, _, pattern = BAD_TOPOLOGIES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    cfg = ROOT / "tests/data/scalesim/cases/conv_16x16_os/config.cfg"
    code, err = _cli(["-c", str(cfg), "-t", str(path), "-o", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{case}.csv" in err


def test_cli_missing_files_and_unwritable_outdir(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = ROOT / "tests/data/scalesim/cases/conv_16x16_os/config.cfg"
    code, err = _cli(["-c", str(tmp_path / "x.cfg"), "-t", str(GOOD_TOPO), "-o", "o"], capsys)
    assert code == 2 and "x.cfg: config file not found" in err
    code, err = _cli(["-c", str(cfg), "-t", str(tmp_path / "x.csv"), "-o", "o"], capsys)
    assert code == 2 and "x.csv: topology file not found" in err
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = _cli(["-c", str(cfg), "-t", str(GOOD_TOPO), "-o", str(blocker)], capsys)
    assert code == 2 and "error" in err


def test_cli_user_mode_warns_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "user.cfg"
    path.write_text(cfg_with(InterfaceBandwidth="USER", Bandwidth="10"))
    code, err = _cli(["-c", str(path), "-t", str(GOOD_TOPO), "-o", str(tmp_path / "o")], capsys)
    assert code == 0
    assert "warning: InterfaceBandwidth = USER" in err


def test_zero_cycle_layer_is_a_workload_error(tmp_path: Path) -> None:
    """SCALE-Sim divides by Total Cycles = 0 here (1x1 OS array, 1x1x1 GEMM)."""
    cfg_path = tmp_path / "one.cfg"
    cfg_path.write_text(cfg_with(ArrayHeight="1", ArrayWidth="1"))
    topo = tmp_path / "one.csv"
    topo.write_text("Layer, M, N, K,\ntiny, 1, 1, 1,\n")
    with pytest.raises(WorkloadError, match=r"one.csv:2: layer 0 \('tiny'\): .*Total Cycles = 0"):
        run(load_config(cfg_path), load_topology(topo, gemm=True))
