#include "kernels/binary_gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "common/cpu_features.hpp"
#include "common/worker_pool.hpp"
#include "units/bit_planes.hpp"

#ifdef PYSIM_X86
// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_*(), which
// -Wuninitialized then reports as used uninitialized (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define PYSIM_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512vpopcntdq")))
#define PYSIM_AVX512_GFNI \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512vbmi,avx512vpopcntdq,gfni")))
#define PYSIM_AVX2 __attribute__((target("avx2")))
#define PYSIM_POPCNT __attribute__((target("popcnt")))
#endif

#define PYSIM_INLINE inline __attribute__((always_inline))

namespace pysim {

namespace {

using bits::kWordBits;
using bits::words_for;

enum class Isa { Avx512, Popcnt, Portable };

struct CpuFeatures {
  Isa isa = Isa::Portable;
  bool avx2 = false;
  bool gfni = false;  // GFNI and AVX-512 VBMI: the byte-shuffle bit transpose
};

const CpuFeatures& cpu() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#ifdef PYSIM_X86
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2") && !cpu_feature_disabled("avx2");
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vpopcntdq") &&
        !cpu_feature_disabled("avx512")) {
      c.isa = Isa::Avx512;
      c.gfni = __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx512vbmi") &&
               !cpu_feature_disabled("gfni");
    } else if (__builtin_cpu_supports("popcnt") && !cpu_feature_disabled("popcnt")) {
      c.isa = Isa::Popcnt;
    }
#endif
    return c;
  }();
  return f;
}

// ---- Packing ------------------------------------------------------------------------------
// The AVX-512 kernel's layout of packed B columns: panels of kPanel columns, each panel W x kPanel
// words (word w of column j at panel_at(j, w, W)), contiguous so that a panel stays in L1 while
// rows of A stream past it; columns past n in the last panel are zero.
constexpr int64_t kPanel = 32;
PYSIM_INLINE int64_t panel_at(int64_t j, int64_t w, int64_t W) {
  return (j / kPanel) * W * kPanel + w * kPanel + j % kPanel;
}
PYSIM_INLINE int64_t panel_words(int64_t n, int64_t W) {
  return (n + kPanel - 1) / kPanel * kPanel * W;
}

// A mask builder reads len <= 64 contiguous int8 values: *plus gets bit i set where p[i] == +1;
// it returns false if some value is neither +1 nor -1.
using MaskFn = bool (*)(const int8_t* p, int64_t len, uint64_t* plus);

bool masks_portable(const int8_t* p, int64_t len, uint64_t* plus) {
  uint64_t pos = 0;
  bool ok = true;
  for (int64_t i = 0; i < len; ++i) {
    pos |= uint64_t{p[i] == 1} << i;
    ok &= p[i] == 1 || p[i] == -1;
  }
  *plus = pos;
  return ok;
}

#ifdef PYSIM_X86
PYSIM_AVX512 bool masks_avx512(const int8_t* p, int64_t len, uint64_t* plus) {
  const __mmask64 lanes = len >= kWordBits ? ~__mmask64{0} : (__mmask64{1} << len) - 1;
  const __m512i v = _mm512_maskz_loadu_epi8(lanes, p);
  const __mmask64 pos = _mm512_mask_cmpeq_epi8_mask(lanes, v, _mm512_set1_epi8(1));
  const __mmask64 neg = _mm512_mask_cmpeq_epi8_mask(lanes, v, _mm512_set1_epi8(-1));
  *plus = pos;
  return (pos | neg) == lanes;
}

PYSIM_AVX2 bool masks_avx2(const int8_t* p, int64_t len, uint64_t* plus) {
  if (len < kWordBits) return masks_portable(p, len, plus);
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  const __m256i one = _mm256_set1_epi8(1), minus = _mm256_set1_epi8(-1);
  const auto pos_lo = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, one)));
  const auto pos_hi = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, one)));
  const auto neg_lo = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, minus)));
  const auto neg_hi = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, minus)));
  const uint64_t pos = uint64_t{pos_lo} | uint64_t{pos_hi} << 32;
  const uint64_t neg = uint64_t{neg_lo} | uint64_t{neg_hi} << 32;
  *plus = pos;
  return (pos | neg) == ~uint64_t{0};
}
#endif

MaskFn mask_fn(Isa isa) {
#ifdef PYSIM_X86
  if (isa == Isa::Avx512) return masks_avx512;
  if (isa == Isa::Popcnt && cpu().avx2) return masks_avx2;
#endif
  (void)isa;
  return masks_portable;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512-vpopcntdq";
    case Isa::Popcnt: return "popcnt";
    case Isa::Portable: break;
  }
  return "portable";
}

