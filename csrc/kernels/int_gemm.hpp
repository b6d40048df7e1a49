// Integer GEMM int8 / int16 -> int32, NumPy-exact: equal to a.astype(int32) @ b.astype(int32),
// wrapping modulo 2^32 as NumPy does when a sum overflows int32.
#pragma once

#include <cstdint>

#include "common/budget.hpp"

namespace pysim {

// a: m x k, b: k x n, row-major -> out: m x n int32 (overwritten). poll, when given, is called
// between blocks of rows of about 2^26 MACs (it may throw to stop; out is then partial).
template <class TA, class TB>
void int_gemm(const TA* a, const TB* b, int64_t m, int64_t k, int64_t n, int32_t* out,
              const Poll& poll = nullptr);

}  // namespace pysim
