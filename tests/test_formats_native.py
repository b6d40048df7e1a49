"""The C++ element encoder (csrc/kernels/quantize.cpp, `_core.encode_float / encode_int`)
against the NumPy reference in pysim/formats/elements.py: the same codes bit for bit for every
integer and float format, both roundings (the same seeded draws), saturating or not, on ties,
subnormals, overflow, signed zeros, inf and NaN; and its bad input."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from pysim import _core
from pysim.formats import elements, registry

FORMATS = [n for n in registry.names()
           if isinstance(registry.get(n), (registry.FloatFormat, registry.IntFormat))]


def _values(fmt: registry.FloatFormat | registry.IntFormat) -> np.ndarray:
    """3 NumPy chunks and a bit (the reference draws per chunk) of magnitudes from far below
    the format's smallest subnormal to far past its largest value, every tie between two
    neighbouring codes near 1, and the special values the format can take."""
    rng = np.random.default_rng(42)
    n = 3 * elements.CHUNK + 17
    x = rng.standard_normal(n) * 2.0 ** rng.integers(-40, 40, n)
    ties = (np.arange(64) + 0.5) * 2.0 ** -(getattr(fmt, "mbits", 0) + 1)
    special = [0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308]
    if isinstance(fmt, registry.FloatFormat) and fmt.specials != "none":
        special += [np.nan, np.inf, -np.inf]
    return np.concatenate([x, ties, -ties, special])


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
@pytest.mark.parametrize("saturate", [False, True])
def test_native_codes_equal_numpy_bit_for_bit(name, rounding, saturate):
    fmt = registry.get(name)
    x = _values(fmt)
    kw = dict(rounding=rounding, saturate=saturate, name="x")
    ref = elements.encode(x, fmt, rng=np.random.default_rng(7), native=False, **kw)
    got = elements.encode(x, fmt, rng=np.random.default_rng(7), native=True, **kw)
    assert got.dtype == ref.dtype
    assert got.shape == ref.shape
    diff = np.flatnonzero(got != ref)
    assert diff.size == 0, (name, x[diff[:5]], ref[diff[:5]], got[diff[:5]])


def test_large_arrays_run_native_and_small_ones_numpy(monkeypatch):
    calls = []
    real = elements._encode_native
    monkeypatch.setattr(elements, "_encode_native", lambda *a: calls.append(1) or real(*a))
    fmt = registry.get("fp8_e4m3")
    kw = dict(rounding="nearest_even", saturate=True, rng=None, name="x")
    elements.encode(np.ones(elements.NATIVE_MIN - 1), fmt, **kw)
    assert calls == []
    elements.encode(np.ones((2, elements.NATIVE_MIN)), fmt, **kw)
    assert calls == [1]


def test_native_refuses_what_numpy_refuses_with_the_same_message():
    x = np.zeros(10)
    x[3] = np.nan
    for fmt in (registry.get("int8"), registry.get("fp4_e2m1")):
        kw = dict(rounding="nearest_even", saturate=True, rng=None, name="w")
        with pytest.raises(ValueError) as ref:
            elements.encode(x, fmt, native=False, **kw)
        with pytest.raises(ValueError) as got:
            elements.encode(x, fmt, native=True, **kw)
        assert str(got.value) == str(ref.value)
        assert "w[3]" in str(got.value)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"specials": "nan"}, "specials must be ieee, fn or none"),
    ({"ebits": 0}, "ebits >= 1"),
    ({"ebits": 20, "mbits": 20}, "at most 32 bits"),
    ({"max_code": 1 << 20}, "max_code must be in"),
    ({"emin": -5000}, "emin must be in"),
    ({"u": np.zeros(3)}, "one draw per element"),
])
def test_encode_float_bad_arguments_are_clear_errors(kwargs, match):
    args = dict(ebits=4, mbits=3, emin=-6, max_code=126, specials="fn", saturate=True)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        _core.encode_float(np.zeros(5), **args)


def test_encode_int_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="bits must be in"):
        _core.encode_int(np.zeros(2), bits=32, signed=True, frac_bits=0, qmin=-1, qmax=1)
    with pytest.raises(ValueError, match="qmin must be <= qmax"):
        _core.encode_int(np.zeros(2), bits=8, signed=True, frac_bits=0, qmin=5, qmax=1)
    with pytest.raises(ValueError, match="frac_bits"):
        _core.encode_int(np.zeros(2), bits=8, signed=True, frac_bits=99, qmin=-1, qmax=1)


PORTABLE_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_formats_native import FORMATS, _values
from pysim import _core
from pysim.formats import elements, registry
assert _core.encode_isa() == "portable", _core.encode_isa()
out = {{}}
for name in FORMATS:
    fmt = registry.get(name)
    x = _values(fmt)
    for rounding in ("nearest_even", "stochastic"):
        out[f"{{name}}/{{rounding}}"] = elements.encode(
            x, fmt, rounding=rounding, saturate=False, name="x",
            rng=np.random.default_rng(7), native=True)
np.savez({path!r}, **out)
"""


