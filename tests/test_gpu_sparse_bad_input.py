"""Bad input to the GPU model, the functional MMA and the sparse formats and kernels: always a
ValueError that names the field, the value and what is allowed; never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from pysim import _core, gpu, sparse

A100 = gpu.preset("a100")


def test_unknown_gpu_suggests_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown GPU 'a10'; known: v100, t4, a100, h100, "
                                         r"a100_40gb, h200, gh200, b200, l40s, rtx4090, a6000, "
                                         r"rtx3090, jetson_agx_orin \(did you mean 'a100'\?\)"):
        gpu.preset("a10")
    with pytest.raises(ValueError, match="unknown GPU"):
        gpu.preset(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["fp9", "float64", "", "int2"])
def test_unknown_dtype_lists_known_ones(dtype: str) -> None:
    with pytest.raises(ValueError, match=r"unknown dtype .*known: fp16, bf16, tf32, fp8_e4m3"):
        A100.peak_tflops(dtype)
    with pytest.raises(ValueError, match="unknown dtype"):
        gpu.mma(np.zeros((16, 16)), np.zeros((16, 8)), dtype=dtype)
    with pytest.raises(ValueError, match="dtype must be one of"):
        _core.tc_macs_per_clk_per_sm("ampere", dtype)


def test_dtype_the_architecture_lacks() -> None:
    with pytest.raises(ValueError, match="'fp8_e4m3' has no ampere tensor-core support; "
                                         "supported: 'fp16', 'bf16'"):
        A100.peak_tflops("fp8")
    with pytest.raises(ValueError, match="has no ampere tensor-core support"):
        A100.gemm_time(1024, 1024, 1024, dtype="fp8_e5m2")
    with pytest.raises(ValueError, match="'bf16' has no volta"):
        gpu.preset("v100").gemm_cost(64, 64, 64, "bf16")
    with pytest.raises(ValueError, match="'int4' has no hopper"):
        gpu.preset("h100").peak_tflops("int4")


def test_sparse_where_unsupported() -> None:
    with pytest.raises(ValueError, match="volta tensor cores have no structured sparsity"):
        gpu.preset("v100").peak_tflops("fp16", sparse=True)
    with pytest.raises(ValueError, match="no structured sparsity for dtype 'b1'"):
        A100.gemm_time(256, 256, 256, "b1", sparse=True)


@pytest.mark.parametrize(("field", "value"), [("M", 0), ("N", -3), ("K", -(2**40))])
def test_non_positive_dims(field: str, value: int) -> None:
    dims = {"M": 64, "N": 64, "K": 64, field: value}
    with pytest.raises(ValueError, match=rf"{field} must be >= 1, got {value}"):
        A100.gemm_time(dims["M"], dims["N"], dims["K"])
    with pytest.raises(ValueError, match=rf"{field} must be >= 1, got {value}"):
        _core.gpu_gemm_cost(A100.spec, dims["M"], dims["N"], dims["K"])


@pytest.mark.parametrize("value", [2.5, "64", None, True])
def test_non_integer_dims(value: object) -> None:
    with pytest.raises(ValueError, match="M must be a positive integer"):
        A100.gemm_time(value, 64, 64)  # type: ignore[arg-type]


def test_huge_dims_are_refused_not_overflowed() -> None:
    with pytest.raises(ValueError, match="overflows"):
        A100.gemm_time(2**40, 2**40, 2**40)
    with pytest.raises(ValueError, match="2\\^20 waves"):
        A100.gemm_time(2**28, 2**28, 1)


def test_bad_tile_and_options() -> None:
    with pytest.raises(ValueError, match="multiple of the MMA shape"):
        A100.gemm_cost(256, 256, 256, tile=(100, 128, 32, 1))
    with pytest.raises(ValueError, match="shared memory"):
        A100.gemm_cost(256, 256, 256, tile=(1024, 1024, 512, 1))
    with pytest.raises(ValueError, match="split_k leaves a K slice empty"):
        A100.gemm_cost(256, 256, 64, tile=(128, 128, 32, 4))
    with pytest.raises(ValueError, match="tile must be"):
        A100.gemm_cost(256, 256, 256, tile=(128, 128))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out_bytes must be an integer in 1..8"):
        A100.gemm_cost(256, 256, 256, out_bytes=0)
    with pytest.raises(ValueError, match="sparse must be True or False"):
        A100.gemm_cost(256, 256, 256, sparse="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exceed the reference.s budget"):
        A100.simulate_gemm(65536, 65536, 65536)  # past the reference's budget


@pytest.mark.parametrize(
    ("field", "value"),
    [("sms", 0), ("boost_clock_mhz", 0.0), ("hbm_bandwidth_gb_per_s", -1.0), ("l2_kb", -1),
     ("arch", "pascal"), ("launch_overhead_us", -1.0), ("sms", 10**6)],
)
def test_bad_preset_fields(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field if field != "boost_clock_mhz" else "clock"):
        A100.replace(**{field: value})


def test_mma_shape_and_value_errors() -> None:
    with pytest.raises(ValueError, match=r"fp16 MMA is m16n8k16: a must be \(16, 16\)"):
        gpu.mma(np.zeros((16, 8)), np.zeros((8, 8)), dtype="fp16")
    with pytest.raises(ValueError, match=r"c must have shape \(16, 8\)"):
        gpu.mma(np.zeros((16, 16)), np.zeros((16, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        gpu.gemm(np.zeros((4, 5)), np.zeros((6, 3)))
    with pytest.raises(ValueError, match="must be 2-D"):
        gpu.gemm(np.zeros(5), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"int4 operands must be in -8..7, got 8"):
        gpu.gemm(np.full((2, 2), 8), np.ones((2, 2)), "int4")
    with pytest.raises(ValueError, match="int8 operands must be in -128..127"):
        gpu.gemm(np.full((2, 2), 300), np.ones((2, 2)), "int8")
    with pytest.raises(ValueError, match="must hold integers"):
        gpu.gemm(np.full((2, 2), 0.5), np.ones((2, 2)), "int8")
    with pytest.raises(ValueError, match="b1 operands must hold only 0 and 1"):
        gpu.gemm(np.full((2, 2), 2), np.ones((2, 2)), "b1")
    with pytest.raises(ValueError, match="op must be one of"):
        gpu.gemm(np.ones((2, 2)), np.ones((2, 2)), "b1", op="or")
    with pytest.raises(ValueError, match="numeric"):
        gpu.gemm(np.array([["a"]]), np.ones((1, 1)))
    with pytest.raises(ValueError, match="must not be empty"):
        gpu.gemm(np.zeros((0, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="inside the int8|outside the int4"):
        _core.mma_int(np.full((1, 1), 9, np.int8), np.ones((1, 1), np.int8), None, 4)


def test_wrong_mask_shapes() -> None:
    x = np.ones((4, 4))
    with pytest.raises(ValueError, match=r"mask shape \(3, 4\) does not match the matrix "
                                         r"shape \(4, 4\)"):
        sparse.apply_mask(x, np.ones((3, 4), bool))
    with pytest.raises(ValueError, match="mask shape"):
        sparse.to_csr(x, mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="mask must be boolean"):
        sparse.check_mask(np.full((4, 4), 0.5), (4, 4))


def test_nm_violations_name_the_group() -> None:
    x = np.zeros((3, 8))
    x[2, 4:7] = 1.0
    with pytest.raises(ValueError, match=r"not 2:4 sparse: row 2, columns 4..7 hold 3 "
                                         r"nonzeros"):
        sparse.check_nm(x, 2, 4)
    with pytest.raises(ValueError, match=r"not 2:4 sparse: row 2, columns 4..7 hold 3"):
        sparse.compress_nm(x, 2, 4)
    with pytest.raises(ValueError, match="not 2:4 sparse"):
        sparse.footprint(x, "nm")
    with pytest.raises(ValueError, match="must be a multiple of m = 4"):
        sparse.compress_nm(np.zeros((2, 6)), 2, 4)
    with pytest.raises(ValueError, match=r"n must be in 1..m \(4\), got 5"):
        sparse.check_nm(x, 5, 4)
    with pytest.raises(ValueError, match="m must be in 1..255"):
        sparse.nm_mask(x, 1, 0)


def test_malformed_csr_and_compressed_operands() -> None:
    good = sparse.to_csr(np.eye(3, dtype=np.float32))
    b = np.ones((3, 2), np.float32)
    bad_ptr = sparse.CsrMatrix(np.array([0, 2, 1, 3]), good.indices, good.values, (3, 3))
    with pytest.raises(ValueError, match="indptr must be non-decreasing"):
        sparse.csr_matmul(bad_ptr, b)
    bad_idx = sparse.CsrMatrix(good.indptr, np.array([0, 1, 7]), good.values, (3, 3))
    with pytest.raises(ValueError, match=r"indices\[2\] = 7 is outside 0..2"):
        sparse.csr_matmul(bad_idx, b)
    with pytest.raises(ValueError, match="b must have 3 rows"):
        sparse.csr_matmul(good, np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="both be int8 or both floating"):
        sparse.csr_matmul(good, np.ones((3, 2), np.int8))
    c = sparse.compress_nm(np.zeros((2, 8), np.float32))
    broken = sparse.NMCompressed(c.values, np.full_like(c.index, 3), 2, 4, (2, 8))
    with pytest.raises(ValueError, match="positions in a group must increase"):
        sparse.nm_matmul(broken, np.ones((8, 2), np.float32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "coo", "shape": (4, 4)}, "unknown format 'coo'; known: dense, bitmask"),
        ({"format": "csr"}, "give either a matrix x or a shape"),
        ({"format": "csr", "shape": (4, 4), "density": 1.5}, r"density must be in \[0, 1\]"),
        ({"format": "csr", "shape": (0, 4)}, "shape must be positive"),
        ({"format": "nm", "shape": (4, 8), "density": 0.9}, "exceeds what 2:4 can hold"),
        ({"format": "csr", "shape": (4, 4), "value_bits": 0}, "value_bits must be a positive"),
        ({"format": "rle", "shape": (4, 4), "run_bits": -1}, "run_bits must be a positive"),
    ],
)
def test_bad_footprint_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sparse.footprint(**kwargs)


def test_bad_mask_arguments() -> None:
    with pytest.raises(ValueError, match=r"density must be in \[0, 1\], got -0.1"):
        sparse.random_mask((4, 4), -0.1)
    with pytest.raises(ValueError, match="shape must be"):
        sparse.random_mask((4, 4, 4), 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="float32, float64 or int8"):
        sparse.to_csr(np.array([["x"]]))
    with pytest.raises(ValueError, match="must fit int8"):
        sparse.to_csr(np.array([[1000]]))
