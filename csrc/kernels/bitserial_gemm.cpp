#include "kernels/bitserial_gemm.hpp"

#include <algorithm>
#include <vector>

#include "units/bit_planes.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSIM_X86 1
#endif

namespace pysim {

namespace {

// out[i, j] for i in [i0, i1), j in [j0, j1) over all plane pairs; planes packed along k
// (units/bit_planes.hpp layout, m rows of A).
inline __attribute__((always_inline)) void planes_body(
    const uint64_t* ap, const uint64_t* bp, int64_t m, int64_t n, int64_t W, int64_t a_bits,
    int64_t b_bits, bool a_signed, bool b_signed, int64_t* out, int64_t i0, int64_t i1,
    int64_t j0, int64_t j1) {
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t j = j0; j < j1; ++j) {
      uint64_t acc = 0;  // modulo 2^64, as NumPy's int64 matmul
      for (int64_t p = 0; p < a_bits; ++p) {
        const uint64_t* ar = ap + (p * m + i) * W;
        const bool a_neg = a_signed && p == a_bits - 1;
        for (int64_t q = 0; q < b_bits; ++q) {
          const uint64_t* bc = bp + (q * n + j) * W;
          uint64_t pc = 0;
          for (int64_t w = 0; w < W; ++w) pc += __builtin_popcountll(ar[w] & bc[w]);
          const uint64_t v = pc << (p + q);
          acc += a_neg != (b_signed && q == b_bits - 1) ? uint64_t{0} - v : v;
        }
      }
      out[i * n + j] = static_cast<int64_t>(acc);
    }
  }
}

void planes_portable(const uint64_t* ap, const uint64_t* bp, int64_t m, int64_t n, int64_t W,
                     int64_t a_bits, int64_t b_bits, bool a_signed, bool b_signed, int64_t* out,
                     int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  planes_body(ap, bp, m, n, W, a_bits, b_bits, a_signed, b_signed, out, i0, i1, j0, j1);
}

#ifdef PYSIM_X86
__attribute__((target("popcnt"))) void planes_popcnt(const uint64_t* ap, const uint64_t* bp,
                                                      int64_t m, int64_t n, int64_t W,
                                                      int64_t a_bits, int64_t b_bits,
                                                      bool a_signed, bool b_signed,
                                                      int64_t* out, int64_t i0, int64_t i1,
                                                      int64_t j0, int64_t j1) {
  planes_body(ap, bp, m, n, W, a_bits, b_bits, a_signed, b_signed, out, i0, i1, j0, j1);
}
#endif

}  // namespace

void bitserial_gemm(const int64_t* a, const int64_t* b, int64_t m, int64_t k, int64_t n,
                    int64_t a_bits, int64_t b_bits, bool a_signed, bool b_signed, int64_t* out,
                    const Poll& poll) {
  bits::validate_bits(a_bits, "a_bits");
  bits::validate_bits(b_bits, "b_bits");
  bits::check_range(a, m, k, a_bits, a_signed, "a");
  bits::check_range(b, k, n, b_bits, b_signed, "b");
  if (m <= 0 || n <= 0) return;
  const int64_t W = bits::words_for(k);
  const std::vector<uint64_t> ap = bits::pack_planes(a, m, k, k, 1, a_bits);
  const std::vector<uint64_t> bp = bits::pack_planes(b, n, k, 1, n, b_bits);
#ifdef PYSIM_X86
  const bool popcnt = __builtin_cpu_supports("popcnt");
#endif
  // Blocks of whole rows, or of columns of one row, of ~2^24 plane-pair words, the poll between.
  const int64_t per_out = a_bits * b_bits * std::max<int64_t>(W, 1);
  const int64_t budget = poll ? std::max<int64_t>(1, (int64_t{1} << 24) / per_out) : m * n;
  const int64_t cols = std::min(n, budget), rows = std::max<int64_t>(1, budget / n);
  for (int64_t i0 = 0; i0 < m; i0 += rows) {
    const int64_t i1 = std::min(m, i0 + rows);
    for (int64_t j0 = 0; j0 < n; j0 += cols) {
      const int64_t j1 = std::min(n, j0 + cols);
      if (poll && (i0 > 0 || j0 > 0)) poll();
#ifdef PYSIM_X86
      if (popcnt) {
        planes_popcnt(ap.data(), bp.data(), m, n, W, a_bits, b_bits, a_signed, b_signed, out, i0,
                      i1, j0, j1);
        continue;
      }
#endif
      planes_portable(ap.data(), bp.data(), m, n, W, a_bits, b_bits, a_signed, b_signed, out, i0,
                      i1, j0, j1);
    }
  }
}

}  // namespace pysim
