"""GPU presets: the peak tensor-core rates must reproduce the datasheets.

Peak = SMs x tensor-core MACs per SM per clock x 2 x boost clock, an exact product; datasheets
round it (A100 fp16: 311.87 -> "312"), so each pinned figure holds within 0.5 %.
Sources: V100 whitepaper (2017), A100 whitepaper (2020) Table 3, H100 whitepaper / datasheet
(2022), as recorded in each preset's ``sources``.
"""

from __future__ import annotations

import pytest

import pysim
from pysim import gpu

# (preset, dtype, sparse, datasheet TFLOPS or TOPS)
DATASHEET = [
    ("v100", "fp16", False, 125),
    ("a100", "fp16", False, 312),
    ("a100", "bf16", False, 312),
    ("a100", "tf32", False, 156),
    ("a100", "int8", False, 624),
    ("a100", "int4", False, 1248),
    ("a100", "b1", False, 4992),
    ("a100", "fp16", True, 624),
    ("a100", "tf32", True, 312),
    ("a100", "int8", True, 1248),
    ("a100", "int4", True, 2496),
    ("h100", "fp16", False, 989),
    ("h100", "bf16", False, 989),
    ("h100", "fp16", True, 1979),
    ("h100", "tf32", False, 494.7),
    ("h100", "tf32", True, 989),
    ("h100", "fp8", False, 1979),
    ("h100", "fp8_e5m2", False, 1979),
    ("h100", "fp8", True, 3958),
    ("h100", "int8", False, 1979),
    ("h100", "int8", True, 3958),
]


@pytest.mark.parametrize(("name", "dtype", "sparse", "datasheet"), DATASHEET)
def test_peak_tflops_reproduce_datasheets(
    name: str, dtype: str, sparse: bool, datasheet: float
) -> None:
    p = gpu.preset(name)
    peak = p.peak_tflops(dtype, sparse=sparse)
    exact = p.sms * p.macs_per_clk_per_sm(dtype, sparse) * 2 * p.boost_clock_mhz * 1e6 / 1e12
    assert peak == pytest.approx(exact, rel=1e-12)
    assert peak == pytest.approx(datasheet, rel=0.005)


def test_pinned_identities_exact_products() -> None:
    assert gpu.preset("v100").peak_tflops("fp16") == pytest.approx(80 * 512 * 2 * 1.53e-3)
    assert gpu.preset("a100").peak_tflops("fp16") == pytest.approx(108 * 1024 * 2 * 1.41e-3)
    assert gpu.preset("h100").peak_tflops("fp16") == pytest.approx(132 * 2048 * 2 * 1.83e-3)
    assert gpu.preset("h100").peak_tflops("fp8") == pytest.approx(132 * 4096 * 2 * 1.83e-3)


def test_sparse_doubles_the_rate_where_supported() -> None:
    for name in ("a100", "h100"):
        p = gpu.preset(name)
        for dtype in p.supported_dtypes(sparse=True):
            assert p.macs_per_clk_per_sm(dtype, True) == 2 * p.macs_per_clk_per_sm(dtype)
    assert gpu.preset("v100").supported_dtypes(sparse=True) == ()
    assert "b1" not in gpu.preset("a100").supported_dtypes(sparse=True)


def test_supported_dtypes_per_architecture() -> None:
    assert gpu.preset("v100").supported_dtypes() == ("fp16",)
    assert gpu.preset("a100").supported_dtypes() == ("fp16", "bf16", "tf32", "int8", "int4", "b1")
    assert gpu.preset("h100").supported_dtypes() == (
        "fp16", "bf16", "tf32", "fp8_e4m3", "fp8_e5m2", "int8"
    )


def test_mma_instruction_shapes() -> None:
    a100 = gpu.preset("a100")
    assert a100.mma_shape("fp16") == (16, 8, 16)
    assert a100.mma_shape("bf16") == (16, 8, 16)
    assert a100.mma_shape("tf32") == (16, 8, 8)
    assert a100.mma_shape("int8") == (16, 8, 32)
    assert a100.mma_shape("int4") == (16, 8, 64)
    assert a100.mma_shape("b1") == (16, 8, 256)
    assert a100.mma_shape("fp16", sparse=True) == (16, 8, 32)
    assert gpu.preset("h100").mma_shape("fp8") == (16, 8, 32)
    assert gpu.preset("v100").mma_shape("fp16") == (8, 8, 4)
    for dtype, shape in gpu.MMA_SHAPES.items():
        for p in gpu.PRESETS.values():
            if dtype in p.supported_dtypes() and p.arch != "volta":
                assert p.mma_shape(dtype) == shape


@pytest.mark.parametrize(
    ("name", "sms", "clock", "smem_kb", "l2_kb", "hbm"),
    [
        ("v100", 80, 1530, 96, 6144, 900),
        ("a100", 108, 1410, 164, 40960, 2039),
        ("h100", 132, 1830, 228, 51200, 3350),
    ],
)
def test_preset_fields(
    name: str, sms: int, clock: float, smem_kb: int, l2_kb: int, hbm: float
) -> None:
    p = gpu.preset(name)
    assert (p.sms, p.boost_clock_mhz, p.shared_memory_kb_per_sm) == (sms, clock, smem_kb)
    assert (p.l2_kb, p.hbm_bandwidth_gb_per_s, p.register_file_kb_per_sm) == (l2_kb, hbm, 256)
    assert p.sources, "every preset records its sources"
    assert all(isinstance(v, str) and v for v in p.sources.values())


def test_preset_lookup_is_case_insensitive_and_immutable() -> None:
    assert gpu.preset("A100") is gpu.preset("a100")
    p = gpu.preset("h100")
    with pytest.raises(AttributeError):
        p.sms = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.sources["x"] = "y"  # type: ignore[index]
    q = p.replace(sms=66)
    assert q.sms == 66 and p.sms == 132
    assert q.peak_tflops("fp16") == pytest.approx(p.peak_tflops("fp16") / 2)


def test_dtype_aliases() -> None:
    p = gpu.preset("h100")
    assert p.peak_tflops("fp8") == p.peak_tflops("fp8_e4m3") == p.peak_tflops("E4M3")
    assert p.peak_tflops("float16") == p.peak_tflops("fp16")
    assert gpu.normalize_dtype("bfloat16") == "bf16"


def test_gpu_is_reachable_from_the_package() -> None:
    assert pysim.gpu is gpu
    assert pysim.sparse.footprint is not None
