#include "units/systolic_array.hpp"

#include "common/checked.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <stdexcept>

namespace pysim {

const char* to_string(Dataflow df) {
  switch (df) {
    case Dataflow::OS: return "os";
    case Dataflow::WS: return "ws";
    case Dataflow::IS: return "is";
  }
  return "?";
}

const char* to_string(TimingMode mode) {
  return mode == TimingMode::ScaleSim ? "scalesim" : "pipelined";
}

Dataflow parse_dataflow(const std::string& name) {
  const std::string s = lower(name);
  if (s == "os") return Dataflow::OS;
  if (s == "ws") return Dataflow::WS;
  if (s == "is") return Dataflow::IS;
  throw std::invalid_argument("dataflow must be one of 'os', 'ws', 'is', got '" + name + "'");
}

TimingMode parse_timing(const std::string& name) {
  const std::string s = lower(name);
  if (s == "scalesim") return TimingMode::ScaleSim;
  if (s == "pipelined") return TimingMode::Pipelined;
  throw std::invalid_argument("timing must be one of 'scalesim', 'pipelined', got '" + name +
                              "'");
}

void validate(const SystolicSpec& spec) {
  if (spec.rows < 1 || spec.rows > kMaxArrayDim) {
    throw std::invalid_argument("rows must be in 1..4096, got " + std::to_string(spec.rows));
  }
  if (spec.cols < 1 || spec.cols > kMaxArrayDim) {
    throw std::invalid_argument("cols must be in 1..4096, got " + std::to_string(spec.cols));
  }
}

void validate(const GemmShape& shape) {
  const std::pair<const char*, int64_t> dims[] = {{"M", shape.m}, {"N", shape.n}, {"K", shape.k}};
  for (const auto& [name, value] : dims) {
    if (value < 1) {
      throw std::invalid_argument(std::string(name) + " must be >= 1, got " +
                                  std::to_string(value));
    }
  }
  // M*N*K (the MAC count) must fit in int64 with room for the cycle arithmetic.
  checked_mul(checked_mul(checked_mul(shape.m, shape.n, "M*N"), shape.k, "M*N*K"), 4, "M*N*K");
}

FoldGeometry fold_geometry(const SystolicSpec& spec, const GemmShape& shape) {
  FoldGeometry g;
  switch (spec.dataflow) {
    case Dataflow::OS: g.sr = shape.m; g.sc = shape.n; g.t = shape.k; break;
    case Dataflow::WS: g.sr = shape.k; g.sc = shape.n; g.t = shape.m; break;
    case Dataflow::IS: g.sr = shape.k; g.sc = shape.m; g.t = shape.n; break;
  }
  g.row_folds = ceil_div(g.sr, spec.rows);
  g.col_folds = ceil_div(g.sc, spec.cols);
  g.folds = g.row_folds * g.col_folds;
  g.last_rows = g.sr - (g.row_folds - 1) * spec.rows;
  g.last_cols = g.sc - (g.col_folds - 1) * spec.cols;
  return g;
}

SystolicCost systolic_cost(const SystolicSpec& spec, const GemmShape& shape) {
  validate(spec);
  validate(shape);
  const FoldGeometry g = fold_geometry(spec, shape);
  const int64_t R = spec.rows, C = spec.cols, T = g.t, F = g.folds;
  // The stationary tile (WS/IS) needs R cycles to load before the first stream.
  const int64_t preload = spec.dataflow == Dataflow::OS ? 0 : R;
  const int64_t last_fold = T + R + C - 2;  // stream + skew fill + drain of one fold
  const int64_t interval = spec.timing == TimingMode::ScaleSim ? preload + last_fold
                                                               : std::max(T, R);
  SystolicCost c;
  c.cycles = checked_mul(F - 1, interval, "cycle count") + preload + last_fold;
  c.row_folds = g.row_folds;
  c.col_folds = g.col_folds;
  c.folds = F;
  c.macs = shape.m * shape.n * shape.k;
  // Every (row, column) pair of the Sr x Sc plane sits in exactly one fold.
  c.mapping_efficiency = static_cast<double>(g.sr) * static_cast<double>(g.sc) /
                         (static_cast<double>(F) * static_cast<double>(R * C));
  c.utilization = static_cast<double>(c.macs) /
                  (static_cast<double>(c.cycles) * static_cast<double>(R * C));
  const int64_t mk = shape.m * shape.k, kn = shape.k * shape.n, mn = shape.m * shape.n;
  switch (spec.dataflow) {
    case Dataflow::OS:  // A re-streamed for every column fold, B for every row fold
      c.ifmap_reads = g.col_folds * mk;
      c.filter_reads = g.row_folds * kn;
      c.ofmap_writes = mn;
      c.ofmap_reads = 0;
      break;
    case Dataflow::WS:  // B loaded once; A re-streamed per column fold; partial sums per K fold
      c.ifmap_reads = g.col_folds * mk;
      c.filter_reads = kn;
      c.ofmap_writes = g.row_folds * mn;
      c.ofmap_reads = (g.row_folds - 1) * mn;
      break;
    case Dataflow::IS:  // A loaded once; B re-streamed per column fold; partial sums per K fold
      c.ifmap_reads = mk;
      c.filter_reads = g.col_folds * kn;
      c.ofmap_writes = g.row_folds * mn;
      c.ofmap_reads = (g.row_folds - 1) * mn;
      break;
  }
  return c;
}

}  // namespace pysim
