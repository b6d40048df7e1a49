// Checked conversion of NumPy array arguments for the low-precision bindings: every check throws
// std::invalid_argument (ValueError in Python) naming the argument, what it got and what is
// allowed, before any C++ code reads the data.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace pysim::bindings {

namespace py = pybind11;

inline std::string dtype_name(const py::array& x) { return py::str(x.dtype()); }

// Whether x holds T, or a and b one dtype. By equality, never identity: an array that went
// through pickle (multiprocessing, Dask) carries an equal but distinct dtype object.
template <class T>
bool has_dtype(const py::array& x) {
  return x.dtype().equal(py::dtype::of<T>());
}
inline bool same_dtype(const py::array& a, const py::array& b) {
  return a.dtype().equal(b.dtype());
}

inline std::string shape_text(const py::array& x) {
  std::string s;
  for (py::ssize_t i = 0; i < x.ndim(); ++i) {
    s += (i ? "x" : "") + std::to_string(x.shape(i));
  }
  return x.ndim() == 0 ? "a scalar" : s;
}

// The shape as Python prints it: "(2,)", "(3, 4)".
inline std::string shape_tuple(const py::array& x) {
  return py::str(py::tuple(py::cast(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()))));
}

inline void require_2d(const py::array& x, const char* name) {
  if (x.ndim() != 2) {
    throw std::invalid_argument(std::string(name) + " must be 2-D, got ndim=" +
                                std::to_string(x.ndim()));
  }
}

// a (m x k) and b (k x n) share k.
inline void require_matmul_shapes(const py::array& a, const py::array& b) {
  require_2d(a, "a");
  require_2d(b, "b");
  if (a.shape(1) != b.shape(0)) {
    throw std::invalid_argument("inner dimensions differ: a is " + shape_text(a) + ", b is " +
                                shape_text(b));
  }
}

inline void require_dtype(const py::array& x, const py::dtype& want, const char* name,
                          const char* what) {
  if (!x.dtype().equal(want)) {
    throw std::invalid_argument(std::string(name) + " must have dtype " + what + ", got " +
                                dtype_name(x));
  }
}

// An integer matrix as a C-contiguous int64 array. Accepts the signed and unsigned integer
// dtypes; a uint64 value beyond int64 is reported (it is out of every bit range here).
inline py::array_t<int64_t, py::array::c_style> as_int64_matrix(const py::array& x,
                                                                const char* name) {
  require_2d(x, name);
  const char kind = x.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw std::invalid_argument(std::string(name) + " must hold integers, got dtype " +
                                dtype_name(x));
  }
  if (has_dtype<uint64_t>(x)) {
    const auto u = py::array_t<uint64_t, py::array::c_style>::ensure(x);
    const uint64_t* p = u.data();
    const py::ssize_t cols = x.shape(1);
    for (py::ssize_t i = 0; i < u.size(); ++i) {
      if (p[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw std::invalid_argument(std::string(name) + "[" + std::to_string(i / cols) + ", " +
                                    std::to_string(i % cols) + "] = " + std::to_string(p[i]) +
                                    " is out of range for every bit width up to 32");
      }
    }
  }
  auto out = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!out) throw std::invalid_argument(std::string("could not read ") + name + " as int64");
  return out;
}

}  // namespace pysim::bindings
