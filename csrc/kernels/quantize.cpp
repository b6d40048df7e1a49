#include "kernels/quantize.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/worker_pool.hpp"

#ifdef PYSIM_X86
// double <-> int64 in vector registers (vcvttpd2qq, vcvtqq2pd): the loops below vectorise
#define PYSIM_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
#endif
#define PYSIM_INLINE inline __attribute__((always_inline))

namespace pysim {

namespace {

constexpr int64_t kBlock = int64_t{1} << 16;  // elements a thread claims at a time

// body(lo, hi) over [0, n) in claimed blocks on the worker pool (one thread below two blocks);
// the calling thread polls before each of its claims, and a poll that throws stops the others
// at their next claim. Elements are independent, so the split does not change the result.
template <class Body>
void for_blocks(int64_t n, const Poll& poll, Body body) {
  const int64_t team = std::min<int64_t>(hardware_threads(), (n + kBlock - 1) / kBlock);
  std::atomic<int64_t> next{0};
  parallel_for_ids(std::max<int64_t>(team, 1), [&](int64_t id, int64_t) {
    for (;;) {
      if (id == 0 && poll) {
        try {
          poll();
        } catch (...) {
          next.store(n);
          throw;
        }
      }
      const int64_t lo = next.fetch_add(kBlock);
      if (lo >= n) break;
      body(lo, std::min(n, lo + kBlock));
    }
  });
}

// floor(log2 a) of a finite a >= 0 from its exponent field (0 and subnormals: -1023).
PYSIM_INLINE int64_t floor_log2(double a) {
  uint64_t bits = 0;
  std::memcpy(&bits, &a, sizeof bits);
  return static_cast<int64_t>((bits >> 52) & 0x7FF) - 1023;
}

// 2^p for -1022 <= p <= 1023, built from its exponent field (exact).
PYSIM_INLINE double pow2(int64_t p) {
  const uint64_t bits = static_cast<uint64_t>(1023 + p) << 52;
  double out = 0.0;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

// Round t to an integer: half to even (as np.rint), or floor(t + u) (stochastic). For
// |t| < 2^52, (|t| + 2^52) - 2^52 is |t| rounded to nearest-even in the default rounding mode
// (the addition rounds away the fraction), without a libm call. Branch-free, so the loops that
// call it vectorise.
template <bool kStochastic>
PYSIM_INLINE double round_t(double t, const double* u, int64_t i) {
  if constexpr (kStochastic) {
    return std::floor(t + u[i]);
  } else {
    constexpr double kShift = 4503599627370496.0;  // 2^52
    const double a = std::fabs(t);
    const double r = a < kShift ? (a + kShift) - kShift : a;  // else already an integer
    return std::copysign(r, t);
  }
}

// What the float loop needs of a format, resolved once.
struct FloatPlan {
  int64_t emin, mbits, width, max_code;
  int64_t past;  // the code of a magnitude past the largest finite value
  int64_t qnan;  // the code of NaN
};

// codes[lo, hi) of x in the format of p: the body of encode_float, one element at a time with
// no branch (selects), compiled once per instruction set.
template <class Code, bool kStochastic>
PYSIM_INLINE void float_codes(const double* __restrict x, const double* __restrict u, int64_t lo,
                              int64_t hi, const FloatPlan& p, Code* __restrict codes) {
  constexpr uint64_t kAbs = 0x7FFFFFFFFFFFFFFFull, kInf = 0x7FF0000000000000ull;
  // in locals: a store through codes cannot be taken to change them, so the loop vectorises
  const int64_t emin = p.emin, mbits = p.mbits, width = p.width, max_code = p.max_code;
  const int64_t past = p.past, qnan = p.qnan;
  for (int64_t i = lo; i < hi; ++i) {
    uint64_t bits = 0;
    std::memcpy(&bits, &x[i], sizeof bits);
    const uint64_t abits = bits & kAbs;
    const bool finite = abits < kInf;
    const bool nan = abits > kInf;
    const double a = finite ? std::fabs(x[i]) : 0.0;
    const int64_t e = std::max(floor_log2(a), emin);
    const double k = round_t<kStochastic>(a * pow2(mbits - e), u, i);
    int64_t mag = ((e - emin) << mbits) + static_cast<int64_t>(k);
    mag = mag > max_code ? past : mag;
    mag = finite ? mag : (nan ? qnan : past);
    const int64_t sign = static_cast<int64_t>(bits >> 63) << width;
    codes[i] = static_cast<Code>(mag | sign);
  }
}

template <class Code, bool kStochastic>
PYSIM_INLINE void int_codes(const double* __restrict x, const double* __restrict u, int64_t lo,
                            int64_t hi, double scale, double least, double most,
                            Code* __restrict codes) {
  for (int64_t i = lo; i < hi; ++i) {
    const double k = round_t<kStochastic>(x[i] * scale, u, i);
    codes[i] = static_cast<Code>(static_cast<int64_t>(std::min(std::max(k, least), most)));
  }
}

// The loops compiled for the CPU's widest vectors and for any x86-64 / other CPU.
template <class Code, bool kStochastic>
void float_portable(const double* x, const double* u, int64_t lo, int64_t hi,
                    const FloatPlan& p, Code* codes) {
  float_codes<Code, kStochastic>(x, u, lo, hi, p, codes);
}

template <class Code, bool kStochastic>
void int_portable(const double* x, const double* u, int64_t lo, int64_t hi, double scale,
                  double least, double most, Code* codes) {
  int_codes<Code, kStochastic>(x, u, lo, hi, scale, least, most, codes);
}

#ifdef PYSIM_X86
template <class Code, bool kStochastic>
PYSIM_AVX512 void float_avx512(const double* x, const double* u, int64_t lo, int64_t hi,
                               const FloatPlan& p, Code* codes) {
  float_codes<Code, kStochastic>(x, u, lo, hi, p, codes);
}

template <class Code, bool kStochastic>
PYSIM_AVX512 void int_avx512(const double* x, const double* u, int64_t lo, int64_t hi,
                             double scale, double least, double most, Code* codes) {
  int_codes<Code, kStochastic>(x, u, lo, hi, scale, least, most, codes);
}
#endif

template <class Code, bool kStochastic>
void float_range(const double* x, const double* u, int64_t lo, int64_t hi, const FloatPlan& p,
                 Code* codes) {
#ifdef PYSIM_X86
  if (cpu_has_avx512_dq()) return float_avx512<Code, kStochastic>(x, u, lo, hi, p, codes);
#endif
  float_portable<Code, kStochastic>(x, u, lo, hi, p, codes);
}

template <class Code, bool kStochastic>
void int_range(const double* x, const double* u, int64_t lo, int64_t hi, double scale,
               double least, double most, Code* codes) {
#ifdef PYSIM_X86
  if (cpu_has_avx512_dq()) {
    return int_avx512<Code, kStochastic>(x, u, lo, hi, scale, least, most, codes);
  }
#endif
  int_portable<Code, kStochastic>(x, u, lo, hi, scale, least, most, codes);
}

// x[lo, hi) divided by their blocks' scales into out[0, hi - lo) (a NaN scale: 0), the IEEE
// division NumPy's x / s does, so the codes stay bit for bit those of the NumPy path.
void scale_chunk(const double* x, const BlockScales& sc, int64_t lo, int64_t hi, double* out) {
  for (int64_t i = lo; i < hi;) {
    const int64_t b = i / sc.block;
    const int64_t end = std::min(hi, (b + 1) * sc.block);
    const double s = sc.scales[b];
    if (std::isnan(s)) {
      std::fill(out + (i - lo), out + (end - lo), 0.0);
    } else {
      for (int64_t j = i; j < end; ++j) out[j - lo] = x[j] / s;
    }
    i = end;
  }
}

// run(x, u, lo, hi, codes) over the chunk [lo, hi): on x itself, or on x / its scales in a
// buffer the chunk's thread fills first (then the range is [0, hi - lo) of shifted pointers).
template <class Code, class Run>
void scaled_or_not(const double* x, const double* u, int64_t lo, int64_t hi,
                   const BlockScales& sc, Code* codes, Run run) {
  if (sc.scales == nullptr) return run(x, u, lo, hi, codes);
  std::vector<double> buf(static_cast<size_t>(hi - lo));
  scale_chunk(x, sc, lo, hi, buf.data());
  run(buf.data(), u != nullptr ? u + lo : nullptr, int64_t{0}, hi - lo, codes + lo);
}

}  // namespace

const char* encode_isa() { return cpu_has_avx512_dq() ? "avx512" : "portable"; }

void validate(const FloatCodeFormat& f) {
  if (f.ebits < 1 || f.mbits < 0 || f.ebits + f.mbits + 1 > 32) {
    throw std::invalid_argument("a float format needs ebits >= 1, mbits >= 0 and at most 32 "
                                "bits, got ebits = " + std::to_string(f.ebits) +
                                ", mbits = " + std::to_string(f.mbits));
  }
  if (f.emin < -1000 || f.emin > 1) {
    throw std::invalid_argument("emin must be in [-1000, 1], got " + std::to_string(f.emin));
  }
  const int64_t top = (int64_t{1} << (f.ebits + f.mbits)) - 1;
  if (f.max_code < 0 || f.max_code > top) {
    throw std::invalid_argument("max_code must be in [0, " + std::to_string(top) + "], got " +
                                std::to_string(f.max_code));
  }
}

template <class Code>
void encode_float(const double* x, const double* u, int64_t n, const FloatCodeFormat& f,
                  bool saturate, Code* codes, const Poll& poll, const BlockScales& scales) {
  validate(f);
  const int width = f.ebits + f.mbits;
  const int64_t top = (int64_t{1} << width) - 1;
  int64_t past = top;  // "fn": S.1111.111 is NaN
  if (saturate || f.specials == FloatSpecials::None) {
    past = f.max_code;
  } else if (f.specials == FloatSpecials::Ieee) {
    past = top - ((int64_t{1} << f.mbits) - 1);  // exponent all ones, mantissa 0: inf
  }
  // a quiet NaN: exponent all ones, mantissa MSB set (ml_dtypes, NumPy)
  const int64_t qnan = f.specials == FloatSpecials::Fn || f.mbits == 0
                           ? top
                           : top - ((int64_t{1} << (f.mbits - 1)) - 1);
  const FloatPlan plan{f.emin, f.mbits, width, f.max_code, past, qnan};
  for_blocks(n, poll, [&](int64_t lo, int64_t hi) {
    scaled_or_not(x, u, lo, hi, scales, codes,
                  [&](const double* xs, const double* us, int64_t a, int64_t b, Code* cs) {
                    if (us != nullptr) {
                      float_range<Code, true>(xs, us, a, b, plan, cs);
                    } else {
                      float_range<Code, false>(xs, us, a, b, plan, cs);
                    }
                  });
  });
}

template <class Code>
void encode_int(const double* x, const double* u, int64_t n, int frac_bits, int64_t qmin,
                int64_t qmax, Code* codes, const Poll& poll, const BlockScales& scales) {
  if (frac_bits < -64 || frac_bits > 64) {
    throw std::invalid_argument("frac_bits must be in [-64, 64], got " +
                                std::to_string(frac_bits));
  }
  if (qmin > qmax) {
    throw std::invalid_argument("qmin must be <= qmax, got " + std::to_string(qmin) + " > " +
                                std::to_string(qmax));
  }
  const double least = static_cast<double>(qmin), most = static_cast<double>(qmax);
  // x * 2^frac_bits rounds once, as ldexp does (a power of two in range: -64..64)
  const double scale = std::ldexp(1.0, frac_bits);
  for_blocks(n, poll, [&](int64_t lo, int64_t hi) {
    scaled_or_not(x, u, lo, hi, scales, codes,
                  [&](const double* xs, const double* us, int64_t a, int64_t b, Code* cs) {
                    if (us != nullptr) {
                      int_range<Code, true>(xs, us, a, b, scale, least, most, cs);
                    } else {
                      int_range<Code, false>(xs, us, a, b, scale, least, most, cs);
                    }
                  });
  });
}

void encode_codebook(const double* x, const double* u, int64_t n, const double* values,
                     int64_t n_values, uint8_t* codes, const Poll& poll,
                     const BlockScales& scales) {
  if (n_values < 2 || n_values > 256) {
    throw std::invalid_argument("a code book needs 2..256 values, got " +
                                std::to_string(n_values));
  }
  for (int64_t j = 1; j < n_values; ++j) {
    if (!(values[j - 1] < values[j])) {
      throw std::invalid_argument("code-book values must be finite and strictly ascending");
    }
  }
  const double* end = values + n_values;
  for_blocks(n, poll, [&](int64_t lo, int64_t hi) {
    scaled_or_not(x, u, lo, hi, scales, codes,
                  [&](const double* xs, const double* us, int64_t a, int64_t b, uint8_t* cs) {
                    for (int64_t i = a; i < b; ++i) {
                      const double t = std::min(std::max(xs[i], values[0]), end[-1]);
                      // searchsorted(values, t, side="right") - 1, kept within 0..n - 2
                      int64_t k = std::upper_bound(values, end, t) - values - 1;
                      k = std::min(std::max<int64_t>(k, 0), n_values - 2);
                      const double frac = (t - values[k]) / (values[k + 1] - values[k]);
                      const bool up = us != nullptr
                                          ? us[i] < frac
                                          : frac > 0.5 || (frac == 0.5 && (k % 2) == 1);
                      cs[i] = static_cast<uint8_t>(k + (up ? 1 : 0));
                    }
                  });
  });
}

template void encode_float<uint8_t>(const double*, const double*, int64_t,
                                    const FloatCodeFormat&, bool, uint8_t*, const Poll&,
                                    const BlockScales&);
template void encode_float<uint16_t>(const double*, const double*, int64_t,
                                    const FloatCodeFormat&, bool, uint16_t*, const Poll&,
                                    const BlockScales&);
template void encode_float<uint32_t>(const double*, const double*, int64_t,
                                    const FloatCodeFormat&, bool, uint32_t*, const Poll&,
                                    const BlockScales&);
template void encode_int<int8_t>(const double*, const double*, int64_t, int, int64_t,
                                 int64_t, int8_t*, const Poll&, const BlockScales&);
template void encode_int<int16_t>(const double*, const double*, int64_t, int, int64_t,
                                 int64_t, int16_t*, const Poll&, const BlockScales&);
template void encode_int<uint8_t>(const double*, const double*, int64_t, int, int64_t,
                                 int64_t, uint8_t*, const Poll&, const BlockScales&);
template void encode_int<uint16_t>(const double*, const double*, int64_t, int, int64_t,
                                 int64_t, uint16_t*, const Poll&, const BlockScales&);

}  // namespace pysim
