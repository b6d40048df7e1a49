#include <pybind11/numpy.h>

#include <algorithm>
#include <string>

#include "common/budget.hpp"

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "kernels/binary_gemm.hpp"
#include "kernels/bitserial_gemm.hpp"
#include "kernels/int_gemm.hpp"
#include "units/bit_planes.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

// Work budgets of the GEMM kernels (about 5 s each on a 2-core VM; csrc/README.md).
constexpr int64_t kMaxIntGemmMacs = int64_t{1} << 36;        // ~0.07 ns each (AVX2)
constexpr int64_t kMaxXnorGemmWordOps = int64_t{1} << 31;    // ~2 ns each (portable, 1 thread)
constexpr int64_t kMaxBitserialWordOps = int64_t{1} << 33;   // ~0.55 ns each

// m x n outputs of k-long dot products: the output bytes and the work, before allocating.
void require_gemm_budget(const char* name, int64_t m, int64_t n, double work, int64_t limit,
                         const char* unit, int64_t out_bytes) {
  require_output((std::string(name) + ": output").c_str(), m, n, out_bytes);
  require_within(std::string(name) + ": " + unit, work, limit);
}

template <class TA, class TB>
py::array run_int_gemm(const py::array& a_any, const py::array& b_any) {
  const int64_t m = a_any.shape(0), k = a_any.shape(1), n = b_any.shape(1);
  require_gemm_budget("int_gemm", m, n,
                      static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k),
                      kMaxIntGemmMacs, "multiply-adds (m x n x k)", 4);
  const auto a = as_c_array<TA>(a_any, "a");
  const auto b = as_c_array<TB>(b_any, "b");
  py::array_t<int32_t> out({m, n});
  const TA* ap = a.data();
  const TB* bp = b.data();
  int32_t* op = out.mutable_data();
  without_gil([&](const Poll& poll) {
    int_gemm<TA, TB>(ap, bp, m, k, n, op, poll);
    return 0;
  });
  return out;
}

void require_xnor_budget(const char* name, int64_t m, int64_t n, int64_t k) {
  require_gemm_budget(name, m, n,
                      static_cast<double>(m) * static_cast<double>(n) *
                          static_cast<double>(std::max<int64_t>(1, bits::words_for(k))),
                      kMaxXnorGemmWordOps, "word operations (m x n x ceil(k / 64))", 4);
}

void require_int8_or_int16(const py::array& x, const char* name) {
  if (!has_dtype<int8_t>(x) && !has_dtype<int16_t>(x)) {
    throw std::invalid_argument(std::string(name) + " must have dtype int8 or int16, got " +
                                dtype_name(x));
  }
}

int checked_threads(int threads) {
  if (threads < 0) {
    throw std::invalid_argument("threads must be >= 0 (0: all cores), got " +
                                std::to_string(threads));
  }
  return threads;
}

}  // namespace

