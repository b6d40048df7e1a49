"""Operand alignment in the GPU GEMM model (csrc/units/tensor_core.cpp ``tc_alignment_bytes``):
rows that are not 16-byte aligned rule out TMA (cuBLAS's CUTLASS sm80 kernels on Hopper), and
rows aligned to one element run its align-1 kernels, which load element by element; measured on
an H200 (benchmarks/data/h200_kernels/gemm.csv: 4095^3)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pysim import gpu

GEMM_CSV = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "h200_kernels" / \
    "gemm.csv"


def measured(dtype: str, m: int, n: int, k: int) -> tuple[float, str]:
    with GEMM_CSV.open() as f:
        for r in csv.DictReader(f):
            if (r["dtype"], int(r["m"]), int(r["n"]), int(r["k"])) == (dtype, m, n, k):
                return float(r["time_s"]), r["kernels"]
    raise KeyError((dtype, m, n, k))


def graph_s(p: gpu.GpuPreset, m: int, n: int, k: int, dtype: str) -> float:
    """The model's kernel time as a CUDA graph replays it (no host launch)."""
    c = p.gemm_cost(m, n, k, dtype)
    return c.time_s - c.launch_s


@pytest.mark.parametrize("dtype", ["fp16", "bf16", "tf32"])
def test_4095_cube_runs_the_align1_kernel_at_its_measured_time(dtype: str) -> None:
    """cuBLAS ran 4095^3 as cutlass_*_align1 on the H200 at 135-150 TFLOP/s, 2.9x (tf32) and
    5.2x (fp16 / bf16) slower than 4096^3: the model within 10 % (it was 4x too fast pricing
    TMA kernels)."""
    secs, kernels = measured(dtype, 4095, 4095, 4095)
    assert "align1" in kernels
    p = gpu.preset("h200")
    assert graph_s(p, 4095, 4095, 4095, dtype) == pytest.approx(secs, rel=0.10)
    c = p.gemm_cost(4095, 4095, 4095, dtype)
    assert c.bound == "smem" and c.cluster_m == c.cluster_n == 1
    slower = secs / measured(dtype, 4096, 4096, 4096)[0]
    model = graph_s(p, 4095, 4095, 4095, dtype) / graph_s(p, 4096, 4096, 4096, dtype)
    assert slower > 2.5 and model == pytest.approx(slower, rel=0.3)


@pytest.mark.parametrize("name", ["a100", "h100", "h200"])
def test_an_unpadded_vocabulary_slows_the_lm_head(name: str) -> None:
    """GPT-2's 50257-way LM head, forward and both backward GEMMs: about 3x slower than at the
    padded 50304 on the A100 (Netflix's LLM post-training post, 2026: an unpadded vocabulary
    "tripling that layer's execution time"; Megatron-LM and nanoGPT pad to multiples of 128 /
    64), more on Hopper, whose aligned GEMMs gain TMA and clusters."""
    p = gpu.preset(name)
    shapes = [(8192, "V", 768), (8192, 768, "V"), (768, "V", 8192)]

    def total(vocab: int) -> float:
        return sum(p.gemm_time(*(vocab if d == "V" else d for d in s), "bf16")  # type: ignore[misc]
                   for s in shapes)

    ratio = total(50257) / total(50304)
    assert (2.5 <= ratio <= 3.6) if name == "a100" else (3.5 <= ratio <= 6.0)


def test_alignment_counts_a_and_c_rows_of_more_than_one_value() -> None:
    p = gpu.preset("h200")
    # K = 4095 fp16: 2-byte rows of A; N = 4095: C's rows; one row of A (decode) sets nothing
    for m, n, k in ((4096, 4096, 4095), (4096, 4095, 4096)):
        assert p.gemm_cost(m, n, k, "fp16").bound == "smem"
    assert p.gemm_cost(1, 4095, 4096, "fp16").bound != "smem"
    # K = 4092 (8-byte rows): no TMA, so sm80 (mma.sync) kernels, whose 8-byte loads do not
    # bind here
    c = p.gemm_cost(4096, 4096, 4092, "fp16")
    assert c.bound == "compute" and c.cluster_m == c.cluster_n == 1
    assert p.gemm_time(4096, 4096, 4092, "fp16") > 1.2 * p.gemm_time(4096, 4096, 4096, "fp16")


def test_a_convolution_aligns_on_its_padded_channels() -> None:
    """An implicit-GEMM convolution gathers A's rows from NHWC pixels: ResNet's first layer
    (K = 7 x 7 x 3 = 147) is not an align-1 GEMM, its 3 channels padded to 4 as cuDNN's
    first-layer kernels run them (the H200's ..._first_layer_..._k64c4r7s7_..._tensor1688)."""
    p = gpu.preset("h200")
    m, n, k = 256 * 112 * 112, 64, 147
    assert p.gemm_cost(m, n, k, "fp16").bound == "smem"  # as a plain GEMM: align 1
    conv = p.gemm_cost(m, n, k, "fp16", a_row=4)
    assert conv.bound != "smem" and conv.time_s < p.gemm_cost(m, n, k, "fp16").time_s
    # the CTA-level reference takes a_row alike
    assert conv.time_s == pytest.approx(p.simulate_gemm(m, n, k, "fp16", a_row=4).time_s,
                                        rel=1e-12)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_a_bad_a_row_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="a_row must be a positive integer or None"):
        gpu.preset("h200").gemm_cost(64, 64, 64, "fp16", a_row=bad)  # type: ignore[arg-type]


