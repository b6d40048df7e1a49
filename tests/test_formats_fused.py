"""The fused quantize / dequantize kernels (csrc/kernels/quantize.cpp, `_core.quantize_fused /
dequantize_fused`: finite check, block absmax, scale, division and encoding in one or two
passes over the input in its own dtype) against the NumPy path of pysim.formats: the same
codes, scales and values bit for bit for float16 / bfloat16 / float32 / float64 input, every
layout, both roundings, non-contiguous and unaligned input; and the same error messages."""

from __future__ import annotations

import dataclasses

import ml_dtypes
import numpy as np
import pytest

from pysim import formats
from pysim.formats import elements, per_channel, per_group
from pysim.formats.quantize import _defaults, _quantize_numpy

CASES = [("int8", "tensor", None), ("int8", "channel", None), ("int4", "group:128", None),
         ("int8", "group:64", "fp16"), ("uint8", "tensor", "bf16"), ("fp8_e4m3", "tensor", None),
         ("fp4_e2m1", "block:32", "e8m0"), ("int4", "group:32", "fp8_e4m3"),
         ("mxfp8_e4m3", None, None), ("mxfp8_e5m2", None, None), ("mxfp4", None, None),
         ("mxint8", None, None), ("mxfp6_e2m3", None, None), ("nf4", None, None),
         ("nf4", "group:64", "e8m0"), ("int8", per_channel(axis=1), None),
         ("int4", per_group(16, axis=0), None), ("bf16", None, None), ("fp16", None, None),
         ("fp8_e5m2", None, None), ("fp6_e3m2", None, None), ("fp4_e2m1", None, None),
         ("int8", None, None), ("fp32", None, None), ("tf32", None, None)]
DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.float64]


def _x(dtype, shape=(64, 256), specials=True):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 2.0 ** rng.integers(-8, 8, shape)
    x.flat[7] = 0.0
    x.flat[8] = -0.0
    x.flat[9] = 2.0 ** -20  # a float16 subnormal
    return x.astype(dtype)


def _both(monkeypatch, fn):
    got = fn()
    with monkeypatch.context() as m:
        m.setattr(elements, "NATIVE_MIN", 1 << 62)  # every path NumPy's
        ref = fn()
    return got, ref


def _same(got, ref):
    assert got.codes.dtype == ref.codes.dtype
    assert got.codes.shape == ref.codes.shape
    np.testing.assert_array_equal(got.codes, ref.codes)
    if ref.scales is None:
        assert got.scales is None
    else:
        assert got.scales.dtype == ref.scales.dtype == np.float32
        np.testing.assert_array_equal(got.scales, ref.scales)
    assert got.shape == ref.shape and got.granularity == ref.granularity


