#include "units/xnor.hpp"

#include "common/checked.hpp"

#include <stdexcept>
#include <string>

#include "units/bit_planes.hpp"

namespace pysim {

void validate(const XnorSpec& spec) {
  check_dim("pe", spec.pe, kMaxXnorDim);
  check_dim("simd", spec.simd, kMaxXnorDim);
  check_dim("acc_bits", spec.acc_bits, 64);
}

XnorCost xnor_cost(const XnorSpec& spec, const GemmShape& shape, bool thresholded) {
  validate(spec);
  validate(shape);
  const int64_t M = shape.m, N = shape.n, K = shape.k;
  XnorCost c;
  c.neuron_folds = ceil_div(N, spec.pe);
  c.synapse_folds = ceil_div(K, spec.simd);
  c.compute_cycles = checked_mul(checked_mul(M, c.neuron_folds, "cycle count"), c.synapse_folds,
                                 "cycle count");
  c.fill_cycles = bits::tree_levels(spec.simd) + 2;
  c.cycles = c.compute_cycles + c.fill_cycles;
  c.macs = M * N * K;
  c.bit_ops = c.macs;
  c.a_read_bits = checked_mul(checked_mul(M, K, "M*K"), c.neuron_folds, "input reads");
  c.b_read_bits = c.macs;
  c.out_writes = M * N;
  c.out_write_bits = thresholded ? c.out_writes
                                 : checked_mul(c.out_writes, spec.acc_bits, "output bits");
  c.threshold_ops = thresholded ? c.out_writes : 0;
  c.utilization = static_cast<double>(c.macs) /
                  (static_cast<double>(c.cycles) * static_cast<double>(spec.pe * spec.simd));
  return c;
}

}  // namespace pysim
