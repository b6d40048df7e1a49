// The numeric core of the mapping search (pysim/mapping/tiling.py, plan_gemm): every candidate
// tiling of a GEMM in every slice (loop order, what is kept where), priced by the objective,
// and the winner by branch and bound over the engine's own schedule of the op. Python builds
// the per-candidate and per-slice figures; this walks them without NumPy's per-call overhead.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/budget.hpp"

namespace pysim {

// Cycles from an op's first load to its last store as the SimPy engine runs it alone
// (pysim/engine/simulator.py; tests hold the two equal): `steps` steps in `halves` buffer halves, loads and stores on one
// bus (first come, first served; a load first on a tie), `read` / `write` the bus cycles of all
// loads / stores (0: none at all).
double op_pipeline_cycles(int64_t steps, double compute, double read, double write,
                          int64_t halves);

// What no schedule of the op beats.
double op_pipeline_lower_bound(int64_t steps, double compute, double read, double write);

enum class PlanObjective : int { Traffic = 0, Latency = 1, Energy = 2, Edp = 3 };

struct PlanPrices {
  PlanObjective kind = PlanObjective::Latency;
  double bytes_per_cycle = 1.0;
  double transfer_latency = 0.0;
  double dram_read_pj_per_byte = 0.0;
  double dram_write_pj_per_byte = 0.0;
  double input_write_pj_per_bit = 0.0;   // DMA fills of A into its level
  double weight_write_pj_per_bit = 0.0;  // and of B
  double input_through_pj_per_bit = 0.0;   // A's bytes passing through its outer levels
  double weight_through_pj_per_bit = 0.0;  // and B's
  double fixed_pj = 0.0;
  double run_overhead_bytes = 0.0;
  double latency_tie = 0.0;
  int64_t halves = 2;
  bool a_on_chip = false;
  // C stays on chip for its consumers (planned inter-layer reuse): its final write never
  // reaches DRAM and is not priced (partial-sum spills still are).
  bool c_kept = false;
};

// Per candidate i (n of them): steps, compute cycles, tiles, kt, one pass over A / B / C /
// partial sums in bytes, the DRAM slowdown of A / B / C's streams, A and B's scratchpad energy,
// partial-sum bits written / read, discontiguous runs per pass of A / B / C; and the trips of
// the m, n, k loops.
struct PlanCandidates {
  int64_t n = 0;
  const double *steps, *compute, *tiles, *kt, *a_pass, *b_pass, *c_pass, *p_pass;
  const double *slow_a, *slow_b, *slow_c, *sram_ab, *psum_w_bits, *psum_r_bits;
  const double *a_runs, *b_runs, *c_runs, *trips_m, *trips_n, *trips_k;
};

// Per slice s (count of them): the loop each operand is re-read across (0 none, 1 m, 2 n,
// 3 k), whether an outer level serves A / B / C's re-reads, C's level's read / write pJ per
// bit, the pJ per bit an outer level costs to serve A / B / C, the pJ per bit C's traffic
// costs at the levels behind C's, the number of operands kept, and which candidates fit.
struct PlanSlices {
  int64_t count = 0;
  const int64_t *refetch_a, *refetch_b, *refetch_c;
  const uint8_t *served_a, *served_b, *served_c;
  const double *c_read_pj, *c_write_pj, *serve_a_pj, *serve_b_pj, *serve_c_pj, *c_through_pj;
  const int64_t* kept;
  const uint8_t* fits;  // count x n, row-major
  // count x n, row-major, or null: the fewest cycles the scratchpads' ports move the array's
  // operand reads and partial sums in, with C where the slice keeps it; an op computes for at
  // least that long
  const double* port_cycles = nullptr;
};

struct PlanChoice {
  int64_t flat = -1;  // slice x n + candidate, or -1 when nothing fits
  double latency = 0.0;
  double energy = 0.0;
};

PlanChoice search_plans(const PlanPrices& prices, const PlanCandidates& cand,
                        const PlanSlices& slices);

// The scratchpads' port cycles of every (slice, candidate) for plan_gemm (the reference is
// pysim/mapping/tiling.py's slice_port_cycles_reference; tests hold the two equal to the bit).
// Levels (capacity groups) g < n_groups move (read, write, any) = rates[3g..3g+2] bits per
// cycle; A, B and C live innermost at home_in, home_w, home_out. Per slice s, rows[7s..7s+6]
// = (C's level or -1, the outer level serving A / B / C's re-reads or -1, the loop A / B / C
// is re-read across: 0 none, 1 m, 2 n, 3 k). Per candidate i (n of them): the m, n, k trips,
// A's and B's array reads in bits, partial-sum bits read / written at C's inner level, one
// pass over A / B / C / partial sums in bytes, and, for C kept at an outer level, the bits its
// sub-tiles drain there and read back. chains (or null) is 3 x chain_width, row-major: per
// role (A, B, C) the levels behind its home, innermost first, padded with -1; every DRAM byte
// of an operand passes them (written and read there), C's from the level that holds it, and
// C's partial sums re-read across a loop (rows' last field) cross its level too; with c_kept
// C stays on chip for its consumers (moved into A's home, not to DRAM).
// out[s * n + i]: the most cycles any level's ports take.
struct PortCandidates {
  int64_t n = 0;
  const int64_t *trips_m, *trips_n, *trips_k;
  const double *a_bits, *b_bits, *psum_r, *psum_w, *a_pass, *b_pass, *c_pass, *p_pass;
  const double *drain, *accumulate;
};

void port_cycles_table(int64_t n_groups, const double* rates, int64_t home_in, int64_t home_w,
                       int64_t home_out, int64_t n_rows, const int64_t* rows, bool a_on_chip,
                       const PortCandidates& c, double* out, const int64_t* chains = nullptr,
                       int64_t chain_width = 0, bool c_kept = false);

// A systolic array's tile model (pysim/mapping/tile_model.py, SystolicTiles: SCALE-Sim's fold
// model for any spatial unrolling, several arrays, PEs holding several weights) summed over a
// whole M x N x K GEMM per candidate tiling (mt, nt, kt), as plan_gemm's op_cycles and its
// sums do (the reference; tests hold the two equal): its full and ragged tile shapes, each
// times its count. Dimensions are 0 m, 1 n, 2 k. out is 5 x n, row-major: cycles (the tiles'
// steady cycles plus the largest fill of a shape that occurs), then A reads, B reads, partial
// sums written and read back, in elements. Integer arithmetic wraps as NumPy's int64 does.
struct SystolicSpec2 {
  int64_t rows = 1, cols = 1;
  int on_rows = 0, on_cols = 1, split = 1;  // dimensions
  bool scalesim = false;                    // every fold pays its own fill and drain
  int64_t pe_weights = 1, arrays = 1;
};

void systolic_tile_sums(const SystolicSpec2& spec, int64_t m, int64_t n, int64_t k,
                        int64_t count, const int64_t* mt, const int64_t* nt, const int64_t* kt,
                        int64_t* out);

// plan_gemm's candidate set-up (the reference is pysim/mapping/tiling.py's _setup_reference;
// tests hold the two equal to the bit): every (mt, nt, kt) of the product of the dimensions'
// candidate sizes (mt slowest), its operands' tile bytes, which fit the scratchpads, and for
// the fitting ones their trips, passes, runs, DRAM slowdowns and, per slice, whether what
// each level holds fits it, a tile narrower than its grain dropped where its grain-wide
// version fits and is no worse. Integer arithmetic wraps as NumPy's int64 does; a float
// converted to int64 out of range gives INT64_MIN, as NumPy's astype does on x86-64.
struct CandidateSetup {
  int64_t dims[3] = {1, 1, 1};        // m, n, k
  const int64_t* cands[3] = {};       // each dimension's candidate sizes, ascending, >= 1
  int64_t count[3] = {0, 0, 0};
  int64_t grains[3] = {1, 1, 1};
  int64_t a_bits = 8, b_bits = 8, psum_bits = 32;
  bool a_on_chip = false;
  const double* a_per_k = nullptr;    // per m candidate: a feature map's on-chip bytes per kt
  double a_scales = 1.0, b_scales = 1.0;
  // capacity checks, rows of (role mask: 1 A, 2 B, 4 C; bytes; multiplier): every `fit` row
  // must hold, and one of the `anywhere` rows when there are any
  int64_t n_fit = 0, n_anywhere = 0;
  const int64_t *fit = nullptr, *anywhere = nullptr;
  // one pass in bytes: A's per m (a_pass_dim 0) or k (2) candidate; B's, C's, the partial
  // sums' per n candidate
  const int64_t *a_pass = nullptr, *b_pass = nullptr, *c_pass = nullptr, *p_pass = nullptr;
  int a_pass_dim = 2;
  // DRAM slowdown per pair of candidate sizes: A (m x k), B (k x n), C (m x n); null: none
  const double *slow_a = nullptr, *slow_b = nullptr, *slow_c = nullptr;
  bool timed = false;
  int64_t max_steps = 16;
  // per capacity group g < held_groups (= n_fit, its bytes and multiplier fit's): the distinct
  // sums of held rows it holds (rows of held_terms, held_sums x held_width indices 0..12 into
  // a candidate's held rows: 4j + 0 operand j's tile, 4j + 1..3 its footprint with its first,
  // second or both dimensions whole, 12 nothing; no row shared by two groups), and each
  // slice's sum (held_which[g * slices + s])
  int64_t held_groups = 0, held_sums = 0, held_width = 0, slices = 0;
  const int64_t *held_terms = nullptr, *held_which = nullptr;
  // the capacity group (fit row) whose bytes vary from call to call (the input scratchpad,
  // less what the kept area holds), -1 none; per anywhere row, whether it is that group's
  int64_t vary = -1;
  const uint8_t* vary_anywhere = nullptr;
};

// The bytes of the varying group (CandidateSetup::vary) over which every fit the set-up
// depends on keeps its outcome, lo..hi inclusive: a call with any bytes in it finds the same
// candidates, figures and fits. Each check of a tiling against the group narrows it.
struct Room {
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
  void check(int64_t need, int64_t size) {
    if (need <= size) {
      lo = std::max(lo, need);
    } else {
      hi = std::min(hi, need - 1);
    }
  }
};

// The fitting candidates' indices into the product. `poll` (if any) is called every few
// million steps of work (common/budget.hpp). `room` (if any) is narrowed by every check of the
// varying group that decides whether a tiling fits.
std::vector<int64_t> candidate_fits(const CandidateSetup& in, const Poll& poll = {},
                                    Room* room = nullptr);

// For the fitting candidates `pos` (n of them): ints (11 x n: mt, nt, kt, the m / n / k trips,
// tiles, one pass over A / B / C / partial sums), rows (20 x n, search_plans' candidates;
// compute, scratchpad energy and partial-sum bits left 0) and fits (slices x n). `room` (if
// any) is narrowed by every check of the varying group a slice's fit depends on.
void candidate_setup(const CandidateSetup& in, const std::vector<int64_t>& pos, int64_t* ints,
                     double* rows, uint8_t* fits, const Poll& poll = {}, Room* room = nullptr);

}  // namespace pysim
