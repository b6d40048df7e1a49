// Element-wise rounding of real numbers to a number format's codes: the hot loop of
// pysim.formats (pysim/formats/elements.py holds the NumPy reference it is tested against, bit
// for bit).
//
// Floats (IEEE 754-2019 Section 4.3; OCP OFP8 v1.0 for the saturating conversion): a magnitude
// a has exponent e = max(floor(log2 a), emin) and rounds to k = round(a / 2^(e - mbits)); its
// code without the sign is (e - emin) * 2^mbits + k, which carries a mantissa overflow into the
// next exponent. Integers: k = round(x * 2^frac_bits) clamped to qmin..qmax. Rounding is
// nearest-even, or stochastic: floor(t + u) with u uniform in [0, 1) given per element (the
// caller draws them from its seeded generator, so both implementations see the same draws).
#pragma once

#include <cstdint>

#include "common/budget.hpp"

namespace pysim {

enum class FloatSpecials { None, Ieee, Fn };  // no inf / NaN; IEEE inf and NaN; E4M3's NaN only

struct FloatCodeFormat {
  int ebits = 0, mbits = 0;
  int emin = 0;          // exponent of the smallest normal number
  int64_t max_code = 0;  // largest finite code without the sign bit
  FloatSpecials specials = FloatSpecials::Ieee;
};

void validate(const FloatCodeFormat& f);  // throws std::invalid_argument

// The loops the encoders run: "avx512" (vectorised, AVX-512 F/DQ/VL/BW) or "portable".
const char* encode_isa();

// Per-block scales: element i is divided by scales[i / block] before it is encoded (a NaN
// scale makes it 0), as pysim.formats.quantize's x / s does; scales == nullptr: unscaled.
struct BlockScales {
  const double* scales = nullptr;
  int64_t block = 1;
};

// codes[i] of x[i]. Past the largest finite value: saturate clamps to it; otherwise IEEE
// formats give inf, E4M3 ("fn") NaN, formats without specials clamp. NaN gives the format's
// quiet NaN (the caller refuses NaN for formats without one). u: nullptr for nearest-even.
template <class Code>
void encode_float(const double* x, const double* u, int64_t n, const FloatCodeFormat& f,
                  bool saturate, Code* codes, const Poll& poll = nullptr,
                  const BlockScales& scales = {});

// codes[i] = clamp(round(x[i] * 2^frac_bits), qmin, qmax); x finite (the caller checks).
template <class Code>
void encode_int(const double* x, const double* u, int64_t n, int frac_bits, int64_t qmin,
                int64_t qmax, Code* codes, const Poll& poll = nullptr,
                const BlockScales& scales = {});

// codes[i] = the index of the value of `values` (n_values of them, sorted ascending, at least
// two) nearest x[i] clamped to their range: with t in [v[lo], v[lo + 1]] (lo the last value
// <= t, at most n_values - 2) and frac = (t - v[lo]) / (v[lo + 1] - v[lo]), lo + 1 if
// frac > 0.5 or frac == 0.5 with lo odd (ties to the even index), else lo; stochastic:
// lo + (u[i] < frac). x finite (the caller checks). pysim/formats/elements.py's
// encode_codebook, bit for bit.
void encode_codebook(const double* x, const double* u, int64_t n, const double* values,
                     int64_t n_values, uint8_t* codes, const Poll& poll = nullptr,
                     const BlockScales& scales = {});

}  // namespace pysim

namespace pysim {

// ---------------------------------------------------------------------------- fused kernels
// quantize_fused / dequantize_fused: pysim.formats.quantize's whole scaled (or unscaled) path
// in one or two streaming passes over the input in its own dtype (no float64 copy): the
// NaN / inf check, the absmax of each block of `block` consecutive elements, its scale, the
// division by it and the element encoding, on the worker pool with Ctrl-C polled between
// claims. The values are those of the NumPy path bit for bit (x is converted to double
// exactly; the scale is computed as pysim/formats/granularity.py's `scales`; x / s is the IEEE
// double division, or the product with 1 / s where s is a power of two, which is the same
// number). Anything the NumPy path would refuse is reported as a status, not thrown: the
// caller reruns that path for its error message.

enum class InputType { F32, F64, F16, BF16 };
enum class ElementKind { Float, Int, Codebook };
enum class ScaleKind { None, E8M0, Float };
// What the input may hold without an error: anything; no NaN (a float format without NaN,
// unscaled); only finite values (integers, code books, or float scale dtypes).
enum class Reject { None, NaN, NonFinite };

struct ElementSpec {
  ElementKind kind = ElementKind::Float;
  FloatCodeFormat fmt{};  // Float
  bool saturate = false;  // Float, unscaled (scaled elements always saturate)
  int frac_bits = 0;      // Int
  int64_t qmin = 0, qmax = 0;
  const double* values = nullptr;  // Codebook: sorted ascending, 2..256 of them
  int64_t n_values = 0;
};

struct ScaleSpec {
  ScaleKind kind = ScaleKind::None;
  FloatCodeFormat fmt{};  // Float: the scale dtype (rounded to nearest even, no saturation)
  int emax = 0;           // the element format's emax (E8M0)
  double max_abs = 1.0;   // the element format's max_abs (Float)
};

enum class FusedStatus { Ok = 0, Rejected = 1, ScaleOutOfRange = 2 };

// codes[i] (code_bytes 1, 2 or 4 per code, the bits of the code as the element dtype holds
// them) of the n elements of x (of type `in`), scales[b] (float32) of each block of `block`
// elements (ScaleKind::None: one block, no scales written). u: one uniform draw per element
// for stochastic rounding, else nullptr.
FusedStatus quantize_fused(const void* x, InputType in, int64_t n, int64_t block,
                           const ElementSpec& elem, const ScaleSpec& scale, Reject reject,
                           const double* u, void* codes, int code_bytes, float* scales,
                           const Poll& poll = nullptr);

// out[i] = table[codes[i]] * scales[i / block] in float32 (scales nullptr: table[codes[i]]);
// codes of code_bytes 1 or 2, read as unsigned. False (out partly written) if a code is not
// below table_size.
// bfloat16 / binary16 words: the formats quantize and dequantize convert (a rounding shift or
// F16C) rather than encode or look up, where the codes are unscaled 16-bit words.
enum class HalfKind { None, BF16, F16 };

// `half` BF16 / F16: the codes are unscaled bfloat16 / binary16 words and table their values
// (NaN as float32's quiet NaN with the word's sign): converted instead of looked up, the same
// values.
bool dequantize_fused(const void* codes, int code_bytes, int64_t n, const float* table,
                      int64_t table_size, const float* scales, int64_t block, float* out,
                      const Poll& poll = nullptr, HalfKind half = HalfKind::None);

}  // namespace pysim
