"""One-CTA-per-row kernels on the GPU model (pysim/gpu/kernels.py, ``row_kernel``): PyTorch's
layer norm and its block softmax take a first row's latency, then each SM's further rows at a
per-SM bandwidth, fitted to the H200's measured kernels (benchmarks/validate_h200_kernels.py,
docs/tensor_cores.md "Row kernels")."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import gpu
from pysim.config.units import RowKernel, TensorCoreUnit
from pysim.errors import ConfigError
from pysim.gpu.kernels import row_kernel, row_kernel_s
from pysim.gpu.presets import NORM_ROWS, RMS_NORM_ROWS, SOFTMAX_ROWS
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent


def _one_op(op_type: str, rows: int, cols: int, bits: int = 16, **fields: object
            ) -> pysim.Workload:
    dtype = {"dtype": "float", "weight_bits": bits, "act_bits": bits, **fields}
    return workload_from_dict({
        "name": op_type, "inputs": [{"name": "x", "shape": [rows, cols], "bits": bits,
                                     "dtype": "float"}],
        "ops": [{"name": "out", "type": op_type, "inputs": ["x"], "rows": rows, "cols": cols,
                 **dtype}]})


def _seconds(preset: gpu.GpuPreset, op_type: str, rows: int, cols: int, bits: int = 16) -> float:
    return pysim.simulate(preset.replace(launch_overhead_us=0.0),
                          _one_op(op_type, rows, cols, bits)).latency_s


def test_the_h200_figures_are_the_fit_to_its_measured_kernels() -> None:
    from tests.example_scripts import load_benchmark

    script = load_benchmark("validate_h200_kernels")
    h200 = gpu.preset("h200")
    for op, field in script.ROW_KERNELS.items():
        fit, worst = script.fit_row_kernel(op)
        have = getattr(h200, field)
        assert have.latency_us == round(fit.latency_us, 2)
        assert have.sm_gb_per_s == round(fit.sm_gb_per_s, 1)
        assert worst < 0.03  # two figures fit all four sizes, 16 to 32768 rows
    assert (h200.softmax_rows, h200.norm_rows, h200.rms_norm_rows) == (
        SOFTMAX_ROWS, NORM_ROWS, RMS_NORM_ROWS)
    # nowhere else measured: streamed at the HBM bandwidth there
    assert gpu.preset("a100").norm_rows is None and gpu.preset("h100").softmax_rows is None


@pytest.mark.parametrize(("cols", "bits", "block"), [
    (2048, 16, False), (2049, 16, True), (4096, 16, True), (2048, 32, False),
    (1024, 32, False), (50257, 32, True), (128, 16, False)])
def test_softmax_runs_a_cta_per_row_only_where_pytorch_does(cols: int, bits: int,
                                                             block: bool) -> None:
    # host_softmax (aten/src/ATen/native/cuda/SoftMax.cu): a warp per row up to 2048 values
    # and 8 KiB per row, a CTA per row beyond
    op = _one_op("softmax", 8, cols, bits).ops[0]
    assert (row_kernel(gpu.preset("h200"), op) is not None) == block
    h200 = gpu.preset("h200")
    assert row_kernel(h200, _one_op("layernorm", 8, cols, bits).ops[0]) == NORM_ROWS
    rms = _one_op("layernorm", 8, cols, bits, rms=True).ops[0]
    assert row_kernel(h200, rms) == RMS_NORM_ROWS


def test_rows_fill_the_sms_one_wave_at_a_time() -> None:
    h200 = gpu.preset("h200")
    one, full, next_ = (_seconds(h200, "softmax", rows, 4096) for rows in (1, 132, 133))
    assert one == pytest.approx(full)  # every SM takes its first row at once
    row_bytes = 2 * 4096 * 2  # read and written in fp16
    cycle = 1 / (h200.boost_clock_mhz * 1e6)  # the engine runs whole cycles
    assert next_ - full == pytest.approx(row_bytes / (SOFTMAX_ROWS.sm_gb_per_s * 1e9),
                                         abs=cycle)
    latency = (h200.kernel_latency_us + SOFTMAX_ROWS.latency_us) * 1e-6
    assert one == pytest.approx(latency, abs=cycle)


def test_a_preset_without_row_figures_streams_them() -> None:
    h200 = gpu.preset("h200")
    bare = h200.replace(softmax_rows=None, norm_rows=None)
    for op_type in ("softmax", "layernorm"):
        assert _seconds(bare, op_type, 32768, 4096) < _seconds(h200, op_type, 32768, 4096)
    # wide rows of few SMs' worth stream as before: HBM-bound either way
    streamed = _seconds(bare, "layernorm", 64, 1 << 20)
    assert _seconds(h200, "layernorm", 64, 1 << 20) == pytest.approx(streamed)


def test_the_per_op_table_says_how_a_row_kernel_ran() -> None:
    res = pysim.simulate(gpu.preset("h200"), _one_op("layernorm", 4096, 4096))
    assert "a CTA per row: 4096 rows over 132 SMs" in res.layers.loc[0, "tiling"]


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 1 << 20), row_bytes=st.floats(2.0, 1e6),
       sms=st.integers(1, 256), extra=st.integers(1, 64),
       latency=st.floats(0.0, 100.0), bandwidth=st.floats(0.1, 1e4))
def test_more_rows_never_faster_more_sms_never_slower(rows: int, row_bytes: float, sms: int,
                                                      extra: int, latency: float,
                                                      bandwidth: float) -> None:
    timing = RowKernel(latency_us=latency, sm_gb_per_s=bandwidth)
    few, many = (gpu.preset("h200").replace(sms=s) for s in (sms, sms + extra))
    assert row_kernel_s(few, rows + 1, row_bytes, timing) >= row_kernel_s(few, rows, row_bytes,
                                                                           timing)
    assert row_kernel_s(many, rows, row_bytes, timing) <= row_kernel_s(few, rows, row_bytes,
                                                                       timing)


@pytest.mark.parametrize(("value", "match"), [
    ({"latency_us": -1.0, "sm_gb_per_s": 10.0}, "norm_rows.latency_us"),
    ({"latency_us": 1.0, "sm_gb_per_s": 0.0}, "norm_rows.sm_gb_per_s"),
    ({"latency_us": 1.0, "sm_gb_per_s": math.nan}, "norm_rows.sm_gb_per_s"),
    ({"latency_us": 1.0}, "norm_rows.sm_gb_per_s"),
    ({"latency_us": 1.0, "sm_gb_per_s": 1.0, "warps": 4}, "norm_rows.warps"),
    ("fast", "norm_rows must be a RowKernel"),
])
def test_bad_row_figures_are_a_one_line_error(value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        gpu.preset("h200").replace(norm_rows=value)
    assert "\n" not in str(err.value)


def test_bad_row_figures_in_a_hardware_file_name_the_file_and_field(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "gpu" / "h200.yaml").read_text()
    assert "    latency_us: 5.78\n" in text
    bad = tmp_path / "h200_bad.yaml"
    bad.write_text(text.replace("    latency_us: 5.78\n", "    latency_us: -5\n"))
    with pytest.raises(ConfigError, match=r"h200_bad\.yaml.*norm_rows.*latency_us") as err:
        pysim.load_hardware(bad)
    assert "\n" not in str(err.value)
    # the shipped file is the preset
    units: tuple[object, ...] = pysim.load_hardware(ROOT / "configs" / "gpu" / "h200.yaml").units
    assert [u.norm_rows for u in units if isinstance(u, TensorCoreUnit)] == [NORM_ROWS]
