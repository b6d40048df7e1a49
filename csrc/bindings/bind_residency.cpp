// The residency program's rounding and repair (csrc/mapping/residency_repair.hpp) for
// pysim/mapping/planned_residency.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "mapping/residency_repair.hpp"

namespace pysim::bindings {

namespace py = pybind11;

namespace {

using I64 = CArray<int64_t>;
using F64 = CArray<double>;
using U8 = CArray<uint8_t>;

constexpr int64_t kBig = int64_t{1} << 62;     // bytes: sums stay far from wrapping
constexpr int64_t kMaxCount = int64_t{1} << 24;  // gaps, steps, owners

template <class T>
CArray<T> vector_arg(const py::array& x, const char* name, py::ssize_t length, const char* kinds) {
  if (std::string(kinds).find(x.dtype().kind()) == std::string::npos) {
    throw std::invalid_argument(std::string(name) + " has dtype " + dtype_name(x) +
                                "; allowed kinds: " + kinds);
  }
  if (x.ndim() != 1 || (length >= 0 && x.shape(0) != length)) {
    throw std::invalid_argument(std::string(name) + " must be 1-D of length " +
                                std::to_string(length) + ", got shape " + shape_tuple(x));
  }
  return as_c_array<T>(x, name);
}

// The arrays the GapTable points into, checked: every gap within the steps, bytes in
// 0..2^62 and their sum too, every owner indexed, savings finite.
struct Gaps {
  I64 nbytes, lo, hi, owner, w_gaps;
  F64 save, w_bytes;
  GapTable table;

  Gaps(const py::array& nbytes_in, const py::array& lo_in, const py::array& hi_in,
       const py::array& save_in, const py::array& owner_in, const py::array& w_bytes_in,
       const py::array& w_gaps_in, int64_t steps) {
    if (nbytes_in.ndim() != 1) throw std::invalid_argument("nbytes must be 1-D");
    const py::ssize_t g = nbytes_in.shape(0);
    nbytes = vector_arg<int64_t>(nbytes_in, "nbytes", g, "iu");
    lo = vector_arg<int64_t>(lo_in, "lo", g, "iu");
    hi = vector_arg<int64_t>(hi_in, "hi", g, "iu");
    save = vector_arg<double>(save_in, "save", g, "fiu");
    owner = vector_arg<int64_t>(owner_in, "owner", g, "iu");
    if (w_bytes_in.ndim() != 1 || w_bytes_in.shape(0) < 1) {
      throw std::invalid_argument("w_bytes must be 1-D with one entry or more");
    }
    const py::ssize_t owners = w_bytes_in.shape(0);
    w_bytes = vector_arg<double>(w_bytes_in, "w_bytes", owners, "fiu");
    w_gaps = vector_arg<int64_t>(w_gaps_in, "w_gaps", owners, "iu");
    require_within("gaps", static_cast<double>(g), kMaxCount);
    require_within("owners", static_cast<double>(owners), kMaxCount);
    if (steps < 1 || steps > kMaxCount) {
      throw std::invalid_argument("steps must be in 1..2^24, got " + std::to_string(steps));
    }
    double total = 0.0;
    for (py::ssize_t k = 0; k < g; ++k) {
      const int64_t b = nbytes.data()[k], l = lo.data()[k], h = hi.data()[k];
      if (b < 0 || b >= kBig) {
        throw std::invalid_argument("nbytes must be in 0..2^62, got " + std::to_string(b));
      }
      if (l < 0 || l > h || h >= steps) {
        throw std::invalid_argument("gap " + std::to_string(k) + " spans steps " +
                                    std::to_string(l) + ".." + std::to_string(h) +
                                    "; allowed: 0 <= lo <= hi < steps = " +
                                    std::to_string(steps));
      }
      if (owner.data()[k] < 0 || owner.data()[k] >= owners) {
        throw std::invalid_argument("owner must be in 0.." + std::to_string(owners - 1) +
                                    ", got " + std::to_string(owner.data()[k]));
      }
      if (!std::isfinite(save.data()[k])) throw std::invalid_argument("save must be finite");
      total += static_cast<double>(b);
    }
    require_within("the gaps' bytes together", total, kBig, "B");
    for (py::ssize_t w = 0; w < owners; ++w) {
      if (!std::isfinite(w_bytes.data()[w])) throw std::invalid_argument("w_bytes must be finite");
    }
    table = GapTable{static_cast<int64_t>(g), steps,     nbytes.data(), lo.data(),
                     hi.data(),               save.data(), owner.data(), static_cast<int64_t>(owners),
                     w_bytes.data(),          w_gaps.data()};
  }
};

// A permutation of 0..count - 1.
I64 order_arg(const py::array& x, int64_t count) {
  I64 order = vector_arg<int64_t>(x, "order", static_cast<py::ssize_t>(count), "iu");
  std::vector<uint8_t> seen(static_cast<size_t>(count), 0);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t k = order.data()[i];
    if (k < 0 || k >= count || seen[static_cast<size_t>(k)]) {
      throw std::invalid_argument("order must be a permutation of 0.." +
                                  std::to_string(count - 1));
    }
    seen[static_cast<size_t>(k)] = 1;
  }
  return order;
}

void check_budget(int64_t budget) {
  if (budget < 0 || budget >= kBig) {
    throw std::invalid_argument("budget must be in 0..2^62, got " + std::to_string(budget));
  }
}

py::array_t<bool> as_bools(const std::vector<uint8_t>& keep) {
  py::array_t<bool> out(static_cast<py::ssize_t>(keep.size()));
  std::transform(keep.begin(), keep.end(), out.mutable_data(), [](uint8_t v) { return v != 0; });
  return out;
}

}  // namespace

