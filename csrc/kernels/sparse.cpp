#include "kernels/sparse.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

namespace pysim {

namespace {

template <class Acc, class T>
Acc mul(T a, T b) {
  return static_cast<Acc>(a) * static_cast<Acc>(b);
}

// int32 accumulation wraps like the hardware (and like NumPy's int32 matmul).
template <class Acc>
Acc add(Acc a, Acc b) {
  if constexpr (std::is_same_v<Acc, int32_t>) {
    return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
  } else {
    return a + b;
  }
}

}  // namespace

template <class T>
CsrMatrix<T> csr_from_dense(int64_t rows, int64_t cols, const T* x) {
  CsrMatrix<T> out;
  out.rows = rows;
  out.cols = cols;
  out.indptr.reserve(static_cast<size_t>(rows + 1));
  out.indptr.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const T v = x[r * cols + c];
      if (v != T{}) {
        out.indices.push_back(c);
        out.values.push_back(v);
      }
    }
    out.indptr.push_back(static_cast<int64_t>(out.indices.size()));
  }
  return out;
}

void validate_csr(int64_t rows, int64_t cols, const int64_t* indptr, const int64_t* indices,
                  int64_t nnz) {
  if (rows < 0 || cols < 0) {
    throw std::invalid_argument("CSR shape must be non-negative, got (" + std::to_string(rows) +
                                ", " + std::to_string(cols) + ")");
  }
  if (indptr[0] != 0) {
    throw std::invalid_argument("indptr[0] must be 0, got " + std::to_string(indptr[0]));
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (indptr[r + 1] < indptr[r]) {
      throw std::invalid_argument("indptr must be non-decreasing, got indptr[" +
                                  std::to_string(r + 1) + "] = " + std::to_string(indptr[r + 1]) +
                                  " < indptr[" + std::to_string(r) + "] = " +
                                  std::to_string(indptr[r]));
    }
  }
  if (indptr[rows] != nnz) {
    throw std::invalid_argument("indptr[-1] must equal the number of stored values (" +
                                std::to_string(nnz) + "), got " + std::to_string(indptr[rows]));
  }
  for (int64_t i = 0; i < nnz; ++i) {
    if (indices[i] < 0 || indices[i] >= cols) {
      throw std::invalid_argument("indices[" + std::to_string(i) + "] = " +
                                  std::to_string(indices[i]) + " is outside 0.." +
                                  std::to_string(cols - 1));
    }
  }
}

template <class T, class Acc>
void csr_matmul(int64_t rows, int64_t cols, const int64_t* indptr, const int64_t* indices,
                const T* values, int64_t nnz, const T* b, int64_t n, Acc* out,
                const Poll& poll) {
  validate_csr(rows, cols, indptr, indices, nnz);
  Ticker ticker(poll);
  for (int64_t r = 0; r < rows; ++r) {
    Acc* o = out + r * n;
    for (int64_t j = 0; j < n; ++j) o[j] = Acc{};
    for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) {
      const T v = values[p];
      const T* brow = b + indices[p] * n;
      for (int64_t j = 0; j < n; ++j) o[j] = add<Acc>(o[j], mul<Acc>(v, brow[j]));
      ticker.tick(n);
    }
    ticker.tick(n + 1);
  }
}

void validate_nm(int64_t n, int64_t m, int64_t cols) {
  if (m < 1 || m > 255) {
    throw std::invalid_argument("m must be in 1..255, got " + std::to_string(m));
  }
  if (n < 1 || n > m) {
    throw std::invalid_argument("n must be in 1..m (" + std::to_string(m) + "), got " +
                                std::to_string(n));
  }
  if (cols % m != 0) {
    throw std::invalid_argument("the sparse dimension (" + std::to_string(cols) +
                                ") must be a multiple of m = " + std::to_string(m));
  }
}

