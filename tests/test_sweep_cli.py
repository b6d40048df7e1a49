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


def _sweep_id(text: str) -> str:
    line = next(s for s in text.splitlines() if s.startswith("sweep id "))
    return line.split()[2].rstrip(";")


def test_each_sweep_in_a_file_is_plotted_by_its_id(cli, tmp_path):
    # The documented "widen the space and resume" workflow: two sweeps in one file.
    out, png = tmp_path / "runs.parquet", tmp_path / "pareto.png"
    narrow, wide = tmp_path / "narrow.yaml", tmp_path / "wide.yaml"
    narrow.write_text("clock_ghz: [0.5, 1.0]\n")
    wide.write_text("clock_ghz: [0.5, 1.0, 2.0]\nunits.0.rows: [16, 32]\n")
    code, text, err = cli("sweep", str(narrow), EDGE, TINY, "-o", str(out), "--no-progress")
    assert code == 0, err
    first = _sweep_id(text)
    assert f"sweep id {first}\n" in text                    # the only sweep in the file
    code, text, err = cli("sweep", str(wide), EDGE, TINY, "-o", str(out), "--no-progress")
    assert code == 0, err
    second = _sweep_id(text)
    assert second != first and f"also holds sweep {first}" in text
    assert f"--sweep {second}" in text

    stored = pd.read_parquet(out)
    assert len(stored) == 2 + 6 and set(stored["sweep_id"]) == {first, second}

    code, text, err = cli("plot", "pareto", str(out), "-o", str(png))   # which one?
    assert code == 2 and not png.exists()
    assert err.count("\n") == 1 and "holds 2 sweeps" in err and "--sweep ID" in err
    assert f"{first} (clock_ghz x2: 2 points on tiny_cnn)" in err
    assert f"{second} (clock_ghz x3, units.0.rows x2: 6 points on tiny_cnn)" in err

    for sweep_id in (first, second):
        code, text, err = cli("plot", "pareto", str(out), "--sweep", sweep_id, "-o", str(png))
        assert code == 0, err
        assert text == f"wrote {png} (sweep {sweep_id})\n"
        assert png.read_bytes()[:8] == PNG_MAGIC
        png.unlink()

    code, text, err = cli("plot", "pareto", str(out), "--sweep", "0badc0de", "-o", str(png))
    assert code == 2 and err.count("\n") == 1 and not png.exists()
    assert "no sweep '0badc0de'" in err and first in err and second in err


def test_plot_one_sweep_labels_only_its_own_keys(tmp_path):
    # The fix for 'clock_ghz=nan': a sweep's rows carry only its space's columns.
    from pysim.sweep.stored import select

    out = tmp_path / "runs.parquet"
    a = pysim_sweep({"clock_ghz": [0.5, 1.0]}, out)
    b = pysim_sweep({"units.0.rows": [16, 32]}, out)
    stored = pd.read_parquet(out)
    rows = select(stored, b["sweep_id"].iloc[0])
    assert list(rows.columns[:2]) == ["units.0.rows", "workload"]
    assert rows["units.0.rows"].dtype == "int64" and "clock_ghz" not in rows
    assert list(select(stored, a["sweep_id"].iloc[0]).columns[:2]) == ["clock_ghz", "workload"]


def pysim_sweep(space: dict, out: Path) -> pd.DataFrame:
    from pysim.sweep import sweep

    return sweep(EDGE, TINY, space, out=out)


def test_a_file_from_before_sweep_ids_plots_whole(cli, tmp_path, space):
    out, png = tmp_path / "runs.parquet", tmp_path / "pareto.png"
    cli("sweep", str(space), EDGE, TINY, "-o", str(out), "--no-progress")
    pd.read_parquet(out).drop(columns=["sweep_id", "sweep_space"]).to_parquet(out)
    code, text, err = cli("plot", "pareto", str(out), "-o", str(png))
    assert code == 0 and text == f"wrote {png}\n", err
    code, text, err = cli("plot", "pareto", str(out), "--sweep", "abc", "-o", str(png))
    assert code == 2 and "written before sweeps had ids" in err


def test_python_pareto_plot_takes_one_sweep_of_a_multi_sweep_frame(tmp_path):
    from pysim.plot import pareto as plot_pareto

    out = tmp_path / "runs.parquet"
    a = pysim_sweep({"clock_ghz": [0.5, 1.0]}, out)
    b = pysim_sweep({"units.0.rows": [16, 32]}, out)
    stored = pd.read_parquet(out)
    with pytest.raises(ValueError, match="holds 2 sweeps") as exc:
        plot_pareto(stored)
    assert a["sweep_id"].iloc[0] in str(exc.value) and b["sweep_id"].iloc[0] in str(exc.value)
    ax = plot_pareto(stored, sweep=b["sweep_id"].iloc[0])
    labels = " ".join(t.get_text() for t in ax.figure.texts + ax.texts)
    assert "rows=" in labels and "clock_ghz" not in labels
    with pytest.raises(ValueError, match="no sweep 'nope'"):
        plot_pareto(stored, sweep="nope")
    plot_pareto(a)  # one sweep: as before