// "auto" -> the widest kernel this CPU runs; a named kernel must be supported here.
Isa resolve_isa(const std::string& name) {
  const Isa best = cpu().isa;
  if (name == "auto") return best;
  const Isa wanted = name == "avx512-vpopcntdq" ? Isa::Avx512
                     : name == "popcnt"         ? Isa::Popcnt
                     : name == "portable"       ? Isa::Portable
                                                : best;
  if (name != isa_name(wanted)) {
    throw std::invalid_argument(
        "isa must be one of 'auto', 'avx512-vpopcntdq', 'popcnt', 'portable', got '" + name +
        "'");
  }
  if (static_cast<int>(wanted) < static_cast<int>(best)) {
    throw std::invalid_argument("isa '" + name + "' is not supported by this CPU (best: '" +
                                isa_name(best) + "')");
  }
  return wanted;
}

[[noreturn]] void not_pm1(const char* name, int64_t r, int64_t c, int value) {
  throw std::invalid_argument(std::string(name) + "[" + std::to_string(r) + ", " +
                              std::to_string(c) + "] = " + std::to_string(value) +
                              " is not -1 or +1 (binary operands must be +-1)");
}

// Transpose a 64 x 64 bit matrix in place: bit c of t[r] <-> bit r of t[c].
void transpose64(uint64_t t[64]) {
  uint64_t m = 0x00000000FFFFFFFFull;
  for (int j = 32; j != 0; j >>= 1, m ^= m << j) {
    for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
      const uint64_t x = ((t[k] >> j) ^ t[k | j]) & m;
      t[k | j] ^= x;
      t[k] ^= x << j;
    }
  }
}

#ifdef PYSIM_X86
// bad | ((v + 1) & ~2): a byte of the result is nonzero iff some v byte was not -1 or +1 (the
// only bytes with v + 1 in {0, 2}). Two vector ops and no mask register per 64 values.
PYSIM_AVX512 PYSIM_INLINE __m512i accumulate_not_pm1(__m512i bad, __m512i v) {
  return _mm512_ternarylogic_epi64(bad, _mm512_add_epi8(v, _mm512_set1_epi8(1)),
                                   _mm512_set1_epi8(~2), 0xF8);  // a | (b & c)
}

// The AVX-512 fast path of pack_contiguous_rows: no call per word. False if some value is not
// +-1 (out is then unspecified).
PYSIM_AVX512 bool pack_rows_avx512(const int8_t* x, int64_t rows, int64_t k, int64_t rs,
                                   uint64_t* out) {
  const int64_t W = words_for(k), full = k / kWordBits;
  __m512i bad = _mm512_setzero_si512();
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* p = x + r * rs;
    uint64_t* o = out + r * W;
    for (int64_t w = 0; w < full; ++w) {
      const __m512i v = _mm512_loadu_si512(p + w * kWordBits);
      bad = accumulate_not_pm1(bad, v);
      _store_mask64(reinterpret_cast<__mmask64*>(o + w),
                    _mm512_cmpgt_epi8_mask(v, _mm512_setzero_si512()));
    }
    if (full < W && !masks_avx512(p + full * kWordBits, k - full * kWordBits, o + full)) {
      return false;
    }
  }
  return _mm512_test_epi8_mask(bad, bad) == 0;
}
#endif

// Rows of x (element (r, c) at x[r * rs + c], contiguous along c) -> out[r * W + w].
void pack_contiguous_rows(const int8_t* x, int64_t rows, int64_t k, int64_t rs, uint64_t* out,
                          const char* name, bool swap, MaskFn masks) {
#ifdef PYSIM_X86
  if (masks == masks_avx512 && pack_rows_avx512(x, rows, k, rs, out)) return;
#endif
  const int64_t W = words_for(k);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t w = 0; w < W; ++w) {
      const int8_t* p = x + r * rs + w * kWordBits;
      const int64_t len = std::min(kWordBits, k - w * kWordBits);
      if (!masks(p, len, &out[r * W + w])) {
        for (int64_t i = 0; i < len; ++i) {
          if (p[i] != 1 && p[i] != -1) {
            const int64_t c = w * kWordBits + i;
            swap ? not_pm1(name, c, r, p[i]) : not_pm1(name, r, c, p[i]);
          }
        }
      }
    }
  }
}