template <class T>
NmCompressed<T> nm_compress(int64_t rows, int64_t cols, const T* x, int64_t n, int64_t m) {
  validate_nm(n, m, cols);
  NmCompressed<T> out;
  out.rows = rows;
  out.cols = cols;
  out.n = n;
  out.m = m;
  const int64_t groups = cols / m;
  out.values.assign(static_cast<size_t>(rows * groups * n), T{});
  out.index.assign(static_cast<size_t>(rows * groups * n), 0);
  std::vector<bool> used(static_cast<size_t>(m));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const T* grp = x + r * cols + g * m;
      int64_t nonzeros = 0;
      for (int64_t j = 0; j < m; ++j) {
        used[j] = grp[j] != T{};
        nonzeros += used[j];
      }
      if (nonzeros > n) {
        throw std::invalid_argument(
            "row " + std::to_string(r) + ", columns " + std::to_string(g * m) + ".." +
            std::to_string(g * m + m - 1) + " hold " + std::to_string(nonzeros) +
            " nonzeros; a " + std::to_string(n) + ":" + std::to_string(m) +
            " pattern allows at most " + std::to_string(n));
      }
      // Pad with the lowest unused positions, then keep the slots in increasing position.
      for (int64_t j = 0; j < m && nonzeros < n; ++j) {
        if (!used[j]) {
          used[j] = true;
          ++nonzeros;
        }
      }
      int64_t slot = (r * groups + g) * n;
      for (int64_t j = 0; j < m; ++j) {
        if (used[j]) {
          out.values[slot] = grp[j];
          out.index[slot] = static_cast<uint8_t>(j);
          ++slot;
        }
      }
    }
  }
  return out;
}

template <class T, class Acc>
void nm_matmul(int64_t rows, int64_t cols, int64_t n, int64_t m, const T* values,
               const uint8_t* index, const T* b, int64_t ncols, Acc* out, const Poll& poll) {
  validate_nm(n, m, cols);
  const int64_t groups = cols / m;
  Ticker ticker(poll);
  for (int64_t r = 0; r < rows; ++r) {
    ticker.tick(ncols + 1);
    Acc* o = out + r * ncols;
    for (int64_t j = 0; j < ncols; ++j) o[j] = Acc{};
    for (int64_t g = 0; g < groups; ++g) {
      int64_t last = -1;
      for (int64_t s = 0; s < n; ++s) {
        const int64_t slot = (r * groups + g) * n + s;
        const int64_t pos = index[slot];
        if (pos >= m || pos <= last) {
          throw std::invalid_argument(
              "index[" + std::to_string(r) + ", " + std::to_string(g * n + s) + "] = " +
              std::to_string(pos) + ": positions in a group must increase and be < m = " +
              std::to_string(m));
        }
        last = pos;
        const T v = values[slot];
        const T* brow = b + (g * m + pos) * ncols;
        for (int64_t j = 0; j < ncols; ++j) o[j] = add<Acc>(o[j], mul<Acc>(v, brow[j]));
        ticker.tick(ncols);
      }
    }
  }
}

#define PYSIM_SPARSE_INSTANTIATE(T, Acc)                                                       \
  template CsrMatrix<T> csr_from_dense<T>(int64_t, int64_t, const T*);                         \
  template void csr_matmul<T, Acc>(int64_t, int64_t, const int64_t*, const int64_t*, const T*, \
                                   int64_t, const T*, int64_t, Acc*, const Poll&);             \
  template NmCompressed<T> nm_compress<T>(int64_t, int64_t, const T*, int64_t, int64_t);       \
  template void nm_matmul<T, Acc>(int64_t, int64_t, int64_t, int64_t, const T*,                \
                                  const uint8_t*, const T*, int64_t, Acc*, const Poll&);

PYSIM_SPARSE_INSTANTIATE(float, float)
PYSIM_SPARSE_INSTANTIATE(double, double)
PYSIM_SPARSE_INSTANTIATE(int8_t, int32_t)

#undef PYSIM_SPARSE_INSTANTIATE

}  // namespace pysim
