"""Float formats bit-exact against ml_dtypes / NumPy: every code's value, the round trip of every
representable value, ties, overflow (inf, NaN or saturation as each format says) and NaN."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from pysim import formats
from pysim.formats import elements

REFERENCE = {
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}


def uint(name: str) -> type[np.unsignedinteger]:
    return np.uint16 if formats.get(name).bits == 16 else np.uint8


def ref_codes(x: np.ndarray, name: str) -> np.ndarray:
    with np.errstate(over="ignore"):
        return x.astype(REFERENCE[name]).view(uint(name))


def all_values(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every code of the format and its value per ml_dtypes."""
    codes = np.arange(1 << formats.get(name).encoding_bits, dtype=uint(name))
    return codes, codes.view(REFERENCE[name]).astype(np.float32)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_every_code_decodes_as_ml_dtypes(name: str) -> None:
    codes, ref = all_values(name)
    got = formats.dequantize(formats.QuantizedTensor(formats.get(name), codes, None, None, None,
                                                    codes.shape, "nearest_even"))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_array_equal(got[ok].view(np.uint32), ref[ok].view(np.uint32))  # -0 too


@pytest.mark.parametrize("name", list(REFERENCE))
def test_every_representable_value_round_trips(name: str) -> None:
    codes, vals = all_values(name)
    ok = ~np.isnan(vals)
    q = formats.quantize(vals[ok], name)
    np.testing.assert_array_equal(q.codes, codes[ok])
    np.testing.assert_array_equal(q.codes, ref_codes(vals[ok], name))


def probes(name: str) -> np.ndarray:
    """Representable values, the midpoints between neighbours (ties), points just either side
    of each midpoint, values past the range, and random float32 of every magnitude."""
    _, vals = all_values(name)
    pos = np.unique(np.abs(vals[np.isfinite(vals)]).astype(np.float64))
    mids = (pos[:-1] + pos[1:]) / 2
    fmax = formats.get(name).max_abs
    rng = np.random.default_rng(7)
    rand = rng.standard_normal(20000) * np.exp2(rng.integers(-30, 30, 20000))
    x = np.concatenate([pos, mids, np.nextafter(mids.astype(np.float32), np.float32(0)),
                        np.nextafter(mids.astype(np.float32), np.float32(np.inf)),
                        [fmax * 1.01, fmax * 1.5, fmax * 4, 1e30, np.inf], rand])
    with np.errstate(over="ignore"):
        x = x.astype(np.float32)
    return np.concatenate([x, -x])


@pytest.mark.parametrize("name", list(REFERENCE))
def test_rounding_ties_and_overflow_match_ml_dtypes(name: str) -> None:
    x = probes(name)
    np.testing.assert_array_equal(formats.quantize(x, name).codes, ref_codes(x, name))


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2"])
def test_nan_gives_the_formats_nan(name: str) -> None:
    x = np.array([np.nan, -np.nan], np.float32)
    got = formats.dequantize(formats.quantize(x, name))
    assert np.isnan(got).all()
    assert np.isnan(x.astype(REFERENCE[name]).astype(np.float32)).all()


def test_e4m3_has_no_inf_and_saturates_on_request() -> None:
    """OCP OFP8 v1.0: E4M3 has no inf; overflow and inf give NaN (S.1111.111) unless the
    conversion saturates, which clamps to +-448."""
    x = np.array([465.0, np.inf, -1e6], np.float32)
    assert formats.quantize(x, "fp8_e4m3").codes.tolist() == [0x7F, 0x7F, 0xFF]
    sat = formats.quantize(x, "fp8_e4m3", saturate=True)
    assert formats.dequantize(sat).tolist() == [448.0, 448.0, -448.0]


@pytest.mark.parametrize("name", ["fp32", "tf32"])
def test_fp32_and_tf32_round_like_bit_arithmetic(name: str) -> None:
    """fp32 from float64 equals NumPy's cast; tf32 is fp32's top 19 bits rounded to nearest
    even (independent reference: integer rounding of the binary32 word)."""
    rng = np.random.default_rng(3)
    x64 = rng.standard_normal(50000) * np.exp2(rng.integers(-140, 120, 50000))
    if name == "fp32":
        got = formats.dequantize(formats.quantize(x64, name))
        np.testing.assert_array_equal(got.view(np.uint32), x64.astype(np.float32).view(np.uint32))
        return
    x = x64.astype(np.float32)
    w = x.view(np.uint32).astype(np.uint64)
    ref = ((w + 0xFFF + ((w >> 13) & 1)) >> 13).astype(np.uint32)
    np.testing.assert_array_equal(formats.quantize(x, name).codes, ref)


def test_e8m0_scale_codes_match_ml_dtypes() -> None:
    """MX v1.0 Section 5.4.1: E8M0 is 2^(code - 127), code 255 NaN; every code decodes as
    ml_dtypes' float8_e8m0fnu, and a power of two encodes to ml_dtypes' code."""
    codes = np.arange(256, dtype=np.uint8)
    ref = codes.view(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    ours = np.where(codes == 255, np.nan, np.ldexp(1.0, codes.astype(np.int64) - 127))
    np.testing.assert_array_equal(ours, ref)
    x = np.ldexp(1.0, np.arange(-127, 128) + 2)  # blocks with max|x| = 2^(e + emax) for mxfp4
    q = formats.quantize(np.repeat(x, 32), "mxfp4")
    np.testing.assert_array_equal(q.scale_codes.ravel(),
                                  q.scales.ravel().astype(ml_dtypes.float8_e8m0fnu).view(np.uint8))
    np.testing.assert_array_equal(q.scale_codes.ravel(), np.arange(0, 255))


def test_decode_table_is_read_only() -> None:
    table = elements._float_table(formats.get("fp8_e5m2"))
    with pytest.raises(ValueError):
        table[0] = 1.0


@pytest.mark.parametrize(("name", "top"), [("fp4_e2m1", 6.0), ("fp6_e2m3", 7.5),
                                           ("fp6_e3m2", 28.0)])
@pytest.mark.parametrize("size", [2, 1 << 16])  # the NumPy path, the fused C++ kernel
def test_inf_into_fp6_and_fp4_saturates_and_nan_is_refused(name: str, top: float,
                                                            size: int) -> None:
    """FP6 / FP4 have no inf or NaN (MX v1.0 Section 5.3.3): +-inf saturates to +-max normal,
    as the MX reference code's clamp and ml_dtypes do (docs/formats.md); NaN has no value to
    saturate to and is a ValueError naming the element, on both paths."""
    from pysim.formats.elements import NATIVE_MIN

    assert (size >= NATIVE_MIN) == (size > 2)
    x = np.ones(size, np.float32)
    x[0], x[1] = np.inf, -np.inf
    got = formats.dequantize(formats.quantize(x, name))
    assert got[:2].tolist() == [top, -top]
    np.testing.assert_array_equal(got[:2], x[:2].astype(REFERENCE[name]).astype(np.float32))
    x[1] = np.nan
    with pytest.raises(ValueError, match=rf"^x\[1\] = nan: format {name} has no NaN or inf"):
        formats.quantize(x, name)
