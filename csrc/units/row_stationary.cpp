#include "units/row_stationary.hpp"

#include "common/checked.hpp"
#include "units/systolic_array.hpp"  // kMaxArrayDim

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace pysim {

namespace {

// GCC's and Clang's 128-bit integer (exact products of two int64 sizes); __extension__ keeps
// -Wpedantic quiet about a type ISO C++ lacks.
__extension__ typedef __int128 i128;

// ceil(a / b) for a >= 0, b >= 1 without the a + b - 1 that could overflow.
int64_t cdiv(int64_t a, int64_t b) { return a / b + (a % b != 0); }

int64_t isqrt(int64_t x) {  // floor(sqrt(x)) for 0 <= x <= kMaxArrayDim, as math.isqrt
  int64_t r = 0;
  while ((r + 1) * (r + 1) <= x) ++r;
  return r;
}

// a * b or a + b, or std::invalid_argument naming the count and the tile it overflows for.
struct Checked {
  int64_t m, n, k;
  [[noreturn]] void overflow(const char* what) const {
    throw std::invalid_argument(std::string(what) + " overflows 64-bit integers for the tile m=" +
                                std::to_string(m) + ", n=" + std::to_string(n) + ", k=" +
                                std::to_string(k) + "; use smaller tiles or sizes");
  }
  int64_t mul(int64_t a, int64_t b, const char* what) const {
    int64_t out = 0;
    if (__builtin_mul_overflow(a, b, &out)) overflow(what);
    return out;
  }
  int64_t add(int64_t a, int64_t b, const char* what) const {
    int64_t out = 0;
    if (__builtin_add_overflow(a, b, &out)) overflow(what);
    return out;
  }
};

void check_at_least(const char* name, int64_t value, int64_t lo, const char* note = "") {
  if (value < lo) {
    throw std::invalid_argument(std::string(name) + " must be >= " + std::to_string(lo) + note +
                                ", got " + std::to_string(value));
  }
}

}  // namespace

void validate(const RowStationarySpec& spec) {
  check_dim("rows", spec.rows, kMaxArrayDim);
  check_dim("cols", spec.cols, kMaxArrayDim);
  check_dim("pe_weights", spec.pe_weights, kMaxArrayDim);
  check_dim("arrays", spec.arrays, kMaxRsArrays);
}

void validate(const ConvWindowSpec& w) {
  check_at_least("kernel_h", w.kernel_h, 1);
  check_at_least("kernel_w", w.kernel_w, 1);
  check_at_least("out_h", w.out_h, 0, " (0: a GEMM)");
  check_at_least("out_w", w.out_w, 1);
  check_at_least("stride_h", w.stride_h, 1);
  check_at_least("stride_w", w.stride_w, 1);
  check_at_least("dilation_h", w.dilation_h, 1);
  check_at_least("dilation_w", w.dilation_w, 1);
  int64_t unused = 0;
  if (__builtin_mul_overflow(w.kernel_h, w.kernel_w, &unused)) {
    throw std::invalid_argument("kernel_h*kernel_w overflows 64-bit integers (kernel " +
                                std::to_string(w.kernel_h) + "x" + std::to_string(w.kernel_w) +
                                ")");
  }
  if (w.out_h > 0 && __builtin_mul_overflow(w.out_h, w.out_w, &unused)) {
    throw std::invalid_argument("out_h*out_w overflows 64-bit integers (output " +
                                std::to_string(w.out_h) + "x" + std::to_string(w.out_w) + ")");
  }
}

void validate_rs_shape(int64_t m, int64_t n, int64_t k) {
  check_at_least("M", m, 1);
  check_at_least("N", n, 1);
  check_at_least("K", k, 1);
}

RowStationarySets row_stationary_sets(const RowStationarySpec& spec,
                                      const ConvWindowSpec& window) {
  RowStationarySets s;
  s.chunks = cdiv(window.kernel_h, spec.rows);
  s.height = cdiv(window.kernel_h, s.chunks);  // <= rows
  s.stack = spec.rows / s.height;
  return s;
}

RowStationaryCost row_stationary_cost(const RowStationarySpec& spec, const ConvWindowSpec& w,
                                      int64_t m, int64_t n, int64_t k) {
  validate(spec);
  validate(w);
  validate_rs_shape(m, n, k);
  const Checked ck{m, n, k};
  const int64_t R = w.kernel_h, S = w.kernel_w;
  const RowStationarySets sets = row_stationary_sets(spec, w);
  // The tile's output rows: `whole` full images of E rows of width F and a partial one of
  // `part` rows (a GEMM: no full image and m rows of width 1).
  int64_t whole = 0, part = m, E = 0, F = 1;
  if (w.out_h > 0) {
    const int64_t image = w.out_h * w.out_w;  // validated
    whole = m / image;
    E = w.out_h;
    F = w.out_w;
    part = cdiv(m % image, F);
  }
  const int64_t strips_full = cdiv(E, spec.cols), strips_part = cdiv(part, spec.cols);
  const int64_t strips = whole > 0 ? strips_full : strips_part;  // the tile's largest image
  const int64_t channels = cdiv(k, R * S);
  // The ifmap rows (columns) outs output rows (columns) read: distinct indices e x stride +
  // r x dilation. With g = gcd(stride, dilation), two reads share a row only when shifted by a
  // multiple of (dilation / g, stride / g), so outs x taps less the pairs that repeat:
  // outs x taps - max(0, outs - dilation / g) x max(0, taps - stride / g) (the span when both
  // are 1; outs x taps when a stride skips rows). Exact (brute force in the tests).
  const auto touched = [&](int64_t outs, int64_t stride, int64_t taps, int64_t dilation,
                           const char* what) {
    const int64_t g = std::gcd(stride, dilation);
    const i128 each = static_cast<i128>(outs) * taps;
    const i128 repeat = static_cast<i128>(std::max<int64_t>(0, outs - dilation / g)) *
                        std::max<int64_t>(0, taps - stride / g);
    const i128 rows = each - repeat;
    if (rows > std::numeric_limits<int64_t>::max()) ck.overflow(what);
    return static_cast<int64_t>(rows);
  };
  const char* rows_what = "ifmap rows (distinct rows E output rows read)";
  const int64_t rows_full = whole > 0 ? touched(E, w.stride_h, R, w.dilation_h, rows_what) : 0;
  const int64_t rows_part = part > 0 ? touched(part, w.stride_h, R, w.dilation_h, rows_what) : 0;
  const int64_t in_cols = touched(F, w.stride_w, S, w.dilation_w,
                                  "ifmap cols (distinct columns F output columns read)");
  // 1-D convolutions of F outputs, run stack x arrays at a time (ISCA 2016 Sec. V-B).
  const char* work_what =
      "work units ((whole x strips_full + [part > 0] x strips_part) x channels x N x chunks)";
  int64_t work = ck.add(ck.mul(whole, strips_full, work_what), strips_part, work_what);
  work = ck.mul(work, channels, work_what);
  work = ck.mul(work, n, work_what);
  work = ck.mul(work, sets.chunks, work_what);
  RowStationaryCost c;
  c.passes = cdiv(work, sets.stack * spec.arrays);
  c.steady = ck.mul(ck.mul(c.passes, F, "steady cycles (passes x F x S)"), S,
                    "steady cycles (passes x F x S)");
  c.fill = sets.height + spec.cols - 1;
  c.cycles = ck.add(c.steady, c.fill, "cycles (steady + fill)");
  c.macs = ck.mul(ck.mul(m, n, "M*N"), k, "MACs (M*N*K)");
  // Spad split: p filters share an ifmap read, q channels share the psum register (JSSC 2017
  // Sec. III-B: the filter spad holds S x p x q weights).
  const int64_t pairs = std::max<int64_t>(1, spec.pe_weights / S);
  const int64_t q = std::min(std::max<int64_t>(isqrt(pairs), 1), channels);
  const int64_t p = std::min(std::max<int64_t>(pairs / q, 1), n);
  const char* a_what =
      "ifmap reads ((whole x rows_full + rows_part) x in_cols x channels x filter groups)";
  int64_t a = ck.add(ck.mul(whole, rows_full, a_what), rows_part, a_what);
  a = ck.mul(a, in_cols, a_what);
  a = ck.mul(a, channels, a_what);
  c.ifmap_reads = ck.mul(a, cdiv(n, p), a_what);
  c.filter_reads = ck.mul(ck.mul(k, n, "filter reads (K x N x strips)"), strips,
                          "filter reads (K x N x strips)");
  const int64_t sets_summed = std::max<int64_t>(1, sets.stack / strips);
  const int64_t psum_folds = cdiv(ck.mul(channels, sets.chunks, "channels x chunks"),
                                  q * sets_summed);
  const int64_t mn = m * n;  // checked with the MACs
  c.psum_writes = ck.mul(psum_folds, mn, "psum writes (psum folds x M x N)");
  c.psum_reads = (psum_folds - 1) * mn;
  return c;
}

}  // namespace pysim
