#include "kernels/mma.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace pysim {

namespace {

void require_dims(int64_t m, int64_t n, int64_t k, int64_t k_step) {
  if (m < 1 || n < 1 || k < 1 || k_step < 1) {
    throw std::invalid_argument("mma: M, N, K and k_step must be >= 1, got M=" +
                                std::to_string(m) + ", N=" + std::to_string(n) + ", K=" +
                                std::to_string(k) + ", k_step=" + std::to_string(k_step));
  }
}

template <class T>
std::vector<T> transpose(int64_t rows, int64_t cols, const T* x) {
  std::vector<T> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = x[r * cols + c];
  }
  return out;
}

int32_t wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

}  // namespace

float round_to_tf32(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u) return x;  // inf, nan
  bits += 0x1000u;  // half an ulp of a 10-bit mantissa, on the magnitude: ties away from zero
  bits &= 0xffffe000u;
  float out = 0;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

void mma_float(int64_t m, int64_t n, int64_t k, int64_t k_step, const float* a, const float* b,
               const float* c, float* d, bool tf32_inputs) {
  require_dims(m, n, k, k_step);
  std::vector<float> a_in(a, a + m * k);
  std::vector<float> bt = transpose(k, n, b);  // N x K
  if (tf32_inputs) {
    for (float& v : a_in) v = round_to_tf32(v);
    for (float& v : bt) v = round_to_tf32(v);
  }
  for (int64_t i = 0; i < m; ++i) {
    const float* ar = a_in.data() + i * k;
    for (int64_t j = 0; j < n; ++j) {
      const float* bc = bt.data() + j * k;
      float acc = c ? c[i * n + j] : 0.0f;
      for (int64_t k0 = 0; k0 < k; k0 += k_step) {
        const int64_t k1 = k0 + k_step < k ? k0 + k_step : k;
        double s = 0.0;
        for (int64_t kk = k0; kk < k1; ++kk) {
          s += static_cast<double>(ar[kk]) * static_cast<double>(bc[kk]);
        }
        acc = static_cast<float>(static_cast<double>(acc) + s);
      }
      d[i * n + j] = acc;
    }
  }
}

void mma_int(int64_t m, int64_t n, int64_t k, int bits, const int8_t* a, const int8_t* b,
             const int32_t* c, int32_t* d) {
  require_dims(m, n, k, 1);
  if (bits != 8 && bits != 4) {
    throw std::invalid_argument("mma_int: bits must be 8 or 4, got " + std::to_string(bits));
  }
  const int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
  auto check = [&](const int8_t* x, int64_t size, const char* name, int64_t cols) {
    for (int64_t i = 0; i < size; ++i) {
      if (x[i] < lo || x[i] > hi) {
        throw std::invalid_argument(std::string(name) + "[" + std::to_string(i / cols) + ", " +
                                    std::to_string(i % cols) + "] = " + std::to_string(x[i]) +
                                    " is outside the int" + std::to_string(bits) + " range " +
                                    std::to_string(lo) + ".." + std::to_string(hi));
      }
    }
  };
  check(a, m * k, "a", k);
  check(b, k * n, "b", n);
  const std::vector<int8_t> bt = transpose(k, n, b);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = c ? c[i * n + j] : 0;
      const int8_t* ar = a + i * k;
      const int8_t* bc = bt.data() + j * k;
      for (int64_t kk = 0; kk < k; ++kk) s += int64_t{ar[kk]} * int64_t{bc[kk]};
      d[i * n + j] = wrap32(s);  // int32 accumulator: sums mod 2^32 are order-independent
    }
  }
}

void mma_b1(int64_t m, int64_t n, int64_t k, B1Op op, const uint8_t* a, const uint8_t* b,
            const int32_t* c, int32_t* d) {
  require_dims(m, n, k, 1);
  const int64_t words = (k + 63) / 64;
  auto pack = [&](const uint8_t* x, int64_t rows, int64_t row_stride, int64_t k_stride,
                  const char* name) {
    std::vector<uint64_t> out(static_cast<size_t>(rows * words), 0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t kk = 0; kk < k; ++kk) {
        const uint8_t v = x[r * row_stride + kk * k_stride];
        if (v > 1) {
          throw std::invalid_argument(std::string(name) + " must hold 0 or 1 (b1), got " +
                                      std::to_string(v));
        }
        out[r * words + kk / 64] |= uint64_t{v} << (kk % 64);
      }
    }
    return out;
  };
  const std::vector<uint64_t> ap = pack(a, m, k, 1, "a");  // rows of A
  const std::vector<uint64_t> bp = pack(b, n, 1, n, "b");  // columns of B
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = c ? c[i * n + j] : 0;
      for (int64_t w = 0; w < words; ++w) {
        const uint64_t x = ap[i * words + w], y = bp[j * words + w];
        // Padding bits past K are 0 in both operands: 0 under AND and under XOR.
        s += __builtin_popcountll(op == B1Op::And ? (x & y) : (x ^ y));
      }
      d[i * n + j] = wrap32(s);
    }
  }
}

}  // namespace pysim
