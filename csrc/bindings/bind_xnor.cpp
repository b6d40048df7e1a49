#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "kernels/binary_gemm.hpp"
#include "units/bit_planes.hpp"
#include "units/xnor.hpp"
#include "units/xnor_reference.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

py::dict cost_dict(const XnorCost& c) {
  py::dict d;
  d["cycles"] = c.cycles;
  d["compute_cycles"] = c.compute_cycles;
  d["fill_cycles"] = c.fill_cycles;
  d["neuron_folds"] = c.neuron_folds;
  d["synapse_folds"] = c.synapse_folds;
  d["macs"] = c.macs;
  d["bit_ops"] = c.bit_ops;
  d["a_read_bits"] = c.a_read_bits;
  d["b_read_bits"] = c.b_read_bits;
  d["out_writes"] = c.out_writes;
  d["out_write_bits"] = c.out_write_bits;
  d["threshold_ops"] = c.threshold_ops;
  d["utilization"] = c.utilization;
  return d;
}

}  // namespace

void bind_xnor(py::module_& m) {
  py::class_<XnorSpec>(m, "XnorSpec",
                       "An XNOR / popcount array: pe processing elements with simd XNOR lanes "
                       "and a simd-bit popcount tree each (FINN's PE / SIMD folding).")
      .def(py::init([](int64_t pe, int64_t simd, int64_t acc_bits) {
             XnorSpec s{pe, simd, acc_bits};
             validate(s);
             return s;
           }),
           py::arg("pe"), py::arg("simd"), py::arg("acc_bits") = 32)
      .def_readonly("pe", &XnorSpec::pe)
      .def_readonly("simd", &XnorSpec::simd)
      .def_readonly("acc_bits", &XnorSpec::acc_bits)
      .def("__repr__", [](const XnorSpec& s) {
        return "XnorSpec(pe=" + std::to_string(s.pe) + ", simd=" + std::to_string(s.simd) +
               ", acc_bits=" + std::to_string(s.acc_bits) + ")";
      });

  py::class_<XnorCost>(m, "XnorCost",
                       "Cycles, FINN folds, binary MACs and bit traffic of one +-1 GEMM.")
      .def_readonly("cycles", &XnorCost::cycles)
      .def_readonly("compute_cycles", &XnorCost::compute_cycles)
      .def_readonly("fill_cycles", &XnorCost::fill_cycles)
      .def_readonly("neuron_folds", &XnorCost::neuron_folds)
      .def_readonly("synapse_folds", &XnorCost::synapse_folds)
      .def_readonly("macs", &XnorCost::macs)
      .def_readonly("bit_ops", &XnorCost::bit_ops)
      .def_readonly("a_read_bits", &XnorCost::a_read_bits)
      .def_readonly("b_read_bits", &XnorCost::b_read_bits)
      .def_readonly("out_writes", &XnorCost::out_writes)
      .def_readonly("out_write_bits", &XnorCost::out_write_bits)
      .def_readonly("threshold_ops", &XnorCost::threshold_ops)
      .def_readonly("utilization", &XnorCost::utilization)
      .def("to_dict", &cost_dict);

  m.def("xnor_cost", &xnor_cost, py::arg("spec"), py::arg("shape"),
        py::arg("thresholded") = true, "Closed-form cost of a +-1 GEMM (O(1)).");
  m.def(
      "xnor_simulate_cycles",
      [](const XnorSpec& spec, const GemmShape& shape, bool thresholded) {
        return without_gil(
            [&](const Poll& poll) { return xnor_simulate_cycles(spec, shape, thresholded, poll); });
      },
      py::arg("spec"), py::arg("shape"), py::arg("thresholded") = true,
      "Cycle-stepped reference run without data; returns the counted cost.");
  m.def(
      "xnor_simulate_gemm",
      [](const XnorSpec& spec, const py::array& a_any, const py::array& b_any,
         const py::object& thresholds) -> py::tuple {
        require_matmul_shapes(a_any, b_any);
        require_dtype(a_any, py::dtype::of<int8_t>(), "a", "int8 (+-1 values)");
        require_dtype(b_any, py::dtype::of<int8_t>(), "b", "int8 (+-1 values)");
        const GemmShape shape{a_any.shape(0), b_any.shape(1), a_any.shape(1)};
        validate(shape);
        check_xnor_budget(spec, shape, !thresholds.is_none(), true);  // before allocating
        CArray<int64_t> thr;
        const int64_t* thr_ptr = nullptr;
        if (!thresholds.is_none()) {
          const py::array t = py::module_::import("numpy").attr("asarray")(thresholds);
          if (t.ndim() != 1 || t.shape(0) != shape.n) {
            throw std::invalid_argument("thresholds must be 1-D with one value per output "
                                        "column (" + std::to_string(shape.n) + "), got shape " +
                                        shape_tuple(t));
          }
          const char kind = t.dtype().kind();
          if (kind != 'i' && kind != 'u') {
            throw std::invalid_argument("thresholds must hold integers, got dtype " +
                                        dtype_name(t));
          }
          thr = as_c_array<int64_t>(t, "thresholds");
          thr_ptr = thr.data();
        }
        const int64_t W = bits::words_for(shape.k);
        std::vector<uint64_t> aw(static_cast<size_t>(shape.m * W));
        std::vector<uint64_t> bw(static_cast<size_t>(shape.n * W));
        const auto* a = static_cast<const int8_t*>(a_any.data());
        const auto* b = static_cast<const int8_t*>(b_any.data());
        const int64_t as0 = a_any.strides(0), as1 = a_any.strides(1);
        const int64_t bs0 = b_any.strides(0), bs1 = b_any.strides(1);
        const XnorRun run = without_gil([&](const Poll& poll) {
          // int8 strides in bytes are strides in elements.
          pack_pm1(a, shape.m, shape.k, as0, as1, aw.data(), "a");
          pack_pm1(b, shape.n, shape.k, bs1, bs0, bw.data(), "b", true);
          return xnor_simulate(spec, shape, aw.data(), bw.data(), thr_ptr, thr_ptr != nullptr,
                               poll);
        });
        py::array_t<int32_t> out({shape.m, shape.n});
        std::copy(run.out.begin(), run.out.end(), out.mutable_data());
        return py::make_tuple(out, run.cost, run.pe_updates);
      },
      py::arg("spec"), py::arg("a"), py::arg("b"), py::arg("thresholds") = py::none(),
      "Cycle-stepped reference with int8 +-1 operands: returns (a @ b as int32, or +-1 where "
      "thresholds are given: +1 if a @ b >= thresholds[n]; counted cost; PE updates).");
}

}  // namespace pysim::bindings
