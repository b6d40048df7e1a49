"""``pysim run`` and ``pysim zoo list`` through ``pysim.cli.main``: the table, --set, --json,
--csv, zoo: workloads, --help, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import pysim
from pysim import zoo
from pysim.cli import main

ROOT = Path(__file__).resolve().parent.parent
EDGE = str(ROOT / "configs" / "edge_npu.yaml")
TINY = str(ROOT / "workloads" / "tiny_cnn.yaml")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_table_and_summary(capsys):
    code, out, err = _run(capsys, "run", EDGE, TINY)
    assert code == 0, err
    assert err == ""
    res = pysim.simulate(EDGE, TINY)
    for op in ("stem", "stem.relu", "conv", "add", "relu", "pool", "gap", "fc"):
        assert any(line.split()[:1] == [op] for line in out.splitlines()), op
    assert "hardware        edge_npu" in out
    assert "workload        tiny_cnn  (2,801,824 MACs)" in out
    from pysim.quantity_format import joules, nbytes, seconds

    assert f"latency         {seconds(res.latency_s)}  ({res.latency_cycles:,} cycles)" in out
    assert (f"DRAM            read {nbytes(res.dram_read_bytes)}, write "
            f"{nbytes(res.dram_write_bytes)}" in out)
    assert f"energy          {joules(res.energy_j)}" in out and "utilization" in out


def test_engineering_units_with_four_significant_digits():
    from pysim.quantity_format import joules, nbytes, seconds

    assert seconds(8.717e-6) == "8.717 us" and seconds(2.1e-3) == "2.100 ms"
    assert seconds(54.869) == "54.87 s" and seconds(0) == "0 s"
    assert joules(5.928e-7) == "592.8 nJ" and joules(0.0043) == "4.300 mJ"
    assert nbytes(32) == "32 B" and nbytes(6136) == "5.992 KiB" and nbytes(0) == "0 B"
    assert nbytes(3 * 2**30) == "3.000 GiB"


def test_run_shows_the_longest_ops_and_all_on_request(capsys):
    code, out, _ = _run(capsys, "run", EDGE, TINY, "--layers", "2")
    assert code == 0 and "... 6 more ops (the 2 longest shown; --layers all" in out
    rows = [line.split()[0] for line in out.splitlines()[1:3]]
    assert rows == ["stem", "conv"]  # the two longest, in execution order
    code, out, _ = _run(capsys, "run", EDGE, TINY, "--layers", "all")
    assert "more ops" not in out
    with pytest.raises(SystemExit):
        _run(capsys, "run", EDGE, TINY, "--layers", "0")


def test_version_and_a_closed_pipe(capsys):
    import subprocess
    import sys

    with pytest.raises(SystemExit):
        _run(capsys, "--version")
    assert capsys.readouterr().out.startswith("pysim ")
    # `pysim run ... | head -c 10`: the reader leaves early (the 110 KB of JSON overflow the
    # pipe); pysim exits 0 without a message
    tpu = Path(EDGE).parent / "tpu_v1.yaml"
    proc = subprocess.run(f"{sys.executable} -m pysim.cli run {tpu} zoo:resnet50 --json "
                          "| head -c 10; exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, cwd="/", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Broken pipe" not in proc.stderr and "Traceback" not in proc.stderr


def test_run_json_matches_the_api(capsys):
    code, out, err = _run(capsys, "run", EDGE, TINY, "--json")
    assert code == 0, err
    data = json.loads(out)
    res = pysim.simulate(EDGE, TINY)
    assert data == json.loads(res.to_json())
    assert data["macs"] == 2_801_824
    assert len(data["layers"]) == 8


def test_run_set_overrides_bandwidth(capsys):
    code, out, err = _run(capsys, "run", EDGE, TINY, "--json")
    base = json.loads(out)
    code, out, err = _run(capsys, "run", EDGE, TINY, "--json",
                          "--set", "dram.bandwidth_gb_per_s=6.4")
    assert code == 0, err
    slow = json.loads(out)
    hw = pysim.load_hardware(EDGE).with_overrides({"dram.bandwidth_gb_per_s": 6.4})
    assert slow == json.loads(pysim.simulate(hw, TINY).to_json())
    assert slow["latency_cycles"] >= base["latency_cycles"]
    # Repeatable: two overrides at once.
    code, out, err = _run(capsys, "run", EDGE, TINY, "--json", "--set",
                          "dram.bandwidth_gb_per_s=6.4", "--set", "clock_ghz=0.5")
    assert code == 0, err
    assert json.loads(out)["latency_s"] > slow["latency_s"]


def test_run_csv_writes_the_per_op_table(capsys, tmp_path):
    path = tmp_path / "layers.csv"
    code, out, err = _run(capsys, "run", EDGE, TINY, "--csv", str(path))
    assert code == 0, err
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    res = pysim.simulate(EDGE, TINY)
    assert [r["op"] for r in rows] == list(res.layers["op"])
    assert list(rows[0]) == list(res.layers.columns)
    assert sum(int(r["dram_read_bytes"]) for r in rows) == res.dram_read_bytes
    assert "latency" in out  # the table is still printed


def test_run_zoo_workload_with_parameters(capsys):
    code, out, err = _run(capsys, "run", EDGE, "zoo:bert_base:seq_len=32", "--json")
    assert code == 0, err
    data = json.loads(out)
    wl = zoo.load("bert_base", seq_len=32)
    assert data["macs"] == wl.macs
    assert data["workload"] == wl.name
    assert [layer["op"] for layer in data["layers"]] == [op.name for op in wl.ops]
    code, out, err = _run(capsys, "run", EDGE, "zoo:gemm:m=64,n=32,k=16", "--json")
    assert code == 0, err
    assert json.loads(out)["macs"] == 64 * 32 * 16


def test_a_bare_zoo_name_runs_as_train_takes_it(capsys, tmp_path, monkeypatch):
    """``pysim run HW bert_base`` (as ``pysim train HW bert_base``) runs the zoo's model where
    no file of that name exists; ``zoo:`` specs with parameters work without the prefix too,
    and in ``pysim train``; a file of the name wins."""
    code, out, err = _run(capsys, "run", EDGE, "gemm:m=64,n=32,k=16", "--json")
    assert code == 0, err
    assert json.loads(out)["macs"] == 64 * 32 * 16
    code, out, err = _run(capsys, "run", EDGE, "bert_base", "--json")
    assert code == 0, err
    assert json.loads(out)["macs"] == zoo.load("bert_base").macs
    code, out, err = _run(capsys, "train", EDGE, "zoo:gemm:m=64,n=32,k=16", "--recipe", "int8")
    assert code == 0, err
    code, out, err = _run(capsys, "train", EDGE, "zoo:gemm:m", "--recipe", "int8")
    assert code == 2 and err.strip().splitlines() == [
        "pysim train: error: zoo spec 'zoo:gemm:m': 'm' is not key=value "
        "(zoo:gemm:key=value,...)"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gemm").write_text("not: a workload\n")
    code, out, err = _run(capsys, "run", EDGE, "gemm")
    assert code == 2 and "gemm" in err  # the file, read and refused


def test_zoo_list(capsys):
    code, out, err = _run(capsys, "zoo", "list")
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert names == list(zoo.names())
    assert {"resnet18", "resnet50", "mobilenet_v2", "bert_base", "gemm"} <= set(names)
    assert "seq_len=128" in out and "image_size=224" in out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for sub in ("run", "zoo", "gemm", "scalesim"):
        assert any(line.split()[:1] == [sub] for line in out.splitlines()), sub
    # No subcommand: help, exit 0.
    assert main([]) == 0
    assert "run" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "configs/missing.yaml", TINY], "missing.yaml"),
        (["run", EDGE, "workloads/missing.yaml"], "missing.yaml"),
        (["run", EDGE, TINY, "--set", "bandwidth"], "'bandwidth'"),
        (["run", EDGE, TINY, "--set", "dram.bogus=3"], "dram.bogus"),
        (["run", EDGE, TINY, "--set", "dram.bandwidth_gb_per_s=fast"], "'fast'"),
        (["run", EDGE, "zoo:resnet99"], "resnet99"),
        (["run", EDGE, "zoo:bert_base:seq_len=0"], "seq_len"),
        (["run", EDGE, "zoo:bert_base:heads=4"], "heads"),
        (["run", EDGE, "bert_bse"], "did you mean 'bert_base'"),
        (["run", EDGE, "zoo:bert_base:seq_len"], "'seq_len' is not key=value"),
    ],
    ids=["missing-hw", "missing-wl", "set-no-equals", "set-unknown-key", "set-bad-value",
         "zoo-unknown", "zoo-bad-param", "zoo-unknown-param", "zoo-typo", "zoo-bad-item"],
)
def test_errors_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pysim run: error: ")
    assert needle in lines[0]


def test_run_prints_the_loop_nest_of_a_mapped_op(capsys):
    tpu = str(ROOT / "configs" / "tpu_v1.yaml")
    code = main(["run", tpu, "zoo:gemm:m=4096,n=1024,k=1024", "--mapping", "gemm"])
    out = capsys.readouterr().out
    assert code == 0
    # weight-stationary: K on the 256 rows, N on the 256 columns, M streamed
    assert "spatial_for k in [0:256), n in [0:256)" in out and "for m in [0:" in out
    code = main(["run", tpu, "zoo:gemm:m=64,n=64,k=64", "--mapping", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "'nope' is not a mapped MAC op" in err and "gemm" in err


def test_cli_gemm_times_as_the_readme_python_line(capsys):
    # one default timing across the README: `pysim gemm` and SystolicArray(timing="pipelined")
    code, out, _ = _run(capsys, "gemm", "256", "128", "256", "--rows", "32", "--cols", "32",
                        "--dataflow", "ws")
    want = pysim.SystolicArray(rows=32, cols=32, dataflow="ws", timing="pipelined")
    assert code == 0 and f"cycles  {want.cost(m=256, n=128, k=256).cycles}" in out


def test_simulate_and_sweep_take_zoo_names_as_the_cli_does() -> None:
    """``pysim.simulate`` and ``pysim.sweep`` read a workload string as ``pysim run`` does
    (``pysim.workload.as_workload``): a zoo spec, a bare zoo name, else a file."""
    hw = pysim.load_hardware(EDGE)
    by_name = pysim.simulate(hw, "resnet18")
    assert by_name.latency_cycles == pysim.simulate(hw, zoo.load("resnet18")).latency_cycles
    spec = pysim.simulate(hw, "zoo:gemm:m=64,n=32,k=16")
    assert spec.latency_cycles == pysim.simulate(hw, zoo.load("gemm", m=64, n=32,
                                                              k=16)).latency_cycles
    assert pysim.simulate(hw, TINY).workload == "tiny_cnn"
    with pytest.raises(pysim.WorkloadError, match="no zoo model 'resnet5'; did you mean "
                                                  "'resnet50'"):
        pysim.simulate(hw, "resnet5")
    with pytest.raises(pysim.WorkloadError, match="nope.yaml: cannot read workload file: "
                                                  "not found"):
        pysim.simulate(hw, "nope.yaml")
    swept = pysim.sweep(hw, "resnet18", {"units.0.rows": [32]})
    assert swept["latency_s"].iloc[0] == by_name.latency_s
    for bad in (123, None):  # not read as a file descriptor, nor a TypeError
        with pytest.raises(pysim.WorkloadError, match=r"workload must be a Workload, a YAML "
                                                      r"/ ONNX path or a zoo model name, got"):
            pysim.simulate(hw, bad)  # type: ignore[arg-type]
