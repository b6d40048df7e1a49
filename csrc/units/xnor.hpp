// XNOR / popcount array: closed-form cost of a binary (+-1) GEMM on a FINN-style matrix-vector
// threshold unit (Umuroglu et al., "FINN", FPGA 2017; Blott et al., "FINN-R", TRETS 2018).
//
// C[M, N] = A[M, K] x B[K, N] with every element of A and B in {-1, +1}, stored bit-packed
// (+1 -> 1, -1 -> 0) in 64-bit words along K. M is the number of input vectors (the output
// pixels of a convolution, batch included), K the matrix width (Fh Fw Cin) and N its height
// (output channels). PE processing elements each compute one output channel; each PE has SIMD
// XNOR lanes feeding a popcount tree SIMD bits wide, and an accumulator. Per cycle a PE reads
// SIMD bits of its weight row and the SIMD-bit input slice (broadcast to all PEs). A lane past K
// (K not a multiple of SIMD or of 64) is masked: padding bits never count. With threshold units
// (FINN's folded batch norm + sign) each output is +1 if sum >= threshold[n] else -1, where
// sum = 2 * popcount(XNOR) - K is the +-1 dot product; without them the sum itself is written.
//
// Folding (FINN): neuron_folds = ceil(N / PE), synapse_folds = ceil(K / SIMD); the input vectors
// are processed one after another, each in neuron_folds x synapse_folds cycles:
//   compute_cycles = M * neuron_folds * synapse_folds   (FINN's cycles per frame for M = the
//                                                         output pixels of one frame)
//   fill_cycles    = ceil(log2(SIMD)) + 2   (XNOR + operand read in the issue cycle, the
//                                            popcount tree levels, accumulate, threshold/write)
//   cycles         = compute_cycles + fill_cycles
#pragma once

#include <cstdint>

#include "units/systolic_array.hpp"  // GemmShape

namespace pysim {

constexpr int64_t kMaxXnorDim = 4096;

struct XnorSpec {
  int64_t pe = 1;         // processing elements (output channels in parallel)
  int64_t simd = 64;      // XNOR lanes per PE = popcount tree width in bits
  int64_t acc_bits = 32;  // width of an unthresholded result written out, 1..64
};

struct XnorCost {
  int64_t cycles = 0;          // compute_cycles + fill_cycles
  int64_t compute_cycles = 0;  // M * neuron_folds * synapse_folds
  int64_t fill_cycles = 0;     // ceil(log2(SIMD)) + 2
  int64_t neuron_folds = 0;    // ceil(N / PE)
  int64_t synapse_folds = 0;   // ceil(K / SIMD)
  int64_t macs = 0;            // M * N * K binary MACs (padding lanes excluded)
  int64_t bit_ops = 0;         // XNOR-popcount bit operations: one per binary MAC
  int64_t a_read_bits = 0;     // input bits read: M * neuron_folds * K (re-read per neuron fold)
  int64_t b_read_bits = 0;     // weight bits read: M * N * K
  int64_t out_writes = 0;      // M * N
  int64_t out_write_bits = 0;  // 1 bit per output when thresholded, acc_bits otherwise
  int64_t threshold_ops = 0;   // comparisons: M * N when thresholded
  double utilization = 0.0;    // macs / (cycles * PE * SIMD)
};

// Throw std::invalid_argument naming the field, the value and what is allowed.
void validate(const XnorSpec& spec);

// Closed form, O(1). Throws std::invalid_argument on bad input.
XnorCost xnor_cost(const XnorSpec& spec, const GemmShape& shape, bool thresholded);

}  // namespace pysim
