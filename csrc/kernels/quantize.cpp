#include "kernels/quantize.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "common/cpu_features.hpp"
#ifdef PYSIM_X86
#include <immintrin.h>
#endif
#include "common/worker_pool.hpp"

#ifdef PYSIM_X86
// double <-> int64 in vector registers (vcvttpd2qq, vcvtqq2pd): the loops below vectorise
#define PYSIM_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
#endif
#define PYSIM_INLINE inline __attribute__((always_inline))

namespace pysim {

namespace {

constexpr int64_t kBlock = int64_t{1} << 16;  // elements a thread claims at a time

// body(lo, hi) over [0, units) in claims of `step` units on the worker pool (one thread below
// two claims); the calling thread polls before each of its claims, and a poll that throws
// stops the others at their next claim; stops early once stop() is true. Units are
// independent, so the split does not change the result.
template <class Body, class Stop>
void for_claims(int64_t units, int64_t step, const Poll& poll, Body body, Stop stop) {
  const int64_t claims = units / step + (units % step != 0 ? 1 : 0);
  const int64_t team = std::min<int64_t>(hardware_threads(), claims);
  std::atomic<int64_t> next{0};
  parallel_for_ids(std::max<int64_t>(team, 1), [&](int64_t id, int64_t) {
    for (;;) {
      if (id == 0 && poll) {
        try {
          poll();
        } catch (...) {
          next.store(units);
          throw;
        }
      }
      if (stop()) break;
      const int64_t lo = next.fetch_add(step);
      if (lo >= units) break;
      body(lo, std::min(units, lo + step));
    }
  });
}

// for_claims over [0, n) in blocks of kBlock elements, to the end.
template <class Body>
void for_blocks(int64_t n, const Poll& poll, Body body) {
  for_claims(n, kBlock, poll, body, [] { return false; });
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


// ---------------------------------------------------------------------------- fused kernels

namespace {

constexpr uint64_t kQNaN64 = 0x7FF8000000000000ull;

// The input dtypes: raw storage T, its bits, the magnitude mask, inf's magnitude bits, and the
// exact double of a value. float32 and float64 are read as themselves.
template <class F, class B, B kAbsBits, B kInfBits>
struct InIeee {
  using T = F;
  using Bits = B;
  static constexpr Bits kAbs = kAbsBits, kInf = kInfBits;
  static PYSIM_INLINE Bits bits(T v) {
    Bits b = 0;
    std::memcpy(&b, &v, sizeof b);
    return b;
  }
  static PYSIM_INLINE double value(T v) { return static_cast<double>(v); }
  static PYSIM_INLINE double from_bits(Bits b) {
    T v = 0;
    std::memcpy(&v, &b, sizeof v);
    return static_cast<double>(v);
  }
};
using InF32 = InIeee<float, uint32_t, 0x7FFFFFFFu, 0x7F800000u>;
using InF64 = InIeee<double, uint64_t, 0x7FFFFFFFFFFFFFFFull, 0x7FF0000000000000ull>;

// IEEE binary16: the magnitude bits shifted into a float32's place and multiplied by 2^112
// (127 - 15) give every finite value exactly, subnormals included; inf / NaN keep their
// mantissa under an all-ones float32 exponent. Branch-free, so the loops vectorise.
struct InF16 {
  using T = uint16_t;
  using Bits = uint16_t;
  static constexpr Bits kAbs = 0x7FFF, kInf = 0x7C00;
  static PYSIM_INLINE Bits bits(T v) { return v; }
  static PYSIM_INLINE double value(T h) {
    const uint32_t em = static_cast<uint32_t>(h & 0x7FFFu);
    uint32_t b = em << 13;
    float f = 0.0f;
    std::memcpy(&f, &b, sizeof f);
    f *= 0x1p112f;
    std::memcpy(&b, &f, sizeof b);
    b = em >= 0x7C00u ? ((em << 13) | 0x7F800000u) : b;
    b |= static_cast<uint32_t>(h & 0x8000u) << 16;
    std::memcpy(&f, &b, sizeof f);
    return static_cast<double>(f);
  }
  static PYSIM_INLINE double from_bits(Bits b) { return value(b); }
};

// bfloat16: the top half of a float32.
struct InBF16 {
  using T = uint16_t;
  using Bits = uint16_t;
  static constexpr Bits kAbs = 0x7FFF, kInf = 0x7F80;
  static PYSIM_INLINE Bits bits(T v) { return v; }
  static PYSIM_INLINE double value(T h) {
    const uint32_t b = static_cast<uint32_t>(h) << 16;
    float f = 0.0f;
    std::memcpy(&f, &b, sizeof f);
    return static_cast<double>(f);
  }
  static PYSIM_INLINE double from_bits(Bits b) { return value(b); }
};

// Round t to an integer (round_t above, with the draw given as a value).
template <bool kStochastic>
PYSIM_INLINE double round_u(double t, double u) {
  if constexpr (kStochastic) {
    return std::floor(t + u);
  } else {
    constexpr double kShift = 4503599627370496.0;  // 2^52
    const double a = std::fabs(t);
    const double r = a < kShift ? (a + kShift) - kShift : a;
    return std::copysign(r, t);
  }
}

// The element encoders, one value at a time (float_codes / int_codes / encode_codebook's body).
struct FloatEnc {
  int64_t emin, mbits, width, max_code, past, qnan;
  bool wide = false;  // nearest-even byte codes of float32 through float_span_f32_avx512
  template <bool kStochastic>
  PYSIM_INLINE int64_t code(double t, double u) const {
    constexpr uint64_t kAbs = 0x7FFFFFFFFFFFFFFFull, kInf = 0x7FF0000000000000ull;
    uint64_t bits = 0;
    std::memcpy(&bits, &t, sizeof bits);
    const uint64_t abits = bits & kAbs;
    const bool finite = abits < kInf;
    const bool nan = abits > kInf;
    const double a = finite ? std::fabs(t) : 0.0;
    const int64_t e = std::max(floor_log2(a), emin);
    const double k = round_u<kStochastic>(a * pow2(mbits - e), u);
    int64_t mag = ((e - emin) << mbits) + static_cast<int64_t>(k);
    mag = mag > max_code ? past : mag;
    mag = finite ? mag : (nan ? qnan : past);
    return mag | (static_cast<int64_t>(bits >> 63) << width);
  }
};

struct IntEnc {
  double scale, least, most;
  template <bool kStochastic>
  PYSIM_INLINE int64_t code(double t, double u) const {
    const double k = round_u<kStochastic>(t * scale, u);
    return static_cast<int64_t>(std::min(std::max(k, least), most));
  }
};

// The ordered integer key of a double (-0.0 and 0.0 both 0) and back: consecutive doubles have
// consecutive keys.
PYSIM_INLINE int64_t order_key(double d) {
  int64_t b = 0;
  std::memcpy(&b, &d, sizeof b);
  return b >= 0 ? b : -(b & std::numeric_limits<int64_t>::max());
}
PYSIM_INLINE double from_order_key(int64_t k) {
  const uint64_t b = k >= 0 ? static_cast<uint64_t>(k)
                            : (static_cast<uint64_t>(-k) | (uint64_t{1} << 63));
  double d = 0.0;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

// Whether nearest-even rounding takes t up from values[k] to values[k + 1] (encode_codebook's
// rule and elements.encode_codebook's: the interpolation weight above one half, or one half
// with k odd).
PYSIM_INLINE bool book_rounds_up(const double* v, int64_t k, double t) {
  const double frac = (t - v[k]) / (v[k + 1] - v[k]);
  return frac > 0.5 || (frac == 0.5 && (k % 2) == 1);
}

// A code book of N values (0: any size, read through the pointer; 16: a 4-bit book such as
// NF4, held by value so the count below unrolls and the element loop vectorises).
template <int N>
struct BookEnc {
  const double* values;
  int64_t n_values;
  double book[N > 0 ? N : 1];
  // 4-bit books: the least double that rounds up past values[k], for each k. Rounding up is
  // monotone in t (the subtraction and the division by a positive gap both are), so t's
  // nearest-even code is the count of these at or below it: the same code as the division,
  // for every double (NaN: none, so 0, as the clamp-and-divide path gives), found once by
  // bisecting the doubles between values[k] and values[k + 1].
  double first_up[N > 1 ? N - 1 : 1];
  bool wide = false;  // a 16-value book's nearest-even spans through book16_span_avx512
  BookEnc(const double* v, int64_t n) : values(v), n_values(n), book{}, first_up{} {
    for (int j = 0; j < N; ++j) book[j] = v[j];
    for (int k = 0; k + 1 < N; ++k) {
      int64_t lo = order_key(v[k]), hi = order_key(v[k + 1]);  // rounds down at lo, up at hi
      while (static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) > 1) {
        const int64_t mid =
            lo + static_cast<int64_t>((static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo)) / 2);
        (book_rounds_up(v, k, from_order_key(mid)) ? hi : lo) = mid;
      }
      first_up[k] = from_order_key(hi);
    }
  }
  template <bool kStochastic>
  PYSIM_INLINE int64_t code(double x, double u) const {
    if constexpr (N > 0 && !kStochastic) {
      int64_t c = 0;
      for (int j = 0; j + 1 < N; ++j) c += first_up[j] <= x ? 1 : 0;
      return c;
    }
    const double* v = N > 0 ? book : values;
    const int64_t n = N > 0 ? N : n_values;
    const double t = std::min(std::max(x, v[0]), v[n - 1]);
    // searchsorted(values, t, side="right") - 1 within 0..n - 2 (encode_codebook's k): with
    // t clamped to the book, the count of values[1..n - 2] at or below it, without the
    // data-dependent branches of a binary search.
    int64_t k = 0;
    for (int64_t j = 1; j + 1 < n; ++j) k += v[j] <= t ? 1 : 0;
    if constexpr (kStochastic) {
      return k + (u < (t - v[k]) / (v[k + 1] - v[k]) ? 1 : 0);
    } else {
      return k + (book_rounds_up(v, k, t) ? 1 : 0);
    }
  }
};

FloatEnc float_enc(const FloatCodeFormat& f, bool saturate) {
  const int width = f.ebits + f.mbits;
  const int64_t top = (int64_t{1} << width) - 1;
  int64_t past = top;
  if (saturate || f.specials == FloatSpecials::None) {
    past = f.max_code;
  } else if (f.specials == FloatSpecials::Ieee) {
    past = top - ((int64_t{1} << f.mbits) - 1);
  }
  const int64_t qnan = f.specials == FloatSpecials::Fn || f.mbits == 0
                           ? top
                           : top - ((int64_t{1} << (f.mbits - 1)) - 1);
  return FloatEnc{f.emin, f.mbits, width, f.max_code, past, qnan};
}

// The largest magnitude bits of x[lo, hi) (NaN above inf's, so one integer max finds it).
template <class In>
PYSIM_INLINE typename In::Bits max_bits(const typename In::T* __restrict x, int64_t lo,
                                        int64_t hi) {
  typename In::Bits m = 0;
  for (int64_t i = lo; i < hi; ++i) {
    const typename In::Bits b = In::bits(x[i]) & In::kAbs;
    m = b > m ? b : m;
  }
  return m;
}

#ifdef PYSIM_X86
// The first min(left, lanes) lanes of a vector: the whole vector, or the loop's tail.
template <class Mask, int kLanes>
PYSIM_INLINE Mask first_lanes(int64_t left) {
  return left >= kLanes ? static_cast<Mask>((1u << kLanes) - 1u)
                        : static_cast<Mask>((1u << left) - 1u);
}

// A 16-value book's nearest-even codes of x[lo, hi) / s (kDiv) or x * s, 8 doubles at a time:
// BookEnc::code's count of the 15 ascending thresholds at or below t, as a 4-step binary search
// over them held in two registers (VPERMT2PD picks each lane's threshold), 12 operations a vector
// instead of 30 (NaN: no comparison holds, code 0, as the count gives).
template <class T, bool kDiv>
__attribute__((noinline)) PYSIM_AVX512 void book16_span_avx512(
    const T* __restrict x, int64_t lo, int64_t hi, double s, const double* first_up,
    uint8_t* __restrict codes) {
  alignas(64) double table[16];
  for (int j = 0; j < 15; ++j) table[j] = first_up[j];
  table[15] = std::numeric_limits<double>::infinity();  // never indexed (c + step - 1 <= 14)
  const __m512d low = _mm512_load_pd(table), high = _mm512_load_pd(table + 8);
  const __m512d sv = _mm512_set1_pd(s);
  for (int64_t i = lo; i < hi; i += 8) {
    const __mmask8 live = first_lanes<__mmask8, 8>(hi - i);
    __m512d v;
    if constexpr (std::is_same_v<T, float>) {
      v = _mm512_maskz_cvtps_pd(live, _mm256_maskz_loadu_ps(live, x + i));
    } else {
      v = _mm512_maskz_loadu_pd(live, x + i);
    }
    const __m512d t = kDiv ? _mm512_div_pd(v, sv) : _mm512_mul_pd(v, sv);
    __m512i c = _mm512_setzero_si512();
    for (const int64_t step : {8, 4, 2, 1}) {
      const __m512i at = _mm512_add_epi64(c, _mm512_set1_epi64(step - 1));
      const __m512d thr = _mm512_permutex2var_pd(low, at, high);
      const __mmask8 up = _mm512_cmp_pd_mask(thr, t, _CMP_LE_OQ);
      c = _mm512_mask_add_epi64(c, up, c, _mm512_set1_epi64(step));
    }
    _mm512_mask_cvtepi64_storeu_epi8(codes + i, live, c);
  }
}

// f32 keys in value order (-0.0 just below 0.0), 8 lanes: a float's successor is key + 1; the
// map is its own inverse.
PYSIM_AVX512 inline __m256i f32_keys(__m256i b) {
  return _mm256_xor_si256(b, _mm256_and_si256(_mm256_srai_epi32(b, 31),
                                              _mm256_set1_epi32(0x7FFFFFFF)));
}

// A 16-value book's thresholds over float32 inputs of one scale: lane k = the least float32 x
// whose t = x / s (kDiv) or x * s reaches first_up[k] (BookEnc::code's test), so that x's code
// is the count of lanes at or below x (t is monotone in x) and the elements need no division.
// With fs = first_up[k] x s' (s' = s, or 1 / s, exact, for the power of two of the x * s path)
// and c = fs rounded to float32, the threshold is c or its successor: the predecessor of c lies
// at least half a float32 step below fs, far outside the 2^-52 of it that fs's rounding and
// t's rounding to first_up can span, so it fails; the successor lies as far above, so it
// passes. One exact test of c per lane (8 divisions, or products, a vector) decides which.
template <bool kDiv>
PYSIM_AVX512 inline __m512 book16_thresholds_f32(const double* first_up, double s) {
  const __m512d product = _mm512_set1_pd(kDiv ? s : 1.0 / s), sv = _mm512_set1_pd(s);
  __m256 half[2];
  for (int h = 0; h < 2; ++h) {  // 15 thresholds: 8 and 7 lanes
    const __m512d f = _mm512_maskz_loadu_pd(h == 0 ? 0xFF : 0x7F, first_up + 8 * h);
    const __m256 c = _mm512_cvtpd_ps(_mm512_mul_pd(f, product));
    const __m512d cd = _mm512_cvtps_pd(c);
    const __m512d t = kDiv ? _mm512_div_pd(cd, sv) : _mm512_mul_pd(cd, sv);
    const __mmask8 pass = _mm512_cmp_pd_mask(f, t, _CMP_LE_OQ);
    const __m256i next = f32_keys(_mm256_add_epi32(f32_keys(_mm256_castps_si256(c)),
                                                   _mm256_set1_epi32(1)));
    half[h] = _mm256_mask_blend_ps(pass, _mm256_castsi256_ps(next), c);
  }
  // lane 15: never indexed (c + step - 1 <= 14)
  const __m512 t = _mm512_insertf32x8(_mm512_castps256_ps512(half[0]), half[1], 1);
  return _mm512_mask_mov_ps(t, 0x8000, _mm512_set1_ps(std::numeric_limits<float>::infinity()));
}

// 16 inputs as float32 lanes, exactly: float32 itself, bfloat16 shifted into the top half,
// binary16 through VCVTPH2PS (subnormals, inf and NaN's sign kept); lanes off `live` are 0.
template <class In>
PYSIM_AVX512 inline __m512 load_f32(const typename In::T* p, __mmask16 live) {
  if constexpr (std::is_same_v<In, InF32>) {
    return _mm512_maskz_loadu_ps(live, p);
  } else if constexpr (std::is_same_v<In, InBF16>) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(live, p)), 16));
  } else {
    static_assert(std::is_same_v<In, InF16>);
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(live, p));
  }
}