#ifdef PYSIM_X86
// One stage of the 64 x 64 bit transpose for pairs of lanes inside each zmm (distance j < 8
// words): lane l pairs with lane l ^ j; `high` marks the lanes with bit j set.
PYSIM_AVX512 PYSIM_INLINE __m512i transpose_stage_in(__m512i z, __m512i partner_idx,
                                                     __mmask8 high, int j, uint64_t m) {
  const __m512i p = _mm512_permutexvar_epi64(partner_idx, z);
  const __m512i lo = _mm512_mask_blend_epi64(high, z, p);  // the lane with bit j clear
  const __m512i hi = _mm512_mask_blend_epi64(high, p, z);  // the lane with bit j set
  const __m512i x = _mm512_and_si512(
      _mm512_xor_si512(_mm512_srli_epi64(lo, static_cast<unsigned>(j)), hi),
      _mm512_set1_epi64(static_cast<long long>(m)));
  return _mm512_xor_si512(
      z, _mm512_mask_blend_epi64(high, _mm512_slli_epi64(x, static_cast<unsigned>(j)), x));
}

// A full 64 x 64 tile: 64 rows of 64 contiguous int8 at p + r * rs -> t[c] = column c's bits
// (bit r set where p[r * rs + c] == +1), the same as masks then transpose64. Returns false if
// some value is not +-1 (t is then unspecified).
PYSIM_AVX512 bool pack_tile_avx512(const int8_t* p, int64_t rs, uint64_t t[64]) {
  alignas(64) uint64_t rows[64];
  const __m512i one = _mm512_set1_epi8(1);
  __mmask64 bad = 0;
  for (int r = 0; r < 64; ++r) {
    const __m512i v = _mm512_loadu_si512(p + r * rs);
    bad |= _mm512_cmpneq_epi8_mask(_mm512_abs_epi8(v), one);
    rows[r] = ~static_cast<uint64_t>(_mm512_movepi8_mask(v));
  }
  __m512i z[8];
  for (int q = 0; q < 8; ++q) z[q] = _mm512_load_si512(rows + 8 * q);
  uint64_t m = 0x00000000FFFFFFFFull;
  for (int j = 32; j >= 8; j >>= 1, m ^= m << j) {
    const int d = j / 8;
    for (int q = 0; q < 8; ++q) {
      if (q & d) continue;
      const __m512i x = _mm512_and_si512(
          _mm512_xor_si512(_mm512_srli_epi64(z[q], static_cast<unsigned>(j)), z[q | d]),
          _mm512_set1_epi64(static_cast<long long>(m)));
      z[q | d] = _mm512_xor_si512(z[q | d], x);
      z[q] = _mm512_xor_si512(z[q], _mm512_slli_epi64(x, static_cast<unsigned>(j)));
    }
  }
  const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  for (int j = 4; j >= 1; j >>= 1, m ^= m << j) {
    const __m512i idx = _mm512_xor_si512(lanes, _mm512_set1_epi64(j));
    const auto high = static_cast<__mmask8>(j == 4 ? 0xF0 : j == 2 ? 0xCC : 0xAA);
    for (int q = 0; q < 8; ++q) z[q] = transpose_stage_in(z[q], idx, high, j, m);
  }
  for (int q = 0; q < 8; ++q) _mm512_storeu_si512(t + 8 * q, z[q]);
  return bad == 0;
}

// The same tile with GFNI: the 64 row masks as 8 zmm (zmm q: rows 8q..8q+7, a qword each) are
// cut into 8 x 8 bit blocks (VPERMB gathers byte C of eight rows into one qword), each block is
// transposed by one GF2P8AFFINEQB (matrix = the block, operand = the unit bytes 1 << p), and three
// rounds of VPERMT2B gather byte q of every zmm into column c's word (t[c] byte q = rows 8q..8q+7).
// ~60 shuffles per tile instead of ~200 shift/mask steps. Same contract as pack_tile_avx512.
struct GfniTables {
  alignas(64) uint8_t to_blocks[64];   // VPERMB: row l's byte C -> qword C, byte 7 - l
  alignas(64) uint8_t unit_bytes[64];  // byte p of each qword = 1 << p
  alignas(64) uint8_t round[3][2][64];  // VPERMT2B indices, by round and by output half
};

