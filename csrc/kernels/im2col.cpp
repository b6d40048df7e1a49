#include "kernels/im2col.hpp"

#include "common/budget.hpp"
#include "common/checked.hpp"

#include <algorithm>

#include <stdexcept>
#include <string>

namespace pysim {

namespace {

constexpr int64_t kMaxConvDim = (int64_t{1} << 31) - 1;

void require(bool ok, const char* field, int64_t value, const char* allowed) {
  if (!ok) {
    throw std::invalid_argument(std::string(field) + " must be " + allowed + ", got " +
                                std::to_string(value));
  }
}

}  // namespace

void validate(const Conv2dShape& c) {
  const std::pair<const char*, int64_t> dims[] = {
      {"batch", c.batch},       {"in_h", c.in_h},         {"in_w", c.in_w},
      {"in_c", c.in_c},         {"filter_h", c.filter_h}, {"filter_w", c.filter_w},
      {"filters", c.filters},   {"stride_h", c.stride_h}, {"stride_w", c.stride_w},
      {"pad_h", c.pad_h},       {"pad_w", c.pad_w},       {"dilation_h", c.dilation_h},
      {"dilation_w", c.dilation_w}};
  for (const auto& [name, value] : dims) {
    require(value <= kMaxConvDim, name, value, "<= 2^31 - 1");
  }
  require(c.batch >= 1, "batch", c.batch, ">= 1");
  require(c.in_h >= 1, "in_h", c.in_h, ">= 1");
  require(c.in_w >= 1, "in_w", c.in_w, ">= 1");
  require(c.in_c >= 1, "in_c", c.in_c, ">= 1");
  require(c.filter_h >= 1, "filter_h", c.filter_h, ">= 1");
  require(c.filter_w >= 1, "filter_w", c.filter_w, ">= 1");
  require(c.filters >= 1, "filters", c.filters, ">= 1");
  require(c.stride_h >= 1, "stride_h", c.stride_h, ">= 1");
  require(c.stride_w >= 1, "stride_w", c.stride_w, ">= 1");
  require(c.pad_h >= 0, "pad_h", c.pad_h, ">= 0");
  require(c.pad_w >= 0, "pad_w", c.pad_w, ">= 0");
  require(c.dilation_h >= 1, "dilation_h", c.dilation_h, ">= 1");
  require(c.dilation_w >= 1, "dilation_w", c.dilation_w, ">= 1");
  const int64_t span_h = c.dilation_h * (c.filter_h - 1) + 1;
  const int64_t span_w = c.dilation_w * (c.filter_w - 1) + 1;
  require(span_h <= c.in_h + 2 * c.pad_h, "filter_h (dilated)", span_h,
          "<= in_h + 2 * pad_h");
  require(span_w <= c.in_w + 2 * c.pad_w, "filter_w (dilated)", span_w,
          "<= in_w + 2 * pad_w");
}

int64_t conv_out_h(const Conv2dShape& c) {
  return (c.in_h + 2 * c.pad_h - c.dilation_h * (c.filter_h - 1) - 1) / c.stride_h + 1;
}

int64_t conv_out_w(const Conv2dShape& c) {
  return (c.in_w + 2 * c.pad_w - c.dilation_w * (c.filter_w - 1) - 1) / c.stride_w + 1;
}

GemmShape conv2d_to_gemm(const Conv2dShape& c) {
  validate(c);
  const int64_t m = checked_mul(checked_mul(c.batch, conv_out_h(c), "batch*out_h"),
                                conv_out_w(c), "batch*out_h*out_w");
  const int64_t k = checked_mul(checked_mul(c.filter_h, c.filter_w, "filter_h*filter_w"),
                                c.in_c, "filter_h*filter_w*in_c");
  GemmShape g{m, c.filters, k};
  validate(g);
  return g;
}

void check_im2col_output(const Conv2dShape& c, int64_t item_bytes) {
  const GemmShape g = conv2d_to_gemm(c);
  require_within("im2col output (M x K = " + std::to_string(g.m) + " x " + std::to_string(g.k) +
                     " elements of " + std::to_string(item_bytes) + " bytes; pad_h = " +
                     std::to_string(c.pad_h) + ", pad_w = " + std::to_string(c.pad_w) + ")",
                 static_cast<double>(g.m) * static_cast<double>(g.k) *
                     static_cast<double>(item_bytes),
                 kMaxIm2colBytes, "bytes");
}

template <class T>
std::vector<T> im2col(const Conv2dShape& c, const T* x) {
  check_im2col_output(c, static_cast<int64_t>(sizeof(T)));
  const GemmShape g = conv2d_to_gemm(c);
  std::vector<T> out(static_cast<size_t>(g.m * g.k));
  im2col_into(c, x, out.data());
  return out;
}

template <class T>
void im2col_into(const Conv2dShape& c, const T* x, T* out, const Poll& poll) {
  const GemmShape g = conv2d_to_gemm(c);
  const int64_t oh = conv_out_h(c), ow = conv_out_w(c);
  Ticker ticker(poll);
  for (int64_t r = 0; r < g.m; r += 4096) {  // zero in blocks of rows, polling between them
    std::fill(out + r * g.k, out + std::min(g.m, r + 4096) * g.k, T{});
    ticker.tick(4096 * g.k);
  }
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        ticker.tick(g.k);
        T* row = out + ((b * oh + oy) * ow + ox) * g.k;
        for (int64_t fy = 0; fy < c.filter_h; ++fy) {
          const int64_t iy = oy * c.stride_h - c.pad_h + fy * c.dilation_h;
          if (iy < 0 || iy >= c.in_h) continue;
          for (int64_t fx = 0; fx < c.filter_w; ++fx) {
            const int64_t ix = ox * c.stride_w - c.pad_w + fx * c.dilation_w;
            if (ix < 0 || ix >= c.in_w) continue;
            const T* src = x + ((b * c.in_h + iy) * c.in_w + ix) * c.in_c;
            T* dst = row + (fy * c.filter_w + fx) * c.in_c;
            for (int64_t ch = 0; ch < c.in_c; ++ch) dst[ch] = src[ch];
          }
        }
      }
    }
  }
}

template std::vector<int8_t> im2col<int8_t>(const Conv2dShape&, const int8_t*);
template std::vector<int16_t> im2col<int16_t>(const Conv2dShape&, const int16_t*);
template std::vector<float> im2col<float>(const Conv2dShape&, const float*);
template void im2col_into<int8_t>(const Conv2dShape&, const int8_t*, int8_t*, const Poll&);
template void im2col_into<int16_t>(const Conv2dShape&, const int16_t*, int16_t*, const Poll&);
template void im2col_into<float>(const Conv2dShape&, const float*, float*, const Poll&);

}  // namespace pysim
