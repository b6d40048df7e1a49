#include "kernels/quantize.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/worker_pool.hpp"

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
inline int64_t floor_log2(double a) {
  uint64_t bits = 0;
  std::memcpy(&bits, &a, sizeof bits);
  return static_cast<int64_t>((bits >> 52) & 0x7FF) - 1023;
}

// 2^p for -1022 <= p <= 1023, built from its exponent field (exact).
inline double pow2(int64_t p) {
  const uint64_t bits = static_cast<uint64_t>(1023 + p) << 52;
  double out = 0.0;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

// Round t to an integer: half to even (as np.rint), or floor(t + u) (stochastic). For
// |t| < 2^52, (|t| + 2^52) - 2^52 is |t| rounded to nearest-even in the default rounding mode
// (the addition rounds away the fraction), without a libm call.
inline double round_t(double t, const double* u, int64_t i) {
  if (u != nullptr) return std::floor(t + u[i]);
  constexpr double kShift = 4503599627370496.0;  // 2^52
  const double a = std::fabs(t);
  if (!(a < kShift)) return t;  // already an integer (or not finite)
  const double r = (a + kShift) - kShift;
  return std::copysign(r, t);
}

}  // namespace

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
                  bool saturate, Code* codes, const Poll& poll) {
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
  for_blocks(n, poll, [&](int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) {
    const double v = x[i];
    const bool finite = std::isfinite(v);
    const double a = finite ? std::fabs(v) : 0.0;
    const int64_t e = std::max<int64_t>(floor_log2(a), f.emin);
    const double k = round_t(a * pow2(f.mbits - e), u, i);
    int64_t mag = ((e - f.emin) << f.mbits) + static_cast<int64_t>(k);
    if (!finite) {
      mag = std::isnan(v) ? qnan : past;
    } else if (mag > f.max_code) {
      mag = past;
    }
    const int64_t sign = std::signbit(v) ? (int64_t{1} << width) : 0;
    codes[i] = static_cast<Code>(mag | sign);
  }
  });
}

template <class Code>
void encode_int(const double* x, const double* u, int64_t n, int frac_bits, int64_t qmin,
                int64_t qmax, Code* codes, const Poll& poll) {
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
    for (int64_t i = lo; i < hi; ++i) {
      const double k = round_t(x[i] * scale, u, i);
      codes[i] = static_cast<Code>(static_cast<int64_t>(std::min(std::max(k, least), most)));
    }
  });
}

template void encode_float<uint8_t>(const double*, const double*, int64_t,
                                    const FloatCodeFormat&, bool, uint8_t*, const Poll&);
template void encode_float<uint16_t>(const double*, const double*, int64_t,
                                     const FloatCodeFormat&, bool, uint16_t*, const Poll&);
template void encode_float<uint32_t>(const double*, const double*, int64_t,
                                     const FloatCodeFormat&, bool, uint32_t*, const Poll&);
template void encode_int<int8_t>(const double*, const double*, int64_t, int, int64_t, int64_t,
                                 int8_t*, const Poll&);
template void encode_int<int16_t>(const double*, const double*, int64_t, int, int64_t, int64_t,
                                  int16_t*, const Poll&);
template void encode_int<uint8_t>(const double*, const double*, int64_t, int, int64_t, int64_t,
                                  uint8_t*, const Poll&);
template void encode_int<uint16_t>(const double*, const double*, int64_t, int, int64_t, int64_t,
                                   uint16_t*, const Poll&);

}  // namespace pysim
