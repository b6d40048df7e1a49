#include "compat/scalesim.hpp"

#include <algorithm>

namespace pysim {

ScaleSimFoldAverages scalesim_fold_averages(const SystolicSpec& spec, const GemmShape& shape,
                                            const Poll& poll) {
  validate(spec);
  validate(shape);
  const FoldGeometry g = fold_geometry(spec, shape);
  require_within("scalesim_fold_averages: folds (row folds x column folds)",
                 static_cast<double>(g.row_folds) * static_cast<double>(g.col_folds),
                 kMaxScaleSimFolds, "", "SCALE-Sim sums its averages fold by fold");
  Ticker ticker(poll);
  const int64_t R = spec.rows, C = spec.cols, T = g.t;
  const int64_t cycles = spec.dataflow == Dataflow::OS ? T + R + C - 2 : 2 * R + 2 * C + T - 3;
  const double pes = static_cast<double>(R * C);
  // R * C * cycles may pass 2^63 (K near 2^61 on a 4096 x 4096 array); the double product
  // rounds once, as the int64 product's conversion did whenever that fitted.
  const double denominator = pes * static_cast<double>(cycles);
  double map_sum = 0.0, util_sum = 0.0;
  for (int64_t fc = 0; fc < g.col_folds; ++fc) {
    const int64_t cols_used = std::min(C, g.sc - fc * C);
    for (int64_t fr = 0; fr < g.row_folds; ++fr) {
      const int64_t used = std::min(R, g.sr - fr * R) * cols_used;
      map_sum += static_cast<double>(used) / pes;
      util_sum += static_cast<double>(used * T) / denominator;  // used * T <= M * N * K
      ticker.tick();
    }
  }
  const double folds = static_cast<double>(g.folds);
  return {map_sum / folds * 100.0, util_sum / folds * 100.0};
}

}  // namespace pysim