const GfniTables& gfni_tables() {
  static const GfniTables t = [] {
    GfniTables g{};
    for (int d = 0; d < 64; ++d) {
      const int qword = d / 8, l = 7 - d % 8;
      g.to_blocks[d] = static_cast<uint8_t>(l * 8 + qword);
      g.unit_bytes[d] = static_cast<uint8_t>(1u << (d % 8));
    }
    // Round 1: bytes of column cc (of 32 in half h) from zmm 2a, 2a+1 side by side.
    // Round 2: 16 columns, 4 bytes each; round 3: 8 columns, 8 bytes each. Bit 6 of an index
    // picks the second source.
    for (int h = 0; h < 2; ++h) {
      for (int d = 0; d < 64; ++d) {
        g.round[0][h][d] = static_cast<uint8_t>((d % 2) * 64 + 32 * h + d / 2);
        g.round[1][h][d] = static_cast<uint8_t>((d / 2 % 2) * 64 + 2 * (16 * h + d / 4) + d % 2);
        g.round[2][h][d] = static_cast<uint8_t>((d / 4 % 2) * 64 + 4 * (8 * h + d / 8) + d % 4);
      }
    }
    return g;
  }();
  return t;
}

PYSIM_AVX512_GFNI bool pack_tile_gfni(const int8_t* p, int64_t rs, uint64_t t[64]) {
  const GfniTables& g = gfni_tables();
  const __m512i to_blocks = _mm512_load_si512(g.to_blocks);
  const __m512i unit_bytes = _mm512_load_si512(g.unit_bytes);
  __m512i bad = _mm512_setzero_si512();
  __m512i w[8];
  for (int q = 0; q < 8; ++q) {
    // Row 8q+l's mask into qword l in registers (a store of eight masks and a 64-byte reload
    // would stall on store forwarding).
    __m512i rows = _mm512_setzero_si512();
    for (int l = 0; l < 8; ++l) {
      const __m512i v = _mm512_loadu_si512(p + (8 * q + l) * rs);
      bad = accumulate_not_pm1(bad, v);
      const __mmask64 plus = _mm512_cmpgt_epi8_mask(v, _mm512_setzero_si512());
      rows = _mm512_mask_set1_epi64(rows, static_cast<__mmask8>(1u << l),
                                    static_cast<long long>(_cvtmask64_u64(plus)));
    }
    const __m512i blocks = _mm512_permutexvar_epi8(to_blocks, rows);
    w[q] = _mm512_gf2p8affine_epi64_epi8(unit_bytes, blocks, 0);  // w[q] byte c: column c
  }
  const auto indices = [&g](int r, int half) {  // a VPERMT2B index vector
    return reinterpret_cast<const __m512i*>(g.round[r][half]);
  };
  __m512i pairs[4][2], quads[2][2][2];
  for (int a = 0; a < 4; ++a) {  // zmm 2a and 2a+1 -> columns 32h.., 2 bytes each
    for (int h = 0; h < 2; ++h) {
      pairs[a][h] = _mm512_permutex2var_epi8(w[2 * a], _mm512_load_si512(indices(0, h)),
                                             w[2 * a + 1]);
    }
  }
  for (int b = 0; b < 2; ++b) {  // -> columns 32h + 16h2.., 4 bytes each
    for (int h = 0; h < 2; ++h) {
      for (int h2 = 0; h2 < 2; ++h2) {
        quads[b][h][h2] = _mm512_permutex2var_epi8(
            pairs[2 * b][h], _mm512_load_si512(indices(1, h2)), pairs[2 * b + 1][h]);
      }
    }
  }
  for (int h = 0; h < 2; ++h) {  // -> columns 32h + 16h2 + 8h3.., 8 bytes (a word) each
    for (int h2 = 0; h2 < 2; ++h2) {
      for (int h3 = 0; h3 < 2; ++h3) {
        _mm512_storeu_si512(t + 32 * h + 16 * h2 + 8 * h3,
                            _mm512_permutex2var_epi8(quads[0][h][h2],
                                                     _mm512_load_si512(indices(2, h3)),
                                                     quads[1][h][h2]));
      }
    }
  }
  return _mm512_test_epi8_mask(bad, bad) == 0;
}
#endif

