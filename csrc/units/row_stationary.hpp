// Row-stationary array (Eyeriss): closed-form cost of one tile of a convolution or GEMM.
//
// The C++ counterpart of pysim/mapping/tile_model.py's RowStationaryTiles (tests hold the two
// equal). Y.-H. Chen, J. Emer, V. Sze, ISCA 2016, Sec. V; Chen et al., JSSC 2017, Sec. III-B:
// each PE runs a 1-D convolution (one filter row of S weights over one ifmap row, F outputs,
// S MACs each); a PE set of R filter rows x E output rows is one 2-D convolution. The set is
// fit onto the rows x cols array as Eyeriss does:
//   chunks = ceil(R / rows), height = ceil(R / chunks)    a filter taller than the array is
//                                                           cut into even row chunks
//   stack  = floor(rows / height)                          sets stacked on the rows
//   output rows cut into strips of <= cols rows, each image's own (below)
// A tile of m output positions covers whole = m / (out_h x out_w) full images of E = out_h rows
// and a partial image of part = ceil((m mod (out_h x out_w)) / out_w) rows (a GEMM, out_h 0:
// whole = 0 and part = m rows of width F = 1); each image is cut into strips of its own:
// strips_full = ceil(E / cols), strips_part = ceil(part / cols). With n filters and
// k = channels x R x S reduction elements,
//   work   = (whole x strips_full + [part > 0] x strips_part) x channels x n x chunks
//                                                           1-D convolution units
//   passes = ceil(work / (stack x arrays)),  steady = passes x F x S,  fill = height + cols - 1
//   strips = strips_full if whole > 0 else strips_part      the tile's largest image
// Spad reuse: the pe_weights words hold S x p x q weights, q = clip(isqrt(pe_weights / S), 1,
// channels) channels accumulating in the psum register, p = clip((pe_weights / S) / q, 1, n)
// filters sharing each ifmap read. Accesses per tile:
//   ifmap  = (whole x touched_rows(E) + [part > 0] x touched_rows(part)) x touched_cols(F)
//            x channels x ceil(n / p)
//            touched_rows(outs) = min((outs - 1) stride_h + (R - 1) dilation_h + 1, outs x R)
//            (the span, or outs x R when the stride skips rows; touched_cols likewise, F, S)
//   filter = k x n x strips                                  each weight once per strip
//   psum   = ceil(channels x chunks / (q x max(1, stack / strips))) x m x n writes,
//            m x n fewer reads                               stacked sets sum other channels
#pragma once

#include <cstdint>

namespace pysim {

constexpr int64_t kMaxRsArrays = 256;  // identical arrays side by side (the config's limit)

struct RowStationarySpec {
  int64_t rows = 1;
  int64_t cols = 1;
  int64_t pe_weights = 1;  // filter-spad words per PE
  int64_t arrays = 1;      // identical arrays, the work units spread over all of them
};

// The convolution loops row stationary unrolls (tile_model.py's ConvWindow). out_h == 0: a
// GEMM, a 1 x 1 convolution over an m x 1 image (out_w is then unused).
struct ConvWindowSpec {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t out_h = 0, out_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
};

struct RowStationaryCost {
  int64_t cycles = 0;        // steady + fill
  int64_t steady = 0;        // passes x F x S: what tiles issued back to back add up
  int64_t fill = 0;          // one set's skew and drain, paid once per op
  int64_t passes = 0;        // folds: rounds of work units on the stacked set slots
  int64_t macs = 0;          // m x n x k
  int64_t ifmap_reads = 0;   // A elements delivered to the array
  int64_t filter_reads = 0;  // B elements loaded into the filter spads
  int64_t psum_writes = 0;   // partial sums leaving the array
  int64_t psum_reads = 0;    // partial sums read back to accumulate
};

// The set's fit on the rows (see the notation above).
struct RowStationarySets {
  int64_t chunks = 0, height = 0, stack = 0;
};

// Throw std::invalid_argument naming the field, the value and what is allowed.
void validate(const RowStationarySpec& spec);
void validate(const ConvWindowSpec& window);
void validate_rs_shape(int64_t m, int64_t n, int64_t k);

RowStationarySets row_stationary_sets(const RowStationarySpec& spec,
                                      const ConvWindowSpec& window);

// Closed form, O(1); equal to RowStationaryTiles.evaluate(m, n, k). Throws
// std::invalid_argument on bad input or a count that would overflow int64.
RowStationaryCost row_stationary_cost(const RowStationarySpec& spec,
                                      const ConvWindowSpec& window, int64_t m, int64_t n,
                                      int64_t k);

}  // namespace pysim
