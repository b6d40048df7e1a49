#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "units/systolic_array.hpp"
#include "units/systolic_reference.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

template <class T, class Acc>
py::tuple run_reference(const SystolicSpec& spec, const py::array& a_any, const py::array& b_any) {
  const auto a = as_c_array<T>(a_any, "a");
  const auto b = as_c_array<T>(b_any, "b");
  const GemmShape shape{a.shape(0), b.shape(1), a.shape(1)};
  const T* ap = a.data();
  const T* bp = b.data();
  const ReferenceRun<Acc> run = without_gil(
      [&](const Poll& poll) { return simulate_cycles<T, Acc>(spec, shape, ap, bp, poll); });
  py::array_t<Acc> out({shape.m, shape.n});
  std::copy(run.out.begin(), run.out.end(), out.mutable_data());
  return py::make_tuple(out, run.cost, run.pe_updates);
}

}  // namespace

void bind_systolic(py::module_& m) {
  py::class_<SystolicSpec>(m, "SystolicSpec",
                           "An R x C systolic array with a dataflow and a timing mode.")
      .def(py::init([](int64_t rows, int64_t cols, const std::string& dataflow,
                       const std::string& timing) {
             SystolicSpec s{rows, cols, parse_dataflow(dataflow), parse_timing(timing)};
             validate(s);
             return s;
           }),
           py::arg("rows"), py::arg("cols"), py::arg("dataflow") = "os",
           py::arg("timing") = "scalesim")
      .def_readonly("rows", &SystolicSpec::rows)
      .def_readonly("cols", &SystolicSpec::cols)
      .def_property_readonly("dataflow", [](const SystolicSpec& s) { return to_string(s.dataflow); })
      .def_property_readonly("timing", [](const SystolicSpec& s) { return to_string(s.timing); })
      .def("__repr__", [](const SystolicSpec& s) {
        return "SystolicSpec(rows=" + std::to_string(s.rows) + ", cols=" +
               std::to_string(s.cols) + ", dataflow='" + to_string(s.dataflow) +
               "', timing='" + to_string(s.timing) + "')";
      });

  py::class_<GemmShape>(m, "GemmShape", "C[M, N] = A[M, K] x B[K, N].")
      .def(py::init([](int64_t m_, int64_t n, int64_t k) {
             GemmShape g{m_, n, k};
             validate(g);
             return g;
           }),
           py::arg("m"), py::arg("n"), py::arg("k"))
      .def_readonly("m", &GemmShape::m)
      .def_readonly("n", &GemmShape::n)
      .def_readonly("k", &GemmShape::k)
      .def("__repr__", [](const GemmShape& g) {
        return "GemmShape(m=" + std::to_string(g.m) + ", n=" + std::to_string(g.n) +
               ", k=" + std::to_string(g.k) + ")";
      });

  py::class_<SystolicCost>(m, "SystolicCost", "Cycles, folds and access counts of one GEMM.")
      .def_readonly("cycles", &SystolicCost::cycles)
      .def_readonly("row_folds", &SystolicCost::row_folds)
      .def_readonly("col_folds", &SystolicCost::col_folds)
      .def_readonly("folds", &SystolicCost::folds)
      .def_readonly("macs", &SystolicCost::macs)
      .def_readonly("mapping_efficiency", &SystolicCost::mapping_efficiency)
      .def_readonly("utilization", &SystolicCost::utilization)
      .def_readonly("ifmap_reads", &SystolicCost::ifmap_reads)
      .def_readonly("filter_reads", &SystolicCost::filter_reads)
      .def_readonly("ofmap_writes", &SystolicCost::ofmap_writes)
      .def_readonly("ofmap_reads", &SystolicCost::ofmap_reads)
      .def("to_dict", [](const SystolicCost& c) {
        py::dict d;
        d["cycles"] = c.cycles;
        d["row_folds"] = c.row_folds;
        d["col_folds"] = c.col_folds;
        d["folds"] = c.folds;
        d["macs"] = c.macs;
        d["mapping_efficiency"] = c.mapping_efficiency;
        d["utilization"] = c.utilization;
        d["ifmap_reads"] = c.ifmap_reads;
        d["filter_reads"] = c.filter_reads;
        d["ofmap_writes"] = c.ofmap_writes;
        d["ofmap_reads"] = c.ofmap_reads;
        return d;
      });

  m.def("systolic_cost", &systolic_cost, py::arg("spec"), py::arg("shape"),
        "Closed-form cost of a GEMM on the array (O(1)).");
  m.def("systolic_simulate_cycles",
        [](const SystolicSpec& spec, const GemmShape& shape) {
          return without_gil([&](const Poll& poll) { return simulate_cycles(spec, shape, poll); });
        },
        py::arg("spec"), py::arg("shape"),
        "Cycle-stepped reference run without data; returns the counted cost.");
  m.def(
      "systolic_simulate_gemm",
      [](const SystolicSpec& spec, const py::array& a, const py::array& b) -> py::tuple {
        if (a.ndim() != 2 || b.ndim() != 2) {
          throw std::invalid_argument("operands must be 2-D, got a.ndim=" +
                                      std::to_string(a.ndim()) +
                                      ", b.ndim=" + std::to_string(b.ndim()));
        }
        if (a.shape(1) != b.shape(0)) {
          throw std::invalid_argument("inner dimensions differ: a is " +
                                      std::to_string(a.shape(0)) + "x" +
                                      std::to_string(a.shape(1)) + ", b is " +
                                      std::to_string(b.shape(0)) + "x" +
                                      std::to_string(b.shape(1)));
        }
        if (!same_dtype(a, b)) {
          throw std::invalid_argument("operands must share a dtype, got " +
                                      std::string(py::str(a.dtype())) + " and " +
                                      std::string(py::str(b.dtype())));
        }
        if (has_dtype<int8_t>(a)) return run_reference<int8_t, int32_t>(spec, a, b);
        if (has_dtype<int16_t>(a)) return run_reference<int16_t, int64_t>(spec, a, b);
        if (has_dtype<float>(a)) return run_reference<float, float>(spec, a, b);
        throw std::invalid_argument("dtype must be int8, int16 or float32, got " +
                                    std::string(py::str(a.dtype())));
      },
      py::arg("spec"), py::arg("a"), py::arg("b"),
      "Cycle-stepped reference with data: returns (output, cost, pe_updates). int8 -> int32, "
      "int16 -> int64, float32 -> float32 accumulation.");
}

}  // namespace pysim::bindings
