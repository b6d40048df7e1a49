"""pysim.serving.plot: the drawn data are the runs' own numbers, and each figure saves a PNG
without pyplot or a display."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes

import pysim
import pysim.serving as sv

A100 = pysim.gpu.preset("a100")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs() -> list[sv.ServingResult]:
    cost = sv.CostModel(A100, sv.model("llama2_7b"))
    return [sv.serve(A100, "llama2_7b", sv.poisson(rate, n=40, prompt_tokens=("uniform", 32, 512),
                                                    output_tokens=("uniform", 8, 64), seed=1),
                     cost_model=cost) for rate in (16.0, 2.0, 6.0)]


def test_latency_percentiles_draw_each_runs_summary(runs, tmp_path: Path) -> None:
    ax_ttft, ax_tpot = sv.plot.latency_percentiles(runs)
    assert isinstance(ax_ttft, Axes) and ax_ttft.figure is ax_tpot.figure
    rates = [sv.plot.arrival_rate(r) for r in runs]
    order = np.argsort(rates)
    for ax, metric in ((ax_ttft, "ttft"), (ax_tpot, "tpot")):
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert sorted(lines) == [f"{metric.upper()} p{q}" for q in (50, 90, 99)]
        for q in (50, 90, 99):
            line = lines[f"{metric.upper()} p{q}"]
            np.testing.assert_array_equal(line.get_xdata(), np.asarray(rates)[order])
            np.testing.assert_array_equal(
                line.get_ydata(),
                [getattr(runs[i].summary(), f"{metric}_p{q}_s") for i in order])
    path = tmp_path / "latency.png"
    ax_ttft.figure.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_given_rates_and_bad_input(runs) -> None:
    ax, _ = sv.plot.latency_percentiles(runs, rates=[3.0, 1.0, 2.0])
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="rates has 2 values for 3 results"):
        sv.plot.latency_percentiles(runs, rates=[1.0, 2.0])
    with pytest.raises(ValueError, match="at least one ServingResult"):
        sv.plot.latency_percentiles([])


def test_kv_occupancy_draws_the_iteration_log(runs, tmp_path: Path) -> None:
    res = runs[0]
    ax = sv.plot.kv_occupancy(res)
    occupancy, queue = ax.get_lines()[0], ax.figure.axes[1].get_lines()[0]
    it = res.iterations
    np.testing.assert_array_equal(occupancy.get_xdata(), it["start_s"] + it["seconds"])
    np.testing.assert_array_equal(occupancy.get_ydata(), it["kv_blocks_used"] / res.kv_blocks)
    np.testing.assert_array_equal(queue.get_ydata(), it["queued"])
    assert str(res.kv_blocks) in occupancy.get_label()
    path = tmp_path / "kv.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC
