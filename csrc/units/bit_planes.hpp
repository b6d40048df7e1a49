// Bit-level helpers shared by the low-precision units (bit_serial, xnor) and kernels.
//
// Packing convention: a row of K bits is stored in ceil(K / 64) 64-bit words, bit k in word
// k / 64 at position k % 64; bits past K (padding) are zero. A bit plane p of an integer matrix
// holds bit p of each element's two's-complement representation; for a b-bit signed value the
// plane b - 1 is the sign plane and weighs -2^(b-1), every other plane +2^p.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pysim::bits {

constexpr int64_t kWordBits = 64;
constexpr int64_t kMaxBits = 32;  // widest operand any low-precision unit or kernel accepts

// ceil(k / 64) for k >= 0, without forming k + 63 (k near 2^63 would overflow).
inline int64_t words_for(int64_t k) { return k / kWordBits + (k % kWordBits > 0 ? 1 : 0); }

inline int64_t popcount64(uint64_t x) { return __builtin_popcountll(x); }

// Bits [lo, hi) of a word set, 0 <= lo < hi <= 64.
inline uint64_t bit_mask(int64_t lo, int64_t hi) {
  const uint64_t upper = hi >= kWordBits ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return upper & ~((uint64_t{1} << lo) - 1);
}

// popcount(op(a, b)) over bit positions [begin, end) of two packed rows. op must map two zero
// words to anything: positions outside [begin, end) are masked off after op.
template <class Op>
int64_t popcount_range(const uint64_t* a, const uint64_t* b, int64_t begin, int64_t end, Op op) {
  int64_t count = 0;
  for (int64_t pos = begin; pos < end;) {
    const int64_t w = pos / kWordBits;
    const int64_t lo = pos - w * kWordBits;
    const int64_t hi = std::min<int64_t>(kWordBits, end - w * kWordBits);
    count += popcount64(op(a[w], b[w]) & bit_mask(lo, hi));
    pos = w * kWordBits + hi;
  }
  return count;
}

// Throws std::invalid_argument unless 1 <= bits <= 32.
inline void validate_bits(int64_t bits, const char* name) {
  if (bits < 1 || bits > kMaxBits) {
    throw std::invalid_argument(std::string(name) + " must be in 1..32, got " +
                                std::to_string(bits));
  }
}

inline int64_t min_value(int64_t bits, bool is_signed) {
  return is_signed ? -(int64_t{1} << (bits - 1)) : 0;
}
inline int64_t max_value(int64_t bits, bool is_signed) {
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

// Throws std::invalid_argument naming the first element of the rows x cols matrix x (row-major)
// outside the range of `bits`-bit signed / unsigned integers.
inline void check_range(const int64_t* x, int64_t rows, int64_t cols, int64_t bits,
                        bool is_signed, const char* name) {
  const int64_t lo = min_value(bits, is_signed), hi = max_value(bits, is_signed);
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (x[i] < lo || x[i] > hi) {
      throw std::invalid_argument(
          std::string(name) + "[" + std::to_string(i / cols) + ", " + std::to_string(i % cols) +
          "] = " + std::to_string(x[i]) + " is out of range for " + std::to_string(bits) +
          "-bit " + (is_signed ? "signed" : "unsigned") + " integers (" + std::to_string(lo) +
          ".." + std::to_string(hi) + ")");
    }
  }
}

// Bit planes of a rows x k matrix whose element (r, c) is x[r * row_stride + c * col_stride]:
// planes[(p * rows + r) * words_for(k) + w]. Two's complement: plane p holds bit p.
inline std::vector<uint64_t> pack_planes(const int64_t* x, int64_t rows, int64_t k,
                                         int64_t row_stride, int64_t col_stride, int64_t bits) {
  const int64_t W = words_for(k);
  std::vector<uint64_t> planes(static_cast<size_t>(bits * rows * W), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      const auto v = static_cast<uint64_t>(x[r * row_stride + c * col_stride]);
      for (int64_t p = 0; p < bits; ++p) {
        planes[static_cast<size_t>((p * rows + r) * W + c / kWordBits)] |=
            ((v >> p) & 1u) << (c % kWordBits);
      }
    }
  }
  return planes;
}

// Throws std::invalid_argument if a packed rows x words_for(k) matrix has a bit set past k: the
// words were packed for another K (a mismatched packing).
inline void check_padding(const uint64_t* words, int64_t rows, int64_t k, const char* name) {
  const int64_t W = words_for(k), used = k - (W - 1) * kWordBits;
  if (W == 0 || used == kWordBits) return;
  const uint64_t pad = ~bit_mask(0, used);
  for (int64_t r = 0; r < rows; ++r) {
    if (words[r * W + W - 1] & pad) {
      throw std::invalid_argument(
          std::string("mismatched packing: ") + name + " row " + std::to_string(r) +
          " has bits set past k=" + std::to_string(k) +
          " (padding bits of the last word must be zero)");
    }
  }
}

// ceil(log2(n)) for n >= 1: the levels of a binary adder / popcount tree over n inputs.
inline int64_t tree_levels(int64_t n) {
  int64_t levels = 0;
  while (levels < 63 && (int64_t{1} << levels) < n) ++levels;  // 1 << 63 would overflow
  return levels;
}

}  // namespace pysim::bits
