// Functional tensor-core MMA, D = A x B + C, in the number formats of the hardware.
//
// Float inputs (fp16, bf16, fp8 e4m3 / e5m2, tf32) arrive as fp32 values already representable in
// the input format (the Python layer converts with ml_dtypes; tf32 is rounded here). Each output
// element keeps an fp32 accumulator; every k_step elements of K (the instruction's K) the k_step
// products are formed exactly, summed in double precision, added to the accumulator and rounded
// once to fp32 (round to nearest even). Products of two fp16 / bf16 / tf32 / fp8 values are exact
// in double; the k_step sum is exact for fp8 and within 2^-53 relative otherwise.
// Integer inputs (int8, int4) multiply exactly and accumulate in int32 with two's-complement
// wrap-around (PTX mma without .satfinite). Binary (b1) inputs are 0/1: each k_step adds
// popcount(a AND b) or popcount(a XOR b) over the bit-packed K.
// docs/tensor_cores.md compares this with measurements of real tensor cores.
#pragma once

#include <cstdint>

namespace pysim {

enum class B1Op { Xor, And };

// PTX cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero.
float round_to_tf32(float x);

// a: M x K, b: K x N, c (may be null: zeros) and d: M x N, all row-major.
void mma_float(int64_t m, int64_t n, int64_t k, int64_t k_step, const float* a, const float* b,
               const float* c, float* d, bool tf32_inputs);
// bits = 8 or 4; throws std::invalid_argument on a value outside the signed range.
void mma_int(int64_t m, int64_t n, int64_t k, int bits, const int8_t* a, const int8_t* b,
             const int32_t* c, int32_t* d);
// Values must be 0 or 1 (throws otherwise).
void mma_b1(int64_t m, int64_t n, int64_t k, B1Op op, const uint8_t* a, const uint8_t* b,
            const int32_t* c, int32_t* d);

}  // namespace pysim