void bind_residency(py::module_& m) {
  const char* gaps_doc =
      " Gap k holds nbytes[k] bytes during steps lo[k]..hi[k] and saves save[k] kept; owner[k] "
      "indexes w_bytes / w_gaps (a write-back saved once all w_gaps[w] of the owner's gaps are "
      "kept; -1: never).";
  m.def(
      "round_plan",
      [](const py::array& nbytes, const py::array& lo, const py::array& hi,
         const py::array& save, const py::array& owner, const py::array& w_bytes,
         const py::array& w_gaps, int64_t steps, const py::array& order_in, int64_t budget) {
        const Gaps gaps(nbytes, lo, hi, save, owner, w_bytes, w_gaps, steps);
        const I64 order = order_arg(order_in, gaps.table.count);
        check_budget(budget);
        // each gap's try scans its span once
        require_within("round_plan's work (gaps x steps)",
                       static_cast<double>(gaps.table.count) * static_cast<double>(steps),
                       int64_t{1} << 36);
        const std::vector<uint8_t> keep = without_gil(
            [&](const Poll&) { return round_plan(gaps.table, order.data(), budget); });
        return as_bools(keep);
      },
      py::arg("nbytes"), py::arg("lo"), py::arg("hi"), py::arg("save"), py::arg("owner"),
      py::arg("w_bytes"), py::arg("w_gaps"), py::arg("steps"), py::arg("order"),
      py::arg("budget"),
      (std::string("The gaps in `order`, each kept where the area of `budget` bytes has room "
                    "throughout its span: a bool per gap.") +
       gaps_doc +
       " Internal to pysim.mapping.planned_residency; _round_reference computes the same.")
          .c_str());
  m.def(
      "repair_plan",
      [](const py::array& nbytes, const py::array& lo, const py::array& hi,
         const py::array& save, const py::array& owner, const py::array& w_bytes,
         const py::array& w_gaps, int64_t steps, const py::array& keep_in,
         const py::array& order_in, const py::array& positive_in, int64_t budget,
         int64_t extra, int64_t passes, double seconds) {
        const Gaps gaps(nbytes, lo, hi, save, owner, w_bytes, w_gaps, steps);
        const auto g = static_cast<py::ssize_t>(gaps.table.count);
        const U8 keep = vector_arg<uint8_t>(keep_in, "keep", g, "b");
        const U8 positive = vector_arg<uint8_t>(positive_in, "positive", g, "b");
        const I64 order = order_arg(order_in, gaps.table.count);
        check_budget(budget);
        if (extra < 0 || passes < 0) {
          throw std::invalid_argument("extra and passes must be >= 0");
        }
        if (std::isnan(seconds)) throw std::invalid_argument("seconds must not be NaN");
        // The moves' work has no useful bound ahead (each drops up to every gap in its way),
        // so `seconds` caps it (the planner's time limit) and Ctrl-C stops it.
        const std::vector<uint8_t> out = without_gil([&](const Poll& poll) {
          return repair_plan(gaps.table, keep.data(), order.data(), positive.data(), budget,
                             extra, passes, seconds, poll);
        });
        return as_bools(out);
      },
      py::arg("nbytes"), py::arg("lo"), py::arg("hi"), py::arg("save"), py::arg("owner"),
      py::arg("w_bytes"), py::arg("w_gaps"), py::arg("steps"), py::arg("keep"),
      py::arg("order"), py::arg("positive"), py::arg("budget"), py::arg("extra"),
      py::arg("passes"), py::arg("seconds"),
      (std::string("The plan `keep` repaired (pysim.mapping.planned_residency._improve): each "
                    "gap the relaxation keeps in part (`positive`) that `keep` drops forced in, "
                    "then `extra` dropped gaps of largest saving, the kept gaps in its way "
                    "dropped greedily and the rest re-kept in `order`; a move stands where the "
                    "bytes kept grow; at most `passes` passes, no move after `seconds`.") +
       gaps_doc + " Internal; _improve_reference computes the same.")
          .c_str());
}

}  // namespace pysim::bindings
