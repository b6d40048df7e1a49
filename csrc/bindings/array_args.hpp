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

#include "common/budget.hpp"

namespace pysim::bindings {

namespace py = pybind11;

// What every binding asks of an array before C++ reads it through a T*: C-contiguous, aligned
// for T (NPY_ARRAY_ALIGNED: a view at an odd byte offset, e.g. np.frombuffer(buf, offset=1),
// is not) and in native byte order (the dtype is T's). NumPy copies an array that is not; one
// that is passes through without a copy.
inline constexpr int kAlignedFlag = 0x0100;  // NPY_ARRAY_ALIGNED
inline constexpr int kCArrayFlags = py::array::c_style | py::array::forcecast | kAlignedFlag;
template <class T>
using CArray = py::array_t<T, kCArrayFlags>;

// x (already checked to hold T, or a dtype that casts to T) as a C-contiguous aligned array.
template <class T>
CArray<T> as_c_array(const py::handle& x, const char* name) {
  CArray<T> out = CArray<T>::ensure(x);
  if (!out) {
    throw std::invalid_argument(std::string("could not read ") + name +
                                " as a contiguous aligned array");
  }
  return out;
}

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
inline CArray<int64_t> as_int64_matrix(const py::array& x, const char* name) {
  require_2d(x, name);
  const char kind = x.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw std::invalid_argument(std::string(name) + " must hold integers, got dtype " +
                                dtype_name(x));
  }
  if (has_dtype<uint64_t>(x)) {
    const auto u = as_c_array<uint64_t>(x, name);
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
  return as_c_array<int64_t>(x, name);
}

// A rows x cols result of item_bytes per element, against the output budget
// (common/budget.hpp), checked before anything is allocated.
inline void require_output(const char* what, int64_t rows, int64_t cols, int64_t item_bytes) {
  require_output_bytes(std::string(what) + " (" + std::to_string(rows) + " x " +
                           std::to_string(cols) + ")",
                       static_cast<double>(rows) * static_cast<double>(cols), item_bytes);
}

}  // namespace pysim::bindings
