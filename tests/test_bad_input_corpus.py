"""The malformed-input corpus (tests/data/bad/, issue 17) through the API and the CLI: each
file gets a clean error (ConfigError / WorkloadError, a ValueError) holding its expected
fragment and naming the file, and from the CLI exit code 2 with that one line on stderr and
no traceback, in bounded time. Files marked known_issue are strict xfails: they pass (and
fail the run) once the bug is fixed, so the mark must then go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import pysim

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((BAD / "expected.yaml").read_text())
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
CFG = ROOT / "configs" / "scalesim" / "scale.cfg"
GEMM_CSV = ROOT / "workloads" / "scalesim" / "gemm_small.csv"


def cli_argv(name: str, out: Path) -> list[str]:
    path = str(BAD / name)
    if name.startswith("hw_"):
        return ["run", path, str(TINY)]
    if name.startswith(("wl_", "onnx_")):
        return ["run", str(EDGE), path]
    if name.startswith("cfg_"):
        return ["scalesim", "-c", path, "-t", str(GEMM_CSV), "--gemm", "-o", str(out)]
    if name.startswith(("topo_", "conv_")):
        gemm = ["--gemm"] if name.startswith("topo_") else []
        return ["scalesim", "-c", str(CFG), "-t", path, *gemm, "-o", str(out)]
    if name.startswith("trace_"):
        return ["serve", "gpu:a100", "llama2_7b", "--trace", path, "--no-progress"]
    assert name.startswith("space_"), name
    return ["sweep", path, str(EDGE), str(TINY), "-o", str(out / "runs.parquet"),
            "--no-progress"]


def api_call(name: str) -> None:
    """Load (and use) the file through the Python API; raises its error."""
    path = BAD / name
    if name.startswith("hw_"):
        pysim.simulate(pysim.load_hardware(path), TINY)
    elif name.startswith(("wl_", "onnx_")):
        pysim.simulate(EDGE, pysim.load_workload(path))
    elif name.startswith(("cfg_", "topo_", "conv_")):
        from pysim.scalesim.config import load_config
        from pysim.scalesim.runner import run
        from pysim.scalesim.topology import load_topology

        cfg = load_config(path if name.startswith("cfg_") else CFG, warn=False)
        topo = path if name.startswith(("topo_", "conv_")) else GEMM_CSV
        run(cfg, load_topology(topo, gemm=not name.startswith("conv_")))
    elif name.startswith("trace_"):
        import pysim.serving as sv

        sv.serve(pysim.gpu.preset("a100"), sv.model("llama2_7b"), sv.load_trace(path))
    else:
        from pysim.sweep.space import Space

        space = Space.from_yaml(path)
        pysim.sweep(space, EDGE, [TINY])


CLEAN = [name for name in EXPECTED if not EXPECTED[name].get("known_issue")]


def test_the_corpus_table_lists_every_file() -> None:
    files = {p.name for p in BAD.iterdir()} - {"expected.yaml", "make_corpus.py"}
    assert files == set(EXPECTED)
    assert len(files) >= 70


def _check_message(name: str, message: str) -> None:
    spec = EXPECTED[name]
    assert spec["expect"] in message, message
    if spec.get("names_file", True):
        assert name in message, message
    assert "Traceback" not in message and len(message) < 1000, message


@pytest.mark.parametrize("name", [c for c in CLEAN if not c.startswith("space_")])
def test_api_gives_a_clean_error(name: str) -> None:
    with pytest.raises(ValueError) as info:  # ConfigError and WorkloadError are ValueErrors
        api_call(name)
    _check_message(name, str(info.value))
    assert "\n" not in str(info.value)


_DRIVER = """
import contextlib, io, json, sys, time
from pysim.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    out.append([code, err.getvalue(), time.monotonic() - start])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, float]]:
    """Every clean-error case through ``pysim.cli.main`` in one child process (a crash or a
    hang fails the lot; one interpreter start instead of 70)."""
    out = tmp_path_factory.mktemp("corpus")
    argvs = [cli_argv(name, out / name) for name in CLEAN]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(argvs)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {name: tuple(r) for name, r in zip(CLEAN, json.loads(proc.stdout), strict=True)}


@pytest.mark.parametrize("name", CLEAN)
def test_cli_exits_2_with_one_line(cli_results: dict[str, tuple[int, str, float]],
                                   name: str) -> None:
    code, err, seconds = cli_results[name]
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("pysim ") and ": error: " in lines[0], err
    _check_message(name, lines[0])
    assert seconds < 10.0


def _cli_subprocess(name: str, tmp_path: Path, timeout: float = 30.0) -> tuple[int, str]:
    """``python -m pysim.cli`` on the file, at most 4 GiB of address space and ``timeout``
    seconds (a killed or timed-out run is a failure of the case, not of the test run). Under
    AddressSanitizer (csrc/README.md), whose runtime reserves terabytes of address space, the
    time limit alone."""
    import resource

    def limit() -> None:
        if "asan" not in os.environ.get("LD_PRELOAD", ""):
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]))
    try:
        proc = subprocess.run([sys.executable, "-m", "pysim.cli", *cli_argv(name, tmp_path)],
                              cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return -1, f"no exit within {timeout} s"
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("name", ["hw_nul_byte.yaml", "wl_cycle.yaml", "onnx_truncated.onnx",
                                  "topo_dim_1e20.csv"])
def test_the_real_command_exits_2(tmp_path: Path, name: str) -> None:
    code, err = _cli_subprocess(name, tmp_path)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    _check_message(name, err)


KNOWN = [c for c in EXPECTED if EXPECTED[c].get("known_issue")]

if KNOWN:  # trace_binary.csv today (pysim/serving reads a trace without naming it on bad UTF-8)

    @pytest.mark.parametrize("name", KNOWN, ids=str)
    @pytest.mark.xfail(strict=True, reason="known issue (expected.yaml: known_issue)")
    def test_known_issues_still_fail(tmp_path: Path, name: str) -> None:
        code, err = _cli_subprocess(name, tmp_path, timeout=20.0)
        assert code == 2 and "Traceback" not in err, err
        _check_message(name, err)
