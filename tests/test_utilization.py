"""``Result.utilization`` and ``unit_utilization``: each op's MACs at its unit's peak in the
op's formats (the ``peak_macs_per_cycle`` column), so never above 1. Before, every op was
counted against the unit's nominal peak (a GPU's fp16 rate, a bit-serial array's w8a8 one):
an int8 GEMM on the A100 preset reported 1.95."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core
from pysim.config.units import BitSerialUnit, TensorCoreUnit
from pysim.errors import WorkloadError

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=40,
                    suppress_health_check=[HealthCheck.too_slow])


@cache
def _hardware(name: str) -> pysim.Hardware:
    if name.startswith("gpu:"):
        return pysim.gpu.preset(name[4:]).hardware
    return pysim.load_hardware(ROOT / "configs" / f"{name}.yaml")


def test_an_int8_gemm_on_the_a100_is_against_its_int8_peak() -> None:
    hw = _hardware("gpu:a100")
    wl = pysim.zoo.load("gemm", m=8192, n=8192, k=8192, bits=8)
    res = pysim.simulate(hw, wl)
    unit = hw.units[0]
    assert isinstance(unit, TensorCoreUnit)
    int8 = unit.sms * _core.tc_macs_per_clk_per_sm(unit.arch, "int8", False, None, False)
    assert int8 == 2 * unit.peak_macs_per_cycle  # the A100's int8 MMAs: twice its fp16 rate
    assert res.layers["peak_macs_per_cycle"].tolist() == [int8]
    assert unit.peak_macs_per_cycle_for(wl.ops[0]) == int8  # the unit's own figure agrees
    assert res.utilization == pytest.approx(res.macs / (res.latency_cycles * int8), rel=1e-12)
    assert 0.9 < res.utilization <= 1.0
    assert res.macs / (res.latency_cycles * unit.peak_macs_per_cycle) > 1.9  # the old figure
    assert res.unit_utilization == {unit.name: pytest.approx(res.utilization, rel=1e-12)}


def test_a_bit_serial_array_is_against_its_peak_at_the_ops_widths() -> None:
    """lowp_edge runs ResNet-18's 2-bit layers on its BISMO array, whose peak at w2a2 is 16x
    its w8a8 one; its idle XNOR array is busy for none of the run."""
    hw = _hardware("lowp_edge")
    res = pysim.simulate(hw, pysim.zoo.load("resnet18_precision", bits=2))
    serial = next(u for u in hw.units if isinstance(u, BitSerialUnit))
    layers = res.layers[res.layers["unit"] == serial.name]
    assert len(layers) > 0
    at_w2a2 = serial._array.peak_macs_per_cycle(2, 2)
    assert at_w2a2 == 16 * serial.peak_macs_per_cycle
    assert set(layers["peak_macs_per_cycle"]) == {at_w2a2}
    busy = res.unit_utilization
    assert busy[serial.name] == pytest.approx(
        layers["macs"].sum() / at_w2a2 / res.latency_cycles, rel=1e-12)
    assert busy["xnor_array"] == 0.0 and 0 < busy[serial.name] <= 1
    peaks = {u.name: u.peak_macs_per_cycle for u in hw.units}
    assert res.utilization == pytest.approx(
        sum(peaks[u] * busy[u] for u in peaks) / sum(peaks.values()), rel=1e-12)


def test_ops_at_the_nominal_peak_keep_the_old_figure() -> None:
    """tpu_v1 runs every op at its int8 peak: MACs / (latency x rows x cols)."""
    hw = _hardware("tpu_v1")
    res = pysim.simulate(hw, pysim.zoo.load("resnet18"))
    assert res.utilization == pytest.approx(
        res.macs / (res.latency_cycles * hw.units[0].peak_macs_per_cycle), rel=1e-12)
    vector = res.layers[res.layers["macs"] == 0]
    assert (vector["peak_macs_per_cycle"] == 0).all()


@SETTINGS
@given(hw=st.sampled_from(["gpu:a100", "gpu:t4", "gpu:h100", "gpu:rtx4090", "lowp_edge",
                           "edge_npu", "tpu_v1"]),
       m=st.integers(1, 600), n=st.integers(1, 600), k=st.integers(1, 600),
       bits=st.sampled_from([2, 4, 8]))
def test_utilization_is_at_most_one(hw: str, m: int, n: int, k: int, bits: int) -> None:
    """Every MAC unit's busy share, and the run's utilisation, lie in [0, 1]."""
    try:
        res = pysim.simulate(_hardware(hw), pysim.zoo.load("gemm", m=m, n=n, k=k, bits=bits))
    except WorkloadError:  # a width the hardware has no unit for
        assume(False)
    assert 0 < res.utilization <= 1 + 1e-12
    assert all(0 <= u <= 1 + 1e-12 for u in res.unit_utilization.values())
    mac = res.layers[res.layers["macs"] > 0]
    assert (mac["peak_macs_per_cycle"] > 0).all()