@pytest.mark.parametrize(("name", "gran", "sdt"), CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_quantize_equals_numpy_bit_for_bit(name, gran, sdt, dtype, monkeypatch):
    x = _x(dtype)
    if name.startswith("mx"):
        x[5, 40] = np.inf  # its block's scale is NaN: the block is stored as zeros
        x[6, 3] = np.nan
    kw = {"granularity": gran, "scale_dtype": sdt}
    got, ref = _both(monkeypatch, lambda: formats.quantize(x, name, **kw))
    _same(got, ref)
    vals, vref = _both(monkeypatch, lambda: formats.dequantize(got))
    assert vals.dtype == vref.dtype == np.float32
    np.testing.assert_array_equal(vals.view(np.uint32), vref.view(np.uint32))


@pytest.mark.parametrize(("name", "gran", "sdt"), CASES[:16])
def test_fused_stochastic_rounding_draws_as_numpy(name, gran, sdt, monkeypatch):
    x = _x(np.float32)
    kw = {"granularity": gran, "scale_dtype": sdt, "rounding": "stochastic", "seed": 5}
    got, ref = _both(monkeypatch, lambda: formats.quantize(x, name, **kw))
    _same(got, ref)


@pytest.mark.parametrize("name", ["int8", "mxfp4", "nf4", "fp8_e4m3"])
def test_non_contiguous_and_unaligned_input(name, monkeypatch):
    base = _x(np.float32, (128, 512))
    strided = base[::2, ::2]
    transposed = base.T
    buf = np.zeros(base.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(buf.data, dtype=np.float32, count=base.size, offset=1)
    unaligned = unaligned.reshape(base.shape)
    unaligned[...] = base
    assert not unaligned.flags.aligned
    gran = "tensor" if name == "fp8_e4m3" else None
    for x in (strided, transposed, unaligned):
        got, ref = _both(monkeypatch, lambda x=x: formats.quantize(x, name, gran))
        _same(got, ref)
        np.testing.assert_array_equal(
            formats.quantize(np.ascontiguousarray(x), name, gran).codes, got.codes)


@pytest.mark.parametrize(("name", "gran", "sdt"), [
    ("int8", None, None), ("int8", "tensor", None), ("int4", "group:128", "fp16"),
    ("fp4_e2m1", None, None), ("nf4", None, None), ("fp8_e4m3", "channel", None)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_bad_values_raise_the_numpy_message(name, gran, sdt, bad, dtype, monkeypatch):
    x = _x(dtype)
    x[40, 200] = bad
    if name == "fp4_e2m1" and np.isinf(bad):
        formats.quantize(x, name)  # unscaled FP4 saturates inf; only NaN is refused
        return
    with pytest.raises(ValueError) as err:
        formats.quantize(x, name, gran, scale_dtype=sdt, name="w")
    # the path before the fused kernel (float64 copy, NumPy checks) raises the same message
    f = formats.get(name)
    with pytest.raises(ValueError) as ref:
        _quantize_numpy(x, f, *_defaults(f, gran, sdt, "w"), "nearest_even", None,
                           False, "w")
    msgs = [str(err.value), str(ref.value)]
    assert msgs[0] == msgs[1]
    assert "\n" not in msgs[0]
    assert "w[40, 200]" in msgs[0] or "w scale[" in msgs[0]


def test_a_scale_out_of_range_raises_the_numpy_message(monkeypatch):
    x = np.ones((8, 4096))
    x[3, 5] = 1e300  # float64: an E8M0 exponent past 127
    msgs = []
    for big in (False, True):
        with monkeypatch.context() as m:
            if big:
                m.setattr(elements, "NATIVE_MIN", 1 << 62)
            with pytest.raises(ValueError) as err:
                formats.quantize(x, "mxfp4")
            msgs.append(str(err.value))
    assert msgs[0] == msgs[1] and "e8m0" in msgs[0]
    with pytest.raises(ValueError, match="cannot be represented in scale dtype fp16"):
        formats.quantize(np.full((8, 4096), 1e10, np.float32), "int8", "tensor",
                         scale_dtype="fp16")


def test_long_blocks_take_two_passes(monkeypatch):
    """Blocks longer than a claim (per tensor, long channels): maxima then codes."""
    x = _x(np.float32, (4, 1 << 17))
    x[2, 99999] = 1e4
    for gran in ("tensor", "channel"):
        got, ref = _both(monkeypatch, lambda g=gran: formats.quantize(x, "int8", g))
        _same(got, ref)


def test_dequantize_of_a_code_past_the_table_raises_as_numpy():
    q = formats.quantize(_x(np.float32), "nf4")
    bad = q.codes.copy()
    bad[0, 0] = 200
    q2 = formats.QuantizedTensor(q.fmt, bad, q.scales, q.granularity, q.scale_dtype, q.shape,
                                 q.rounding)
    with pytest.raises(IndexError):
        formats.dequantize(q2)


PORTABLE_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_formats_fused import CASES, DTYPES, NARROW, _words, _x
from pysim import _core, formats
assert _core.encode_isa() == "portable"
out = {{}}
for i, (name, gran, sdt) in enumerate(CASES):
    for j, dt in enumerate(DTYPES):
        q = formats.quantize(_x(dt), name, gran, scale_dtype=sdt)
        out[f"{{i}}_{{j}}"] = q.codes
        out[f"{{i}}_{{j}}_v"] = formats.dequantize(q).view(np.uint32)
for name in NARROW:  # the float32-class table (the AVX-512 loops compute the codes instead)
    with np.errstate(all="ignore"):
        out[name] = formats.quantize(_words(name), name).codes
np.savez({path!r}, **out)
"""
NARROW = ("fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1")


def _words(name: str) -> np.ndarray:
    """Uniformly random float32 words (NaNs of every payload where the format holds NaN,
    infinities, subnormals, every exponent)."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 1 << 32, size=1 << 18, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return x if name.startswith("fp8") else x[~np.isnan(x)][: (1 << 17)]


def test_the_portable_loops_give_the_vector_loops_results(tmp_path):
    from tests.portable_run import run_portable

    portable = run_portable(PORTABLE_SCRIPT, tmp_path)
    for i, (name, gran, sdt) in enumerate(CASES):
        for j, dt in enumerate(DTYPES):
            q = formats.quantize(_x(dt), name, gran, scale_dtype=sdt)
            np.testing.assert_array_equal(portable[f"{i}_{j}"], q.codes, err_msg=name)
            np.testing.assert_array_equal(portable[f"{i}_{j}_v"],
                                          formats.dequantize(q).view(np.uint32), err_msg=name)
    for name in NARROW:
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(portable[name],
                                          formats.quantize(_words(name), name).codes,
                                          err_msg=name)


@pytest.mark.parametrize("absmax", [1.0, 0.75])
def test_nf4_rounds_at_the_divisions_ties_to_the_last_ulp(absmax, monkeypatch):
    """The fused NF4 encoder counts precomputed thresholds (the least double that rounds up
    past each code-book value) instead of dividing by the gap: the codes of every midpoint
    between neighbours and of the 8 doubles either side of it, of the book's values and of
    +-0 equal NumPy's division, in blocks whose scale is 1 (t = x) and 0.75 (t = x / 0.75)."""
    v = np.asarray(formats.registry.get("nf4").values, dtype=np.float64)
    t = list(v) + [0.0, -0.0]
    for m in (v[:-1] + v[1:]) / 2:
        below = above = m
        for _ in range(8):
            below, above = np.nextafter(below, -2.0), np.nextafter(above, 2.0)
            t += [below, above]
        t.append(m)
    x = np.asarray(t) * absmax
    if absmax != 1.0:  # the doubles either side of x's own quotient's tie, too
        x = np.concatenate([x, np.nextafter(x, -2.0), np.nextafter(x, 2.0)])
    pad = -len(x) % 63
    x = np.concatenate([x, np.zeros(pad)]).reshape(-1, 63)
    x = np.concatenate([np.full((len(x), 1), absmax), x], axis=1).ravel()  # each block's max
    x = np.tile(x, -(-elements.NATIVE_MIN // len(x)))  # enough for the C++ kernel to run
    got, ref = _both(monkeypatch, lambda: formats.quantize(x, "nf4"))
    _same(got, ref)
    assert np.all(ref.scales == np.float32(absmax))


FLOATS = ["bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "tf32",
          "fp32"]


def _every_float32(step: int) -> np.ndarray:
    """Finite float32 values over the whole bit range (every ``step``-th pattern, both signs,
    zeros and subnormals among them), a multiple of 64 long."""
    bits = np.arange(0, 1 << 32, step, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    return x[: x.size // 64 * 64]


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("saturate", [False, True])
def test_float_codes_from_float32_bits_equal_numpy_over_the_bit_range(name, saturate,
                                                                      monkeypatch):
    """The fused float encoders equal NumPy's double arithmetic on ~260k float32 patterns
    spread over every exponent (zeros, subnormals, the largest finite values) and on their
    float16 / bfloat16 roundings, saturating or not."""
    x = _every_float32(16411)
    got, ref = _both(monkeypatch, lambda: formats.quantize(x, name, saturate=saturate))
    _same(got, ref)
    for dtype in (np.float16, ml_dtypes.bfloat16):
        with np.errstate(over="ignore"):
            xd = x.astype(dtype)
        xd = xd[np.isfinite(xd.astype(np.float32))]
        got, ref = _both(monkeypatch, lambda xd=xd: formats.quantize(xd, name, saturate=saturate))
        _same(got, ref)


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2",
                                  "mxfp4"])
@pytest.mark.parametrize("shuffled", [False, True])
def test_mx_codes_of_every_exponent_equal_numpy(name, shuffled, monkeypatch):
    """MX blocks scale by a power of two that can lift float32 subnormals into the element
    format's normal range (blocks of zeros and subnormals: E8M0 2^-127; an encoder working
    from the float32 bits that took a subnormal's exponent as -126 gave them codes of 1.0).
    In order (blocks of like magnitude) and shuffled (tiny elements beside large ones)."""
    x = _every_float32(16411)
    if shuffled:
        x = x[np.random.default_rng(0).permutation(x.size)]
    got, ref = _both(monkeypatch, lambda: formats.quantize(x, name))
    _same(got, ref)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # NumPy, on sNaN
@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_half_codes_of_specials_and_overflow_equal_numpy(name, monkeypatch):
    """float32 to bfloat16 / binary16 unscaled takes a fast path (integer rounding, F16C's
    conversion): NaNs of any payload and sign become the format's quiet NaN with that sign,
    +-inf stay infinite, values past the largest finite one round to inf or stay finite as
    nearest-even says, subnormals round into the format's, in a tail shorter than a vector."""
    bits = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF, 0x7FA12345,  # NaNs
                     0x7F800000, 0xFF800000, 0x7F7FFFFF, 0xFF7FFFFF,  # inf, float32 max
                     0x477FEFFF, 0x477FF000, 0x477FF001, 0x387FC000, 0x33800000, 0x33000000,
                     0x33000001, 0x00000001, 0x80000001, 0x007FFFFF, 0x7F7F7FFF, 0x7F7F8000,
                     0x00000000, 0x80000000, 0x3F808000, 0x3F818000], dtype=np.uint32)
    x = np.tile(bits.view(np.float32), -(-elements.NATIVE_MIN // bits.size) + 1)[:-3]
    got, ref = _both(monkeypatch, lambda: formats.quantize(x, name))
    _same(got, ref)
    nan = np.isnan(x)
    assert np.all(got.codes[nan] & 0x7FFF == (0x7FC0 if name == "bf16" else 0x7E00))
    assert np.array_equal(got.codes[nan] >> 15, x[nan].view(np.uint32) >> 31)
    # and back: dequantize converts the words (a shift, F16C) instead of looking them up, NaN
    # as the table holds it; every 16-bit word, in a tail shorter than a vector
    words = dataclasses.replace(got, codes=np.arange((1 << 16) - 3, dtype=np.uint16),
                                shape=((1 << 16) - 3,))
    back, ref_back = _both(monkeypatch, lambda: formats.dequantize(words))
    np.testing.assert_array_equal(back.view(np.uint32), ref_back.view(np.uint32))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # NumPy, on sNaN
@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1"])
@pytest.mark.parametrize("saturate", [False, True])
def test_narrow_codes_of_random_float32_words_equal_numpy(name, saturate, monkeypatch):
    """float32 to fp8 / fp6 / fp4, unscaled, reads its code from a table of every float32 class
    (top 16 bits, any low bit set): uniformly random words (NaNs of every payload where the
    format holds NaN, infinities, subnormals, every exponent) get NumPy's codes; a NaN the
    format cannot hold, anywhere, raises NumPy's error."""
    x = _words(name)
    holds_nan = name.startswith("fp8")
    with np.errstate(all="ignore"):
        got, ref = _both(monkeypatch, lambda: formats.quantize(x, name, saturate=saturate))
    _same(got, ref)
    if not holds_nan:
        for at in (0, 4095, 4096, x.size - 1):  # a span's first and last, the tail
            y = x.copy()
            y[at] = np.nan
            with pytest.raises(ValueError, match=rf"x\[{at}\] = nan"):
                formats.quantize(y, name, saturate=saturate)


@pytest.mark.parametrize(("name", "gran", "sdt"), CASES)
def test_dequantize_into_out_writes_the_values_it_returns(name, gran, sdt):
    """dequantize(q, out=buf) writes into buf (the C++ kernel straight into it where the blocks
    are the array's own order, else the NumPy path's values copied in) and returns it: the
    values a new array gets, bit for bit; float64 out too."""
    kw = {"granularity": gran} if gran is not None else {}
    if sdt is not None:
        kw["scale_dtype"] = sdt
    q = formats.quantize(_x(np.float32), name, **kw)
    want = formats.dequantize(q)
    buf = np.full(q.shape, np.nan, np.float32)
    got = formats.dequantize(q, out=buf)
    assert got is buf
    np.testing.assert_array_equal(buf.view(np.uint32), want.view(np.uint32))
    buf64 = np.empty(q.shape)
    assert formats.dequantize(q, np.float64, out=buf64) is buf64
    np.testing.assert_array_equal(buf64, formats.dequantize(q, np.float64))


def test_dequantize_refuses_an_out_it_cannot_fill():
    q = formats.quantize(_x(np.float32), "mxfp8_e4m3")
    for bad, what in [(np.empty((64, 255), np.float32), r"shape \(64, 255\)"),
                      (np.empty((64, 256), np.float16), "float16 array"),
                      ([0.0], "list")]:
        with pytest.raises(ValueError, match=r"out must be a writeable float32 array of "
                                             r"shape \(64, 256\), got .*" + what):
            formats.dequantize(q, out=bad)  # type: ignore[arg-type]
    from pysim.formats.quantize import _dequantize_fused

    direct = np.empty((64, 256), np.float32)  # MX blocks along the last axis: written in place
    assert np.shares_memory(_dequantize_fused(q, direct), direct)
    frozen = np.empty((64, 256), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        formats.dequantize(q, out=frozen)
    # an out over the codes' own bytes (one buffer, the codes its first quarter): the values
    # the codes held, through a new array (the kernel would read codes it is overwriting)
    q4 = formats.quantize(_x(np.float32), "nf4")
    want = formats.dequantize(q4)
    buf = np.zeros(4 * q4.codes.size, np.uint8)
    buf[: q4.codes.size] = q4.codes.reshape(-1)
    shared = dataclasses.replace(q4, codes=buf[: q4.codes.size].reshape(q4.codes.shape))
    over = buf.view(np.float32).reshape(q4.shape)
    np.testing.assert_array_equal(formats.dequantize(shared, out=over), want)
    strided = np.empty((64, 512), np.float32)[:, ::2]  # not C-contiguous: the NumPy copy
    formats.dequantize(q, out=strided)
    np.testing.assert_array_equal(strided, formats.dequantize(q))
    from pysim import _core
    with pytest.raises(ValueError, match="out must be a writeable C-contiguous float32 array "
                                         "of 4096 values, got dtype float64 of 4096"):
        _core.dequantize_fused(np.zeros(4096, np.uint8), table=np.zeros(256, np.float32),
                               out=np.zeros(4096))
    with pytest.raises(ValueError, match="out must not overlap codes"):
        _core.dequantize_fused(buf[:4096], table=np.zeros(256, np.float32),
                               out=buf[: 4 * 4096].view(np.float32))
