// Work budgets and Ctrl-C for the native loops.
//
// Every entry point whose work its arguments size (folds, lanes, cycles, bursts, MACs, output
// elements) estimates that work BEFORE it starts and throws std::invalid_argument (ValueError
// in Python) naming the figure, its value and the limit: require_within(). The limits keep an
// accepted call under ~10 s on a 2-core x86-64 VM; csrc/README.md lists them.
//
// Loops that may run for seconds take a Poll and call it every so many steps (a Ticker counts
// them). The bindings pass one that takes the GIL back, runs Python's signal handlers and
// throws on KeyboardInterrupt (bindings/gil.hpp); the C++ core never sees Python.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>

namespace pysim {

using Poll = std::function<void()>;

// The most bytes one array an entry point returns (or allocates on its way) may hold.
inline constexpr int64_t kMaxOutputBytes = int64_t{1} << 30;

// "2^30" for a power of two, else the decimal value.
inline std::string limit_text(int64_t limit) {
  if (limit > 0 && (limit & (limit - 1)) == 0) {
    int e = 0;
    while ((int64_t{1} << e) != limit) ++e;
    return "2^" + std::to_string(e);
  }
  return std::to_string(limit);
}

// A work estimate, exact below 2^53, else "~1.2e+20".
inline std::string figure_text(double value) {
  if (value < 9007199254740992.0) return std::to_string(static_cast<int64_t>(value));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "~%.3g", value);
  return buf;
}

// Throws std::invalid_argument "<what> = <value>[ unit] exceeds the limit of <limit>[ unit]
// [; hint]" when value > limit. value is a double so that products past 2^63 still compare.
inline void require_within(const std::string& what, double value, int64_t limit,
                           const std::string& unit = "", const std::string& hint = "") {
  if (!(value <= static_cast<double>(limit))) {
    const std::string u = unit.empty() ? "" : " " + unit;
    throw std::invalid_argument(what + " = " + figure_text(value) + u + " exceeds the limit of " +
                                limit_text(limit) + u + (hint.empty() ? "" : "; " + hint));
  }
}

// Bytes of an array of `elements` items of `item_bytes`, against kMaxOutputBytes.
inline void require_output_bytes(const std::string& what, double elements, int64_t item_bytes,
                                 const std::string& hint = "") {
  require_within(what, elements * static_cast<double>(item_bytes), kMaxOutputBytes, "bytes",
                 hint);
}

// Calls poll (if any) once every `every` units of work: tick(n) after each n units.
class Ticker {
 public:
  explicit Ticker(const Poll& poll, int64_t every = int64_t{1} << 22)
      : poll_(poll ? &poll : nullptr), every_(every), left_(every) {}
  void tick(int64_t units = 1) {
    if (poll_ == nullptr) return;
    left_ -= units;
    if (left_ <= 0) {
      left_ = every_;
      (*poll_)();
    }
  }

 private:
  const Poll* poll_;
  int64_t every_;
  int64_t left_;
};

}  // namespace pysim
