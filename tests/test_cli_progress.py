"""``--progress`` / ``--no-progress`` on the long-running commands (run, sweep, serve), and
``simulate(progress=...)``: a bar on stderr when forced on (or stderr is a terminal), nothing
when off; the figures do not change."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.progress import wanted

ROOT = Path(__file__).resolve().parent.parent
EDGE = str(ROOT / "configs" / "edge_npu.yaml")
TINY = str(ROOT / "workloads" / "tiny_cnn.yaml")


def test_simulate_draws_a_bar_over_the_ops_only_when_asked(capsys):
    quiet = pysim.simulate(EDGE, TINY)
    assert capsys.readouterr().err == ""
    loud = pysim.simulate(EDGE, TINY, progress=True)
    err = capsys.readouterr().err
    n = len(pysim.load_workload(TINY).ops)
    assert "mapping tiny_cnn" in err and f"0/{n}" in err  # cleared when done
    assert loud.latency_cycles == quiet.latency_cycles and loud.energy_j == quiet.energy_j


def test_run_takes_progress_and_no_progress(cli):
    code, out, err = cli("run", EDGE, TINY, "--progress")
    assert code == 0 and "mapping tiny_cnn" in err
    code, out_quiet, err = cli("run", EDGE, TINY, "--no-progress")
    assert code == 0 and err == "" and out_quiet == out


def test_sweep_takes_progress(cli, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("units.0.rows: [16, 32]\n")
    code, _, err = cli("sweep", str(space), EDGE, TINY, "-o",
                        str(tmp_path / "runs.parquet"), "--progress")
    assert code == 0 and "2/2" in err


def test_serve_takes_progress(cli):
    argv = ["serve", "gpu:a100", "llama2_7b", "--rate", "2", "--duration", "2", "--seed", "1"]
    code, _, err = cli(*argv, "--progress")
    assert code == 0 and "req" in err
    code, _, err = cli(*argv, "--no-progress")
    assert code == 0 and err == ""


@pytest.mark.parametrize(("given", "tty", "expected"), [
    (None, True, True), (None, False, False), (True, False, True), (False, True, False)])
def test_default_follows_the_terminal(monkeypatch, given, tty, expected):
    monkeypatch.setattr("sys.stderr.isatty", lambda: tty)
    assert wanted(given) is expected