// The inputs the float32-lane kernels below take.
template <class In>
constexpr bool kF32Lanes =
    std::is_same_v<In, InF32> || std::is_same_v<In, InBF16> || std::is_same_v<In, InF16>;

PYSIM_AVX512 inline __m128i book16_codes_f32(__m512 v, __m512 thresholds) {
  __m512i c = _mm512_setzero_si512();
  for (const int step : {8, 4, 2, 1}) {
    const __m512i at = _mm512_add_epi32(c, _mm512_set1_epi32(step - 1));
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_permutexvar_ps(at, thresholds), v,
                                            _CMP_LE_OQ);
    c = _mm512_mask_add_epi32(c, up, c, _mm512_set1_epi32(step));
  }
  return _mm512_cvtepi32_epi8(c);
}

template <class In, bool kDiv>
PYSIM_AVX512 inline void book16_span_f32_avx512(const typename In::T* __restrict x, int64_t lo,
                                                int64_t hi, double s, const double* first_up,
                                                uint8_t* __restrict codes) {
  const __m512 thresholds = book16_thresholds_f32<kDiv>(first_up, s);
  int64_t i = lo;
  for (; i + 16 <= hi; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i),
                     book16_codes_f32(load_f32<In>(x + i, 0xFFFF), thresholds));
  }
  if (i < hi) {
    const __mmask16 live = first_lanes<__mmask16, 16>(hi - i);
    _mm_mask_storeu_epi8(codes + i, live,
                         book16_codes_f32(load_f32<In>(x + i, live), thresholds));
  }
}

