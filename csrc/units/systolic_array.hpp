// Systolic array: closed-form cost of a GEMM on an R x C array, OS / WS / IS dataflows.
//
// Notation (SCALE-Sim, Samajdar et al., ISPASS 2020): a GEMM C[M,N] = A[M,K] x B[K,N] is mapped
// onto the array as Sr spatial rows, Sc spatial columns and T temporal steps:
//   OS: Sr = M, Sc = N, T = K      (outputs stay in the PEs)
//   WS: Sr = K, Sc = N, T = M      (B tile stays in the PEs, A rows stream)
//   IS: Sr = K, Sc = M, T = N      (A^T tile stays in the PEs, B columns stream)
// The GEMM is cut into folds of R x C; every fold runs on the whole array (unused PEs get zero
// operands) and pays a pipeline fill of R + C - 2 on top of its T streaming cycles.
//
// Timing modes (docs/systolic_timing.md derives both):
//   ScaleSim  : folds back to back, each with its own fill and drain:
//               OS: F * (T + R + C - 2)        WS/IS: F * (2R + C + T - 2)
//   Pipelined : the next fold starts streaming max(T, R) cycles after the previous one
//               (WS/IS: its stationary tile is loaded during the previous stream;
//                OS: each column's output port needs R cycles per fold to write its results):
//               OS: (F-1) * max(T, R) + T + R + C - 2
//               WS/IS: R + (F-1) * max(T, R) + T + R + C - 2
#pragma once

#include <cstdint>
#include <string>

namespace pysim {

enum class Dataflow { OS, WS, IS };
enum class TimingMode { ScaleSim, Pipelined };

constexpr int64_t kMaxArrayDim = 4096;

struct SystolicSpec {
  int64_t rows = 1;
  int64_t cols = 1;
  Dataflow dataflow = Dataflow::OS;
  TimingMode timing = TimingMode::ScaleSim;
};

// C[m, n] = sum_k A[m, k] * B[k, n]. For a lowered convolution M = batch x output pixels,
// N = filters, K = Fh x Fw x Cin.
struct GemmShape {
  int64_t m = 1;
  int64_t n = 1;
  int64_t k = 1;
};

// The mapping of a GEMM onto the array (see the notation above).
struct FoldGeometry {
  int64_t sr = 0, sc = 0, t = 0;
  int64_t row_folds = 0, col_folds = 0, folds = 0;
  int64_t last_rows = 0, last_cols = 0;  // PEs used by the last row / column fold
};

struct SystolicCost {
  int64_t cycles = 0;
  int64_t row_folds = 0;
  int64_t col_folds = 0;
  int64_t folds = 0;
  int64_t macs = 0;
  double mapping_efficiency = 0.0;  // mean over folds of (PEs holding data) / (R x C)
  double utilization = 0.0;         // macs / (cycles x R x C)
  int64_t ifmap_reads = 0;          // A words read from the ifmap SRAM
  int64_t filter_reads = 0;         // B words read from the filter SRAM
  int64_t ofmap_writes = 0;         // C words written to the ofmap SRAM (partial sums included)
  int64_t ofmap_reads = 0;          // partial sums read back to accumulate across K folds
};

const char* to_string(Dataflow df);
const char* to_string(TimingMode mode);
Dataflow parse_dataflow(const std::string& name);   // "os" | "ws" | "is", any case
TimingMode parse_timing(const std::string& name);   // "scalesim" | "pipelined"

// Throw std::invalid_argument naming the field, the value and what is allowed.
void validate(const SystolicSpec& spec);
void validate(const GemmShape& shape);

FoldGeometry fold_geometry(const SystolicSpec& spec, const GemmShape& shape);

// Closed form, O(1). Throws std::invalid_argument on bad input.
SystolicCost systolic_cost(const SystolicSpec& spec, const GemmShape& shape);

}  // namespace pysim
