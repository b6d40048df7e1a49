// Cycle-stepped reference model of the bit-serial array (units/bit_serial.hpp).
//
// A controller issues one step per cycle to all Dm x Dn DPUs, in the order of the closed form
// (tiles row-major; within a tile bismo runs plane pairs outer and K chunks inner, stripes and
// bitfusion K chunks outer and passes inner). At issue every DPU forms its partial result from
// real operand bits:
//   bismo     popcount(plane_i(A row) AND plane_j(B column)) over the K chunk, shifted by i + j,
//             negated when exactly one plane is a sign plane (two's complement MSB weighs -2^p);
//   stripes   sum over lanes of bit j of the activation times the whole weight, shifted by j,
//             negated on A's sign plane;
//   bitfusion per lane pf products, each the sum of its 2x2-bit BitBrick products (top brick of a
//             signed operand signed) shifted into place, for the pass's 8-bit chunk pair.
// The partial results ride a delay line for the tree levels, are accumulated, and the tile's
// last step moves the accumulators into the result register, written the next cycle; a result
// register still full when the next tile finishes throws std::logic_error. Cycles (last write
// plus one), MACs, bit operations, operand bits and writes are counted by the stepping and must
// equal bit_serial_cost(); the output must equal A @ B. Arithmetic is modulo 2^64 (as NumPy's
// int64 matmul), exact whenever the true result fits in int64.
#pragma once

#include <cstdint>
#include <vector>

#include "common/budget.hpp"
#include "units/bit_serial.hpp"

namespace pysim {

struct BitSerialRun {
  std::vector<int64_t> out;  // M x N row-major; empty for a timing-only run
  BitSerialCost cost;        // counted by the stepped model
  int64_t dpu_updates = 0;   // DPU issues performed (compute_cycles x Dm x Dn)
};

// Budget: steps = 10 x cycles (a cycle's own bookkeeping) + DPU updates x the lane work of one
// (1 timing only; with data: 4 x (K-chunk words + 1) for bismo, the chunk's lanes for stripes,
// lanes x BitBrick pairs for bitfusion), about 1 ns each. More than kMaxBitSerialSteps, or an
// M x N output past kMaxOutputBytes, throws std::invalid_argument before anything runs (use
// bit_serial_cost()). poll, when given, is called every few million steps (it may throw).
inline constexpr int64_t kMaxBitSerialSteps = int64_t{1} << 32;

// a: M x K row-major, b: K x N row-major, values within the bit ranges (checked; std::
// invalid_argument names the first one outside). Pass nullptr for both to step the timing only.
BitSerialRun bit_serial_simulate(const BitSerialSpec& spec, const GemmShape& shape,
                                 int64_t a_bits, int64_t b_bits, const int64_t* a,
                                 const int64_t* b, bool a_signed, bool b_signed,
                                 const Poll& poll = nullptr);

// Timing-only run (no operands, no output).
BitSerialCost bit_serial_simulate_cycles(const BitSerialSpec& spec, const GemmShape& shape,
                                         int64_t a_bits, int64_t b_bits,
                                         const Poll& poll = nullptr);

}  // namespace pysim
