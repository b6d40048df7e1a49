// Cycle-stepped reference model of the XNOR / popcount array (units/xnor.hpp).
//
// The controller issues one step per cycle to all PEs: input vector m, neuron fold nf, synapse
// fold sf (m outer, sf inner, as FINN's matrix-vector unit). At issue PE p (output channel
// n = nf * PE + p) reads SIMD bits of weight row n and of the input slice, XNORs them lane by
// lane on the packed 64-bit words and masks the lanes past K; the popcount climbs the tree for
// ceil(log2(SIMD)) cycles, is accumulated, and after the last synapse fold the threshold unit
// (or the plain sum) writes the result the next cycle. Cycles (last write plus one), MACs, bit
// reads and writes are counted by the stepping and must equal xnor_cost(); outputs must equal
// the +-1 product A @ B (thresholded: +1 where A @ B >= threshold[n], else -1).
#pragma once

#include <cstdint>
#include <vector>

#include "common/budget.hpp"
#include "units/xnor.hpp"

namespace pysim {

struct XnorRun {
  std::vector<int32_t> out;  // M x N row-major: sums, or +-1 when thresholded; empty when timing
  XnorCost cost;             // counted by the stepped model
  int64_t pe_updates = 0;    // PE issues performed (compute_cycles x PE)
};

// a_words: M x words_for(K) packed rows of A; b_words: N x words_for(K) packed columns of B
// (bit k of row r = 1 for +1); padding bits past K must be zero (checked). thresholds: N values,
// or nullptr for plain sums. Pass nullptr for a_words and b_words to step the timing only
// (thresholded then says whether threshold units run).
// Budget: steps = 10 x cycles + PE updates x (1, or with data 4 x (SIMD words + 1)), about
// 1 ns each; more than kMaxXnorSteps, or an M x N output past kMaxOutputBytes, throws
// std::invalid_argument before anything runs (use xnor_cost()). poll, when given, is called
// every few million steps (it may throw to stop the run).
inline constexpr int64_t kMaxXnorSteps = int64_t{1} << 32;
XnorRun xnor_simulate(const XnorSpec& spec, const GemmShape& shape, const uint64_t* a_words,
                      const uint64_t* b_words, const int64_t* thresholds, bool thresholded,
                      const Poll& poll = nullptr);

// Throws what xnor_simulate would throw over its budget (with_data: the run reads operands).
void check_xnor_budget(const XnorSpec& spec, const GemmShape& shape, bool thresholded,
                       bool with_data);

// Timing-only run.
XnorCost xnor_simulate_cycles(const XnorSpec& spec, const GemmShape& shape, bool thresholded,
                              const Poll& poll = nullptr);

}  // namespace pysim
