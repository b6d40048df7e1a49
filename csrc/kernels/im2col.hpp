// Convolution lowered to GEMM (im2col), shapes and the functional data transform.
//
// Output size follows the usual (PyTorch / ONNX) rule
//   out = floor((in + 2 * pad - dilation * (filter - 1) - 1) / stride) + 1,
// and the lowered GEMM is M = batch x out_h x out_w, N = filters, K = filter_h x filter_w x
// channels, with K ordered (filter row, filter column, channel) -- channel fastest, as SCALE-Sim
// lays out its ifmap operand matrix.
#pragma once

#include <cstdint>
#include <vector>

#include "units/systolic_array.hpp"

namespace pysim {

struct Conv2dShape {
  int64_t batch = 1;
  int64_t in_h = 1, in_w = 1, in_c = 1;
  int64_t filter_h = 1, filter_w = 1;
  int64_t filters = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

void validate(const Conv2dShape& conv);  // throws std::invalid_argument
int64_t conv_out_h(const Conv2dShape& conv);
int64_t conv_out_w(const Conv2dShape& conv);
GemmShape conv2d_to_gemm(const Conv2dShape& conv);

// x: batch x in_h x in_w x in_c (NHWC), row-major. Returns the M x K matrix of the lowered GEMM
// (zeros where the window covers padding).
template <class T>
std::vector<T> im2col(const Conv2dShape& conv, const T* x);

}  // namespace pysim