// FloatEnc's nearest-even byte codes of x[lo, hi) * s (s a power of two: MX's 2^-scale, or 1)
// in float32 lanes, 16 a vector, on the bits instead of through double logarithms. t = x * s
// is exact in float32 but where it falls under 2^-126, which every element format codes as
// zero however it rounds. Normal in the format (|t| >= 2^emin): the float32 bits rounded to
// mbits mantissa bits, nearest-even, in integer lanes (a carry moves the exponent up, as it
// should), rebiased; subnormal: |t| + 2^(emin - mbits + 23) in float32, whose unit in the last
// place is the format's subnormal step, rounds |t| to a multiple of it, nearest-even (the
// default rounding mode), and its bits less that constant's are the code. Past max_code (inf
// too): past; NaN: qnan; the sign bit above.
template <class In>
PYSIM_AVX512 inline void float_span_f32_avx512(
    const typename In::T* __restrict x, int64_t lo, int64_t hi, double s, const FloatEnc& enc,
    uint8_t* __restrict codes) {
  const int shift = static_cast<int>(23 - enc.mbits);
  const __m512 sv = _mm512_set1_ps(static_cast<float>(s));
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  const __m512i half = _mm512_set1_epi32((1 << (shift - 1)) - 1), one = _mm512_set1_epi32(1);
  const __m512i rebias = _mm512_set1_epi32(static_cast<int32_t>((127 + enc.emin - 1) << enc.mbits));
  const __m512i least_normal = _mm512_set1_epi32(static_cast<int32_t>((127 + enc.emin) << 23));
  const __m512 magic = _mm512_castsi512_ps(
      _mm512_set1_epi32(static_cast<int32_t>((127 + enc.emin - enc.mbits + 23) << 23)));
  const __m512i max_code = _mm512_set1_epi32(static_cast<int32_t>(enc.max_code));
  const __m512i past = _mm512_set1_epi32(static_cast<int32_t>(enc.past));
  const __m512i qnan = _mm512_set1_epi32(static_cast<int32_t>(enc.qnan));
  for (int64_t i = lo; i < hi; i += 16) {
    const __mmask16 live = first_lanes<__mmask16, 16>(hi - i);
    const __m512i b = _mm512_castps_si512(_mm512_mul_ps(load_f32<In>(x + i, live), sv));
    const __m512i a = _mm512_and_si512(b, abs_mask);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(a, shift), one);
    const __m512i normal = _mm512_sub_epi32(
        _mm512_srli_epi32(_mm512_add_epi32(a, _mm512_add_epi32(half, odd)), shift), rebias);
    const __m512i sub = _mm512_sub_epi32(
        _mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(a), magic)),
        _mm512_castps_si512(magic));
    __m512i mag = _mm512_mask_blend_epi32(_mm512_cmplt_epu32_mask(a, least_normal), normal, sub);
    mag = _mm512_mask_mov_epi32(mag, _mm512_cmpgt_epu32_mask(mag, max_code), past);
    mag = _mm512_mask_mov_epi32(mag, _mm512_cmpgt_epu32_mask(a, inf), qnan);
    const __m512i sign = _mm512_sll_epi32(_mm512_srli_epi32(b, 31),
                                          _mm_cvtsi64_si128(enc.width));
    _mm512_mask_cvtepi32_storeu_epi8(codes + i, live, _mm512_or_si512(mag, sign));
  }
}
#endif

