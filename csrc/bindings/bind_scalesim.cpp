#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "compat/scalesim.hpp"

namespace py = pybind11;

namespace pysim::bindings {

void bind_scalesim(py::module_& m) {
  m.def(
      "scalesim_fold_averages",
      [](const SystolicSpec& spec, const GemmShape& shape) {
        const ScaleSimFoldAverages a = without_gil(
            [&](const Poll& poll) { return scalesim_fold_averages(spec, shape, poll); });
        return py::make_tuple(a.mapping_efficiency_pct, a.compute_util_pct);
      },
      py::arg("spec"), py::arg("shape"),
      "SCALE-Sim 3.0.0's (Mapping Efficiency %, Compute Util %), summed fold by fold in its "
      "order so the floats match its reports bit for bit.");
}

}  // namespace pysim::bindings
