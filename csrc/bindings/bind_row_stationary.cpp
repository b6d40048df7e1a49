#include <string>

#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "units/row_stationary.hpp"
#include "units/row_stationary_reference.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

py::dict cost_dict(const RowStationaryCost& c) {
  py::dict d;
  d["cycles"] = c.cycles;
  d["steady"] = c.steady;
  d["fill"] = c.fill;
  d["passes"] = c.passes;
  d["macs"] = c.macs;
  d["ifmap_reads"] = c.ifmap_reads;
  d["filter_reads"] = c.filter_reads;
  d["psum_writes"] = c.psum_writes;
  d["psum_reads"] = c.psum_reads;
  return d;
}

std::string window_repr(const ConvWindowSpec& w) {
  const auto s = [](int64_t v) { return std::to_string(v); };
  return "ConvWindowSpec(kernel_h=" + s(w.kernel_h) + ", kernel_w=" + s(w.kernel_w) +
         ", out_h=" + s(w.out_h) + ", out_w=" + s(w.out_w) + ", stride_h=" + s(w.stride_h) +
         ", stride_w=" + s(w.stride_w) + ", dilation_h=" + s(w.dilation_h) +
         ", dilation_w=" + s(w.dilation_w) + ")";
}

}  // namespace

void bind_row_stationary(py::module_& m) {
  py::class_<RowStationarySpec>(
      m, "RowStationarySpec",
      "Eyeriss's row-stationary PE array: rows x cols PEs (1..4096 each), pe_weights filter-spad "
      "words per PE (1..4096) and arrays identical arrays (1..256).")
      .def(py::init([](int64_t rows, int64_t cols, int64_t pe_weights, int64_t arrays) {
             RowStationarySpec s{rows, cols, pe_weights, arrays};
             validate(s);
             return s;
           }),
           py::arg("rows"), py::arg("cols"), py::arg("pe_weights") = 1, py::arg("arrays") = 1)
      .def_readonly("rows", &RowStationarySpec::rows)
      .def_readonly("cols", &RowStationarySpec::cols)
      .def_readonly("pe_weights", &RowStationarySpec::pe_weights)
      .def_readonly("arrays", &RowStationarySpec::arrays)
      .def("__repr__", [](const RowStationarySpec& s) {
        return "RowStationarySpec(rows=" + std::to_string(s.rows) + ", cols=" +
               std::to_string(s.cols) + ", pe_weights=" + std::to_string(s.pe_weights) +
               ", arrays=" + std::to_string(s.arrays) + ")";
      });

  py::class_<ConvWindowSpec>(
      m, "ConvWindowSpec",
      "The convolution loops row stationary unrolls (pysim.mapping.tile_model.ConvWindow): "
      "filter rows x cols, output rows x cols, stride, dilation (each >= 1). out_h 0 is a GEMM: "
      "a 1 x 1 convolution over an M x 1 image.")
      .def(py::init([](int64_t kernel_h, int64_t kernel_w, int64_t out_h, int64_t out_w,
                       int64_t stride_h, int64_t stride_w, int64_t dilation_h,
                       int64_t dilation_w) {
             ConvWindowSpec w{kernel_h, kernel_w, out_h, out_w,
                              stride_h, stride_w, dilation_h, dilation_w};
             validate(w);
             return w;
           }),
           py::arg("kernel_h") = 1, py::arg("kernel_w") = 1, py::arg("out_h") = 0,
           py::arg("out_w") = 1, py::arg("stride_h") = 1, py::arg("stride_w") = 1,
           py::arg("dilation_h") = 1, py::arg("dilation_w") = 1)
      .def_readonly("kernel_h", &ConvWindowSpec::kernel_h)
      .def_readonly("kernel_w", &ConvWindowSpec::kernel_w)
      .def_readonly("out_h", &ConvWindowSpec::out_h)
      .def_readonly("out_w", &ConvWindowSpec::out_w)
      .def_readonly("stride_h", &ConvWindowSpec::stride_h)
      .def_readonly("stride_w", &ConvWindowSpec::stride_w)
      .def_readonly("dilation_h", &ConvWindowSpec::dilation_h)
      .def_readonly("dilation_w", &ConvWindowSpec::dilation_w)
      .def("__repr__", &window_repr);

  py::class_<RowStationaryCost>(
      m, "RowStationaryCost",
      "Cycles (steady + fill), passes, MACs and array accesses of one row-stationary tile.")
      .def_readonly("cycles", &RowStationaryCost::cycles)
      .def_readonly("steady", &RowStationaryCost::steady)
      .def_readonly("fill", &RowStationaryCost::fill)
      .def_readonly("passes", &RowStationaryCost::passes)
      .def_readonly("macs", &RowStationaryCost::macs)
      .def_readonly("ifmap_reads", &RowStationaryCost::ifmap_reads)
      .def_readonly("filter_reads", &RowStationaryCost::filter_reads)
      .def_readonly("psum_writes", &RowStationaryCost::psum_writes)
      .def_readonly("psum_reads", &RowStationaryCost::psum_reads)
      .def("to_dict", &cost_dict);

  m.def("row_stationary_cost", &row_stationary_cost, py::arg("spec"), py::arg("window"),
        py::arg("m"), py::arg("n"), py::arg("k"),
        "Closed-form cost of an m x n x k tile on the row-stationary array (O(1)); equals "
        "RowStationaryTiles.evaluate.");
  m.def(
      "row_stationary_reference",
      [](const RowStationarySpec& spec, const ConvWindowSpec& window, int64_t m_, int64_t n,
         int64_t k) {
        // Ctrl-C: the poll takes the GIL back now and then and lets Python run its signal
        // handlers; a raised KeyboardInterrupt unwinds the run as error_already_set.
        return without_gil([&](const Poll& poll) {
          return row_stationary_reference(spec, window, m_, n, k, poll);
        });
      },
      py::arg("spec"), py::arg("window"), py::arg("m"), py::arg("n"), py::arg("k"),
      "Cycle-stepped reference of the same tile: steps every pass's PEs and walks the data "
      "movement; returns the counted cost. Raises ValueError for tiles over 2^32 PE updates.");
}

}  // namespace pysim::bindings
