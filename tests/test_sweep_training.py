"""Sweeps and searches of training steps (``pysim.sweep(..., training={...})``, ``pysim sweep
--train``): each row is ``pysim.training.step`` at its point, the options are part of the
rows' identity (a forward sweep's rows are never reused for a training sweep's, nor the other
way), and options ``step`` refuses whatever the hardware fail before any point runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import pysim
from pysim import training
from pysim.cli import main
from pysim.errors import ConfigError, WorkloadError
from pysim.sweep import search

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
SPACE = {"units.0.rows": [16, 32], "scratchpads.0.size_kib": [16, 64]}
OPTIONS: dict[str, Any] = {"optimizer": "sgd", "recipe": "int8"}


@pytest.fixture(scope="module")
def hw() -> pysim.Hardware:
    return pysim.load_hardware(EDGE)


@pytest.fixture(scope="module")
def trained(hw: pysim.Hardware) -> pd.DataFrame:
    return pysim.sweep(hw, TINY, SPACE, training=OPTIONS)


def test_each_row_is_the_training_step_at_its_point(hw: pysim.Hardware,
                                                    trained: pd.DataFrame) -> None:
    assert len(trained) == 4 and trained["error"].isna().all()
    for row in trained.itertuples():
        point = {"units.0.rows": row[1], "scratchpads.0.size_kib": row[2]}
        step = training.step(hw.with_overrides(point), pysim.load_workload(TINY), **OPTIONS)
        assert row.latency_cycles == step.result.latency_cycles
        assert row.dram_bytes == step.result.dram_bytes
        assert math.isclose(row.energy_j, step.result.energy_j, rel_tol=1e-12)


def test_a_step_is_not_a_forward_pass_and_the_rows_say_which(hw: pysim.Hardware,
                                                             trained: pd.DataFrame,
                                                             tmp_path: Path) -> None:
    forward = pysim.sweep(hw, TINY, SPACE)
    assert (trained["latency_cycles"] > 2 * forward["latency_cycles"]).all()
    assert not set(trained["point_id"]) & set(forward["point_id"])
    assert trained["sweep_id"].iloc[0] != forward["sweep_id"].iloc[0]
    adam = pysim.sweep(hw, TINY, SPACE, training={**OPTIONS, "optimizer": "adam"})
    assert not set(adam["point_id"]) & set(trained["point_id"])
    # one Parquet file: a forward sweep's rows are not a training sweep's (and back)
    out = tmp_path / "runs.parquet"
    pysim.sweep(hw, TINY, SPACE, out=out)
    again = pysim.sweep(hw, TINY, SPACE, out=out, training=OPTIONS)
    assert (again.attrs["computed"], again.attrs["reused"]) == (4, 0)
    assert again["latency_cycles"].tolist() == trained["latency_cycles"].tolist()
    resumed = pysim.sweep(hw, TINY, SPACE, out=out, training=OPTIONS)
    assert (resumed.attrs["computed"], resumed.attrs["reused"]) == (0, 4)


def test_in_worker_processes_the_same_rows(hw: pysim.Hardware, trained: pd.DataFrame) -> None:
    parallel = pysim.sweep(hw, TINY, SPACE, training=OPTIONS, jobs=2)
    pd.testing.assert_frame_equal(parallel, trained, check_like=False)


def test_a_zoo_name_is_trained_in_its_training_form(hw: pysim.Hardware) -> None:
    df = pysim.sweep(hw, "resnet18:image_size=32", {"units.0.rows": [32]}, training=OPTIONS)
    step = training.step(hw.with_overrides({"units.0.rows": 32}), "resnet18:image_size=32",
                         **OPTIONS)
    assert df["latency_cycles"].iloc[0] == step.result.latency_cycles
    assert any(op.name.endswith(".stats") for op in step.graph.workload.ops)  # batch norms


def test_a_point_whose_step_does_not_fit_its_memory_is_an_invalid_row(
        hw: pysim.Hardware) -> None:
    df = pysim.sweep(hw, TINY, {"units.0.rows": [16]},
                     training={**OPTIONS, "memory_gib": 1e-6})
    assert math.isnan(df["latency_s"].iloc[0])
    assert df["error"].iloc[0].startswith("WorkloadError: training step of 'tiny_cnn' needs")


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"optimiser": "sgd"}, WorkloadError, "training option 'optimiser' is not one of step's: "
                                          "optimizer, recipe,"),
    ({"optimizer": "lion"}, WorkloadError, "lion"),
    ({"recipe": "int3"}, WorkloadError, "int3"),
    ({"layer_formats": {"no_such_layer": "int8"}}, WorkloadError, "'no_such_layer' is not a "
                                                                  "MAC layer"),
    ({"data_parallel": 0}, ConfigError, "data_parallel"),
    ({"memory_gib": float("inf")}, ConfigError, "memory_gib must be a finite number > 0"),
    (["sgd"], WorkloadError, "training options must be a mapping"),
])
def test_options_step_refuses_fail_before_any_point_runs(hw: pysim.Hardware, tmp_path: Path,
                                                         options: object, error: type,
                                                         message: str) -> None:
    out = tmp_path / "runs.parquet"
    with pytest.raises(error) as info:
        pysim.sweep(hw, TINY, SPACE, out=out, training=options)  # type: ignore[arg-type]
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not out.exists()


def test_a_search_of_training_steps(hw: pysim.Hardware) -> None:
    found = search(hw, TINY, SPACE, n_trials=4, population_size=2, seed=3, training=OPTIONS)
    assert found["error"].isna().all()
    for row in found.itertuples():
        point = {"units.0.rows": row[2], "scratchpads.0.size_kib": row[3]}
        step = training.step(hw.with_overrides(point), pysim.load_workload(TINY), **OPTIONS)
        assert row.latency_cycles == step.result.latency_cycles


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_sweeps_training_steps(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path, trained: pd.DataFrame) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("units.0.rows: [16, 32]\nscratchpads.0.size_kib: [16, 64]\n")
    out = tmp_path / "runs.parquet"
    code, text, err = _cli(capsys, "sweep", space, EDGE, TINY, "-o", out, "--train",
                           "--optimizer", "sgd", "--recipe", "int8", "--no-progress")
    assert code == 0, err
    assert f"wrote {out}: 4 rows (4 computed, 0 reused), 0 invalid points" in text
    assert pd.read_parquet(out)["latency_cycles"].tolist() == trained["latency_cycles"].tolist()


@pytest.mark.parametrize(("argv", "message"), [
    (("--train", "--recipe", "int3"), "int3"),
    (("--recipe", "int8"), "--optimizer and --recipe set a training step: add --train"),
])
def test_the_cli_refuses_bad_training_options_in_one_line(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path, argv: tuple[str, ...],
                                                          message: str) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("units.0.rows: [16]\n")
    code, text, err = _cli(capsys, "sweep", space, EDGE, TINY, "-o", tmp_path / "r.parquet",
                           "--no-progress", *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