// Rows of x = src^T, src row-major (k_rows x cols, row stride rs, contiguous along columns):
// output row j packs column j of src, for the columns [j0, j1) (j0 a multiple of 64; j1 = cols
// or a multiple of 64). In panels when word_major (out[panel_at(j, w, W)], the AVX-512 kernel's
// layout), else out[j * W + w]. 64 x 64 blocks: masks, then a bit transpose. Errors name
// x[j, k], or src[k, j] when swap.
void pack_columns(const int8_t* src, int64_t k_rows, int64_t cols, int64_t rs, uint64_t* out,
                  bool word_major, const char* name, bool swap, MaskFn masks, int64_t j0 = 0,
                  int64_t j1 = -1) {
  if (j1 < 0) j1 = cols;
  const int64_t W = words_for(k_rows);
  alignas(64) uint64_t tile[64];
  // Column blocks outer: the block's W x 64 output words stay in L1 while w walks down B.
  for (int64_t jb = j0; jb < j1; jb += kWordBits) {
    const int64_t jn = std::min(kWordBits, j1 - jb);
    for (int64_t w = 0; w < W; ++w) {
      const int64_t kr = std::min(kWordBits, k_rows - w * kWordBits);
      bool done = false;
#ifdef PYSIM_X86
      // Full tiles on AVX-512: no per-row call, a vector transpose (a tile with values other
      // than +-1 goes the long way below, which names the first of them).
      if (masks == masks_avx512 && kr == kWordBits && jn == kWordBits) {
        const int8_t* p = src + w * kWordBits * rs + jb;
        done = cpu().gfni ? pack_tile_gfni(p, rs, tile) : pack_tile_avx512(p, rs, tile);
      }
#endif
      if (!done) {
        for (int64_t r = 0; r < 64; ++r) {
          tile[r] = 0;
          if (r >= kr) continue;
          const int8_t* p = src + (w * kWordBits + r) * rs + jb;
          if (!masks(p, jn, &tile[r])) {
            for (int64_t i = 0; i < jn; ++i) {
              if (p[i] != 1 && p[i] != -1) {
                const int64_t kk = w * kWordBits + r, j = jb + i;
                swap ? not_pm1(name, kk, j, p[i]) : not_pm1(name, j, kk, p[i]);
              }
            }
          }
        }
        transpose64(tile);
      }
      if (word_major) {  // jb is a multiple of 64, so of kPanel
        for (int64_t c = 0; c < jn; c += kPanel) {
          std::copy(tile + c, tile + std::min(jn, c + kPanel), out + panel_at(jb + c, w, W));
        }
      } else {
        for (int64_t c = 0; c < jn; ++c) out[(jb + c) * W + w] = tile[c];
      }
    }
  }
}

// ---- XNOR-popcount kernels -------------------------------------------------------------------

// Portable / POPCNT kernel: bt is n x W (packed columns of B). RxC register blocks of
// popcount(a_i XOR b_j) sums; each loaded word of A and B is used C or R times.
template <int R, int C>
PYSIM_INLINE void xnor_scalar_block(const uint64_t* a, const uint64_t* bt, int64_t W, int64_t k,
                                    int32_t* out, int64_t n) {
  int64_t acc[R][C] = {};
  for (int64_t w = 0; w < W; ++w) {
    uint64_t x[R], y[C];
    for (int r = 0; r < R; ++r) x[r] = a[r * W + w];
    for (int c = 0; c < C; ++c) y[c] = bt[c * W + w];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) acc[r][c] += __builtin_popcountll(x[r] ^ y[c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[r * n + c] = static_cast<int32_t>(k - 2 * acc[r][c]);
  }
}

PYSIM_INLINE void xnor_scalar_body(const uint64_t* a, int64_t m, const uint64_t* bt, int64_t n,
                                   int64_t W, int64_t k, int32_t* out) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      xnor_scalar_block<4, 4>(a + i * W, bt + j * W, W, k, out + i * n + j, n);
    }
    for (; j < n; ++j) xnor_scalar_block<4, 1>(a + i * W, bt + j * W, W, k, out + i * n + j, n);
  }
  for (; i < m; ++i) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      xnor_scalar_block<1, 4>(a + i * W, bt + j * W, W, k, out + i * n + j, n);
    }
    for (; j < n; ++j) xnor_scalar_block<1, 1>(a + i * W, bt + j * W, W, k, out + i * n + j, n);
  }
}

void xnor_portable(const uint64_t* a, int64_t m, const uint64_t* bt, int64_t n, int64_t W,
                   int64_t k, int32_t* out) {
  xnor_scalar_body(a, m, bt, n, W, k, out);
}

#ifdef PYSIM_X86
PYSIM_POPCNT void xnor_popcnt(const uint64_t* a, int64_t m, const uint64_t* bt, int64_t n,
                              int64_t W, int64_t k, int32_t* out) {
  xnor_scalar_body(a, m, bt, n, W, k, out);
}