// codes[lo, hi) of x / s (kDiv) or x * s.
template <class In, class Code, class Enc, bool kStochastic, bool kDiv>
PYSIM_INLINE void encode_span(const typename In::T* __restrict x, const double* __restrict u,
                              int64_t lo, int64_t hi, double s, const Enc enc,
                              Code* __restrict codes) {
#ifdef PYSIM_X86
  if constexpr (std::is_same_v<Enc, BookEnc<16>> && !kStochastic &&
                std::is_same_v<Code, uint8_t> && (kF32Lanes<In> || std::is_same_v<In, InF64>)) {
    if (enc.wide) {
      if constexpr (kF32Lanes<In>) {
        book16_span_f32_avx512<In, kDiv>(x, lo, hi, s, enc.first_up, codes);
      } else {
        book16_span_avx512<typename In::T, kDiv>(x, lo, hi, s, enc.first_up, codes);
      }
      return;
    }
  }
  if constexpr (std::is_same_v<Enc, FloatEnc> && !kStochastic && !kDiv &&
                std::is_same_v<Code, uint8_t> && kF32Lanes<In>) {
    // s a float32 too: MX's 2^-scale always; 1 / a float32 scale under 2^-127 (a tensor of
    // float32 subnormals) only in double
    if (enc.wide && s <= 0x1p127) {
      float_span_f32_avx512<In>(x, lo, hi, s, enc, codes);
      return;
    }
  }
#endif
  for (int64_t i = lo; i < hi; ++i) {
    const double v = In::value(x[i]);
    const double t = kDiv ? v / s : v * s;
    codes[i] = static_cast<Code>(enc.template code<kStochastic>(t, kStochastic ? u[i] : 0.0));
  }
}

// A block's scale from its largest magnitude bits m: s (0: none), and whether x * mul (mul
// = 1 / s, exact for a power of two) replaces x / s. Status Rejected / ScaleOutOfRange where
// granularity.scales (or quantize's finite check) raises.
struct BlockScale {
  double s = 1.0;
  double mul = 1.0;
  bool div = false;
  bool nan = false;
  // scale s: x * (1 / s) (exact for a power of two) where it is one, else x / s
  void set(double scale) {
    s = scale;
    uint64_t sb = 0;
    std::memcpy(&sb, &s, sizeof sb);
    div = (sb & 0x000FFFFFFFFFFFFFull) != 0;  // not a power of two: divide
    mul = div ? 1.0 : 1.0 / s;
  }
};

template <class In>
PYSIM_INLINE FusedStatus block_scale(typename In::Bits m, const ScaleSpec& sp,
                                     const FloatEnc& senc, BlockScale* out) {
  const bool finite = m < In::kInf;
  if (sp.kind == ScaleKind::E8M0) {
    if (!finite) {
      out->nan = true;
      return FusedStatus::Ok;
    }
    const double amax = In::from_bits(m);
    int64_t exp = -127;
    if (amax != 0.0) exp = std::max<int64_t>(std::ilogb(amax) - sp.emax, -127);
    if (exp > 127) return FusedStatus::ScaleOutOfRange;
    out->s = pow2(exp);
    out->mul = pow2(-exp);
    out->div = false;
    return FusedStatus::Ok;
  }
  if (!finite) return FusedStatus::Rejected;
  const double amax = In::from_bits(m);
  if (sp.max_abs == 1.0 && sp.fmt.ebits == 8 && sp.fmt.mbits == 23 && sp.fmt.emin == -126 &&
      sizeof(typename In::T) <= 4) {
    // a float32 scale of a float32 (or narrower) input's absmax over 1 (NF4's): the absmax
    // itself, which rounds to itself (0: 1)
    out->set(amax == 0.0 ? 1.0 : amax);
    return FusedStatus::Ok;
  }
  const double raw = amax == 0.0 ? 1.0 : amax / sp.max_abs;
  const int64_t code = senc.code<false>(raw, 0.0);  // raw > 0: no sign bit
  if (code > sp.fmt.max_code) return FusedStatus::ScaleOutOfRange;  // inf or NaN
  const int64_t e = code >> sp.fmt.mbits, man = code & ((int64_t{1} << sp.fmt.mbits) - 1);
  // the code's value, significand x 2^p: exact as a product with 2^p built from its bits (no
  // libm call per block) for p in the normal range, which every scale format's codes are in
  const int64_t p = (e == 0 ? 0 : e - 1) + sp.fmt.emin - sp.fmt.mbits;
  const double sig = static_cast<double>(e == 0 ? man : man + (int64_t{1} << sp.fmt.mbits));
  const double s = p >= -1022 && p <= 1023 ? sig * pow2(p)
                                            : std::ldexp(sig, static_cast<int>(p));
  if (s == 0.0) return FusedStatus::ScaleOutOfRange;
  out->set(s);
  return FusedStatus::Ok;
}

// Everything a claim needs.
template <class In, class Code, class Enc>
struct FusedJob {
  const typename In::T* x;
  const double* u;
  int64_t n, block;
  Enc enc;
  FloatEnc senc;
  ScaleSpec sp;
  Reject reject;
  Code* codes;
  float* scales;
};

template <class In, class Code, class Enc, bool kStochastic>
PYSIM_INLINE void encode_scaled_span(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                                     const BlockScale& bs) {
  if (bs.nan) {  // MX v1.0 Section 6.3: a NaN-scale block's elements are stored as zeros
    for (int64_t i = lo; i < hi; ++i) {
      j.codes[i] = static_cast<Code>(
          j.enc.template code<kStochastic>(0.0, kStochastic ? j.u[i] : 0.0));
    }
  } else if (bs.div) {
    encode_span<In, Code, Enc, kStochastic, true>(j.x, j.u, lo, hi, bs.s, j.enc, j.codes);
  } else {
    encode_span<In, Code, Enc, kStochastic, false>(j.x, j.u, lo, hi, bs.mul, j.enc, j.codes);
  }
}

bool rejects(Reject r, bool nan, bool inf) {
  return (r == Reject::NaN && nan) || (r == Reject::NonFinite && (nan || inf));
}

// Short blocks (MX's 32, groups to 128) in runs of kRun whole blocks: the run's scales first,
// then its codes, the run's input (2Ki elements) still in L1. The block maxima and scales then
// pipeline with each other instead of each waiting on its block's codes: MXFP8 5.6 -> 6.2 GB/s,
// int8 per group of 32 5.9 -> 8.2, int4 per group of 128 11.6 -> 13.4 on this machine's AVX-512
// loops (bench_formats.py's input; a run of runtime length ran MX 5 % slower).
template <int64_t kRun, class In, class Code, class Enc, bool kStochastic>
PYSIM_INLINE FusedStatus scaled_runs(const FusedJob<In, Code, Enc>& j, int64_t b0, int64_t b1) {
  BlockScale bss[kRun];
  for (int64_t r0 = b0; r0 < b1; r0 += kRun) {
    const int64_t r1 = std::min(b1, r0 + kRun);
    for (int64_t b = r0; b < r1; ++b) {
      const int64_t lo = b * j.block;
      BlockScale& bs = bss[b - r0];
      bs = BlockScale{};
      const FusedStatus st =
          block_scale<In>(max_bits<In>(j.x, lo, lo + j.block), j.sp, j.senc, &bs);
      if (st != FusedStatus::Ok) return st;
      j.scales[b] = bs.nan ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(bs.s);
    }
    for (int64_t b = r0; b < r1; ++b) {
      const int64_t lo = b * j.block;
      encode_scaled_span<In, Code, Enc, kStochastic>(j, lo, lo + j.block, bss[b - r0]);
    }
  }
  return FusedStatus::Ok;
}

