#include <pybind11/numpy.h>

#include <stdexcept>
#include <string>

#include "common/budget.hpp"

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "kernels/sparse.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

// Multiply-adds a sparse x dense product may take (~0.15 ns each: about 3 s).
constexpr int64_t kMaxSparseMacs = int64_t{1} << 34;

template <class T>
CArray<T> ensure(const py::array& x, const char* name, int ndim) {
  if (x.ndim() != ndim) {
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-D, got ndim=" + std::to_string(x.ndim()));
  }
  return as_c_array<T>(x, name);
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v, py::ssize_t rows, py::ssize_t cols) {
  py::array_t<T> out({rows, cols});
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

template <class T>
py::tuple run_csr_from_dense(const py::array& x_any) {
  const auto x = ensure<T>(x_any, "x", 2);
  CsrMatrix<T> csr;
  {
    GilRelease release;
    csr = csr_from_dense<T>(x.shape(0), x.shape(1), x.data());
  }
  py::array_t<int64_t> indptr(static_cast<py::ssize_t>(csr.indptr.size()));
  py::array_t<int64_t> indices(static_cast<py::ssize_t>(csr.indices.size()));
  py::array_t<T> values(static_cast<py::ssize_t>(csr.values.size()));
  std::copy(csr.indptr.begin(), csr.indptr.end(), indptr.mutable_data());
  std::copy(csr.indices.begin(), csr.indices.end(), indices.mutable_data());
  std::copy(csr.values.begin(), csr.values.end(), values.mutable_data());
  return py::make_tuple(indptr, indices, values);
}

template <class T, class Acc>
py::array run_csr_matmul(const py::array& indptr_any, const py::array& indices_any,
                         const py::array& values_any, int64_t rows, int64_t cols,
                         const py::array& b_any) {
  const auto indptr = ensure<int64_t>(indptr_any, "indptr", 1);
  const auto indices = ensure<int64_t>(indices_any, "indices", 1);
  const auto values = ensure<T>(values_any, "values", 1);
  const auto b = ensure<T>(b_any, "b", 2);
  if (rows < 0 || cols < 0) throw std::invalid_argument("shape must be non-negative");
  // indptr.size() - 1, not rows + 1: rows = 2^63 - 1 must not overflow.
  if (indptr.size() - 1 != rows) {
    throw std::invalid_argument("indptr must have rows + 1 = " +
                                std::to_string(static_cast<uint64_t>(rows) + 1) +
                                " entries, got " + std::to_string(indptr.size()));
  }
  if (indices.size() != values.size()) {
    throw std::invalid_argument("indices and values must have the same length, got " +
                                std::to_string(indices.size()) + " and " +
                                std::to_string(values.size()));
  }
  if (b.shape(0) != cols) {
    throw std::invalid_argument("b must have " + std::to_string(cols) +
                                " rows (the sparse matrix's columns), got " +
                                std::to_string(b.shape(0)));
  }
  const int64_t n = b.shape(1);
  require_output("csr_matmul: output", rows, n, sizeof(Acc));
  require_within("csr_matmul: multiply-adds ((nnz + rows) x b's columns)",
                 (static_cast<double>(values.size()) + static_cast<double>(rows)) *
                     static_cast<double>(n),
                 kMaxSparseMacs);
  py::array_t<Acc> out({rows, n});
  Acc* op = out.mutable_data();
  const int64_t* ip = indptr.data();
  const int64_t* xp = indices.data();
  const T* vp = values.data();
  const int64_t nnz = values.size();
  const T* bp = b.data();
  without_gil([&](const Poll& poll) {
    csr_matmul<T, Acc>(rows, cols, ip, xp, vp, nnz, bp, n, op, poll);
    return 0;
  });
  return out;
}

template <class T>
py::tuple run_nm_compress(const py::array& x_any, int64_t n, int64_t m) {
  const auto x = ensure<T>(x_any, "x", 2);
  NmCompressed<T> c;
  {
    GilRelease release;
    c = nm_compress<T>(x.shape(0), x.shape(1), x.data(), n, m);
  }
  const py::ssize_t kept = c.rows == 0 ? 0 : static_cast<py::ssize_t>(c.values.size()) / c.rows;
  return py::make_tuple(to_numpy(c.values, c.rows, kept), to_numpy(c.index, c.rows, kept));
}

template <class T, class Acc>
py::array run_nm_matmul(const py::array& values_any, const py::array& index_any, int64_t n,
                        int64_t m, int64_t cols, const py::array& b_any) {
  const auto values = ensure<T>(values_any, "values", 2);
  const auto index = ensure<uint8_t>(index_any, "index", 2);
  const auto b = ensure<T>(b_any, "b", 2);
  validate_nm(n, m, cols);
  const int64_t rows = values.shape(0);
  const int64_t kept = cols / m * n;
  if (values.shape(1) != kept || index.shape(0) != rows || index.shape(1) != kept) {
    throw std::invalid_argument("values and index must both have shape (" +
                                std::to_string(rows) + ", " + std::to_string(kept) +
                                ") for cols=" + std::to_string(cols) + " at " +
                                std::to_string(n) + ":" + std::to_string(m));
  }
  if (b.shape(0) != cols) {
    throw std::invalid_argument("b must have " + std::to_string(cols) +
                                " rows (the sparse matrix's columns), got " +
                                std::to_string(b.shape(0)));
  }
  const int64_t ncols = b.shape(1);
  require_output("nm_matmul: output", rows, ncols, sizeof(Acc));
  require_within("nm_matmul: multiply-adds (rows x (kept + 1) x b's columns)",
                 static_cast<double>(rows) * static_cast<double>(kept + 1) *
                     static_cast<double>(ncols),
                 kMaxSparseMacs);
  py::array_t<Acc> out({rows, ncols});
  Acc* op = out.mutable_data();
  const T* vp = values.data();
  const uint8_t* xp = index.data();
  const T* bp = b.data();
  without_gil([&](const Poll& poll) {
    nm_matmul<T, Acc>(rows, cols, n, m, vp, xp, bp, ncols, op, poll);
    return 0;
  });
  return out;
}

[[noreturn]] void bad_dtype(const py::array& x) {
  throw std::invalid_argument("dtype must be float32, float64 or int8, got " +
                              std::string(py::str(x.dtype())));
}

}  // namespace

