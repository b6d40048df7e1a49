// Small arithmetic and validation helpers every model shares. Errors are
// std::invalid_argument naming the quantity, the value and what is allowed.
#pragma once

#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace pysim {

// ceil(a / b) for a >= 0, b >= 1, without forming a + b - 1 (which overflows for a or b near
// 2^63). Other signs: the quotient rounded toward +infinity.
inline int64_t ceil_div(int64_t a, int64_t b) {
  const int64_t q = a / b, r = a % b;
  return q + ((r != 0) && ((r > 0) == (b > 0)) ? 1 : 0);
}

// a * b, or std::invalid_argument when it would not fit in int64.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) {
    throw std::invalid_argument(std::string(what) + " overflows 64-bit integers");
  }
  return out;
}

// a + b, or std::invalid_argument when it would not fit in int64.
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    throw std::invalid_argument(std::string(what) + " overflows 64-bit integers");
  }
  return out;
}

inline void check_dim(const char* name, int64_t value, int64_t max) {
  if (value < 1 || value > max) {
    throw std::invalid_argument(std::string(name) + " must be in 1.." + std::to_string(max) +
                                ", got " + std::to_string(value));
  }
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace pysim