// Blocks [b0, b1) whole: each block's max, scale and codes while it is in cache (short ones in
// runs, above). Unscaled (ScaleKind::None): "blocks" are spans of the claim, checked then
// encoded.
template <class In, class Code, class Enc, bool kStochastic>
PYSIM_INLINE FusedStatus blocks_body(const FusedJob<In, Code, Enc>& j, int64_t b0, int64_t b1) {
  if (j.sp.kind != ScaleKind::None) {
    if (j.block <= 32) return scaled_runs<64, In, Code, Enc, kStochastic>(j, b0, b1);
    if (j.block <= 64) return scaled_runs<32, In, Code, Enc, kStochastic>(j, b0, b1);
    if (j.block <= 128) return scaled_runs<16, In, Code, Enc, kStochastic>(j, b0, b1);
  }
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t lo = b * j.block, hi = std::min(j.n, lo + j.block);
    const typename In::Bits m = max_bits<In>(j.x, lo, hi);
    if (j.sp.kind == ScaleKind::None) {
      if (rejects(j.reject, m > In::kInf, m == In::kInf)) return FusedStatus::Rejected;
      encode_span<In, Code, Enc, kStochastic, false>(j.x, j.u, lo, hi, 1.0, j.enc, j.codes);
      continue;
    }
    BlockScale bs;
    const FusedStatus st = block_scale<In>(m, j.sp, j.senc, &bs);
    if (st != FusedStatus::Ok) return st;
    j.scales[b] = bs.nan ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(bs.s);
    encode_scaled_span<In, Code, Enc, kStochastic>(j, lo, hi, bs);
  }
  return FusedStatus::Ok;
}

// [lo, hi) of a tensor of long blocks, split at block boundaries: the partial maxima into
// maxima[block] (pass 1), or the codes with the blocks' scales (pass 2).
template <class In, class Code, class Enc>
PYSIM_INLINE void max_pieces(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                             std::atomic<uint64_t>* maxima) {
  for (int64_t i = lo; i < hi;) {
    const int64_t b = i / j.block, end = std::min(hi, (b + 1) * j.block);
    const uint64_t m = max_bits<In>(j.x, i, end);
    uint64_t seen = maxima[b].load(std::memory_order_relaxed);
    while (m > seen && !maxima[b].compare_exchange_weak(seen, m)) {
    }
    i = end;
  }
}

template <class In, class Code, class Enc, bool kStochastic>
PYSIM_INLINE void encode_pieces(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                                const BlockScale* bss) {
  for (int64_t i = lo; i < hi;) {
    const int64_t b = i / j.block, end = std::min(hi, (b + 1) * j.block);
    encode_scaled_span<In, Code, Enc, kStochastic>(j, i, end, bss[b]);
    i = end;
  }
}

// The three loops compiled for AVX-512 and for any CPU.
template <class In, class Code, class Enc, bool kStochastic>
FusedStatus blocks_portable(const FusedJob<In, Code, Enc>& j, int64_t b0, int64_t b1) {
  return blocks_body<In, Code, Enc, kStochastic>(j, b0, b1);
}
template <class In, class Code, class Enc>
void max_portable(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                  std::atomic<uint64_t>* maxima) {
  max_pieces<In, Code, Enc>(j, lo, hi, maxima);
}
template <class In, class Code, class Enc, bool kStochastic>
void pieces_portable(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                     const BlockScale* bss) {
  encode_pieces<In, Code, Enc, kStochastic>(j, lo, hi, bss);
}
#ifdef PYSIM_X86
template <class In, class Code, class Enc, bool kStochastic>
PYSIM_AVX512 FusedStatus blocks_avx512(const FusedJob<In, Code, Enc>& j, int64_t b0,
                                       int64_t b1) {
  return blocks_body<In, Code, Enc, kStochastic>(j, b0, b1);
}
template <class In, class Code, class Enc>
PYSIM_AVX512 void max_avx512(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                             std::atomic<uint64_t>* maxima) {
  max_pieces<In, Code, Enc>(j, lo, hi, maxima);
}
template <class In, class Code, class Enc, bool kStochastic>
PYSIM_AVX512 void pieces_avx512(const FusedJob<In, Code, Enc>& j, int64_t lo, int64_t hi,
                                const BlockScale* bss) {
  encode_pieces<In, Code, Enc, kStochastic>(j, lo, hi, bss);
}
#endif

template <class In, class Code, class Enc, bool kStochastic>
FusedStatus run_fused(const FusedJob<In, Code, Enc>& j, const Poll& poll) {
#ifdef PYSIM_X86
  const bool wide = cpu_has_avx512_dq();
#else
  const bool wide = false;
#endif
  std::atomic<int> status{0};
  auto stop = [&] { return status.load(std::memory_order_relaxed) != 0; };
  auto fail = [&](FusedStatus st) {
    int zero = 0;
    if (st != FusedStatus::Ok) status.compare_exchange_strong(zero, static_cast<int>(st));
  };
  if (j.sp.kind == ScaleKind::None || j.block <= kBlock) {
    // short blocks (or the unscaled tensor in spans of 4Ki): one pass
    FusedJob<In, Code, Enc> jj = j;
    if (j.sp.kind == ScaleKind::None) jj.block = int64_t{1} << 12;
    const int64_t blocks = jj.n / jj.block + (jj.n % jj.block != 0 ? 1 : 0);
    const int64_t step = std::max<int64_t>(1, kBlock / jj.block);
    for_claims(blocks, step, poll, [&](int64_t b0, int64_t b1) {
#ifdef PYSIM_X86
      if (wide) return fail(blocks_avx512<In, Code, Enc, kStochastic>(jj, b0, b1));
#endif
      fail(blocks_portable<In, Code, Enc, kStochastic>(jj, b0, b1));
    }, stop);
    return static_cast<FusedStatus>(status.load());
  }
  // long blocks (per tensor, long channels): the maxima in one pass, the scales, the codes
  const int64_t blocks = j.n / j.block;
  std::vector<std::atomic<uint64_t>> maxima(static_cast<size_t>(blocks));
  for (auto& m : maxima) m.store(0);
  for_claims(j.n, kBlock, poll, [&](int64_t lo, int64_t hi) {
#ifdef PYSIM_X86
    if (wide) return max_avx512<In, Code, Enc>(j, lo, hi, maxima.data());
#endif
    max_portable<In, Code, Enc>(j, lo, hi, maxima.data());
  }, stop);
  std::vector<BlockScale> bss(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b) {
    const auto m = static_cast<typename In::Bits>(maxima[static_cast<size_t>(b)].load());
    const FusedStatus st = block_scale<In>(m, j.sp, j.senc, &bss[static_cast<size_t>(b)]);
    if (st != FusedStatus::Ok) return st;
    const BlockScale& bs = bss[static_cast<size_t>(b)];
    j.scales[b] = bs.nan ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(bs.s);
  }
  for_claims(j.n, kBlock, poll, [&](int64_t lo, int64_t hi) {
#ifdef PYSIM_X86
    if (wide) return pieces_avx512<In, Code, Enc, kStochastic>(j, lo, hi, bss.data());
#endif
    pieces_portable<In, Code, Enc, kStochastic>(j, lo, hi, bss.data());
  }, stop);
  return FusedStatus::Ok;
}

