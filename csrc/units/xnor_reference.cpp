#include "units/xnor_reference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "units/bit_planes.hpp"

namespace pysim {

namespace {

// One issue in flight: the input vector and neuron fold it belongs to and every PE's popcount.
struct Issue {
  bool valid = false;
  int64_t m = 0, nf = 0;
  bool first = false;  // first synapse fold: clears the accumulators
  bool last = false;   // last synapse fold: the result goes to the threshold / write stage
  std::vector<int64_t> popcount;  // PE values
};

}  // namespace

void check_xnor_budget(const XnorSpec& spec, const GemmShape& shape, bool thresholded,
                       bool with_data) {
  const XnorCost expect = xnor_cost(spec, shape, thresholded);  // validates
  const double updates = static_cast<double>(expect.compute_cycles) *
                         static_cast<double>(spec.pe);
  const double work = with_data ? 4.0 * (std::ceil(static_cast<double>(spec.simd) / 64.0) + 1.0)
                                : 1.0;
  require_within("simulate_cycles: " + std::to_string(expect.compute_cycles) + " cycles on " +
                     std::to_string(spec.pe) + " PEs: steps (10 x cycles + PE updates x work)",
                 10.0 * static_cast<double>(expect.cycles) + updates * work, kMaxXnorSteps, "",
                 "the reference model's budget; use cost()");
  if (with_data) {
    require_output_bytes("xnor_simulate: output (M x N)",
                         static_cast<double>(shape.m) * static_cast<double>(shape.n), 4);
  }
}

XnorRun xnor_simulate(const XnorSpec& spec, const GemmShape& shape, const uint64_t* a_words,
                      const uint64_t* b_words, const int64_t* thresholds, bool thresholded,
                      const Poll& poll) {
  const XnorCost expect = xnor_cost(spec, shape, thresholded);  // validates
  if ((a_words == nullptr) != (b_words == nullptr)) {
    throw std::invalid_argument("xnor_simulate: pass both operands or neither");
  }
  const bool with_data = a_words != nullptr;
  if (with_data && thresholded != (thresholds != nullptr)) {
    throw std::invalid_argument("xnor_simulate: thresholded runs with data need thresholds");
  }
  check_xnor_budget(spec, shape, thresholded, with_data);
  Ticker ticker(poll);
  const int64_t M = shape.m, N = shape.n, K = shape.k, PE = spec.pe, SIMD = spec.simd;
  const int64_t W = bits::words_for(K);
  if (with_data) {
    bits::check_padding(a_words, M, K, "a");
    bits::check_padding(b_words, N, K, "b");
  }
  const int64_t NF = expect.neuron_folds, SF = expect.synapse_folds;

  XnorRun run;
  XnorCost& c = run.cost;
  c.neuron_folds = NF;
  c.synapse_folds = SF;
  if (with_data) run.out.assign(static_cast<size_t>(M * N), 0);

  const int64_t L = expect.fill_cycles - 2;  // popcount tree levels
  std::vector<Issue> line(static_cast<size_t>(L + 1));
  for (auto& slot : line) slot.popcount.assign(static_cast<size_t>(PE), 0);
  std::vector<int64_t> acc(static_cast<size_t>(PE), 0), result(static_cast<size_t>(PE), 0);
  bool result_full = false;
  int64_t result_m = 0, result_nf = 0;
  const int64_t total = expect.compute_cycles, outputs = M * NF;
  int64_t issued = 0, written = 0, last_write = -1;
  const auto xnor = [](uint64_t x, uint64_t y) { return ~(x ^ y); };

  for (int64_t t = 0; written < outputs; ++t) {
    // Threshold / write stage: the result register filled last cycle.
    if (result_full) {
      for (int64_t p = 0; p < PE && result_nf * PE + p < N; ++p) {
        const int64_t n = result_nf * PE + p;
        const int64_t sum = 2 * result[static_cast<size_t>(p)] - K;
        if (with_data) {
          run.out[static_cast<size_t>(result_m * N + n)] =
              thresholded ? (sum >= thresholds[n] ? 1 : -1) : static_cast<int32_t>(sum);
        }
        ++c.out_writes;
        c.threshold_ops += thresholded;
      }
      result_full = false;
      ++written;
      last_write = t;
    }
    // Accumulate stage: the issue of cycle t - L - 1 leaves the popcount tree.
    Issue& slot = line[static_cast<size_t>(t % (L + 1))];
    if (slot.valid) {
      for (int64_t p = 0; p < PE; ++p) {
        auto& a = acc[static_cast<size_t>(p)];
        a = (slot.first ? 0 : a) + slot.popcount[static_cast<size_t>(p)];
      }
      if (slot.last) {
        if (result_full) throw std::logic_error("xnor reference: result register overwritten");
        result.swap(acc);
        result_full = true;
        result_m = slot.m;
        result_nf = slot.nf;
      }
      slot.valid = false;
    }
    // Issue stage: input vector m, neuron fold nf, synapse fold sf.
    if (issued < total) {
      const int64_t sf = issued % SF, nf = (issued / SF) % NF, m = issued / (SF * NF);
      const int64_t k0 = sf * SIMD, k1 = std::min(K, k0 + SIMD), kreal = k1 - k0;
      const int64_t pes = std::min(PE, N - nf * PE);
      slot.valid = true;
      slot.m = m;
      slot.nf = nf;
      slot.first = sf == 0;
      slot.last = sf == SF - 1;
      c.a_read_bits += kreal;  // the input slice, broadcast to all PEs
      c.b_read_bits += pes * kreal;
      c.macs += pes * kreal;
      for (int64_t p = 0; p < PE; ++p) {
        int64_t v = 0;
        if (with_data && p < pes) {
          const uint64_t* ar = a_words + m * W;
          const uint64_t* br = b_words + (nf * PE + p) * W;
          v = bits::popcount_range(ar, br, k0, k1, xnor);  // lanes past K masked off
        }
        slot.popcount[static_cast<size_t>(p)] = v;
      }
      run.pe_updates += PE;
      ++issued;
      ticker.tick(PE);
    }
    ticker.tick(10);
  }
  c.cycles = last_write + 1;
  c.compute_cycles = issued;
  c.fill_cycles = c.cycles - issued;
  c.bit_ops = c.macs;
  c.out_write_bits = thresholded ? c.out_writes : c.out_writes * spec.acc_bits;
  c.utilization = static_cast<double>(c.macs) /
                  (static_cast<double>(c.cycles) * static_cast<double>(PE * SIMD));
  return run;
}

XnorCost xnor_simulate_cycles(const XnorSpec& spec, const GemmShape& shape, bool thresholded,
                              const Poll& poll) {
  return xnor_simulate(spec, shape, nullptr, nullptr, nullptr, thresholded, poll).cost;
}

}  // namespace pysim
