"""Integer and ternary formats against NumPy rounding, NF4 against QLoRA's code book, and the
formats' GEMM (integers exact in int64)."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from pysim import formats

NF4 = json.loads((Path(__file__).parent / "data" / "formats" / "nf4.json").read_text())


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 6, 8, 12, 16])
@pytest.mark.parametrize("signed", [True, False])
def test_unscaled_integers_are_numpy_rint_clipped(bits: int, signed: bool) -> None:
    name = f"{'' if signed else 'u'}int{bits}"
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    rng = np.random.default_rng(bits)
    x = np.concatenate([rng.uniform(lo - 3, hi + 3, 5000), np.arange(lo, hi + 1)[:5000] + 0.5])
    q = formats.quantize(x, name)
    np.testing.assert_array_equal(q.codes.astype(np.int64), np.clip(np.rint(x), lo, hi))
    assert q.codes.dtype.itemsize * 8 >= bits


def test_per_channel_int8_scale_is_absmax_over_127() -> None:
    w = np.array([[1.0, -0.5, 0.25], [-4.0, 2.0, 3.0]])
    q = formats.quantize(w, "int8", formats.per_channel(0))
    np.testing.assert_array_equal(q.scales.ravel(), np.float32([1 / 127, 4 / 127]))
    ref = np.rint(w / np.float32([[1 / 127], [4 / 127]]).astype(np.float64))
    np.testing.assert_array_equal(q.codes, ref)


def test_ternary_codes() -> None:
    x = np.array([-3.0, -0.6, -0.5, 0.49, 0.5, 0.51, 2.0])
    assert formats.quantize(x, "ternary").codes.tolist() == [-1, -1, 0, 0, 0, 1, 1]
    assert formats.get("ternary").bits == 2


def test_nf4_codebook_is_qloras() -> None:
    """The table equals the paper's (fixture), and rebuilding it from normal quantiles as
    QLoRA / bitsandbytes do (offset 0.9677083, 8 positive and 7 negative quantiles and an exact
    zero, normalised by the largest) gives the same values."""
    assert list(formats.NF4_CODEBOOK) == NF4["codebook"]
    nd, off = NormalDist(), NF4["construction_offset"]
    pos = [nd.inv_cdf(p) for p in np.linspace(off, 0.5, 9)[:-1]]
    neg = [-nd.inv_cdf(p) for p in np.linspace(off, 0.5, 8)[:-1]]
    v = np.sort(np.array(pos + [0.0] + neg))
    np.testing.assert_allclose(v / v.max(), NF4["codebook"], atol=2e-7)


def test_nf4_picks_the_nearest_code_in_blocks_of_64() -> None:
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 128))
    q = formats.quantize(w, "nf4")
    assert q.granularity == formats.per_group(NF4["block_size"]) and q.scales.shape == (3, 2)
    book = np.array(NF4["codebook"])
    blocks = w.reshape(-1, 64)
    absmax = np.abs(blocks).max(axis=1, keepdims=True).astype(np.float32).astype(np.float64)
    nearest = np.argmin(np.abs(blocks[..., None] / absmax[..., None] - book), axis=-1)
    np.testing.assert_array_equal(q.codes.reshape(-1, 64), nearest)
    np.testing.assert_allclose(formats.dequantize(q).reshape(-1, 64),
                               book[nearest] * absmax, rtol=1e-6)


def test_unscaled_int_gemm_is_exact_int64() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.integers(-8, 8, (7, 300)), rng.integers(0, 256, (300, 9))
    out = formats.gemm(formats.quantize(a, "int4"), formats.quantize(b, "uint8"))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, a @ b)


@pytest.mark.parametrize("ga,gb", [("tensor", "tensor"),
                                   (formats.per_channel(0), formats.per_channel(1)),
                                   (formats.per_group(32, 1), formats.per_group(64, 0))])
def test_scaled_int_gemm_equals_float64_product_of_dequantized(ga: object, gb: object) -> None:
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((5, 128)), rng.standard_normal((128, 6))
    qa, qb = formats.quantize(a, "int8", ga), formats.quantize(b, "int4", gb)
    exact = formats.dequantize(qa, np.float64) @ formats.dequantize(qb, np.float64)
    np.testing.assert_allclose(formats.gemm(qa, qb), exact, rtol=2**-23, atol=0)


@pytest.mark.parametrize("name", ["bf16", "fp16", "fp8_e5m2", "nf4", "tf32"])
def test_float_gemm_is_fp32_product_of_dequantized(name: str) -> None:
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((4, 64)), rng.standard_normal((64, 3))
    qa, qb = formats.quantize(a, name), formats.quantize(b, name, "tensor" if name == "nf4"
                                                            else None)
    np.testing.assert_array_equal(formats.gemm(qa, qb),
                                  formats.dequantize(qa) @ formats.dequantize(qb))