template <class In, class Code, class Enc>
FusedStatus fused_with(const void* x, int64_t n, int64_t block, const Enc& enc,
                       const ScaleSpec& sp, Reject reject, const double* u, void* codes,
                       float* scales, const Poll& poll) {
  const FloatEnc senc = sp.kind == ScaleKind::Float ? float_enc(sp.fmt, false) : FloatEnc{};
  const FusedJob<In, Code, Enc> j{static_cast<const typename In::T*>(x), u, n, block, enc,
                                  senc, sp, reject, static_cast<Code*>(codes), scales};
  return u != nullptr ? run_fused<In, Code, Enc, true>(j, poll)
                      : run_fused<In, Code, Enc, false>(j, poll);
}

// float32 to bfloat16 or binary16 codes, unscaled, to nearest even, not saturating, in one
// instruction's worth of work a vector instead of the general encoder's double arithmetic:
// bfloat16 is float32's top half rounded to nearest even in integer lanes (AVX512-BF16's
// VCVTNEPS2BF16 would flush subnormals), binary16 is F16C's VCVTPS2PH (IEEE rounding,
// subnormals and overflow to inf included). A NaN becomes the format's quiet NaN with x's sign,
// as the general encoder (and pysim.formats' NumPy path) stores it. The same codes as
// FloatEnc for every float32 (tests/test_formats_fused.py, over the bit range).
HalfKind half_kind(const ElementSpec& e, const ScaleSpec& sp, Reject reject, const double* u,
                   int code_bytes) {
  if (e.kind != ElementKind::Float || sp.kind != ScaleKind::None || reject != Reject::None ||
      u != nullptr || e.saturate || code_bytes != 2 || e.fmt.specials != FloatSpecials::Ieee) {
    return HalfKind::None;
  }
  if (e.fmt.ebits == 8 && e.fmt.mbits == 7 && e.fmt.emin == -126) return HalfKind::BF16;
  if (e.fmt.ebits == 5 && e.fmt.mbits == 10 && e.fmt.emin == -14) return HalfKind::F16;
  return HalfKind::None;
}

