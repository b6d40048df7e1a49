// Sparse matrix formats and functional kernels: CSR x dense and N:M-compressed x dense.
//
// CSR: indptr (rows + 1), column indices and values of the nonzeros, row by row.
// N:M compressed (NVIDIA's 2:4 layout, generalised): every row is cut into groups of m
// consecutive columns; each group keeps exactly n slots (the nonzeros, padded with zeros in the
// lowest unused positions) with their column positions 0..m-1 in increasing order. A matrix
// with more than n nonzeros in some group does not have the pattern: nm_compress throws.
// Products accumulate in Acc: float -> float, double -> double, int8 -> int32 (wrap-around).
#pragma once

#include <cstdint>
#include <vector>

#include "common/budget.hpp"

namespace pysim {

template <class T>
struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> indptr, indices;
  std::vector<T> values;
};

template <class T>
CsrMatrix<T> csr_from_dense(int64_t rows, int64_t cols, const T* x);

// Throws std::invalid_argument naming the first inconsistency (indptr not starting at 0, not
// non-decreasing or not ending at nnz; a column index outside 0..cols-1).
void validate_csr(int64_t rows, int64_t cols, const int64_t* indptr, const int64_t* indices,
                  int64_t nnz);

// out (rows x n) = A (CSR, rows x cols) x b (cols x n, row-major). poll, when given, is called
// every few million multiply-adds (it may throw to stop; out is then partial).
template <class T, class Acc>
void csr_matmul(int64_t rows, int64_t cols, const int64_t* indptr, const int64_t* indices,
                const T* values, int64_t nnz, const T* b, int64_t n, Acc* out,
                const Poll& poll = nullptr);

template <class T>
struct NmCompressed {
  int64_t rows = 0, cols = 0, n = 0, m = 0;
  std::vector<T> values;        // rows x (cols / m * n)
  std::vector<uint8_t> index;   // same shape: position of each kept slot inside its group
};

// Throws std::invalid_argument if 1 <= n <= m <= 255 fails, cols is not a multiple of m, or a
// group holds more than n nonzeros (naming row, columns and count).
void validate_nm(int64_t n, int64_t m, int64_t cols);
template <class T>
NmCompressed<T> nm_compress(int64_t rows, int64_t cols, const T* x, int64_t n, int64_t m);

// out (rows x ncols) = A x b, A given compressed (values, index: rows x cols/m*n). Throws on an
// index >= m or indices not increasing within a group.
template <class T, class Acc>
void nm_matmul(int64_t rows, int64_t cols, int64_t n, int64_t m, const T* values,
               const uint8_t* index, const T* b, int64_t ncols, Acc* out,
               const Poll& poll = nullptr);

}  // namespace pysim
