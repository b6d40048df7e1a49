"""``pysim sweep`` and ``pysim plot``: a sweep to Parquet and its resume, the Pareto plot of
the file, per-op plots of one run, and one-line errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pysim.cli import main

ROOT = Path(__file__).resolve().parent.parent
EDGE = str(ROOT / "configs" / "edge_npu.yaml")
TINY = str(ROOT / "workloads" / "tiny_cnn.yaml")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def space(tmp_path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text("# rows x scratchpad (5000 rows: an invalid point)\n"
                    "units.0.rows: [16, 5000]\nscratchpads.0.size_kib: [2, 64]\n")
    return path


def test_sweep_writes_parquet_and_resumes(capsys, tmp_path, space):
    out = tmp_path / "runs.parquet"
    code, text, err = _run(capsys, "sweep", space, EDGE, TINY, "zoo:gemm:m=64,n=64,k=64",
                           "-o", out, "--jobs", "2", "--no-progress")
    assert code == 0, err
    assert f"wrote {out}: 8 rows (8 computed, 0 reused), 4 invalid points" in text
    assert "tiny_cnn: Pareto front" in text and "gemm: Pareto front" in text
    assert "first invalid point: ConfigError" in text
    df = pd.read_parquet(out)
    assert len(df) == 8 and set(df["workload"]) == {"tiny_cnn", "gemm"}
    code, text, err = _run(capsys, "sweep", space, EDGE, TINY, "zoo:gemm:m=64,n=64,k=64",
                           "-o", out, "--no-progress")
    assert "(0 computed, 8 reused)" in text


def test_sweep_random_sample(capsys, tmp_path, space):
    out = tmp_path / "runs.parquet"
    code, text, err = _run(capsys, "sweep", space, EDGE, TINY, "-o", out, "--random", "3",
                           "--seed", "1", "--no-progress")
    assert code == 0, err
    assert "3 rows" in text


def test_plot_pareto_of_a_sweep_file(capsys, tmp_path, space):
    out = tmp_path / "runs.parquet"
    _run(capsys, "sweep", space, EDGE, TINY, "-o", out, "--no-progress")
    png = tmp_path / "pareto.png"
    code, text, err = _run(capsys, "plot", "pareto", out, "--x", "area_mm2", "--y",
                           "latency_s", "-o", png)
    assert code == 0, err
    assert png.read_bytes()[:8] == PNG_MAGIC
    code, text, err = _run(capsys, "plot", "pareto", out, "--x", "utilization",
                           "--maximize", "utilization", "--workload", "tiny_cnn", "-o", png)
    assert code == 0, err


@pytest.mark.parametrize("kind", ["energy", "roofline", "utilization"])
def test_plot_one_run(capsys, tmp_path, kind):
    png = tmp_path / f"{kind}.png"
    code, text, err = _run(capsys, "plot", kind, EDGE, TINY, "--set", "units.0.rows=16",
                           "-o", png)
    assert code == 0, err
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_errors_are_one_line_with_exit_code_2(capsys, tmp_path, space):
    bad = tmp_path / "bad.yaml"
    bad.write_text("units.0.rowz: [16]\n")
    code, text, err = _run(capsys, "sweep", bad, EDGE, TINY, "-o", tmp_path / "r.parquet")
    assert code == 2 and "'units.0.rowz'" in err and "did you mean 'units.0.rows'" in err
    assert not (tmp_path / "r.parquet").exists()
    code, text, err = _run(capsys, "sweep", space, EDGE, TINY, "-o", tmp_path / "r.parquet",
                           "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "tcp://127.0.0.1:9" in err
    code, text, err = _run(capsys, "plot", "pareto", tmp_path / "missing.parquet", "-o",
                           tmp_path / "p.png")
    assert code == 2 and "missing.parquet" in err
    out = tmp_path / "runs.parquet"
    _run(capsys, "sweep", space, EDGE, TINY, "-o", out, "--no-progress")
    code, text, err = _run(capsys, "plot", "pareto", out, "--y", "speed", "-o",
                           tmp_path / "p.png")
    assert code == 2 and "'speed' not in the frame" in err
    code, text, err = _run(capsys, "plot", "pareto", out, "--workload", "bert", "-o",
                           tmp_path / "p.png")
    assert code == 2 and "no rows of workload 'bert'" in err
