// +-1 (binary) GEMM by XNOR-popcount on bit-packed 64-bit words, and the packing itself.
//
// A row of K values in {-1, +1} packs into ceil(K / 64) words: bit k % 64 of word k / 64 is 1 for
// +1 and 0 for -1; bits past K are zero (units/bit_planes.hpp). For two packed rows
//   sum_k a_k b_k = K - 2 popcount(a XOR b),
// and zero padding on both sides XORs to zero, so K need not be a multiple of 64.
// x86-64 builds pick at run time an AVX-512 VPOPCNTDQ kernel, a POPCNT kernel or portable code;
// all give the same result.
#pragma once

#include <cstdint>
#include <string>

#include "common/budget.hpp"

namespace pysim {

// Pack a rows x k matrix of int8 +-1 values, element (r, c) at x[r * row_stride + c * col_stride]
// (strides in elements, any sign), into out[rows * words_for(k)]. Throws std::invalid_argument
// naming the first element that is not -1 or +1 as name[r, c] (name[c, r] if transposed_name:
// x is the transpose of the caller's `name`).
void pack_pm1(const int8_t* x, int64_t rows, int64_t k, int64_t row_stride, int64_t col_stride,
              uint64_t* out, const char* name, bool transposed_name = false);

// out[i * n + j] = sum_k A[i, k] B[k, j] for packed rows of A (a_words: m x words_for(k)) and
// packed columns of B (bt_words: n x words_for(k)); padding bits must be zero (not checked here).
// threads: how many threads split the rows (0: one per hardware thread for large products);
// the result does not depend on it. isa: "auto" (the widest kernel this CPU runs), or
// "avx512-vpopcntdq", "popcnt", "portable" to force one (std::invalid_argument if this CPU
// cannot run it); every kernel gives the same result.
// poll, when given, is called on the calling thread between blocks of ~2^25 word operations
// (it may throw to stop the product; out is then partial).
void xnor_gemm_packed(const uint64_t* a_words, int64_t m, const uint64_t* bt_words, int64_t n,
                      int64_t k, int32_t* out, int threads = 0, const std::string& isa = "auto",
                      const Poll& poll = nullptr);

// a: m x k, b: k x n, row-major int8 +-1 (checked) -> out: m x n int32, equal to a @ b.
void xnor_gemm(const int8_t* a, const int8_t* b, int64_t m, int64_t k, int64_t n, int32_t* out,
               int threads = 0, const std::string& isa = "auto", const Poll& poll = nullptr);

// Name of the popcount kernel xnor_gemm dispatches to on this machine: "avx512-vpopcntdq",
// "popcnt" or "portable".
const char* xnor_gemm_isa();

}  // namespace pysim