// AVX-512 kernel: bp is one panel (W x kPanel words, see panel_at); R rows x the panel's 32
// columns per block, each zmm lane one column: broadcast a word of A, XOR with 8 columns' words,
// VPOPCNTQ, add. cols <= 32 columns of the block are stored.
template <int R>
PYSIM_AVX512 PYSIM_INLINE void xnor_avx512_block(const uint64_t* a, int64_t W,
                                                 const uint64_t* bp, int64_t cols, int64_t k,
                                                 int32_t* out, int64_t out_stride) {
  __m512i acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < 4; ++q) acc[r][q] = _mm512_setzero_si512();
  }
  for (int64_t w = 0; w < W; ++w) {
    __m512i b[4];
    for (int q = 0; q < 4; ++q) b[q] = _mm512_loadu_si512(bp + w * kPanel + 8 * q);
    for (int r = 0; r < R; ++r) {
      const __m512i x = _mm512_set1_epi64(static_cast<long long>(a[r * W + w]));
      for (int q = 0; q < 4; ++q) {
        acc[r][q] = _mm512_add_epi64(acc[r][q], _mm512_popcnt_epi64(_mm512_xor_si512(x, b[q])));
      }
    }
  }
  // k - 2 * count as int32: two accumulators' low dwords (counts <= k < 2^31) into one zmm,
  // then 16 columns per store (cheaper than a narrowing store per accumulator).
  const __m512i kk = _mm512_set1_epi32(static_cast<int>(k));
  const __m512i low_dwords =
      _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int q = 0; q < 4; q += 2) {
    const int64_t c = std::clamp<int64_t>(cols - 8 * q, 0, 16);
    const auto lane = static_cast<__mmask16>((1u << c) - 1);
    for (int r = 0; r < R; ++r) {
      const __m512i count = _mm512_permutex2var_epi32(acc[r][q], low_dwords, acc[r][q + 1]);
      _mm512_mask_storeu_epi32(out + r * out_stride + 8 * q, lane,
                               _mm512_sub_epi32(kk, _mm512_add_epi32(count, count)));
    }
  }
}

PYSIM_AVX512 void xnor_avx512(const uint64_t* a, int64_t m, const uint64_t* bp, int64_t n,
                              int64_t W, int64_t k, int32_t* out) {
  // Rows outer, panels inner: a 4-row block's words of A stay in L1 and its output is written
  // along the rows (sequential, so the prefetchers fetch the lines the stores need; panel-outer
  // order wrote columns of the output, one page per row, and ran up to 25% slower once the
  // output outgrew the L2). The panels stream from the L2, in groups of at most kGroupBytes so
  // that a group stays there when B does not fit.
  constexpr int64_t kGroupBytes = 256 * 1024;
  const int64_t panel_bytes = std::max<int64_t>(W, 1) * kPanel * 8;
  const int64_t group = std::max<int64_t>(1, kGroupBytes / panel_bytes) * kPanel;
  for (int64_t j0 = 0; j0 < n; j0 += group) {
    const int64_t j1 = std::min(n, j0 + group);
    for (int64_t i = 0; i < m; i += 4) {
      const uint64_t* ar = a + i * W;
      const int64_t rows = std::min<int64_t>(4, m - i);
      for (int64_t j = j0; j < j1; j += kPanel) {
        const uint64_t* panel = bp + j * W;
        const int64_t cols = std::min(kPanel, n - j);
        int32_t* o = out + i * n + j;
        switch (rows) {
          case 4: xnor_avx512_block<4>(ar, W, panel, cols, k, o, n); break;
          case 3: xnor_avx512_block<3>(ar, W, panel, cols, k, o, n); break;
          case 2: xnor_avx512_block<2>(ar, W, panel, cols, k, o, n); break;
          default: xnor_avx512_block<1>(ar, W, panel, cols, k, o, n); break;
        }
      }
    }
  }
}
#endif

// Threads for a product of `work` word operations over m rows: `threads`, or 0 for one per
// hardware thread when work >= 2^22 (else 1); at most 64 and one per 4 rows.
int64_t thread_count(int64_t m, int64_t work, int threads) {
  int64_t t = threads > 0 ? threads : hardware_threads();
  if (threads <= 0 && work < (int64_t{1} << 22)) t = 1;
  return std::max<int64_t>(1, std::min<int64_t>({t, 64, (m + 3) / 4}));
}

// Rows [begin, end) of the product on packed operands (b word-major for AVX-512, else n x W).
void xnor_rows(const uint64_t* a, int64_t begin, int64_t end, const uint64_t* b, int64_t n,
               int64_t W, int64_t k, int32_t* out, Isa isa) {
  const uint64_t* ar = a + begin * W;
  int32_t* o = out + begin * n;
#ifdef PYSIM_X86
  switch (isa) {
    case Isa::Avx512: xnor_avx512(ar, end - begin, b, n, W, k, o); return;
    case Isa::Popcnt: xnor_popcnt(ar, end - begin, b, n, W, k, o); return;
    case Isa::Portable: break;
  }
#endif
  (void)isa;
  xnor_portable(ar, end - begin, b, n, W, k, o);
}