#ifdef PYSIM_X86
PYSIM_AVX512 void bf16_codes_avx512(const float* __restrict x, int64_t lo, int64_t hi,
                                    uint16_t* __restrict out) {
  for (int64_t i = lo; i < hi; ++i) {
    uint32_t b = 0;
    std::memcpy(&b, &x[i], sizeof b);
    const uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    const uint32_t nan = ((b >> 16) & 0x8000u) | 0x7FC0u;
    out[i] = static_cast<uint16_t>((b & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
  }
}

PYSIM_AVX512 void f16_codes_avx512(const float* __restrict x, int64_t lo, int64_t hi,
                                   uint16_t* __restrict out) {
  const __m256i sign = _mm256_set1_epi16(static_cast<short>(0x8000));
  const __m256i qnan = _mm256_set1_epi16(0x7E00);
  for (int64_t i = lo; i < hi; i += 16) {
    const __mmask16 live = first_lanes<__mmask16, 16>(hi - i);
    const __m512 v = _mm512_maskz_loadu_ps(live, x + i);
    __m256i h = _mm512_maskz_cvtps_ph(live, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    h = _mm256_mask_blend_epi16(nan, h, _mm256_or_si256(_mm256_and_si256(h, sign), qnan));
    _mm256_mask_storeu_epi16(out + i, live, h);
  }
}
#endif

// The codes through the fast path when it applies on this CPU (false: it does not).
bool half_codes(const void* x, int64_t n, HalfKind kind, void* codes, const Poll& poll) {
#ifdef PYSIM_X86
  if (kind == HalfKind::None || !cpu_has_avx512_dq()) return false;
  const auto* in = static_cast<const float*>(x);
  auto* out = static_cast<uint16_t*>(codes);
  for_blocks(n, poll, [&](int64_t lo, int64_t hi) {
    if (kind == HalfKind::BF16) {
      bf16_codes_avx512(in, lo, hi, out);
    } else {
      f16_codes_avx512(in, lo, hi, out);
    }
  });
  return true;
#else
  (void)x, (void)n, (void)kind, (void)codes, (void)poll;
  return false;
#endif
}

// float32 to a float format of at most 6 mantissa bits (fp8, fp6, fp4), unscaled, to nearest
// even, through a table of the code of every float32 class: a code is fixed by the word's top
// 16 bits (sign, exponent, 7 mantissa bits) and whether any of its low 16 bits is set. Rounding
// to m <= 6 mantissa bits puts every tie (and every rounding boundary) at a float32 whose low 16
// bits are 0, so no class straddles one, and float32 subnormals (below 2^-126) are 0 in each of
// those formats. The 2 x 65536 codes come from FloatEnc itself (the class's least member), once
// per format; the codes are FloatEnc's for every float32.
struct NarrowKey {
  int ebits, mbits, emin;
  int64_t max_code;
  FloatSpecials specials;
  bool saturate, nan_mark;
  bool operator<(const NarrowKey& o) const {
    return std::tie(ebits, mbits, emin, max_code, specials, saturate, nan_mark) <
           std::tie(o.ebits, o.mbits, o.emin, o.max_code, o.specials, o.saturate, o.nan_mark);
  }
};

// With nan_mark a NaN's class holds kNanMark, no code of a format of at most 7 bits (fp6, fp4:
// they hold no NaN, and quantize rejects one): a span's codes are checked for it afterwards.
constexpr uint8_t kNanMark = 0xFF;

const std::vector<uint8_t>* narrow_table(const FloatCodeFormat& f, bool saturate,
                                         bool nan_mark) {
  static std::mutex lock;
  static std::map<NarrowKey, std::vector<uint8_t>> tables;
  const NarrowKey key{f.ebits, f.mbits, f.emin, f.max_code, f.specials, saturate, nan_mark};
  const std::lock_guard<std::mutex> guard(lock);
  auto it = tables.find(key);
  if (it == tables.end()) {
    const FloatEnc enc = float_enc(f, saturate);
    std::vector<uint8_t> t(size_t{1} << 17);
    for (uint32_t idx = 0; idx < (uint32_t{1} << 17); ++idx) {
      const uint32_t bits = ((idx >> 1) << 16) | (idx & 1u);
      float v = 0.0f;
      std::memcpy(&v, &bits, sizeof v);
      t[idx] = nan_mark && std::isnan(v)
                   ? kNanMark
                   : static_cast<uint8_t>(enc.code<false>(static_cast<double>(v), 0.0));
    }
    it = tables.emplace(key, std::move(t)).first;
  }
  return &it->second;
}

PYSIM_INLINE void narrow_codes(const float* __restrict x, int64_t lo, int64_t hi,
                               const uint8_t* __restrict table, uint8_t* __restrict codes) {
  for (int64_t i = lo; i < hi; ++i) {
    uint32_t b = 0;
    std::memcpy(&b, &x[i], sizeof b);
    codes[i] = table[((b >> 16) << 1) | ((b & 0xFFFFu) != 0 ? 1u : 0u)];
  }
}

// The largest code of c[lo, hi).
template <class Code>
PYSIM_INLINE Code max_code_of(const Code* __restrict c, int64_t lo, int64_t hi) {
  Code m = 0;
  for (int64_t i = lo; i < hi; ++i) m = c[i] > m ? c[i] : m;
  return m;
}

// The codes through the table when it applies (false: it does not); Rejected for a NaN where
// the format holds none (fp6, fp4: the table marks it, each span's codes are checked for the
// mark while in L1; checking the input's maxima first ran them slower than the double loop).
// Only on CPUs without AVX-512: with it, float_span_f32_avx512 computes the same codes from the
// bits faster than the table gives them (fp8 E4M3 12.5 -> 19 GB/s on this machine, codes into
// pages already mapped).
bool narrow_float_codes(const void* x, int64_t n, const ElementSpec& e, const ScaleSpec& sp,
                        Reject reject, const double* u, int code_bytes, void* codes,
                        const Poll& poll, FusedStatus* status) {
#ifdef PYSIM_X86
  if (cpu_has_avx512_dq()) return false;
#endif
  const bool nan_mark = reject == Reject::NaN;
  if (e.kind != ElementKind::Float || sp.kind != ScaleKind::None || u != nullptr ||
      code_bytes != 1 || e.fmt.mbits > 6 || e.fmt.ebits > 8 ||
      (reject != Reject::None && !nan_mark) || (nan_mark && e.fmt.ebits + e.fmt.mbits > 6)) {
    return false;
  }
  const uint8_t* table = narrow_table(e.fmt, e.saturate, nan_mark)->data();
  const auto* in = static_cast<const float*>(x);
  auto* out = static_cast<uint8_t*>(codes);
  std::atomic<bool> bad{false};
  for_claims(n, kBlock, poll, [&](int64_t lo, int64_t hi) {
    for (int64_t a = lo; a < hi; a += int64_t{1} << 12) {
      const int64_t b = std::min(hi, a + (int64_t{1} << 12));
      narrow_codes(in, a, b, table, out);
      if (nan_mark && max_code_of(out, a, b) == kNanMark) {
        bad.store(true);
        return;
      }
    }
  }, [&] { return bad.load(std::memory_order_relaxed); });
  *status = bad.load() ? FusedStatus::Rejected : FusedStatus::Ok;
  return true;
}

template <class In>
FusedStatus fused_in(const void* x, int64_t n, int64_t block, const ElementSpec& e,
                     const ScaleSpec& sp, Reject reject, const double* u, void* codes,
                     int code_bytes, float* scales, const Poll& poll) {
  const bool scaled = sp.kind != ScaleKind::None;
  if (e.kind == ElementKind::Codebook) {
    if (e.n_values == 16) {
      BookEnc<16> book(e.values, 16);
#ifdef PYSIM_X86
      book.wide = cpu_has_avx512_dq();
#endif
      return fused_with<In, uint8_t>(x, n, block, book, sp, reject, u,
                                     codes, scales, poll);
    }
    return fused_with<In, uint8_t>(x, n, block, BookEnc<0>(e.values, e.n_values), sp, reject,
                                   u, codes, scales, poll);
  }
  if (e.kind == ElementKind::Int) {
    const IntEnc enc{std::ldexp(1.0, e.frac_bits), static_cast<double>(e.qmin),
                     static_cast<double>(e.qmax)};
    if (code_bytes == 1) {
      return fused_with<In, uint8_t>(x, n, block, enc, sp, reject, u, codes, scales, poll);
    }
    return fused_with<In, uint16_t>(x, n, block, enc, sp, reject, u, codes, scales, poll);
  }
  if constexpr (std::is_same_v<In, InF32>) {
    if (half_codes(x, n, half_kind(e, sp, reject, u, code_bytes), codes, poll)) {
      return FusedStatus::Ok;
    }
    FusedStatus status = FusedStatus::Ok;
    if (narrow_float_codes(x, n, e, sp, reject, u, code_bytes, codes, poll, &status)) {
      return status;
    }
  }
  FloatEnc enc = float_enc(e.fmt, scaled || e.saturate);
#ifdef PYSIM_X86
  enc.wide = cpu_has_avx512_dq() && code_bytes == 1;  // byte codes: at most 7 bits and a sign
#endif
  if (code_bytes == 1) {
    return fused_with<In, uint8_t>(x, n, block, enc, sp, reject, u, codes, scales, poll);
  }
  if (code_bytes == 2) {
    return fused_with<In, uint16_t>(x, n, block, enc, sp, reject, u, codes, scales, poll);
  }
  return fused_with<In, uint32_t>(x, n, block, enc, sp, reject, u, codes, scales, poll);
}

template <class Code>
PYSIM_INLINE void dequant_body(const Code* __restrict c, const float* __restrict table,
                               const float* __restrict scales, int64_t block, int64_t lo,
                               int64_t hi, float* __restrict out) {
  if (scales == nullptr) {
    for (int64_t i = lo; i < hi; ++i) out[i] = table[c[i]];
    return;
  }
  for (int64_t i = lo; i < hi;) {
    const int64_t b = i / block, end = std::min(hi, (b + 1) * block);
    const float s = scales[b];
    for (int64_t k = i; k < end; ++k) out[k] = table[c[k]] * s;
    i = end;
  }
}

template <class Code>
bool dequant_portable(const Code* c, const float* table, int64_t table_size,
                      const float* scales, int64_t block, int64_t lo, int64_t hi, float* out) {
  if (static_cast<int64_t>(max_code_of(c, lo, hi)) >= table_size) return false;
  dequant_body(c, table, scales, block, lo, hi, out);
  return true;
}
#ifdef PYSIM_X86
template <class Code>
PYSIM_AVX512 bool dequant_avx512(const Code* c, const float* table, int64_t table_size,
                                 const float* scales, int64_t block, int64_t lo, int64_t hi,
                                 float* out) {
  if (static_cast<int64_t>(max_code_of(c, lo, hi)) >= table_size) return false;
  dequant_body(c, table, scales, block, lo, hi, out);
  return true;
}
#endif

#ifdef PYSIM_X86
// bfloat16 (kBf16) / binary16 words to float32 (a shift; F16C's VCVTPH2PS), NaN as the decode
// table holds it: float32's canonical quiet NaN with the word's sign, whatever its payload.
template <bool kBf16>
PYSIM_AVX512 void half_values_avx512(const uint16_t* __restrict c, int64_t lo, int64_t hi,
                                     float* __restrict out) {
  const __m512 qnan = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000));
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(0x80000000u)));
  for (int64_t i = lo; i < hi; i += 16) {
    const __mmask16 live = first_lanes<__mmask16, 16>(hi - i);
    const __m256i h = _mm256_maskz_loadu_epi16(live, c + i);
    __m512 v;
    if constexpr (kBf16) {
      v = _mm512_castsi512_ps(
          _mm512_maskz_slli_epi32(live, _mm512_maskz_cvtepu16_epi32(live, h), 16));
    } else {
      v = _mm512_maskz_cvtph_ps(live, h);
    }
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
                           _mm512_or_ps(_mm512_and_ps(v, sign), qnan));
    _mm512_mask_storeu_ps(out + i, live, v);
  }
}
#endif