void bind_lowp_kernels(py::module_& m) {
  m.def(
      "xnor_gemm",
      [](const py::array& a_any, const py::array& b_any, int threads,
         const std::string& isa) -> py::array {
        require_matmul_shapes(a_any, b_any);
        require_dtype(a_any, py::dtype::of<int8_t>(), "a", "int8 (+-1 values)");
        require_dtype(b_any, py::dtype::of<int8_t>(), "b", "int8 (+-1 values)");
        checked_threads(threads);
        const int64_t m_ = a_any.shape(0), k = a_any.shape(1), n = b_any.shape(1);
        require_xnor_budget("xnor_gemm", m_, n, k);
        const auto a = as_c_array<int8_t>(a_any, "a");
        const auto b = as_c_array<int8_t>(b_any, "b");
        py::array_t<int32_t> out({m_, n});
        const int8_t* ap = a.data();
        const int8_t* bp = b.data();
        int32_t* op = out.mutable_data();
        without_gil([&](const Poll& poll) {
          xnor_gemm(ap, bp, m_, k, n, op, threads, isa, poll);
          return 0;
        });
        return out;
      },
      py::arg("a"), py::arg("b"), py::arg("threads") = 0, py::arg("isa") = "auto",
      "a @ b for int8 +-1 matrices by XNOR-popcount on 64-bit words -> int32.");

  m.def(
      "pack_pm1",
      [](const py::array& x) -> py::array {
        require_2d(x, "x");
        require_dtype(x, py::dtype::of<int8_t>(), "x", "int8 (+-1 values)");
        const int64_t rows = x.shape(0), k = x.shape(1), W = bits::words_for(k);
        py::array_t<uint64_t> out({rows, W});
        const auto* xp = static_cast<const int8_t*>(x.data());
        uint64_t* op = out.mutable_data();
        const int64_t rs = x.strides(0), cs = x.strides(1);  // int8: bytes = elements
        {
          GilRelease release;
          pack_pm1(xp, rows, k, rs, cs, op, "x");
        }
        return out;
      },
      py::arg("x"),
      "Pack the rows of an int8 +-1 matrix (rows x k) into uint64 words (rows x ceil(k/64)): "
      "bit k%64 of word k//64 is 1 for +1; padding bits are zero.");

  m.def(
      "xnor_gemm_packed",
      [](const py::array& a_any, const py::array& b_any, int64_t k, int threads,
         const std::string& isa) -> py::array {
        require_2d(a_any, "a_packed");
        require_2d(b_any, "b_packed");
        require_dtype(a_any, py::dtype::of<uint64_t>(), "a_packed", "uint64");
        require_dtype(b_any, py::dtype::of<uint64_t>(), "b_packed", "uint64");
        checked_threads(threads);
        if (k < 0) throw std::invalid_argument("k must be >= 0, got " + std::to_string(k));
        const int64_t W = bits::words_for(k);
        const std::pair<const char*, const py::array*> ops[] = {{"a_packed", &a_any},
                                                                {"b_packed", &b_any}};
        for (const auto& [name, arr] : ops) {
          if (arr->shape(1) != W) {
            throw std::invalid_argument(
                std::string("mismatched packing: ") + name + " rows hold " +
                std::to_string(arr->shape(1)) + " uint64 words but k=" + std::to_string(k) +
                " needs ceil(k/64) = " + std::to_string(W));
          }
        }
        const int64_t m_ = a_any.shape(0), n = b_any.shape(0);
        require_xnor_budget("xnor_gemm_packed", m_, n, k);
        const auto a = as_c_array<uint64_t>(a_any, "a_packed");
        const auto b = as_c_array<uint64_t>(b_any, "b_packed");
        bits::check_padding(a.data(), m_, k, "a_packed");
        bits::check_padding(b.data(), n, k, "b_packed");
        py::array_t<int32_t> out({m_, n});
        const uint64_t* ap = a.data();
        const uint64_t* bp = b.data();
        int32_t* op = out.mutable_data();
        without_gil([&](const Poll& poll) {
          xnor_gemm_packed(ap, m_, bp, n, k, op, threads, isa, poll);
          return 0;
        });
        return out;
      },
      py::arg("a_packed"), py::arg("b_packed"), py::arg("k"), py::arg("threads") = 0,
      py::arg("isa") = "auto",
      "A @ B from packed rows of A (m x ceil(k/64)) and packed rows of B^T (n x ceil(k/64)), "
      "as pack_pm1 makes them -> int32 (m x n).");

  m.def("xnor_gemm_isa", &xnor_gemm_isa,
        "The popcount kernel xnor_gemm uses on this machine.");

  m.def(
      "bitserial_gemm",
      [](const py::array& a_any, const py::array& b_any, int64_t a_bits, int64_t b_bits,
         bool a_signed, bool b_signed) -> py::array {
        bits::validate_bits(a_bits, "a_bits");
        bits::validate_bits(b_bits, "b_bits");
        require_matmul_shapes(a_any, b_any);
        const int64_t m_ = a_any.shape(0), k = a_any.shape(1), n = b_any.shape(1);
        require_gemm_budget("bitserial_gemm", m_, n,
                            static_cast<double>(m_) * static_cast<double>(n) *
                                static_cast<double>(std::max<int64_t>(1, bits::words_for(k))) *
                                static_cast<double>(a_bits * b_bits),
                            kMaxBitserialWordOps,
                            "word operations (m x n x ceil(k / 64) x a_bits x b_bits)", 8);
        const auto a = as_int64_matrix(a_any, "a");
        const auto b = as_int64_matrix(b_any, "b");
        py::array_t<int64_t> out({m_, n});
        const int64_t* ap = a.data();
        const int64_t* bp = b.data();
        int64_t* op = out.mutable_data();
        without_gil([&](const Poll& poll) {
          bitserial_gemm(ap, bp, m_, k, n, a_bits, b_bits, a_signed, b_signed, op, poll);
          return 0;
        });
        return out;
      },
      py::arg("a"), py::arg("b"), py::arg("a_bits"), py::arg("b_bits"),
      py::arg("a_signed") = true, py::arg("b_signed") = true,
      "a @ b by bit planes for integers within a_bits / b_bits (two's complement when signed) "
      "-> int64.");

  m.def(
      "int_gemm",
      [](const py::array& a, const py::array& b) -> py::array {
        require_matmul_shapes(a, b);
        require_int8_or_int16(a, "a");
        require_int8_or_int16(b, "b");
        if (has_dtype<int8_t>(a)) {
          return has_dtype<int8_t>(b) ? run_int_gemm<int8_t, int8_t>(a, b)
                            : run_int_gemm<int8_t, int16_t>(a, b);
        }
        return has_dtype<int8_t>(b) ? run_int_gemm<int16_t, int8_t>(a, b)
                          : run_int_gemm<int16_t, int16_t>(a, b);
      },
      py::arg("a"), py::arg("b"),
      "a @ b for int8 / int16 matrices with int32 accumulation (wrapping as NumPy's int32).");
}

}  // namespace pysim::bindings
