// Integer GEMM by bit planes (the bit-serial algorithm), NumPy-exact.
//
// With A's elements a_bits-bit and B's b_bits-bit integers (two's complement when signed),
//   A @ B = sum_p sum_q s_p s_q 2^(p+q) popcount(plane_p(A row) AND plane_q(B column)),
// s_p = -1 for the sign plane (p = bits - 1 of a signed operand) and +1 otherwise. Arithmetic is
// modulo 2^64, so the result equals NumPy's int64 matmul (exact when it fits in int64).
#pragma once

#include <cstdint>

#include "common/budget.hpp"

namespace pysim {

// a: m x k, b: k x n, row-major int64 -> out: m x n int64. Throws std::invalid_argument if a
// bit width is outside 1..32 or a value outside its width's range (naming the element). poll,
// when given, is called between blocks of about 2^24 plane-pair words (it may throw to stop).
void bitserial_gemm(const int64_t* a, const int64_t* b, int64_t m, int64_t k, int64_t n,
                    int64_t a_bits, int64_t b_bits, bool a_signed, bool b_signed, int64_t* out,
                    const Poll& poll = nullptr);

}  // namespace pysim