def test_the_portable_loops_give_the_vector_loops_codes(tmp_path):
    """A CPU without AVX-512 (PYSIM_DISABLE_CPU_FEATURES=avx512, in a fresh interpreter: the
    features are read once) runs the scalar loops: the same codes as the vectorised ones (and
    so as NumPy, above) for every format and both roundings."""
    from tests.portable_run import run_portable

    portable = run_portable(PORTABLE_SCRIPT, tmp_path)
    for name in FORMATS:
        fmt = registry.get(name)
        x = _values(fmt)
        for rounding in ("nearest_even", "stochastic"):
            here = elements.encode(x, fmt, rounding=rounding, saturate=False, name="x",
                                   rng=np.random.default_rng(7), native=True)
            np.testing.assert_array_equal(portable[f"{name}/{rounding}"], here,
                                          err_msg=f"{name} {rounding}")


def _scaled_cases() -> list[tuple[str, object, str | None]]:
    from pysim.formats import per_channel, per_group

    return [("int8", "tensor", None), ("int8", "channel", None), ("int4", "group:128", None),
            ("int8", "group:64", "fp16"), ("fp8_e4m3", "tensor", None),
            ("fp4_e2m1", "block:32", "e8m0"), ("mxfp8_e4m3", None, None), ("mxfp4", None, None),
            ("mxint8", None, None), ("mxfp6_e2m3", None, None), ("nf4", None, None),
            # blocks that are not one contiguous array: NumPy divides (encode_scaled: None)
            ("int8", per_channel(axis=1), None), ("int4", per_group(16, axis=0), None)]


SCALED = _scaled_cases()


@pytest.mark.parametrize(("name", "gran", "sdt"), SCALED)
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_scaled_quantize_in_cpp_equals_the_numpy_division(name, gran, sdt, rounding,
                                                          monkeypatch):
    """Scaled formats divide by their scales block by block in C++ (elements.encode_scaled)
    where the blocks are one contiguous array: the codes and scales equal those of NumPy's
    x / s bit for bit, NaN-scale blocks (MX blocks holding inf) included; layouts that are
    not contiguous (channels along the last axis, groups along the first) fall back."""
    from pysim.formats import quantize

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 256)) * 2.0 ** rng.integers(-8, 8, (64, 256))).astype(
        np.float32)
    if name.startswith("mx"):
        x[5, 40] = np.inf  # its block's scale is NaN: the block is stored as zeros
    kw = dict(rounding=rounding, seed=11 if rounding == "stochastic" else None)
    if gran is not None:
        kw["granularity"] = gran
    if sdt is not None:
        kw["scale_dtype"] = sdt
    native = quantize(x, name, **kw)
    monkeypatch.setattr(elements, "NATIVE_MIN", 1 << 62)  # every path NumPy's
    numpy_ = quantize(x, name, **kw)
    np.testing.assert_array_equal(native.codes, numpy_.codes)
    np.testing.assert_array_equal(native.scales, numpy_.scales)


def test_encode_scaled_arguments_are_checked():
    with pytest.raises(ValueError, match="block must be >= 1 and divide"):
        _core.encode_int(np.zeros(10), bits=8, signed=True, frac_bits=0, qmin=-128, qmax=127,
                         scales=np.ones(3), block=3)
    with pytest.raises(ValueError, match="one scale per block of 5"):
        _core.encode_int(np.zeros(10), bits=8, signed=True, frac_bits=0, qmin=-128, qmax=127,
                         scales=np.ones(3), block=5)
    got = _core.encode_int(np.array([2.0, 4.0, 6.0, 8.0]), bits=8, signed=True, frac_bits=0,
                           qmin=-128, qmax=127, scales=np.array([2.0, np.nan]), block=2)
    assert got.tolist() == [1, 2, 0, 0]


CODEBOOKS = [n for n in registry.names() if isinstance(registry.get(n), registry.CodebookFormat)]