// Packed B for the chosen kernel: n x W words, or panels (see panel_at) for AVX-512. Not zeroed
// (every word is written by the packing) except the last panel's columns past n.
struct PackedB {
  std::unique_ptr<uint64_t[]> words;
  bool word_major;
};

PackedB allocate_b(int64_t n, int64_t W, Isa isa) {
  const bool word_major = isa == Isa::Avx512;
  PackedB b{std::unique_ptr<uint64_t[]>(new uint64_t[word_major ? panel_words(n, W) : n * W]),
            word_major};
  if (word_major) {
    for (int64_t j = n; j % kPanel != 0; ++j) {
      for (int64_t w = 0; w < W; ++w) b.words[panel_at(j, w, W)] = 0;
    }
  }
  return b;
}

// Rows [begin, end) claimed from `next` by guided self-scheduling (Polychronopoulos & Kuck,
// 1987): a claim is 1/(2t) of the rows left, in whole 4-row blocks, so claims start large (few
// of them) and shrink to 4 rows at the end (the threads finish together); a thread slowed by
// other load simply takes fewer. At most `cap` rows (a whole number of 4-row blocks). Empty when
// no rows are left.
std::pair<int64_t, int64_t> claim_rows(std::atomic<int64_t>& next, int64_t m, int64_t t,
                                       int64_t cap) {
  int64_t begin = next.load();
  int64_t size = 0;
  do {
    if (begin >= m) return {m, m};
    size = std::min(cap, std::max<int64_t>(4, (m - begin) / (2 * t) / 4 * 4));
  } while (!next.compare_exchange_weak(begin, begin + size));
  return {begin, std::min(m, begin + size)};
}

// The product in one parallel region: prepare(id, t) packs thread id's share of the operands and
// returns false or throws to stop (a value that is not +-1); a barrier (every row needs all of
// B); then rows in claimed blocks (claim_rows). t is the team parallel_for_ids started (fewer
// threads than asked for when the OS refuses some). Rows are independent, so the result does
// not depend on the split. False if some prepare failed. With a poll, claims are capped at
// ~2^25 word operations and id 0 (the calling thread) polls before each of its claims; a poll
// that throws stops every thread at its next claim and the exception leaves the call.
template <class Prepare>
bool prepare_and_multiply(const uint64_t* a, int64_t m, const uint64_t* b, int64_t n, int64_t k,
                          int32_t* out, int threads, Isa isa, Prepare prepare, const Poll& poll) {
  const int64_t W = words_for(k);
  const int64_t asked = thread_count(m, m * n * std::max<int64_t>(W, 1), threads);
  const int64_t cap =
      poll ? std::max<int64_t>(4, (int64_t{1} << 25) / (n * std::max<int64_t>(W, 1)) / 4 * 4) : m;
  std::atomic<int64_t> arrived{0}, next{0};
  std::atomic<bool> failed{false};
  parallel_for_ids(asked, [&](int64_t id, int64_t t) {
    bool prepared = false;
    try {  // an exception here must not leave the others waiting at the barrier
      prepared = prepare(id, t);
    } catch (...) {
    }
    if (!prepared) failed = true;
    arrived.fetch_add(1);
    while (arrived.load() < t) std::this_thread::yield();
    if (failed) return;
    for (;;) {
      if (id == 0 && poll) {
        try {
          poll();
        } catch (...) {
          next.store(m);  // the others stop at their next claim
          throw;
        }
      }
      const auto [r0, r1] = claim_rows(next, m, t, cap);
      if (r0 >= r1) break;
      xnor_rows(a, r0, r1, b, n, W, k, out, isa);
    }
  });
  return !failed;
}

// This thread's share [c0, c1) of n columns in 64-column tiles (the packing's unit).
std::pair<int64_t, int64_t> column_share(int64_t n, int64_t id, int64_t t) {
  const int64_t tiles = (n + kWordBits - 1) / kWordBits;
  return {std::min(n, tiles * id / t * kWordBits), std::min(n, tiles * (id + 1) / t * kWordBits)};
}

