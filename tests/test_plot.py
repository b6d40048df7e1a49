"""pysim.plot: each plot returns labelled Axes drawn from the right numbers, and saves a PNG
without pyplot or a display."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

import pysim
import pysim.plot
from pysim.sweep import pareto, sweep

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def hw() -> pysim.Hardware:
    return pysim.load_hardware(EDGE)


@pytest.fixture(scope="module")
def res(hw) -> pysim.Result:
    return pysim.simulate(hw, TINY)


@pytest.fixture(scope="module")
def df(hw):
    return sweep(hw, TINY, {"units.0.rows": [8, 16, 5000], "units.0.cols": [16, 32],
                            "scratchpads.0.size_kib": [0.5, 64, 256]})  # 5000: invalid


def _save(ax: Axes, path: Path) -> None:
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def _offsets(ax: Axes) -> list[np.ndarray]:
    return [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]


def test_pareto_highlights_and_numbers_the_front(df, tmp_path):
    ax = pysim.plot.pareto(df, x="area_mm2", y="latency_s")
    assert isinstance(ax, Axes)
    ok = df[df["error"].isna()]
    front = pareto(ok, minimize=["area_mm2", "latency_s"])
    everything, highlighted = _offsets(ax)
    assert len(everything) == len(ok)
    assert sorted(map(tuple, highlighted)) == sorted(
        zip(front["area_mm2"], front["latency_s"], strict=True))
    numbers = [t.get_text() for t in ax.texts if t.get_text().isdigit()]
    assert numbers == [str(i) for i in range(1, len(front) + 1)]
    key = [t.get_text() for t in ax.texts if t.get_text().startswith("Pareto-optimal")][0]
    assert "rows=" in key and "size_kib=" in key
    assert ax.get_xlabel() == "area (mm²)" and ax.get_ylabel() == "latency"
    assert f"{len(front)} of {len(ok)} points" in ax.get_title()
    assert "invalid points not shown" in ax.get_title()
    _save(ax, tmp_path / "pareto.png")


def test_pareto_uses_a_given_front_and_axes(df):
    fig = Figure()
    given = fig.add_subplot()
    chosen = df[df["error"].isna()].head(2)
    ax = pysim.plot.pareto(df, chosen, ax=given, labels=[])
    assert ax is given
    assert len(_offsets(ax)[1]) == 2
    assert not [t for t in ax.texts if t.get_text().isdigit()]


def test_pareto_one_front_per_workload(hw):
    frame = sweep(hw, [pysim.load_workload(TINY), pysim.zoo.load("gemm", m=64, n=64, k=64)],
                  {"units.0.rows": [8, 16, 32]})
    ax = pysim.plot.pareto(frame, x="area_mm2", y="latency_s")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("tiny_cnn" in t for t in labels) and any("gemm" in t for t in labels)
    assert len(_offsets(ax)) == 4


def test_pareto_bad_columns(df):
    with pytest.raises(ValueError, match="'speed' not in the frame"):
        pysim.plot.pareto(df, x="speed")
    with pytest.raises(ValueError, match="maximize"):
        pysim.plot.pareto(df, maximize=["utilization"])


def test_energy_breakdown_stacks_each_ops_components(res, tmp_path):
    ax = pysim.plot.energy_breakdown(res)
    n = len(res.layers)
    assert len(ax.patches) == 5 * n
    tops = np.zeros(n)
    for i in range(5):
        tops = np.maximum(tops, [p.get_y() + p.get_height() for p in ax.patches[i * n:(i + 1) * n]])
    comps = ["mac_j", "register_file_j", "sram_j", "dram_j", "vector_j"]
    assert np.allclose(tops, res.layers[comps].sum(axis=1))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(res.layers["op"])
    assert "leakage" in ax.get_title()
    _save(ax, tmp_path / "energy.png")
    top = pysim.plot.energy_breakdown(res, top=3)
    assert len(top.patches) == 15


def test_roofline_places_each_mac_op(res, hw, tmp_path):
    ax = pysim.plot.roofline(res, hw)
    layers = res.layers[res.layers["macs"] > 0]
    points = np.concatenate(_offsets(ax))
    assert len(points) == len(layers)
    moved = layers["dram_read_bytes"] + layers["dram_write_bytes"]
    intensity = 2 * layers["macs"] / moved
    perf = 2 * layers["macs"] / (layers["cycles"] / hw.clock_hz)
    assert sorted(points[:, 1]) == pytest.approx(sorted(perf))
    finite = intensity[moved > 0]
    assert sorted(p for p in points[:, 0] if p in set(finite)) == pytest.approx(sorted(finite))
    roof = ax.lines[0].get_ydata()
    peak = 2 * 32 * 32 * hw.clock_hz
    assert max(roof) == pytest.approx(peak)
    assert all(perf <= peak * (1 + 1e-9))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    _save(ax, tmp_path / "roofline.png")


def test_roofline_of_two_precisions_on_a_gpu_has_a_ceiling_per_precision(tmp_path):
    """An A100 running an int8 and an fp16 GEMM: the roof at the int8 peak (its MMAs do twice
    the fp16 MACs per clock), a dashed ceiling at the fp16 one, each op under its own."""
    gpu = pysim.gpu.preset("a100").hardware
    wl = pysim.workload.workload_from_dict({
        "name": "two_precisions",
        "inputs": [{"name": "a", "shape": [4096, 4096], "bits": 16, "dtype": "float"},
                   {"name": "q", "shape": [4096, 4096], "bits": 8}],
        "ops": [{"name": "half", "type": "linear", "inputs": ["a"], "m": 4096, "n": 4096,
                 "k": 4096, "act_bits": 16, "weight_bits": 16, "out_bits": 16,
                 "dtype": "float"},
                {"name": "int8", "type": "linear", "inputs": ["q"], "m": 4096, "n": 4096,
                 "k": 4096}]})
    res = pysim.simulate(gpu, wl)
    ax = pysim.plot.roofline(res, gpu)
    unit = gpu.units[0]
    fp16 = 2 * unit.peak_macs_per_cycle * gpu.clock_hz
    roof, ceiling = ax.lines[0], ax.lines[1]
    assert max(roof.get_ydata()) == pytest.approx(2 * fp16)
    assert max(ceiling.get_ydata()) == pytest.approx(fp16)
    assert ceiling.get_linestyle() == "--" and "float16" in ceiling.get_label()
    assert "int8" in roof.get_label()
    layers = res.layers.set_index("op")
    for name, peak in (("half", fp16), ("int8", 2 * fp16)):
        perf = 2 * layers.loc[name, "macs"] / (layers.loc[name, "cycles"] / gpu.clock_hz)
        assert 0.5 * peak < perf <= peak
    _save(ax, tmp_path / "roofline_two.png")


def test_utilization_per_op(res, hw, tmp_path):
    ax = pysim.plot.utilization(res, hw)
    layers = res.layers
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == len(layers)
    mac = layers[layers["macs"] > 0]
    expected = mac["macs"] / (mac["cycles"] * 32 * 32)
    assert sorted(heights)[-1] <= 1.0 + 1e-9
    assert all(any(h == pytest.approx(e) for h in heights) for e in expected)
    assert ax.lines[0].get_ydata()[0] == pytest.approx(res.utilization)
    _save(ax, tmp_path / "util.png")
    assert len(pysim.plot.utilization(res).patches) == len(mac)


def test_no_pyplot_figures_are_left_open(res, hw):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    pysim.plot.energy_breakdown(res)
    pysim.plot.roofline(res, hw)
    assert plt.get_fignums() == before
    assert matplotlib.get_backend()   # nothing here switched the user's backend