@pytest.mark.parametrize("name", CODEBOOKS)
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_native_codebook_indices_equal_numpy_bit_for_bit(name, rounding):
    """NF4's nearest code-book value in C++: every midpoint between neighbours (a tie, to the
    even index), values past both ends, random values over the range, both roundings."""
    fmt = registry.get(name)
    v = np.asarray(fmt.values)
    rng = np.random.default_rng(9)
    x = np.concatenate([(v[:-1] + v[1:]) / 2, v, [-5.0, 5.0, -0.0],
                        rng.uniform(-1.2, 1.2, 3 * elements.CHUNK + 11)])
    kw = dict(rounding=rounding, saturate=False, name="x")
    ref = elements.encode(x, fmt, rng=np.random.default_rng(7), native=False, **kw)
    got = elements.encode(x, fmt, rng=np.random.default_rng(7), native=True, **kw)
    np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError) as ref_err:
        elements.encode(np.array([0.1, np.nan]), fmt, native=False, rng=None, **kw)
    with pytest.raises(ValueError) as got_err:
        elements.encode(np.array([0.1, np.nan]), fmt, native=True, rng=None, **kw)
    assert str(got_err.value) == str(ref_err.value)


def test_encode_codebook_refuses_a_table_out_of_order():
    with pytest.raises(ValueError, match="strictly ascending"):
        _core.encode_codebook(np.zeros(3), values=np.array([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError, match="2..256 values"):
        _core.encode_codebook(np.zeros(3), values=np.array([0.0]))


@pytest.mark.parametrize(("name", "gran", "sdt"), SCALED)
def test_float32_dequantize_is_the_float64_product_rounded_once(name, gran, sdt):
    """dequantize(q) to float32 multiplies in float32 (elements decode to float32 numbers):
    the same values as the exact float64 product rounded once, scales down to E8M0's 2^-127
    (float32 subnormals) and NF4's code book included."""
    from pysim.formats import dequantize, quantize

    spread, tiny = (6, -8) if sdt == "fp16" else (60, -70)  # what fp16 scales can hold
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((64, 256)) * 2.0 ** rng.integers(-spread, spread, (64, 256))
         ).astype(np.float32)
    x[0, :64] *= 2.0 ** tiny  # tiny blocks: subnormal products
    kw = {} if gran is None else {"granularity": gran}
    if sdt is not None:
        kw["scale_dtype"] = sdt
    q = quantize(x, name, **kw)
    exact = dequantize(q, np.float64)
    np.testing.assert_array_equal(dequantize(q, np.float32), exact.astype(np.float32))

def _nf4_thresholds() -> np.ndarray:
    """The least double each NF4 code rounds up past (BookEnc's first_up), by bisection over
    the doubles between neighbouring values, the rule elements.encode_codebook applies."""
    v = np.asarray(registry.get("nf4").values, dtype=np.float64)

    def key(d: float) -> int:
        b = int(np.array(d, np.float64).view(np.int64))
        return b if b >= 0 else -(b & 0x7FFFFFFFFFFFFFFF)

    def unkey(k: int) -> float:
        return float(np.array(k if k >= 0 else (-k) | (1 << 63), np.uint64).view(np.float64))

    out = []
    for k in range(len(v) - 1):
        lo, hi = key(v[k]), key(v[k + 1])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            frac = (unkey(mid) - v[k]) / (v[k + 1] - v[k])
            lo, hi = (lo, mid) if frac > 0.5 or (frac == 0.5 and k % 2 == 1) else (mid, hi)
        out.append(unkey(hi))
    return np.array(out)


def test_nf4_float32_blocks_at_their_thresholds_equal_numpy(monkeypatch):
    """float32 NF4 blocks are coded against per-block float32 thresholds (no division per
    element): each is the float32 nearest the boundary x scale or the next one, as one exact
    division says. Scales chosen so that float32 lies a double ulp or so from the product and
    still codes below it (0.9140625, 0.6171875: found by search; NF4's values are float32s, so
    round scales put a product next to a float32: a test on the product alone would err),
    others not, powers of two (the x * 2^-k path); every element a threshold's float32 or a
    neighbour: the codes NumPy's x / s gives; and the same blocks rounded to bfloat16 and
    float16."""

    first_up = _nf4_thresholds()
    scales = np.array([0.9140625, 0.6171875, 0.890625, 0.8227046132087708,
                       0.9120245575904846, 0.3141592, 1.0, 2.0 ** -20, 2.0 ** 30, 1e-38],
                      np.float32)
    fs = first_up[:, None] * scales.astype(np.float64)[None, :]
    c = fs.astype(np.float32).astype(np.float64)
    near = np.abs(c - fs) <= np.abs(fs) * 2.0 ** -49
    # a float32 next to a threshold's product that codes one below it (its x / s rounds under
    # first_up: the threshold is the float32 above it), and a scale with none near
    c_fails = first_up[:, None] > c / scales.astype(np.float64)[None, :]
    assert (near & c_fails)[:, :2].any(axis=0).all() and not near[:, 5].any()
    rows = []
    for j, s in enumerate(scales):
        c = fs[:, j].astype(np.float32)
        down, up = np.nextafter(c, np.float32(-np.inf)), np.nextafter(c, np.float32(np.inf))
        rows.append(np.concatenate([[s, -s], c, down, up, np.nextafter(up, np.float32(np.inf)),
                                    np.zeros(64 - 2 - 4 * len(c), np.float32)]))
    x = np.stack(rows).astype(np.float32)
    assert (np.abs(x).max(axis=1) == scales).all()  # each block's scale is its absmax
    x = np.concatenate([x, np.zeros((1, 64), np.float32), np.full((1, 64), -0.0, np.float32)])
    with np.errstate(over="ignore"):  # float16 rows past its range: inf, dropped
        inputs = [x, x.astype(ml_dtypes.bfloat16), x.astype(np.float16)]
    for xi in inputs:  # 16-bit input widened to float32 lanes exactly
        xi = xi[np.isfinite(xi.astype(np.float32)).all(axis=1)]
        _same_native_and_numpy(monkeypatch, xi, "nf4")


def _same_native_and_numpy(monkeypatch, x: np.ndarray, name: str, gran: str | None = None
                           ) -> None:
    from pysim.formats import quantize

    with monkeypatch.context() as m:
        m.setattr(elements, "NATIVE_MIN", 1)  # C++ for a few blocks too
        native = quantize(x, name, gran)
        m.setattr(elements, "NATIVE_MIN", 1 << 62)  # every path NumPy's
        numpy_ = quantize(x, name, gran)
    np.testing.assert_array_equal(native.scales, numpy_.scales, err_msg=f"{name} {x.dtype}")
    np.testing.assert_array_equal(native.codes, numpy_.codes, err_msg=f"{name} {x.dtype}")


MX_FLOATS = [n for n in registry.names()
             if isinstance(registry.get(n), registry.MXFormat)
             and isinstance(registry.get(n).element, registry.FloatFormat)]


def _grid(fmt: registry.FloatFormat) -> np.ndarray:
    """Every non-negative finite value of a float element format, ascending: its codes
    decoded."""
    v = elements.decode(np.arange(1 << fmt.encoding_bits, dtype=np.uint8), fmt)
    return np.unique(v[np.isfinite(v) & (v >= 0)])


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16, np.float16])
@pytest.mark.parametrize("name", MX_FLOATS)
def test_mx_float32_blocks_at_every_rounding_boundary_equal_numpy(name, dtype, monkeypatch):
    """MX float elements of float32 input are coded in float32 lanes on the bits (x * 2^-scale
    exact, nearest-even by integer rounding or a float add): every value of the element format
    at the block's scale, every tie between neighbours and the float32s either side of it,
    values past the largest (the block maximum's own), scaled results under float32's normal
    range, both signs, scales from 2^-100 to 2^100 (float16: its range): the codes NumPy's
    x / s gives; bfloat16 and float16 input rounded from them, widened to float32 lanes."""
    fmt = registry.get(name)
    grid = _grid(fmt.element)
    mids = (grid[:-1] + grid[1:]) / 2
    cand = np.concatenate([grid, mids, np.nextafter(mids.astype(np.float32), np.float32(0)),
                           np.nextafter(mids.astype(np.float32), np.float32(np.inf)),
                           [grid[-1] * 1.03, 2.0 ** -140, 2.0 ** -149]]).astype(np.float64)
    emax = int(np.floor(np.log2(grid[-1])))
    rng = np.random.default_rng(17)
    rows = []
    for k in range(-100, 101, 5) if dtype != np.float16 else range(-14, 15 - emax):
        picks = rng.permutation(np.resize(cand, 31 * 16))
        for block in picks.reshape(16, 31):
            signs = rng.choice([-1.0, 1.0], 31)
            # the block's largest magnitude sets its scale to 2^k (below 2^(emax + 1))
            rows.append(np.concatenate([[2.0 ** (emax + k) * 1.5], block * signs * 2.0 ** k]))
    _same_native_and_numpy(monkeypatch, np.stack(rows).astype(np.float32).astype(dtype), name)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16])
@pytest.mark.parametrize(("name", "gran"), [("fp8_e4m3", "tensor"), ("fp8_e4m3", "group:64"),
                                            ("fp4_e2m1", "tensor")])
def test_float_codes_of_subnormal_tensors_with_float32_scales_equal_numpy(name, gran, dtype,
                                                                          monkeypatch):
    """A tensor of float32 (bfloat16) subnormals gets a float32 scale near 2^-149, a power of
    two whose reciprocal (2^149) is no float32: its elements are coded in double, as NumPy
    codes them (the float32 lanes took 2^149 as inf, and 0 x inf as NaN)."""
    x = np.full(8192, 2.0 ** -140)
    x[::3] = 0.0
    x[1::5] = -(2.0 ** -141)
    _same_native_and_numpy(monkeypatch, x.astype(np.float32).astype(dtype), name, gran)
