"""OCP Microscaling (MX v1.0) block formats against the spec: its tables (tests/data/formats/
mx_v1.json), its conversion algorithm (Section 6.3) written out as a per-block loop here, and
hand-worked blocks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from pysim import formats

SPEC = json.loads((Path(__file__).parent / "data" / "formats" / "mx_v1.json").read_text())
ML = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
      "fp6_e2m3": ml_dtypes.float6_e2m3fn, "fp6_e3m2": ml_dtypes.float6_e3m2fn,
      "fp4_e2m1": ml_dtypes.float4_e2m1fn}


@pytest.mark.parametrize("name", list(SPEC["formats"]))
def test_registry_matches_spec_table_1(name: str) -> None:
    row = SPEC["formats"][name]
    fmt = formats.get(name)
    assert isinstance(fmt, formats.MXFormat)
    assert (fmt.bits, fmt.block_size, fmt.scale_dtype) == (row["element_bits"],
                                                            row["block_size"], row["scale"])
    st = formats.storage_bits((row["block_size"],), name)
    assert (st.values_bits, st.scales_bits) == (row["block_size"] * row["element_bits"],
                                                row["scale_bits"])


@pytest.mark.parametrize("name", list(SPEC["elements"]))
def test_element_formats_match_spec_section_5_3(name: str) -> None:
    row = SPEC["elements"][name]
    fmt = formats.get(name)
    assert isinstance(fmt, formats.FloatFormat)
    assert (fmt.bias, fmt.emax, fmt.max_abs) == (row["bias"], row["emax"], row["max_normal"])
    assert 2.0**fmt.emin == row["min_normal"]
    assert 2.0 ** (fmt.emin - fmt.mbits) == row["min_subnormal"]
    assert (1 - 2.0**-fmt.mbits) * 2.0**fmt.emin == row["max_subnormal"]
    vals = formats.dequantize(formats.QuantizedTensor(
        fmt, np.arange(1 << fmt.encoding_bits, dtype=np.uint8), None, None, None,
        (1 << fmt.encoding_bits,), "nearest_even"))
    assert np.flatnonzero(np.isnan(vals)).tolist() == row["nan_codes"]
    assert bool(np.isinf(vals).any()) == row["inf"]


def test_mxint8_element_matches_spec() -> None:
    row = SPEC["int8_element"]
    elem = formats.get("mxint8").element
    assert isinstance(elem, formats.IntFormat)
    assert elem.emax == row["emax"]
    assert (elem.qmax * 2.0**-elem.frac_bits, elem.qmin * 2.0**-elem.frac_bits) == (
        row["max"], row["min"])


def reference_mx(x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """MX v1.0 Section 6.3 block by block: shared_exp = floor(log2(max|V|)) - emax_elem,
    clamped to E8M0's range (an all-zero block takes the smallest scale, as the reference code
    does); X = 2^shared_exp; P_i = V_i / X cast to the element type with saturation (ml_dtypes
    for floats, NumPy rint for INT8). Returns element values and scales, one row per block."""
    row = SPEC["formats"][name]
    blocks = x.reshape(-1, row["block_size"]).astype(np.float64)
    out, scales = np.empty_like(blocks), np.empty(len(blocks))
    for b, v in enumerate(blocks):
        amax = float(np.max(np.abs(v)))
        if row["element"] == "int8":
            emax, vmax = SPEC["int8_element"]["emax"], SPEC["int8_element"]["max"]
        else:
            emax, vmax = (SPEC["elements"][row["element"]][k] for k in ("emax", "max_normal"))
        shared = -127 if amax == 0 else max(math.frexp(amax)[1] - 1 - emax, -127)
        scale = 2.0**shared
        p = v / scale
        if row["element"] == "int8":
            step = SPEC["int8_element"]["implied_scale"]
            out[b] = np.clip(np.rint(p / step), -128, 127) * step
        else:
            out[b] = np.clip(p, -vmax, vmax).astype(ML[row["element"]]).astype(np.float64)
        scales[b] = scale
    return out, scales


def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Normals whose magnitude changes per 32-element run, with an all-zero run and runs far
    below and above 1 (subnormal elements, large shared exponents)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    flat = x.reshape(-1, 32)
    flat *= np.exp2(rng.integers(-40, 40, (len(flat), 1)))
    flat[0] = 0.0
    flat[1, 1:] *= 1e-6  # one large element: the others underflow to subnormals / zero
    return x.astype(np.float32)


@pytest.mark.parametrize("name", list(SPEC["formats"]))
def test_mx_equals_per_block_reference(name: str) -> None:
    x = sample((6, 256), seed=1)
    q = formats.quantize(x, name)
    vals, scales = reference_mx(x, name)
    np.testing.assert_array_equal(q.scales.ravel().astype(np.float64), scales)
    np.testing.assert_array_equal(formats.dequantize(q).astype(np.float64),
                                  (vals * scales[:, None]).reshape(x.shape).astype(np.float32))


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp4", "mxint8"])
def test_mx_blocks_along_another_axis(name: str) -> None:
    """Blocks along axis 0 (K of a (K, N) weight) are the blocks of the transpose."""
    x = sample((128, 8), seed=2)
    q = formats.quantize(x, name, formats.per_block(32, axis=0))
    ref = formats.quantize(np.ascontiguousarray(x.T), name)
    np.testing.assert_array_equal(formats.dequantize(q), formats.dequantize(ref).T)


def test_mxfp8_e4m3_is_block_scaling_then_saturating_ml_dtypes_cast() -> None:
    x = sample((4, 64), seed=3)
    q = formats.quantize(x, "mxfp8_e4m3")
    blocks = x.reshape(-1, 32).astype(np.float64)
    s = q.scales.reshape(-1, 1).astype(np.float64)
    elems = np.clip(blocks / s, -448, 448).astype(ml_dtypes.float8_e4m3fn)
    np.testing.assert_array_equal(q.codes.reshape(-1, 32), elems.view(np.uint8))


def test_hand_worked_blocks() -> None:
    """max|x| = 100 in MXFP8 E4M3: shared_exp = floor(log2 100) - 8 = -2, X = 1/4; 100 / X =
    400 lies halfway between 384 and 416 (quantum 32 in [256, 512)): ties to even -> 384,
    i.e. 96. MXFP4 with max 7: X = 2^(2 - 2) = 1, 7 saturates to 6 and 2.5 ties to 2."""
    x = np.zeros(32, np.float32)
    x[:2] = [100.0, 1.0]
    q = formats.quantize(x, "mxfp8_e4m3")
    assert q.scales.tolist() == [[0.25]] and q.scale_codes.tolist() == [[125]]
    assert formats.dequantize(q)[:2].tolist() == [96.0, 1.0]
    x[:3] = [7.0, -2.5, 0.3]
    q = formats.quantize(x, "mxfp4")
    assert q.scale_codes.tolist() == [[127]]
    assert formats.dequantize(q)[:3].tolist() == [6.0, -2.0, 0.5]


def test_nan_or_inf_in_a_block_makes_its_scale_nan() -> None:
    """E8M0 0xFF is NaN (MX v1.0 Section 5.4.1): a block holding NaN / inf decodes as NaN;
    the other blocks are unaffected."""
    x = np.ones((2, 32), np.float32)
    x[0, 5] = np.nan
    x[1, 0] = np.inf
    q = formats.quantize(np.concatenate([x, np.ones((1, 32), np.float32)]), "mxfp4")
    assert q.scale_codes.ravel().tolist() == [255, 255, 127 - 2]  # 1 = 2^0, emax(E2M1) = 2
    y = formats.dequantize(q)
    assert np.isnan(y[:2]).all() and (y[2] == 1).all()


def test_mx_gemm_in_int64_equals_dequantized_product() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((8, 96)), rng.standard_normal((96, 5))
    qa, qb = formats.quantize(a, "mxint8"), formats.quantize(b, "mxint8", formats.per_block(32, 0))
    exact = formats.dequantize(qa, np.float64) @ formats.dequantize(qb, np.float64)
    np.testing.assert_allclose(formats.gemm(qa, qb), exact, rtol=2**-23, atol=0)
    qf = formats.quantize(a, "mxfp4"), formats.quantize(b, "mxfp4", formats.per_block(32, 0))
    np.testing.assert_allclose(formats.gemm(*qf), formats.dequantize(qf[0]) @
                               formats.dequantize(qf[1]), rtol=1e-6)
