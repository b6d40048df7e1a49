#include "units/systolic_reference.hpp"

#include <algorithm>

#include "common/checked.hpp"
#include <stdexcept>
#include <string>

namespace pysim {

namespace {

struct Token {
  int32_t fold = -1;  // -1: empty register
  int64_t step = 0;   // reduction index (OS) or stream index (WS/IS)
  bool real = false;  // false: zero padding for a PE outside the GEMM
};

template <class T>
struct Operand : Token {
  T value{};
};

template <class Acc>
struct Psum : Token {
  Acc value{};
};

[[noreturn]] void hazard(const std::string& what, int64_t cycle) {
  throw std::logic_error("systolic reference: " + what + " at cycle " + std::to_string(cycle));
}

// Fold f -> (row fold, column fold); row folds innermost, as SCALE-Sim orders them.
struct FoldIndex {
  int64_t fr, fc;
};
FoldIndex fold_index(const FoldGeometry& g, int64_t f) {
  return {f % g.row_folds, f / g.row_folds};
}

// Accessors that let one engine serve all three dataflows.
template <class T>
struct GemmData {
  const T* a;  // M x K
  const T* b;  // K x N
  GemmShape s;
  T A(int64_t m, int64_t k) const { return a ? a[m * s.k + k] : T{}; }
  T B(int64_t k, int64_t n) const { return b ? b[k * s.n + n] : T{}; }
};

// The most folds in flight at once: ScaleSim starts a fold when the previous one is done (its
// stationary tile loads meanwhile: 2 for WS / IS); Pipelined every max(T, R) cycles, each
// running T + R + C - 2 cycles (+ R preload for WS / IS).
int64_t folds_in_flight(const SystolicSpec& spec, const FoldGeometry& g) {
  const int64_t R = spec.rows, C = spec.cols;
  const int64_t preload = spec.dataflow == Dataflow::OS ? 0 : R;
  int64_t a = preload > 0 ? 2 : 1;
  if (spec.timing == TimingMode::Pipelined) {
    a = ceil_div(g.t + R + C - 2 + preload, std::max(g.t, R)) + 1;
  }
  return std::min(a, g.folds);
}

void check_budget(const SystolicSpec& spec, const GemmShape& shape, const SystolicCost& expected,
                  bool with_data) {
  const FoldGeometry g = fold_geometry(spec, shape);
  const double pes = static_cast<double>(spec.rows * spec.cols);
  const double ports = static_cast<double>(spec.rows + spec.cols);
  const double steps = static_cast<double>(expected.cycles) *
                       (pes + ports * static_cast<double>(folds_in_flight(spec, g)));
  const std::string run = "simulate_cycles: " + std::to_string(expected.cycles) +
                          " cycles on a " + std::to_string(spec.rows) + "x" +
                          std::to_string(spec.cols) + " array";
  require_within(run + ": PE steps (cycles x (PEs + edge ports x folds in flight))", steps,
                 kMaxReferenceSteps, "", "the reference model's budget; use cost()");
  require_within(run + ": folds", static_cast<double>(g.folds), kMaxReferenceFolds, "",
                 "the reference model's budget; use cost()");
  if (with_data) {
    require_output_bytes("simulate_cycles: output (M x N)",
                         static_cast<double>(shape.m) * static_cast<double>(shape.n), 8);
  }
}

// Output stationary: A enters from the left (row i, skew i), B from the top (column j, skew j);
// PE(i, j) accumulates C[m, n] and writes it on column j's output port when its K-th MAC is done.
template <class T, class Acc>
ReferenceRun<Acc> run_os(const SystolicSpec& spec, const GemmData<T>& d, const Poll& poll) {
  const FoldGeometry g = fold_geometry(spec, d.s);
  const int64_t R = spec.rows, C = spec.cols, K = d.s.k, M = d.s.m, N = d.s.n;
  const bool with_data = d.a != nullptr;
  ReferenceRun<Acc> run;
  if (with_data) run.out.assign(static_cast<size_t>(M * N), Acc{});
  SystolicCost& c = run.cost;

  std::vector<Operand<T>> a_reg(R * C), b_reg(R * C);
  std::vector<Acc> acc(R * C, Acc{});
  std::vector<int32_t> acc_fold(R * C, -1);
  std::vector<int64_t> acc_count(R * C, 0);
  std::vector<int64_t> port_last_write(C, -1);
  std::vector<int64_t> start(g.folds, -1), outstanding(g.folds, R * C);
  start[0] = 0;
  const int64_t interval = std::max(K, R);
  int64_t folds_done = 0, first_active = 0, last_write = -1;
  int64_t unstarted = 1;  // Pipelined: the first fold without a start cycle
  Ticker ticker(poll);

  for (int64_t t = 0; folds_done < g.folds; ++t) {
    while (first_active < g.folds && start[first_active] >= 0 &&
           outstanding[first_active] == 0) {
      ++first_active;
    }
    // Shift operands one PE right / down; inject at the edges.
    for (int64_t i = R - 1; i >= 0; --i) {
      for (int64_t j = C - 1; j >= 0; --j) {
        Operand<T>& a = a_reg[i * C + j];
        Operand<T>& b = b_reg[i * C + j];
        a = j > 0 ? a_reg[i * C + j - 1] : Operand<T>{};
        b = i > 0 ? b_reg[(i - 1) * C + j] : Operand<T>{};
        if (j == 0 || i == 0) {
          for (int64_t f = first_active; f < g.folds && start[f] >= 0 && start[f] <= t; ++f) {
            const auto [fr, fc] = fold_index(g, f);
            if (j == 0) {
              const int64_t k = t - start[f] - i;
              if (k >= 0 && k < K) {
                if (a.fold >= 0) hazard("two folds on row port " + std::to_string(i), t);
                const int64_t m = fr * R + i;
                a.fold = static_cast<int32_t>(f);
                a.step = k;
                a.real = m < M;
                a.value = a.real ? d.A(m, k) : T{};
                c.ifmap_reads += a.real;
              }
            }
            if (i == 0) {
              const int64_t k = t - start[f] - j;
              if (k >= 0 && k < K) {
                if (b.fold >= 0) hazard("two folds on column port " + std::to_string(j), t);
                const int64_t n = fc * C + j;
                b.fold = static_cast<int32_t>(f);
                b.step = k;
                b.real = n < N;
                b.value = b.real ? d.B(k, n) : T{};
                c.filter_reads += b.real;
              }
            }
          }
        }
      }
    }
    // Multiply-accumulate in every PE that holds a pair of operands.
    for (int64_t i = 0; i < R; ++i) {
      for (int64_t j = 0; j < C; ++j) {
        const int64_t p = i * C + j;
        const Operand<T>& a = a_reg[p];
        const Operand<T>& b = b_reg[p];
        if (a.fold < 0 && b.fold < 0) continue;
        if (a.fold != b.fold || a.step != b.step) hazard("operands out of step in a PE", t);
        if (acc_fold[p] != a.fold) {
          if (acc_count[p] != 0) hazard("accumulator overwritten before drain", t);
          acc_fold[p] = a.fold;
          acc[p] = Acc{};
        }
        acc[p] += static_cast<Acc>(a.value) * static_cast<Acc>(b.value);
        c.macs += a.real && b.real;
        if (++acc_count[p] == K) {
          if (port_last_write[j] == t) hazard("two writes on output port", t);
          port_last_write[j] = t;
          const auto [fr, fc] = fold_index(g, a.fold);
          const int64_t m = fr * R + i, n = fc * C + j;
          if (m < M && n < N) {
            if (with_data) run.out[m * N + n] = acc[p];
            ++c.ofmap_writes;
          }
          acc_count[p] = 0;
          last_write = t;
          if (--outstanding[a.fold] == 0) {
            ++folds_done;
            const int64_t next = a.fold + 1;
            if (next < g.folds && spec.timing == TimingMode::ScaleSim) start[next] = t + 1;
          }
        }
      }
    }
    run.pe_updates += R * C;
    // Pipelined issue: the next fold starts max(K, R) cycles after this one (one fold's start
    // is fixed per cycle, in order).
    if (spec.timing == TimingMode::Pipelined && unstarted < g.folds) {
      start[unstarted] = start[unstarted - 1] + interval;
      ++unstarted;
    }
    ticker.tick(R * C + R + C);
  }
  c.cycles = last_write + 1;
  return run;
}

// Stationary dataflows. One operand tile (Sr x Sc) is held in the PEs; the other streams in
// from the left (stream index s, row i, skew i) and partial sums flow down and leave at the
// bottom of each column. WS holds B (stream = rows of A); IS holds A^T (stream = columns of B).
// Stationary tiles are written into per-PE shadow registers by a load bus that reaches PE(i, j)
// at cycle start - R + i + j, and swapped in when the fold's first streamed operand arrives.
template <class T, class Acc>
ReferenceRun<Acc> run_stationary(const SystolicSpec& spec, const GemmData<T>& d,
                                 const Poll& poll) {
  const FoldGeometry g = fold_geometry(spec, d.s);
  const bool ws = spec.dataflow == Dataflow::WS;
  const int64_t R = spec.rows, C = spec.cols, T_ = g.t, M = d.s.m, N = d.s.n;
  const bool with_data = d.a != nullptr;
  // stationary(r, c) and streamed(s, r): r is the reduction index k.
  auto stationary = [&](int64_t r, int64_t col) { return ws ? d.B(r, col) : d.A(col, r); };
  auto streamed = [&](int64_t s, int64_t r) { return ws ? d.A(s, r) : d.B(r, s); };
  ReferenceRun<Acc> run;
  if (with_data) run.out.assign(static_cast<size_t>(M * N), Acc{});
  SystolicCost& c = run.cost;
  int64_t& stream_reads = ws ? c.ifmap_reads : c.filter_reads;
  int64_t& stationary_reads = ws ? c.filter_reads : c.ifmap_reads;

  std::vector<Operand<T>> x_reg(R * C), w_active(R * C), w_shadow(R * C);
  std::vector<Psum<Acc>> p_reg(R * C);
  std::vector<int64_t> start(g.folds, -1), outstanding(g.folds, T_ * C);
  start[0] = R;
  const int64_t interval = std::max(T_, R);
  int64_t folds_done = 0, first_active = 0, last_write = -1;
  int64_t unstarted = 1;  // Pipelined: the first fold without a start cycle
  Ticker ticker(poll);

  for (int64_t t = 0; folds_done < g.folds; ++t) {
    while (first_active < g.folds && start[first_active] >= 0 &&
           outstanding[first_active] == 0) {
      ++first_active;
    }
    // Stream operands one PE right; partial sums one PE down.
    for (int64_t i = R - 1; i >= 0; --i) {
      for (int64_t j = C - 1; j >= 0; --j) {
        Operand<T>& x = x_reg[i * C + j];
        x = j > 0 ? x_reg[i * C + j - 1] : Operand<T>{};
        if (j == 0) {
          for (int64_t f = first_active; f < g.folds && start[f] >= 0 && start[f] <= t; ++f) {
            const int64_t s = t - start[f] - i;
            if (s < 0 || s >= T_) continue;
            if (x.fold >= 0) hazard("two folds on row port " + std::to_string(i), t);
            const int64_t r = fold_index(g, f).fr * R + i;
            x.fold = static_cast<int32_t>(f);
            x.step = s;
            x.real = r < g.sr;
            x.value = x.real ? streamed(s, r) : T{};
            stream_reads += x.real;
          }
        }
      }
    }
    for (int64_t i = R - 1; i >= 0; --i) {
      for (int64_t j = 0; j < C; ++j) {
        const int64_t p = i * C + j;
        const Operand<T>& x = x_reg[p];
        Psum<Acc> in = i > 0 ? p_reg[p - C] : Psum<Acc>{};
        Psum<Acc>& out = p_reg[p];
        if (x.fold < 0) {
          if (in.fold >= 0) hazard("partial sum without operand", t);
          out = Psum<Acc>{};
          continue;
        }
        if (i == 0) {
          in.fold = x.fold;
          in.step = x.step;
          in.real = true;
          in.value = Acc{};
        } else if (in.fold != x.fold || in.step != x.step) {
          hazard("partial sum meets the wrong operand", t);
        }
        if (w_active[p].fold != x.fold) {  // first operand of a new fold: swap weights in
          if (w_shadow[p].fold != x.fold) hazard("stationary tile not loaded", t);
          w_active[p] = w_shadow[p];
          w_shadow[p].fold = -1;
        }
        const Operand<T>& w = w_active[p];
        out = in;
        out.value = in.value + static_cast<Acc>(x.value) * static_cast<Acc>(w.value);
        c.macs += x.real && w.real;
        if (i == R - 1) {  // leaves the bottom of column j: one write per port per cycle
          const auto [fr, fc] = fold_index(g, out.fold);
          const int64_t col = fc * C + j;
          if (col < g.sc) {
            const int64_t m = ws ? out.step : col, n = ws ? col : out.step;
            if (with_data) run.out[m * N + n] += out.value;
            ++c.ofmap_writes;
            c.ofmap_reads += fr > 0;  // accumulate onto the previous K fold's partial sum
          }
          last_write = t;
          if (--outstanding[out.fold] == 0) {
            ++folds_done;
            const int64_t next = out.fold + 1;
            if (next < g.folds && spec.timing == TimingMode::ScaleSim) {
              start[next] = t + 1 + R;  // R load cycles, then stream
            }
          }
        }
      }
    }
    // Load bus: the stationary tile of fold f reaches PE(i, j) at start[f] - R + i + j.
    for (int64_t f = first_active; f < g.folds && start[f] >= 0; ++f) {
      const int64_t base = t - (start[f] - R);
      if (base < 0) break;  // folds start in order: the later ones load later still
      if (base > R + C - 2) continue;
      const auto [fr, fc] = fold_index(g, f);
      for (int64_t i = std::max<int64_t>(0, base - (C - 1)); i <= std::min(base, R - 1); ++i) {
        const int64_t j = base - i;
        Operand<T>& w = w_shadow[i * C + j];
        if (w.fold >= 0) hazard("shadow weight overwritten before use", t);
        const int64_t r = fr * R + i, col = fc * C + j;
        w.fold = static_cast<int32_t>(f);
        w.real = r < g.sr && col < g.sc;
        w.value = w.real ? stationary(r, col) : T{};
        stationary_reads += w.real;
      }
    }
    run.pe_updates += R * C;
    if (spec.timing == TimingMode::Pipelined && unstarted < g.folds) {
      start[unstarted] = start[unstarted - 1] + interval;
      ++unstarted;
    }
    ticker.tick(R * C + R + C);
  }
  c.cycles = last_write + 1;
  return run;
}

}  // namespace

template <class T, class Acc>
ReferenceRun<Acc> simulate_cycles(const SystolicSpec& spec, const GemmShape& shape, const T* a,
                                  const T* b, const Poll& poll) {
  const SystolicCost expected = systolic_cost(spec, shape);  // validates
  check_budget(spec, shape, expected, a != nullptr);
  if ((a == nullptr) != (b == nullptr)) {
    throw std::invalid_argument("simulate_cycles: pass both operands or neither");
  }
  const GemmData<T> d{a, b, shape};
  ReferenceRun<Acc> run = spec.dataflow == Dataflow::OS ? run_os<T, Acc>(spec, d, poll)
                                                        : run_stationary<T, Acc>(spec, d, poll);
  SystolicCost& c = run.cost;
  c.row_folds = expected.row_folds;
  c.col_folds = expected.col_folds;
  c.folds = expected.folds;
  c.mapping_efficiency = expected.mapping_efficiency;  // a property of the mapping, not timing
  c.utilization = static_cast<double>(c.macs) /
                  (static_cast<double>(c.cycles) * static_cast<double>(spec.rows * spec.cols));
  return run;
}

SystolicCost simulate_cycles(const SystolicSpec& spec, const GemmShape& shape,
                             const Poll& poll) {
  return simulate_cycles<int8_t, int32_t>(spec, shape, nullptr, nullptr, poll).cost;
}

template ReferenceRun<int32_t> simulate_cycles<int8_t, int32_t>(const SystolicSpec&,
                                                                const GemmShape&, const int8_t*,
                                                                const int8_t*, const Poll&);
template ReferenceRun<int64_t> simulate_cycles<int16_t, int64_t>(const SystolicSpec&,
                                                                 const GemmShape&,
                                                                 const int16_t*, const int16_t*,
                                                                 const Poll&);
template ReferenceRun<float> simulate_cycles<float, float>(const SystolicSpec&, const GemmShape&,
                                                           const float*, const float*,
                                                           const Poll&);

}  // namespace pysim
