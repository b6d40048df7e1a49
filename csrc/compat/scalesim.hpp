// SCALE-Sim 3.0.0 accounting that differs from pysim's own definitions, reproduced bit for bit
// for the `pysim scalesim` runner (docs/scalesim_compat.md lists every quirk).
#pragma once

#include <cstdint>

#include "common/budget.hpp"
#include "units/systolic_array.hpp"

namespace pysim {

struct ScaleSimFoldAverages {
  double mapping_efficiency_pct = 0.0;  // "Mapping Efficiency %"
  double compute_util_pct = 0.0;        // "Compute Util %"
};

// Per-fold averages summed in SCALE-Sim's loop order (column folds outer, row folds inner) with
// its per-fold cycle counts: OS uses T + R + C - 2, WS and IS use 2R + 2C + T - 3 (the filter /
// ifmap demand length plus the array width, a SCALE-Sim quirk). O(folds): throws
// std::invalid_argument before starting when the folds exceed kMaxScaleSimFolds (about 5 s);
// poll, when given, is called every few million folds (it may throw to stop the loop).
inline constexpr int64_t kMaxScaleSimFolds = int64_t{1} << 32;
ScaleSimFoldAverages scalesim_fold_averages(const SystolicSpec& spec, const GemmShape& shape,
                                            const Poll& poll = nullptr);

}  // namespace pysim
