#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "units/bit_serial.hpp"
#include "units/bit_serial_reference.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

py::dict cost_dict(const BitSerialCost& c) {
  py::dict d;
  d["cycles"] = c.cycles;
  d["compute_cycles"] = c.compute_cycles;
  d["fill_cycles"] = c.fill_cycles;
  d["m_tiles"] = c.m_tiles;
  d["n_tiles"] = c.n_tiles;
  d["k_steps"] = c.k_steps;
  d["passes"] = c.passes;
  d["products_per_lane"] = c.products_per_lane;
  d["macs"] = c.macs;
  d["bit_ops"] = c.bit_ops;
  d["a_read_bits"] = c.a_read_bits;
  d["b_read_bits"] = c.b_read_bits;
  d["out_writes"] = c.out_writes;
  d["out_write_bits"] = c.out_write_bits;
  d["utilization"] = c.utilization;
  return d;
}

}  // namespace

void bind_bit_serial(py::module_& m) {
  py::class_<BitSerialSpec>(m, "BitSerialSpec",
                            "A bit-serial array of dm x dn dot-product units, dk lanes each, in "
                            "mode 'bismo', 'stripes' or 'bitfusion'.")
      .def(py::init([](int64_t dm, int64_t dn, int64_t dk, const std::string& mode,
                       int64_t acc_bits) {
             BitSerialSpec s{dm, dn, dk, parse_bit_serial_mode(mode), acc_bits};
             validate(s);
             return s;
           }),
           py::arg("dm"), py::arg("dn"), py::arg("dk"), py::arg("mode") = "bismo",
           py::arg("acc_bits") = 32)
      .def_readonly("dm", &BitSerialSpec::dm)
      .def_readonly("dn", &BitSerialSpec::dn)
      .def_readonly("dk", &BitSerialSpec::dk)
      .def_property_readonly("mode", [](const BitSerialSpec& s) { return to_string(s.mode); })
      .def_readonly("acc_bits", &BitSerialSpec::acc_bits)
      .def("__repr__", [](const BitSerialSpec& s) {
        return "BitSerialSpec(dm=" + std::to_string(s.dm) + ", dn=" + std::to_string(s.dn) +
               ", dk=" + std::to_string(s.dk) + ", mode='" + to_string(s.mode) +
               "', acc_bits=" + std::to_string(s.acc_bits) + ")";
      });

  py::class_<BitSerialCost>(m, "BitSerialCost",
                            "Cycles, tiling, bit operations and operand traffic of one GEMM on "
                            "a bit-serial array.")
      .def_readonly("cycles", &BitSerialCost::cycles)
      .def_readonly("compute_cycles", &BitSerialCost::compute_cycles)
      .def_readonly("fill_cycles", &BitSerialCost::fill_cycles)
      .def_readonly("m_tiles", &BitSerialCost::m_tiles)
      .def_readonly("n_tiles", &BitSerialCost::n_tiles)
      .def_readonly("k_steps", &BitSerialCost::k_steps)
      .def_readonly("passes", &BitSerialCost::passes)
      .def_readonly("products_per_lane", &BitSerialCost::products_per_lane)
      .def_readonly("macs", &BitSerialCost::macs)
      .def_readonly("bit_ops", &BitSerialCost::bit_ops)
      .def_readonly("a_read_bits", &BitSerialCost::a_read_bits)
      .def_readonly("b_read_bits", &BitSerialCost::b_read_bits)
      .def_readonly("out_writes", &BitSerialCost::out_writes)
      .def_readonly("out_write_bits", &BitSerialCost::out_write_bits)
      .def_readonly("utilization", &BitSerialCost::utilization)
      .def("to_dict", &cost_dict);

  m.def("bit_serial_cost", &bit_serial_cost, py::arg("spec"), py::arg("shape"),
        py::arg("a_bits"), py::arg("b_bits"),
        "Closed-form cost of a GEMM with a_bits-bit A and b_bits-bit B (O(1)).");
  m.def("bit_fusion_factor", &bit_fusion_factor, py::arg("a_bits"), py::arg("b_bits"),
        "Bit Fusion products per fusion unit per cycle: floor(8/max(a,2)) * floor(8/max(b,2)) "
        "on the widths capped at 8.");
  m.def("bit_serial_peak_macs_per_cycle", &bit_serial_peak_macs_per_cycle, py::arg("spec"),
        py::arg("a_bits"), py::arg("b_bits"),
        "Peak MACs per cycle at these widths (binary ops/s at 1x1 bit = 2 * this * clock).");
  m.def(
      "bit_serial_simulate_cycles",
      [](const BitSerialSpec& spec, const GemmShape& shape, int64_t a_bits, int64_t b_bits) {
        return without_gil([&](const Poll& poll) {
          return bit_serial_simulate_cycles(spec, shape, a_bits, b_bits, poll);
        });
      },
      py::arg("spec"), py::arg("shape"), py::arg("a_bits"), py::arg("b_bits"),
      "Cycle-stepped reference run without data; returns the counted cost.");
  m.def(
      "bit_serial_simulate_gemm",
      [](const BitSerialSpec& spec, const py::array& a_any, const py::array& b_any,
         int64_t a_bits, int64_t b_bits, bool a_signed, bool b_signed) -> py::tuple {
        require_matmul_shapes(a_any, b_any);
        const auto a = as_int64_matrix(a_any, "a");
        const auto b = as_int64_matrix(b_any, "b");
        const GemmShape shape{a.shape(0), b.shape(1), a.shape(1)};
        validate(shape);
        const int64_t* ap = a.data();
        const int64_t* bp = b.data();
        const BitSerialRun run = without_gil([&](const Poll& poll) {
          return bit_serial_simulate(spec, shape, a_bits, b_bits, ap, bp, a_signed, b_signed,
                                     poll);
        });
        py::array_t<int64_t> out({shape.m, shape.n});
        std::copy(run.out.begin(), run.out.end(), out.mutable_data());
        return py::make_tuple(out, run.cost, run.dpu_updates);
      },
      py::arg("spec"), py::arg("a"), py::arg("b"), py::arg("a_bits"), py::arg("b_bits"),
      py::arg("a_signed") = true, py::arg("b_signed") = true,
      "Cycle-stepped reference with integer operands: returns (a @ b as int64, counted cost, "
      "DPU updates).");
}

}  // namespace pysim::bindings