// Rows [r0, r1) for thread id of t: contiguous shares, a multiple of 4 rows each.
std::pair<int64_t, int64_t> row_share(int64_t m, int64_t id, int64_t t) {
  const int64_t chunk = ((m + t - 1) / t + 3) / 4 * 4;
  const int64_t r0 = std::min(m, id * chunk);
  return {r0, std::min(m, r0 + chunk)};
}

// The function-local statics above are built when the library loads, while one thread runs: a
// thread first building one holds its guard, and a fork() landing then leaves the child waiting
// on that guard forever (common/worker_pool.hpp, "fork").
[[maybe_unused]] const bool g_statics_built = (cpu(), gfni_tables(), true);

}  // namespace

void pack_pm1(const int8_t* x, int64_t rows, int64_t k, int64_t row_stride, int64_t col_stride,
              uint64_t* out, const char* name, bool transposed_name) {
  if (rows <= 0 || k <= 0) return;
  if (col_stride == 1) {
    pack_contiguous_rows(x, rows, k, row_stride, out, name, transposed_name, mask_fn(cpu().isa));
  } else if (row_stride == 1) {
    // x is the transpose of a row-major k x rows matrix: pack that matrix's columns.
    pack_columns(x, k, rows, col_stride, out, false, name, transposed_name, mask_fn(cpu().isa));
  } else {
    const int64_t W = words_for(k);
    std::fill(out, out + rows * W, uint64_t{0});
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < k; ++c) {
        const int8_t v = x[r * row_stride + c * col_stride];
        if (v != 1 && v != -1) {
          transposed_name ? not_pm1(name, c, r, v) : not_pm1(name, r, c, v);
        }
        out[r * W + c / kWordBits] |= uint64_t{v == 1} << (c % kWordBits);
      }
    }
  }
}

void xnor_gemm_packed(const uint64_t* a_words, int64_t m, const uint64_t* bt_words, int64_t n,
                      int64_t k, int32_t* out, int threads, const std::string& isa,
                      const Poll& poll) {
  const Isa chosen = resolve_isa(isa);
  if (m <= 0 || n <= 0) return;
  const int64_t W = words_for(k);
  if (chosen != Isa::Avx512) {  // the scalar kernels read bt as it is
    prepare_and_multiply(
        a_words, m, bt_words, n, k, out, threads, chosen, [](int64_t, int64_t) { return true; },
        poll);
    return;
  }
  // Each thread copies its share of B's columns into the AVX-512 kernel's panels.
  const PackedB bp = allocate_b(n, W, chosen);
  prepare_and_multiply(a_words, m, bp.words.get(), n, k, out, threads, chosen,
                       [&](int64_t id, int64_t t) {
                         const auto [c0, c1] = column_share(n, id, t);
                         for (int64_t j = c0; j < c1; ++j) {
                           for (int64_t w = 0; w < W; ++w) {
                             bp.words[panel_at(j, w, W)] = bt_words[j * W + w];
                           }
                         }
                         return true;
                       },
                       poll);
}

void xnor_gemm(const int8_t* a, const int8_t* b, int64_t m, int64_t k, int64_t n, int32_t* out,
               int threads, const std::string& isa, const Poll& poll) {
  const Isa chosen = resolve_isa(isa);
  if (m <= 0 || n <= 0) return;
  const int64_t W = words_for(k);
  const std::unique_ptr<uint64_t[]> aw(new uint64_t[m * W]);
  const PackedB bw = allocate_b(n, W, chosen);
  const MaskFn masks = mask_fn(chosen);
  // Each thread packs its own rows of A and a share of B's 64-column tiles. A value that is
  // not +-1 stops the work; the serial packing below then names the first one.
  const bool ok = prepare_and_multiply(
      aw.get(), m, bw.words.get(), n, k, out, threads, chosen, [&](int64_t id, int64_t t) {
        if (k <= 0) return true;
        const auto [r0, r1] = row_share(m, id, t);
        const auto [c0, c1] = column_share(n, id, t);
        pack_contiguous_rows(a + r0 * k, r1 - r0, k, k, aw.get() + r0 * W, "a", false, masks);
        if (c0 < c1) {
          pack_columns(b, k, n, n, bw.words.get(), bw.word_major, "b", true, masks, c0, c1);
        }
        return true;
      },
      poll);
  if (!ok) {  // throws, naming the first value that is not +-1
    pack_contiguous_rows(a, m, k, k, aw.get(), "a", false, masks);
    pack_columns(b, k, n, n, bw.words.get(), bw.word_major, "b", true, masks);
  }
}

const char* xnor_gemm_isa() { return isa_name(cpu().isa); }

}  // namespace pysim