template <class Code>
bool dequant_run(const Code* c, int64_t n, const float* table, int64_t table_size,
                 const float* scales, int64_t block, float* out, const Poll& poll) {
  std::atomic<bool> bad{false};
#ifdef PYSIM_X86
  const bool wide = cpu_has_avx512_dq();
#endif
  for_claims(n, kBlock, poll, [&](int64_t lo, int64_t hi) {
    bool ok = false;
#ifdef PYSIM_X86
    if (wide) {
      ok = dequant_avx512(c, table, table_size, scales, block, lo, hi, out);
    } else {
      ok = dequant_portable(c, table, table_size, scales, block, lo, hi, out);
    }
#else
    ok = dequant_portable(c, table, table_size, scales, block, lo, hi, out);
#endif
    if (!ok) bad.store(true);
  }, [&] { return bad.load(std::memory_order_relaxed); });
  return !bad.load();
}

}  // namespace

FusedStatus quantize_fused(const void* x, InputType in, int64_t n, int64_t block,
                           const ElementSpec& elem, const ScaleSpec& scale, Reject reject,
                           const double* u, void* codes, int code_bytes, float* scales,
                           const Poll& poll) {
  if (n < 0) throw std::invalid_argument("n must be >= 0, got " + std::to_string(n));
  if (block < 1 || (n > 0 && n % block != 0)) {
    throw std::invalid_argument("block must be >= 1 and divide the " + std::to_string(n) +
                                " elements of x, got " + std::to_string(block));
  }
  if (code_bytes != 1 && code_bytes != 2 && code_bytes != 4) {
    throw std::invalid_argument("code_bytes must be 1, 2 or 4, got " +
                                std::to_string(code_bytes));
  }
  if (elem.kind == ElementKind::Float) {
    validate(elem.fmt);
    const int need = elem.fmt.ebits + elem.fmt.mbits + 1 <= 8 ? 1
                     : elem.fmt.ebits + elem.fmt.mbits + 1 <= 16 ? 2 : 4;
    if (code_bytes < need) {
      throw std::invalid_argument("code_bytes " + std::to_string(code_bytes) +
                                  " is too narrow for a " +
                                  std::to_string(elem.fmt.ebits + elem.fmt.mbits + 1) +
                                  "-bit float format");
    }
  } else if (elem.kind == ElementKind::Int) {
    if (elem.frac_bits < -64 || elem.frac_bits > 64) {
      throw std::invalid_argument("frac_bits must be in [-64, 64], got " +
                                  std::to_string(elem.frac_bits));
    }
    const int64_t lim = code_bytes == 1 ? 255 : 65535;
    if (elem.qmin > elem.qmax || elem.qmin < -(lim + 1) / 2 || elem.qmax > lim ||
        code_bytes == 4) {
      throw std::invalid_argument("qmin..qmax must be an ascending range that fits " +
                                  std::to_string(code_bytes) + "-byte codes (at most 2), got " +
                                  std::to_string(elem.qmin) + ".." + std::to_string(elem.qmax));
    }
  } else {
    if (elem.n_values < 2 || elem.n_values > 256) {
      throw std::invalid_argument("a code book needs 2..256 values, got " +
                                  std::to_string(elem.n_values));
    }
    for (int64_t k = 1; k < elem.n_values; ++k) {
      if (!(elem.values[k - 1] < elem.values[k]) || !std::isfinite(elem.values[k]) ||
          !std::isfinite(elem.values[0])) {
        throw std::invalid_argument("code-book values must be finite and strictly ascending");
      }
    }
    if (code_bytes != 1) throw std::invalid_argument("code-book codes are 1 byte");
  }
  if (scale.kind == ScaleKind::Float) {
    validate(scale.fmt);
    if (!(scale.max_abs > 0.0) || !std::isfinite(scale.max_abs)) {
      throw std::invalid_argument("max_abs must be finite and > 0");
    }
  }
  if (scale.kind == ScaleKind::E8M0 && (scale.emax < -1000 || scale.emax > 1000)) {
    throw std::invalid_argument("emax must be in [-1000, 1000], got " +
                                std::to_string(scale.emax));
  }
  // integer and code-book codes of NaN or inf are undefined: never encode them
  if (elem.kind != ElementKind::Float && scale.kind == ScaleKind::None) {
    reject = Reject::NonFinite;
  }
  if (n == 0) return FusedStatus::Ok;
  switch (in) {
    case InputType::F32:
      return fused_in<InF32>(x, n, block, elem, scale, reject, u, codes, code_bytes, scales,
                             poll);
    case InputType::F64:
      return fused_in<InF64>(x, n, block, elem, scale, reject, u, codes, code_bytes, scales,
                             poll);
    case InputType::F16:
      return fused_in<InF16>(x, n, block, elem, scale, reject, u, codes, code_bytes, scales,
                             poll);
    case InputType::BF16:
      return fused_in<InBF16>(x, n, block, elem, scale, reject, u, codes, code_bytes, scales,
                              poll);
  }
  return FusedStatus::Ok;
}

bool dequantize_fused(const void* codes, int code_bytes, int64_t n, const float* table,
                      int64_t table_size, const float* scales, int64_t block, float* out,
                      const Poll& poll, HalfKind half) {
  if (block < 1 || (n > 0 && n % block != 0)) {
    throw std::invalid_argument("block must be >= 1 and divide the " + std::to_string(n) +
                                " codes, got " + std::to_string(block));
  }
  if (n == 0) return true;
#ifdef PYSIM_X86
  if (half != HalfKind::None && code_bytes == 2 && scales == nullptr &&
      table_size == 65536 && cpu_has_avx512_dq()) {
    const auto* c = static_cast<const uint16_t*>(codes);
    for_blocks(n, poll, [&](int64_t lo, int64_t hi) {
      if (half == HalfKind::BF16) {
        half_values_avx512<true>(c, lo, hi, out);
      } else {
        half_values_avx512<false>(c, lo, hi, out);
      }
    });
    return true;
  }
#endif
  if (code_bytes == 1) {
    return dequant_run(static_cast<const uint8_t*>(codes), n, table, table_size, scales, block,
                       out, poll);
  }
  if (code_bytes == 2) {
    return dequant_run(static_cast<const uint16_t*>(codes), n, table, table_size, scales,
                       block, out, poll);
  }
  throw std::invalid_argument("codes must be 1 or 2 bytes each, got " +
                              std::to_string(code_bytes));
}

}  // namespace pysim