def test_a_weight_gradient_aligns_on_dys_rows_too() -> None:
    """dW = X^T dY reads dY in rows of N: the LM head's 50257-wide dY runs the align-1 kernel
    (``b_row``), as cuBLAS must for an operand of 2-byte rows. Its fp32 dW has 4-byte rows, but
    counted in elements, as cuBLAS's one kernel alignment is, they are odd: align-1 already."""
    p = gpu.preset("h200")
    m, n, k = 1024, 50257, 8192
    fp32_out = p.gemm_cost(m, n, k, "bf16", out_bytes=4)
    dw = p.gemm_cost(m, n, k, "bf16", out_bytes=4, b_row=n)
    padded = p.gemm_cost(m, 50304, k, "bf16", out_bytes=4)
    assert dw.bound == fp32_out.bound == "smem" and dw.time_s > 2 * padded.time_s
    # b_row alone unaligns: C's 4096 columns are aligned, dY's 4095-wide rows are not
    assert p.gemm_cost(m, 4096, k, "bf16", out_bytes=4, b_row=4095).bound == "smem"
    assert p.gemm_cost(m, 4096, k, "bf16", out_bytes=4).bound != "smem"
    # the CTA-level reference takes b_row alike
    small = p.gemm_cost(64, 256, 64, "bf16", out_bytes=4, b_row=257)
    assert small.bound == "smem"
    assert p.simulate_gemm(64, 256, 64, "bf16", out_bytes=4, b_row=257).time_s == \
        pytest.approx(small.time_s, rel=1e-12)
    with pytest.raises(ValueError, match="b_row must be a positive integer or None"):
        p.gemm_cost(64, 64, 64, "fp16", b_row=0)


def test_int8_rows_aligned_to_8_bytes_run_4_byte_loads() -> None:
    """cuBLAS ran int8 1000^3 and 3000 x 5000 x 2000 (N not a multiple of 16; int32 C rows
    16-byte aligned) as cutlass_80 ..._align4 kernels, 2.3x and 2.9x slower than their aligned
    neighbours' rate. The model gives those kernels 4-byte loads at the align-1 kernels' load
    rate (kNarrowLoadsPerClk, not fitted on them): within 30 % at 1000^3 (was 56 % fast), 51 %
    fast at 3000 x 5000 x 2000 (was 69 %), where it also picks a wider tile than cuBLAS."""
    p = gpu.preset("h200")
    for (m, n, k), band in (((1000, 1000, 1000), 0.30), ((3000, 5000, 2000), 0.55)):
        secs, kernels = measured("int8", m, n, k)
        assert "align4" in kernels
        c = p.gemm_cost(m, n, k, "int8")
        assert c.bound == "smem"
        assert abs(graph_s(p, m, n, k, "int8") / secs - 1) < band
    # the same sizes rounded to 16-element rows keep 16-byte loads: their cp.async rate alone
    # (kAsyncCopyBytesPerClk), within 10 % of cuBLAS's align16 kernels; M need not be aligned
    for m, n, k in ((1024, 1024, 1024), (196, 2048, 4608)):
        secs, kernels = measured("int8", m, n, k)
        assert "align16" in kernels
        assert abs(graph_s(p, m, n, k, "int8") / secs - 1) < 0.10
    aligned = p.gemm_cost(1024, 1024, 1024, "int8")
    narrow = p.gemm_cost(1000, 1000, 1000, "int8")
    assert narrow.load_s > 2 * aligned.load_s * 1000**3 / 1024**3


def test_matmul_and_weight_gradient_operands_are_not_weight_only_quantized() -> None:
    """A matmul multiplies two activations: its B is read at ``b_bits`` (or ``act_bits``),
    never at the ``weight_bits`` default of 8 (a 16-bit dW was priced as W8A16 before)."""
    import pysim
    from pysim.training.ops import WeightGrad

    dw = WeightGrad(name="dw", inputs=("x", "dy"), m=1024, n=4096, k=8192, x_shape=(8192, 1024),
                    dy_shape=(8192, 4096), act_bits=16, out_bits=32, dtype="float")
    assert dw.weight_bits == 8  # the unused default
    wl = pysim.Workload(name="w", ops=(dw,), inputs=(
        pysim.Tensor(name="x", shape=(8192, 1024), bits=16, dtype="float"),
        pysim.Tensor(name="dy", shape=(8192, 4096), bits=16, dtype="float")))
    tiling = pysim.simulate(gpu.preset("h200"), wl).layers["tiling"].iloc[0]
    assert tiling.startswith("fp16 CTA"), tiling


def test_a_narrow_matmul_b_takes_the_bit_plane_path() -> None:
    """An int8 x int6 matmul (B at ``b_bits`` 6) unpacks its B (pysim/gpu/bitplane.py), as a
    6-bit weight would; the weight_bits default of 8 sent it to plain int8 MMAs before."""
    import pysim
    from pysim.workload import Matmul, Tensor, Workload

    op = Matmul(name="mm", inputs=("a", "b"), m=64, n=4096, k=4096, act_bits=8, b_bits=6,
                dtype="int")
    wl = Workload(name="w", ops=(op,), inputs=(
        Tensor(name="a", shape=(64, 4096), bits=8), Tensor(name="b", shape=(4096, 4096), bits=6)))
    tiling = pysim.simulate(gpu.preset("a100"), wl).layers["tiling"].iloc[0]
    assert tiling.startswith("w6a8"), tiling
