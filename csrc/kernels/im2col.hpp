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

#include "common/budget.hpp"
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
// (zeros where the window covers padding). Throws std::invalid_argument before allocating when
// M x K x sizeof(T) exceeds kMaxIm2colBytes: a padding of 2^31 - 1 would turn a 1-byte input
// into gigabytes of zeros. 2^28 bytes (256 MiB, a quarter of the general output budget) holds
// the patches of a batch of 32 224 x 224 images under ResNet's 7 x 7 conv1 in float32.
inline constexpr int64_t kMaxIm2colBytes = int64_t{1} << 28;
template <class T>
std::vector<T> im2col(const Conv2dShape& conv, const T* x);

// The same into out (M x K, row-major, not read); check_im2col_output first. poll, when given,
// is called every few million elements (it may throw to stop).
template <class T>
void im2col_into(const Conv2dShape& conv, const T* x, T* out, const Poll& poll = nullptr);

// Throws std::invalid_argument naming the output size, the padding and the limit when the
// M x K patch matrix of item_bytes elements exceeds kMaxIm2colBytes.
void check_im2col_output(const Conv2dShape& conv, int64_t item_bytes);

}  // namespace pysim
