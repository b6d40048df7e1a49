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