void bind_sparse(py::module_& m) {
  m.def(
      "csr_from_dense",
      [](const py::array& x) -> py::tuple {
        if (has_dtype<float>(x)) return run_csr_from_dense<float>(x);
        if (has_dtype<double>(x)) return run_csr_from_dense<double>(x);
        if (has_dtype<int8_t>(x)) return run_csr_from_dense<int8_t>(x);
        bad_dtype(x);
      },
      py::arg("x"), "Dense 2-D array -> (indptr, indices, values) of its nonzeros.");
  m.def(
      "csr_matmul",
      [](const py::array& indptr, const py::array& indices, const py::array& values,
         int64_t rows, int64_t cols, const py::array& b) -> py::array {
        if (!same_dtype(values, b)) {
          throw std::invalid_argument("values and b must share a dtype, got " +
                                      std::string(py::str(values.dtype())) + " and " +
                                      std::string(py::str(b.dtype())));
        }
        if (has_dtype<float>(b)) {
          return run_csr_matmul<float, float>(indptr, indices, values, rows, cols, b);
        }
        if (has_dtype<double>(b)) {
          return run_csr_matmul<double, double>(indptr, indices, values, rows, cols, b);
        }
        if (has_dtype<int8_t>(b)) {
          return run_csr_matmul<int8_t, int32_t>(indptr, indices, values, rows, cols, b);
        }
        bad_dtype(b);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("values"), py::arg("rows"),
      py::arg("cols"), py::arg("b"),
      "CSR (rows x cols) x dense b -> dense; int8 accumulates in int32.");
  m.def(
      "nm_compress",
      [](const py::array& x, int64_t n, int64_t m_) -> py::tuple {
        if (has_dtype<float>(x)) return run_nm_compress<float>(x, n, m_);
        if (has_dtype<double>(x)) return run_nm_compress<double>(x, n, m_);
        if (has_dtype<int8_t>(x)) return run_nm_compress<int8_t>(x, n, m_);
        bad_dtype(x);
      },
      py::arg("x"), py::arg("n"), py::arg("m"),
      "Rows cut into groups of m along the columns, n kept per group -> (values, index); "
      "ValueError if a group holds more than n nonzeros.");
  m.def(
      "nm_matmul",
      [](const py::array& values, const py::array& index, int64_t n, int64_t m_, int64_t cols,
         const py::array& b) -> py::array {
        if (!same_dtype(values, b)) {
          throw std::invalid_argument("values and b must share a dtype, got " +
                                      std::string(py::str(values.dtype())) + " and " +
                                      std::string(py::str(b.dtype())));
        }
        if (has_dtype<float>(b)) {
          return run_nm_matmul<float, float>(values, index, n, m_, cols, b);
        }
        if (has_dtype<double>(b)) {
          return run_nm_matmul<double, double>(values, index, n, m_, cols, b);
        }
        if (has_dtype<int8_t>(b)) {
          return run_nm_matmul<int8_t, int32_t>(values, index, n, m_, cols, b);
        }
        bad_dtype(b);
      },
      py::arg("values"), py::arg("index"), py::arg("n"), py::arg("m"), py::arg("cols"),
      py::arg("b"), "N:M-compressed A (rows x cols) x dense b -> dense.");
}

}  // namespace pysim::bindings
