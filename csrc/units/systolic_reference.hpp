// Cycle-stepped reference model of the systolic array.
//
// Moves every operand through the PE registers one cycle at a time and computes the real GEMM
// output. Fold start cycles follow the documented controller policy of the timing mode (ScaleSim:
// a fold starts the cycle after the previous fold's last output was written; Pipelined: a fixed
// issue interval of max(T, R)); everything else -- skew, operand arrival, weight swaps, partial-sum
// flow, output-port use and completion -- is stepped register by register, and structural hazards
// (two tokens on one port, a weight overwritten before use, a partial sum meeting the wrong
// operand) throw std::logic_error. The cycle count is the cycle of the last output write plus one
// and must equal systolic_cost(); the tests hold them equal.
#pragma once

#include <cstdint>
#include <vector>

#include "common/budget.hpp"
#include "units/systolic_array.hpp"

namespace pysim {

template <class Acc>
struct ReferenceRun {
  std::vector<Acc> out;  // M x N, row-major; empty when run without data
  SystolicCost cost;     // counted by the stepped model, not computed from formulas
  int64_t pe_updates = 0;  // PE register updates performed (cycles x R x C)
};

// Budget: the run steps cycles x (R x C PEs + (R + C) edge ports x the folds in flight) PE
// steps (about 11 ns each for OS, 3 ns for WS / IS); more than kMaxReferenceSteps, or more than
// kMaxReferenceFolds folds, throws std::invalid_argument before stepping anything (use
// systolic_cost()). poll, when given, is called every few million steps (it may throw to stop).
inline constexpr int64_t kMaxReferenceSteps = int64_t{1} << 29;
inline constexpr int64_t kMaxReferenceFolds = int64_t{1} << 24;

// a: M x K row-major, b: K x N row-major. Pass nullptr for both to step the timing only.
template <class T, class Acc>
ReferenceRun<Acc> simulate_cycles(const SystolicSpec& spec, const GemmShape& shape, const T* a,
                                  const T* b, const Poll& poll = nullptr);

// Timing-only run (operands are zeros, no output kept).
SystolicCost simulate_cycles(const SystolicSpec& spec, const GemmShape& shape,
                             const Poll& poll = nullptr);

}  // namespace pysim
