#include "kernels/int_gemm.hpp"

#include <algorithm>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSIM_X86 1
#endif

namespace pysim {

namespace {

constexpr int64_t kKc = 256;   // rows of B per block (a kc x nc block stays in L2)
constexpr int64_t kNc = 1024;  // columns per block

// Blocked i-k-j loops with a 4-row register block; the j loop vectorises. Accumulation in
// uint32 wraps modulo 2^32 (defined behaviour, and NumPy's int32 result).
template <class TA, class TB>
inline __attribute__((always_inline)) void gemm_body(const TA* a, const TB* b, int64_t m,
                                                     int64_t k, int64_t n, uint32_t* c) {
  std::fill(c, c + m * n, 0u);
  for (int64_t jb = 0; jb < n; jb += kNc) {
    const int64_t nc = std::min(kNc, n - jb);
    for (int64_t kb = 0; kb < k; kb += kKc) {
      const int64_t kc = std::min(kKc, k - kb);
      int64_t i = 0;
      for (; i + 4 <= m; i += 4) {
        uint32_t* c0 = c + i * n + jb;
        uint32_t* c1 = c0 + n;
        uint32_t* c2 = c1 + n;
        uint32_t* c3 = c2 + n;
        for (int64_t kk = kb; kk < kb + kc; ++kk) {
          const auto a0 = static_cast<uint32_t>(static_cast<int32_t>(a[i * k + kk]));
          const auto a1 = static_cast<uint32_t>(static_cast<int32_t>(a[(i + 1) * k + kk]));
          const auto a2 = static_cast<uint32_t>(static_cast<int32_t>(a[(i + 2) * k + kk]));
          const auto a3 = static_cast<uint32_t>(static_cast<int32_t>(a[(i + 3) * k + kk]));
          const TB* br = b + kk * n + jb;
          for (int64_t j = 0; j < nc; ++j) {
            const auto bv = static_cast<uint32_t>(static_cast<int32_t>(br[j]));
            c0[j] += a0 * bv;
            c1[j] += a1 * bv;
            c2[j] += a2 * bv;
            c3[j] += a3 * bv;
          }
        }
      }
      for (; i < m; ++i) {
        uint32_t* c0 = c + i * n + jb;
        for (int64_t kk = kb; kk < kb + kc; ++kk) {
          const auto a0 = static_cast<uint32_t>(static_cast<int32_t>(a[i * k + kk]));
          const TB* br = b + kk * n + jb;
          for (int64_t j = 0; j < nc; ++j) {
            c0[j] += a0 * static_cast<uint32_t>(static_cast<int32_t>(br[j]));
          }
        }
      }
    }
  }
}

template <class TA, class TB>
void gemm_portable(const TA* a, const TB* b, int64_t m, int64_t k, int64_t n, uint32_t* c) {
  gemm_body(a, b, m, k, n, c);
}

#ifdef PYSIM_X86
template <class TA, class TB>
__attribute__((target("avx2"))) void gemm_avx2(const TA* a, const TB* b, int64_t m, int64_t k,
                                               int64_t n, uint32_t* c) {
  gemm_body(a, b, m, k, n, c);
}
#endif

}  // namespace

template <class TA, class TB>
void int_gemm(const TA* a, const TB* b, int64_t m, int64_t k, int64_t n, int32_t* out,
              const Poll& poll) {
  if (m <= 0 || n <= 0) return;
  // int32 and uint32 share size and alignment; the bits are NumPy's wrapped int32 result.
  auto* c = reinterpret_cast<uint32_t*>(out);
  // Rows are independent: with a poll, blocks of rows of ~2^26 MACs (4 rows at least, a whole
  // register block), the poll between them.
  int64_t block = m;
  if (poll) {
    const int64_t per_row = std::max<int64_t>(1, k) * n;
    block = std::max<int64_t>(4, (int64_t{1} << 26) / per_row / 4 * 4);
  }
#ifdef PYSIM_X86
  const bool avx2 = __builtin_cpu_supports("avx2");
#endif
  for (int64_t r0 = 0; r0 < m; r0 += block) {
    if (poll && r0 > 0) poll();
    const int64_t rows = std::min(block, m - r0);
#ifdef PYSIM_X86
    if (avx2) {
      gemm_avx2(a + r0 * k, b, rows, k, n, c + r0 * n);
      continue;
    }
#endif
    gemm_portable(a + r0 * k, b, rows, k, n, c + r0 * n);
  }
}

template void int_gemm<int8_t, int8_t>(const int8_t*, const int8_t*, int64_t, int64_t, int64_t,
                                       int32_t*, const Poll&);
template void int_gemm<int8_t, int16_t>(const int8_t*, const int16_t*, int64_t, int64_t, int64_t,
                                        int32_t*, const Poll&);
template void int_gemm<int16_t, int8_t>(const int16_t*, const int8_t*, int64_t, int64_t, int64_t,
                                        int32_t*, const Poll&);
template void int_gemm<int16_t, int16_t>(const int16_t*, const int16_t*, int64_t, int64_t,
                                         int64_t, int32_t*, const Poll&);

}  // namespace pysim
