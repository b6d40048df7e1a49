#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "memory/dram.hpp"
#include "memory/scratchpad.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

// obj as a 1-D contiguous array of T, accepting only the NumPy kinds listed ("iu" = integers).
// An empty sequence is accepted whatever its dtype (np.asarray([]) is float64).
template <class T>
CArray<T> as_1d(const py::object& obj, const char* name, const std::string& kinds,
                const char* kinds_text) {
  const py::array any = py::module_::import("numpy").attr("asarray")(obj);
  if (any.ndim() != 1) {
    throw std::invalid_argument(std::string(name) + " must be 1-D, got ndim=" +
                                std::to_string(any.ndim()));
  }
  if (any.size() > 0 && kinds.find(any.dtype().kind()) == std::string::npos) {
    throw std::invalid_argument(std::string(name) + " must hold " + kinds_text + ", got dtype " +
                                std::string(py::str(any.dtype())));
  }
  return as_c_array<T>(any, name);
}

py::array_t<int64_t> to_numpy(const std::vector<int64_t>& v) {
  py::array_t<int64_t> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

std::vector<double> optional_times(const py::object& obj, const char* name) {
  if (obj.is_none()) return {};
  const auto a = as_1d<double>(obj, name, "iuf", "numbers");
  return std::vector<double>(a.data(), a.data() + a.size());
}

std::string spad_repr(const ScratchpadSpec& s) {
  return "ScratchpadSpec(size_bytes=" + std::to_string(s.size_bytes) +
         ", banks=" + std::to_string(s.banks) +
         ", ports_per_bank=" + std::to_string(s.ports_per_bank) +
         ", word_bytes=" + std::to_string(s.word_bytes) + ", interleave='" +
         to_string(s.interleave) + "', block_bytes=" + std::to_string(s.block_bytes) +
         ", double_buffered=" + (s.double_buffered ? "True" : "False") + ")";
}

SystolicFetch make_fetch(int64_t lanes, int64_t elements, int64_t row_pitch_words,
                         int64_t base_address, int64_t element_bytes, bool skewed) {
  return SystolicFetch{lanes, elements, row_pitch_words, base_address, element_bytes, skewed};
}

void bind_scratchpad(py::module_& m) {
  py::class_<ScratchpadSpec>(m, "ScratchpadSpec",
                             "A banked SRAM scratchpad: size, banks, ports, word width, "
                             "interleaving and double buffering.")
      .def(py::init([](int64_t size_bytes, int64_t banks, int64_t ports_per_bank,
                       int64_t word_bytes, const std::string& interleave, int64_t block_bytes,
                       bool double_buffered) {
             ScratchpadSpec s{size_bytes,   banks,       ports_per_bank, word_bytes,
                              parse_interleave(interleave), block_bytes, double_buffered};
             validate(s);
             return s;
           }),
           py::arg("size_bytes"), py::arg("banks"), py::arg("ports_per_bank") = 1,
           py::arg("word_bytes") = 8, py::arg("interleave") = "word", py::arg("block_bytes") = 0,
           py::arg("double_buffered") = true)
      .def_readonly("size_bytes", &ScratchpadSpec::size_bytes)
      .def_readonly("banks", &ScratchpadSpec::banks)
      .def_readonly("ports_per_bank", &ScratchpadSpec::ports_per_bank)
      .def_readonly("word_bytes", &ScratchpadSpec::word_bytes)
      .def_property_readonly("interleave",
                             [](const ScratchpadSpec& s) { return to_string(s.interleave); })
      .def_readonly("block_bytes", &ScratchpadSpec::block_bytes)
      .def_readonly("double_buffered", &ScratchpadSpec::double_buffered)
      .def("bank_of", &bank_of, py::arg("address"), "Bank of a byte address.")
      .def("__repr__", &spad_repr);

  py::class_<BankConflictStats>(m, "BankConflictStats",
                                "Bank conflicts of a per-cycle scratchpad access stream.")
      .def_readonly("cycles_requested", &BankConflictStats::cycles_requested)
      .def_readonly("requests", &BankConflictStats::requests)
      .def_readonly("accesses", &BankConflictStats::accesses)
      .def_readonly("conflict_stall_cycles", &BankConflictStats::conflict_stall_cycles)
      .def_readonly("total_cycles", &BankConflictStats::total_cycles)
      .def_readonly("max_bank_load", &BankConflictStats::max_bank_load)
      .def_property_readonly("bank_accesses",
                             [](const BankConflictStats& s) { return to_numpy(s.bank_accesses); })
      .def("to_dict", [](const BankConflictStats& s) {
        py::dict d;
        d["cycles_requested"] = s.cycles_requested;
        d["requests"] = s.requests;
        d["accesses"] = s.accesses;
        d["conflict_stall_cycles"] = s.conflict_stall_cycles;
        d["total_cycles"] = s.total_cycles;
        d["max_bank_load"] = s.max_bank_load;
        d["bank_accesses"] = s.bank_accesses;
        return d;
      });

  py::class_<DoubleBufferReport>(m, "DoubleBufferReport",
                                 "Occupancy of a (double-)buffered scratchpad over a tile plan.")
      .def_readonly("tiles", &DoubleBufferReport::tiles)
      .def_readonly("buffers", &DoubleBufferReport::buffers)
      .def_readonly("capacity_per_buffer_bytes", &DoubleBufferReport::capacity_per_buffer_bytes)
      .def_readonly("peak_resident_tiles", &DoubleBufferReport::peak_resident_tiles)
      .def_readonly("peak_occupancy_bytes", &DoubleBufferReport::peak_occupancy_bytes)
      .def_readonly("oversized_tiles", &DoubleBufferReport::oversized_tiles)
      .def_readonly("first_oversized_tile", &DoubleBufferReport::first_oversized_tile)
      .def_readonly("fits", &DoubleBufferReport::fits)
      .def("to_dict", [](const DoubleBufferReport& r) {
        py::dict d;
        d["tiles"] = r.tiles;
        d["buffers"] = r.buffers;
        d["capacity_per_buffer_bytes"] = r.capacity_per_buffer_bytes;
        d["peak_resident_tiles"] = r.peak_resident_tiles;
        d["peak_occupancy_bytes"] = r.peak_occupancy_bytes;
        d["oversized_tiles"] = r.oversized_tiles;
        d["first_oversized_tile"] = r.first_oversized_tile;
        d["fits"] = r.fits;
        return d;
      });

  m.def(
      "count_bank_conflicts",
      [](const ScratchpadSpec& spec, const py::object& addresses,
         const py::object& cycle_offsets) {
        const auto a = as_1d<int64_t>(addresses, "addresses", "iu", "integers");
        const auto o = as_1d<int64_t>(cycle_offsets, "cycle_offsets", "iu", "integers");
        const int64_t* ap = a.data();
        const int64_t* op = o.data();
        const auto na = static_cast<std::size_t>(a.size());
        const auto no = static_cast<std::size_t>(o.size());
        return without_gil(
            [&](const Poll& poll) { return count_bank_conflicts(spec, ap, na, op, no, poll); });
      },
      py::arg("spec"), py::arg("addresses"), py::arg("cycle_offsets"),
      "Bank conflicts of byte addresses requested per cycle, in CSR form: cycle c requests "
      "addresses[cycle_offsets[c]:cycle_offsets[c + 1]]; len(cycle_offsets) = cycles + 1.");

  m.def(
      "systolic_fetch_pattern",
      [](const ScratchpadSpec& spec, int64_t lanes, int64_t elements, int64_t row_pitch_words,
         int64_t base_address, int64_t element_bytes, bool skewed) {
        const SystolicFetch fetch =
            make_fetch(lanes, elements, row_pitch_words, base_address, element_bytes, skewed);
        const AccessPattern p = without_gil(
            [&](const Poll& poll) { return systolic_operand_fetch(spec, fetch, poll); });
        return py::make_tuple(to_numpy(p.addresses), to_numpy(p.cycle_offsets));
      },
      py::arg("spec"), py::arg("lanes"), py::arg("elements"), py::arg("row_pitch_words"),
      py::arg("base_address") = 0, py::arg("element_bytes") = 0, py::arg("skewed") = true,
      "(addresses, cycle_offsets) of a systolic edge reading a row-major tile: lane l reads "
      "row l (at base_address + l * row_pitch_words * word_bytes), element t - l at cycle t "
      "when skewed, element t otherwise. element_bytes=0 means word_bytes.");

  m.def(
      "systolic_fetch_predicted_stalls",
      [](const ScratchpadSpec& spec, int64_t lanes, int64_t elements, int64_t row_pitch_words,
         int64_t base_address, int64_t element_bytes, bool skewed) {
        return systolic_fetch_predicted_stalls(
            spec, make_fetch(lanes, elements, row_pitch_words, base_address, element_bytes,
                             skewed));
      },
      py::arg("spec"), py::arg("lanes"), py::arg("elements"), py::arg("row_pitch_words"),
      py::arg("base_address") = 0, py::arg("element_bytes") = 0, py::arg("skewed") = true,
      "Closed-form conflict stalls of systolic_fetch_pattern (element_bytes == word_bytes, "
      "word-aligned base).");

  m.def("strided_conflict_stalls", &strided_conflict_stalls, py::arg("spec"), py::arg("lanes"),
        py::arg("stride_words"),
        "Closed-form stall cycles of one cycle in which `lanes` requesters read words at a "
        "stride: ceil(lanes / (banks / gcd(stride, banks)) / ports_per_bank) - 1.");

  m.def(
      "double_buffer_occupancy",
      [](const ScratchpadSpec& spec, const py::object& tile_bytes, const py::object& fill_start,
         const py::object& fill_end, const py::object& drain_start, const py::object& drain_end) {
        const auto b = as_1d<int64_t>(tile_bytes, "tile_bytes", "iu", "integers");
        const std::vector<int64_t> bytes(b.data(), b.data() + b.size());
        return double_buffer_occupancy(spec, bytes, optional_times(fill_start, "fill_start"),
                                       optional_times(fill_end, "fill_end"),
                                       optional_times(drain_start, "drain_start"),
                                       optional_times(drain_end, "drain_end"));
      },
      py::arg("spec"), py::arg("tile_bytes"), py::arg("fill_start") = py::none(),
      py::arg("fill_end") = py::none(), py::arg("drain_start") = py::none(),
      py::arg("drain_end") = py::none(),
      "Peak resident tiles and bytes of a tile plan; tile i occupies a buffer from "
      "fill_start[i] to drain_end[i]. Without times: the ideal pipeline (fill i, drain i - 1).");
}

py::dict spec_dict(const DramSpec& s) {
  py::dict d;
  d["channels"] = s.channels;
  d["banks_per_channel"] = s.banks_per_channel;
  d["row_bytes"] = s.row_bytes;
  d["burst_bytes"] = s.burst_bytes;
  d["data_rate_mtps"] = s.data_rate_mtps;
  d["bus_bits"] = s.bus_bits;
  d["tRCD_ns"] = s.tRCD_ns;
  d["tCL_ns"] = s.tCL_ns;
  d["tRP_ns"] = s.tRP_ns;
  d["tRAS_ns"] = s.tRAS_ns;
  d["tREFI_ns"] = s.tREFI_ns;
  d["tRFC_ns"] = s.tRFC_ns;
  d["mapping"] = mapping_to_string(s.mapping);
  return d;
}

void bind_dram(py::module_& m) {
  py::class_<DramSpec>(m, "DramSpec",
                       "DRAM channels, banks, row buffers, bus and JEDEC timings (ns).")
      .def(py::init([](int64_t channels, int64_t banks_per_channel, int64_t row_bytes,
                       int64_t burst_bytes, double data_rate_mtps, int64_t bus_bits,
                       double trcd, double tcl, double trp, double tras, double trefi,
                       double trfc, const std::string& mapping) {
             DramSpec s{channels, banks_per_channel, row_bytes, burst_bytes, data_rate_mtps,
                        bus_bits, trcd,     tcl,               trp,       tras,
                        trefi,    trfc,     parse_mapping(mapping)};
             validate(s);
             return s;
           }),
           py::kw_only(), py::arg("channels") = 1, py::arg("banks_per_channel"),
           py::arg("row_bytes"), py::arg("burst_bytes"), py::arg("data_rate_mtps"),
           py::arg("bus_bits"), py::arg("tRCD_ns"), py::arg("tCL_ns"), py::arg("tRP_ns"),
           py::arg("tRAS_ns"), py::arg("tREFI_ns"), py::arg("tRFC_ns"),
           py::arg("mapping") = "row:bank:column:channel")
      .def_readonly("channels", &DramSpec::channels)
      .def_readonly("banks_per_channel", &DramSpec::banks_per_channel)
      .def_readonly("row_bytes", &DramSpec::row_bytes)
      .def_readonly("burst_bytes", &DramSpec::burst_bytes)
      .def_readonly("data_rate_mtps", &DramSpec::data_rate_mtps)
      .def_readonly("bus_bits", &DramSpec::bus_bits)
      .def_readonly("tRCD_ns", &DramSpec::tRCD_ns)
      .def_readonly("tCL_ns", &DramSpec::tCL_ns)
      .def_readonly("tRP_ns", &DramSpec::tRP_ns)
      .def_readonly("tRAS_ns", &DramSpec::tRAS_ns)
      .def_readonly("tREFI_ns", &DramSpec::tREFI_ns)
      .def_readonly("tRFC_ns", &DramSpec::tRFC_ns)
      .def_property_readonly("mapping",
                             [](const DramSpec& s) { return mapping_to_string(s.mapping); })
      .def_property_readonly("tck_ns", [](const DramSpec& s) { return dram_clocks(s).tck_ns; })
      .def_property_readonly("clocks",
                             [](const DramSpec& s) {
                               const DramClocks c = dram_clocks(s);
                               py::dict d;
                               d["burst_beats"] = c.burst_beats;
                               d["tRCD"] = c.rcd;
                               d["tCL"] = c.cl;
                               d["tRP"] = c.rp;
                               d["tRAS"] = c.ras;
                               d["tREFI"] = c.refi;
                               d["tRFC"] = c.rfc;
                               return d;
                             },
                             "Timings in whole clocks (rounded up) and beats per burst.")
      .def_property_readonly("peak_bandwidth_gb_per_s", &dram_peak_bandwidth_gb_per_s)
      .def("to_dict", &spec_dict)
      .def("__repr__", [](const DramSpec& s) {
        std::string out = "DramSpec(";
        bool first = true;
        for (const auto& item : spec_dict(s)) {
          out += (first ? "" : ", ") + std::string(py::str(item.first)) + "=" +
                 std::string(py::repr(item.second));
          first = false;
        }
        return out + ")";
      });

  py::class_<DramStats>(m, "DramStats", "Timing and row-buffer statistics of a DRAM stream.")
      .def_readonly("time_ns", &DramStats::time_ns)
      .def_readonly("bytes", &DramStats::bytes)
      .def_readonly("read_bytes", &DramStats::read_bytes)
      .def_readonly("write_bytes", &DramStats::write_bytes)
      .def_readonly("bursts", &DramStats::bursts)
      .def_readonly("row_hits", &DramStats::row_hits)
      .def_readonly("row_misses", &DramStats::row_misses)
      .def_readonly("row_conflicts", &DramStats::row_conflicts)
      .def_readonly("refreshes", &DramStats::refreshes)
      .def_readonly("achieved_bandwidth_gb_per_s", &DramStats::achieved_bandwidth_gb_per_s)
      .def_readonly("peak_bandwidth_gb_per_s", &DramStats::peak_bandwidth_gb_per_s)
      .def_readonly("row_hit_rate", &DramStats::row_hit_rate)
      .def_readonly("avg_latency_ns", &DramStats::avg_latency_ns)
      .def_readonly("channel_time_ns", &DramStats::channel_time_ns)
      .def_readonly("channel_bursts", &DramStats::channel_bursts)
      .def_readonly("channel_refreshes", &DramStats::channel_refreshes)
      .def("to_dict", [](const DramStats& s) {
        py::dict d;
        d["time_ns"] = s.time_ns;
        d["bytes"] = s.bytes;
        d["read_bytes"] = s.read_bytes;
        d["write_bytes"] = s.write_bytes;
        d["bursts"] = s.bursts;
        d["row_hits"] = s.row_hits;
        d["row_misses"] = s.row_misses;
        d["row_conflicts"] = s.row_conflicts;
        d["refreshes"] = s.refreshes;
        d["achieved_bandwidth_gb_per_s"] = s.achieved_bandwidth_gb_per_s;
        d["peak_bandwidth_gb_per_s"] = s.peak_bandwidth_gb_per_s;
        d["row_hit_rate"] = s.row_hit_rate;
        d["avg_latency_ns"] = s.avg_latency_ns;
        d["channel_time_ns"] = s.channel_time_ns;
        d["channel_bursts"] = s.channel_bursts;
        d["channel_refreshes"] = s.channel_refreshes;
        return d;
      });

  m.def("dram_peak_bandwidth_gb_per_s", &dram_peak_bandwidth_gb_per_s, py::arg("spec"),
        "channels * bus_bits / 8 * data_rate_mtps * 1e6 / 1e9.");
  m.def(
      "dram_map_address",
      [](const DramSpec& spec, int64_t address) {
        if (address < 0) {
          throw std::invalid_argument("address must be >= 0, got " + std::to_string(address));
        }
        const DramLocation l = dram_map_address(spec, address);
        py::dict d;
        d["channel"] = l.channel;
        d["bank"] = l.bank;
        d["row"] = l.row;
        d["column"] = l.column;
        return d;
      },
      py::arg("spec"), py::arg("address"),
      "{'channel', 'bank', 'row', 'column'} of a byte address (column in bursts).");
  m.def(
      "dram_simulate_stream",
      [](const DramSpec& spec, const py::object& addresses, const py::object& sizes,
         const py::object& is_write) {
        const auto a = as_1d<int64_t>(addresses, "addresses", "iu", "integers");
        const auto s = as_1d<int64_t>(sizes, "sizes", "iu", "integers");
        if (a.size() != s.size()) {
          throw std::invalid_argument("addresses and sizes must have the same length, got " +
                                      std::to_string(a.size()) + " and " +
                                      std::to_string(s.size()));
        }
        CArray<bool> w;
        const bool* wp = nullptr;
        if (!is_write.is_none()) {
          w = as_1d<bool>(is_write, "is_write", "biu", "booleans or integers");
          if (w.size() != a.size()) {
            throw std::invalid_argument("is_write must have the length of addresses (" +
                                        std::to_string(a.size()) + "), got " +
                                        std::to_string(w.size()));
          }
          wp = w.data();
        }
        const int64_t* ap = a.data();
        const int64_t* sp = s.data();
        const auto n = static_cast<std::size_t>(a.size());
        return without_gil(
            [&](const Poll& poll) { return simulate_stream(spec, ap, sp, wp, n, poll); });
      },
      py::arg("spec"), py::arg("addresses"), py::arg("sizes"), py::arg("is_write") = py::none(),
      "Time a stream of transfers (byte addresses, sizes in bytes, optional write flags; "
      "1-D arrays of one length) through the DRAM; in order per channel, open page.");
}

}  // namespace

void bind_memory(py::module_& m) {
  bind_scratchpad(m);
  bind_dram(m);
}

}  // namespace pysim::bindings
