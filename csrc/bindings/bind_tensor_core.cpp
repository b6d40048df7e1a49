#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "kernels/mma.hpp"
#include "units/tensor_core.hpp"
#include "units/tensor_core_reference.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

// None (or "default"): the dtype's usual accumulator (fp32 for floats, int32 for integers).
TcAcc acc_of(const std::optional<std::string>& acc) {
  return acc ? parse_tc_acc(*acc) : TcAcc::Default;
}

TcGemm make_gemm(int64_t m, int64_t n, int64_t k, const std::string& dtype, bool sparse,
                 int64_t out_bytes, int64_t batch, const std::optional<std::string>& acc,
                 int64_t a_bits, int64_t b_bits, int64_t b_group, int64_t out_bits,
                 int64_t a_row, int64_t b_row, bool l2_resident) {
  TcGemm g{m,           n,      k,      parse_tc_dtype(dtype), sparse,   out_bytes, batch,
           acc_of(acc), a_bits, b_bits, b_group,              out_bits, a_row, b_row,
           l2_resident};
  validate(g);
  return g;
}

std::vector<std::string> names(const std::vector<TcAcc>& accs) {
  std::vector<std::string> out;
  for (TcAcc a : accs) out.emplace_back(to_string(a));
  return out;
}

py::dict cost_dict(const GemmCost& c) {
  py::dict d;
  d["tile_m"] = c.tile_m;
  d["tile_n"] = c.tile_n;
  d["tile_k"] = c.tile_k;
  d["split_k"] = c.split_k;
  d["cluster_m"] = c.cluster_m;
  d["cluster_n"] = c.cluster_n;
  d["stages"] = c.stages;
  d["batch"] = c.batch;
  d["ctas"] = c.ctas;
  d["ctas_per_sm"] = c.ctas_per_sm;
  d["waves"] = c.waves;
  d["last_wave_ctas"] = c.last_wave_ctas;
  d["wave_efficiency"] = c.wave_efficiency;
  d["macs"] = c.macs;
  d["issued_macs"] = c.issued_macs;
  d["mma_instructions"] = c.mma_instructions;
  d["smem_read_bytes"] = c.smem_read_bytes;
  d["l2_read_bytes"] = c.l2_read_bytes;
  d["hbm_read_bytes"] = c.hbm_read_bytes;
  d["hbm_write_bytes"] = c.hbm_write_bytes;
  d["metadata_bytes"] = c.metadata_bytes;
  d["compute_s"] = c.compute_s;
  d["dequant_s"] = c.dequant_s;
  d["smem_s"] = c.smem_s;
  d["smem_read_s"] = c.smem_read_s;
  d["load_s"] = c.load_s;
  d["l2_s"] = c.l2_s;
  d["hbm_s"] = c.hbm_s;
  d["mainloop_s"] = c.mainloop_s;
  d["epilogue_s"] = c.epilogue_s;
  d["reduction_s"] = c.reduction_s;
  d["launch_s"] = c.launch_s;
  d["latency_s"] = c.latency_s;
  d["time_s"] = c.time_s;
  d["tflops"] = c.tflops;
  d["utilization"] = c.utilization;
  d["bound"] = c.bound;
  d["candidates"] = c.candidates;
  return d;
}

// A 2-D C-contiguous array of T (values converted by NumPy's safe-or-same-kind rules are the
// caller's business: the Python layer hands over exactly T).
template <class T>
using Arr = CArray<T>;  // C-contiguous, aligned for T (NumPy copies one that is not)

template <class T>
Arr<T> as_2d(const py::array& x, const char* name) {
  if (x.ndim() != 2) {
    throw std::invalid_argument(std::string(name) + " must be 2-D, got ndim=" +
                                std::to_string(x.ndim()));
  }
  Arr<T> out = Arr<T>::ensure(x);
  if (!out) throw std::invalid_argument(std::string("could not read ") + name + " as an array");
  return out;
}

void check_mnk(const py::array& a, const py::array& b) {
  if (a.shape(1) != b.shape(0)) {
    throw std::invalid_argument("inner dimensions differ: a is " + std::to_string(a.shape(0)) +
                                "x" + std::to_string(a.shape(1)) + ", b is " +
                                std::to_string(b.shape(0)) + "x" + std::to_string(b.shape(1)));
  }
  if (a.shape(0) < 1 || a.shape(1) < 1 || b.shape(1) < 1) {
    throw std::invalid_argument("operands must not be empty");
  }
}

template <class C>
const C* optional_c(const py::object& c_obj, Arr<C>& keep,
                    int64_t m, int64_t n) {
  if (c_obj.is_none()) return nullptr;
  keep = as_2d<C>(py::array::ensure(c_obj), "c");
  if (keep.shape(0) != m || keep.shape(1) != n) {
    throw std::invalid_argument("c must have shape (" + std::to_string(m) + ", " +
                                std::to_string(n) + "), got (" + std::to_string(keep.shape(0)) +
                                ", " + std::to_string(keep.shape(1)) + ")");
  }
  return keep.data();
}

}  // namespace

void bind_tensor_core(py::module_& m) {
  py::class_<GpuSpec>(m, "GpuSpec", "A GPU for the tensor-core GEMM model (docs/tensor_cores.md).")
      .def(py::init([](const std::string& arch, int64_t sms, double clock_mhz,
                       int64_t register_file_bytes_per_sm, int64_t smem_bytes_per_sm,
                       int64_t l2_bytes, double hbm_bandwidth_gb_per_s,
                       double l2_bandwidth_bytes_per_clk, double smem_bandwidth_bytes_per_clk,
                       double launch_overhead_us, bool fp32_acc_half_rate,
                       double kernel_latency_us, double pipeline_latency_us,
                       double mma_clock_mhz, double mma_efficiency) {
             GpuSpec s;
             s.arch = parse_gpu_arch(arch);
             s.sms = sms;
             s.clock_mhz = clock_mhz;
             s.register_file_bytes_per_sm = register_file_bytes_per_sm;
             s.smem_bytes_per_sm = smem_bytes_per_sm;
             s.l2_bytes = l2_bytes;
             s.hbm_bandwidth_gb_per_s = hbm_bandwidth_gb_per_s;
             s.l2_bandwidth_bytes_per_clk = l2_bandwidth_bytes_per_clk;
             s.smem_bandwidth_bytes_per_clk = smem_bandwidth_bytes_per_clk;
             s.launch_overhead_us = launch_overhead_us;
             s.kernel_latency_us = kernel_latency_us;
             s.pipeline_latency_us = pipeline_latency_us;
             s.mma_clock_mhz = mma_clock_mhz;
             s.mma_efficiency = mma_efficiency;
             s.fp32_acc_half_rate = fp32_acc_half_rate;
             validate(s);
             return s;
           }),
           py::kw_only(), py::arg("arch"), py::arg("sms"), py::arg("clock_mhz"),
           py::arg("register_file_bytes_per_sm"), py::arg("smem_bytes_per_sm"),
           py::arg("l2_bytes"), py::arg("hbm_bandwidth_gb_per_s"),
           py::arg("l2_bandwidth_bytes_per_clk"), py::arg("smem_bandwidth_bytes_per_clk"),
           py::arg("launch_overhead_us"), py::arg("fp32_acc_half_rate") = false,
           py::arg("kernel_latency_us") = 0.0, py::arg("pipeline_latency_us") = 0.0,
           py::arg("mma_clock_mhz") = 0.0, py::arg("mma_efficiency") = 1.0)
      .def_property_readonly("arch", [](const GpuSpec& s) { return to_string(s.arch); })
      .def_readonly("sms", &GpuSpec::sms)
      .def_readonly("clock_mhz", &GpuSpec::clock_mhz)
      .def_readonly("register_file_bytes_per_sm", &GpuSpec::register_file_bytes_per_sm)
      .def_readonly("smem_bytes_per_sm", &GpuSpec::smem_bytes_per_sm)
      .def_readonly("l2_bytes", &GpuSpec::l2_bytes)
      .def_readonly("hbm_bandwidth_gb_per_s", &GpuSpec::hbm_bandwidth_gb_per_s)
      .def_readonly("l2_bandwidth_bytes_per_clk", &GpuSpec::l2_bandwidth_bytes_per_clk)
      .def_readonly("smem_bandwidth_bytes_per_clk", &GpuSpec::smem_bandwidth_bytes_per_clk)
      .def_readonly("launch_overhead_us", &GpuSpec::launch_overhead_us)
      .def_readonly("kernel_latency_us", &GpuSpec::kernel_latency_us)
      .def_readonly("pipeline_latency_us", &GpuSpec::pipeline_latency_us)
      .def_readonly("mma_clock_mhz", &GpuSpec::mma_clock_mhz)
      .def_readonly("mma_efficiency", &GpuSpec::mma_efficiency)
      .def_readonly("fp32_acc_half_rate", &GpuSpec::fp32_acc_half_rate)
      .def("__repr__", [](const GpuSpec& s) {
        return "GpuSpec(arch='" + std::string(to_string(s.arch)) +
               "', sms=" + std::to_string(s.sms) + ", clock_mhz=" + std::to_string(s.clock_mhz) +
               (s.fp32_acc_half_rate ? ", fp32_acc_half_rate=True" : "") + ")";
      });

  py::class_<GemmCost>(m, "GemmCost",
                       "Time and traffic of one GEMM kernel on a GPU, with its configuration.")
      .def_readonly("tile_m", &GemmCost::tile_m)
      .def_readonly("tile_n", &GemmCost::tile_n)
      .def_readonly("tile_k", &GemmCost::tile_k)
      .def_readonly("split_k", &GemmCost::split_k)
      .def_readonly("cluster_m", &GemmCost::cluster_m)
      .def_readonly("cluster_n", &GemmCost::cluster_n)
      .def_readonly("stages", &GemmCost::stages)
      .def_readonly("batch", &GemmCost::batch)
      .def_readonly("ctas", &GemmCost::ctas)
      .def_readonly("ctas_per_sm", &GemmCost::ctas_per_sm)
      .def_readonly("waves", &GemmCost::waves)
      .def_readonly("last_wave_ctas", &GemmCost::last_wave_ctas)
      .def_readonly("wave_efficiency", &GemmCost::wave_efficiency)
      .def_readonly("macs", &GemmCost::macs)
      .def_readonly("issued_macs", &GemmCost::issued_macs)
      .def_readonly("mma_instructions", &GemmCost::mma_instructions)
      .def_readonly("smem_read_bytes", &GemmCost::smem_read_bytes)
      .def_readonly("l2_read_bytes", &GemmCost::l2_read_bytes)
      .def_readonly("hbm_read_bytes", &GemmCost::hbm_read_bytes)
      .def_readonly("hbm_write_bytes", &GemmCost::hbm_write_bytes)
      .def_readonly("metadata_bytes", &GemmCost::metadata_bytes)
      .def_readonly("compute_s", &GemmCost::compute_s)
      .def_readonly("dequant_s", &GemmCost::dequant_s)
      .def_readonly("smem_s", &GemmCost::smem_s)
      .def_readonly("smem_read_s", &GemmCost::smem_read_s,
                    "smem_s's shared-memory reads by the warps alone, summed over waves")
      .def_readonly("load_s", &GemmCost::load_s,
                    "smem_s's global -> shared loads alone (narrow vectors; an sm80 kernel's "
                    "cp.async on Hopper / Blackwell), summed over waves")
      .def_readonly("l2_s", &GemmCost::l2_s)
      .def_readonly("hbm_s", &GemmCost::hbm_s)
      .def_readonly("mainloop_s", &GemmCost::mainloop_s)
      .def_readonly("epilogue_s", &GemmCost::epilogue_s)
      .def_readonly("reduction_s", &GemmCost::reduction_s)
      .def_readonly("launch_s", &GemmCost::launch_s)
      .def_readonly("latency_s", &GemmCost::latency_s)
      .def_readonly("time_s", &GemmCost::time_s)
      .def_readonly("tflops", &GemmCost::tflops)
      .def_readonly("utilization", &GemmCost::utilization)
      .def_readonly("bound", &GemmCost::bound)
      .def_readonly("candidates", &GemmCost::candidates)
      .def("to_dict", &cost_dict)
      .def("__repr__", [](const GemmCost& c) {
        return "GemmCost(time_s=" + std::to_string(c.time_s) + ", tile=" +
               std::to_string(c.tile_m) + "x" + std::to_string(c.tile_n) + "x" +
               std::to_string(c.tile_k) + ", split_k=" + std::to_string(c.split_k) +
               (c.cluster_m * c.cluster_n != 1 ? ", cluster=" + std::to_string(c.cluster_m) +
                                                     "x" + std::to_string(c.cluster_n)
                                               : std::string()) +
               (c.batch != 1 ? ", batch=" + std::to_string(c.batch) : std::string()) +
               ", waves=" + std::to_string(c.waves) + ", bound='" + c.bound + "')";
      });

  // Ampere's mma.sync on Hopper over its wgmma rate (tensor_core.hpp): cuBLAS's int8 kernels
  // and FlashAttention-2 (pysim/gpu/attention.py) run at it
  m.attr("tc_mma_sync_on_hopper") = kMmaSyncOnHopper;
  m.def("tc_archs", [] {
    std::vector<std::string> out;
    for (GpuArch a : kAllArchs) out.emplace_back(to_string(a));
    return out;
  }, "GPU architectures the tensor-core model knows.");
  m.def("tc_dtypes", [] {
    std::vector<std::string> out;
    for (TcDtype d : kAllDtypes) out.emplace_back(to_string(d));
    return out;
  }, "Tensor-core input dtypes the model knows.");
  m.def(
      "tc_supported_accs",
      [](const std::string& arch, const std::string& dtype) {
        return names(tc_supported_accs(parse_gpu_arch(arch), parse_tc_dtype(dtype)));
      },
      py::arg("arch"), py::arg("dtype"),
      "Accumulator dtypes the architecture's MMA offers for the input dtype (empty if none).");
  m.def(
      "tc_default_acc",
      [](const std::string& dtype) { return to_string(tc_default_acc(parse_tc_dtype(dtype))); },
      py::arg("dtype"), "The accumulator an input dtype uses by default (fp32 or int32).");
  m.def(
      "tc_supported_dtypes",
      [](const std::string& arch) {
        std::vector<std::string> out;
        for (TcDtype d : tc_supported_dtypes(parse_gpu_arch(arch))) out.emplace_back(to_string(d));
        return out;
      },
      py::arg("arch"), "Dtypes the architecture's tensor cores run.");
  m.def(
      "tc_supports",
      [](const std::string& arch, const std::string& dtype, bool sparse,
         const std::optional<std::string>& acc) {
        const GpuArch a = parse_gpu_arch(arch);
        const TcDtype d = parse_tc_dtype(dtype);
        const bool base = sparse ? tc_supports_sparse(a, d) : tc_supports(a, d);
        return base && tc_supports_acc(a, d, acc_of(acc));
      },
      py::arg("arch"), py::arg("dtype"), py::arg("sparse") = false, py::arg("acc") = py::none(),
      "Whether the architecture's tensor cores run the dtype (sparse, with accumulator acc).");
  m.def(
      "tc_mma_shape",
      [](const std::string& arch, const std::string& dtype, bool sparse) {
        const MmaShape s = mma_shape(parse_gpu_arch(arch), parse_tc_dtype(dtype), sparse);
        return py::make_tuple(s.m, s.n, s.k);
      },
      py::arg("arch"), py::arg("dtype"), py::arg("sparse") = false,
      "(m, n, k) of the warp-level MMA instruction.");
  m.def(
      "tc_macs_per_clk_per_sm",
      [](const std::string& arch, const std::string& dtype, bool sparse,
         const std::optional<std::string>& acc, bool fp32_acc_half_rate) {
        return tc_macs_per_clk_per_sm(parse_gpu_arch(arch), parse_tc_dtype(dtype), sparse,
                                      acc_of(acc), fp32_acc_half_rate);
      },
      py::arg("arch"), py::arg("dtype"), py::arg("sparse") = false, py::arg("acc") = py::none(),
      py::arg("fp32_acc_half_rate") = false,
      "Tensor-core MACs per SM per clock for (dtype, acc, sparse); fp32_acc_half_rate halves "
      "float inputs accumulating in fp32 (GeForce parts). ValueError where the architecture "
      "lacks the combination.");
  m.def(
      "tc_input_bits", [](const std::string& dtype) { return tc_input_bits(parse_tc_dtype(dtype)); },
      py::arg("dtype"));

  m.def(
      "gpu_gemm_cost",
      [](const GpuSpec& spec, int64_t m_, int64_t n, int64_t k, const std::string& dtype,
         bool sparse, int64_t out_bytes, int64_t batch, const std::optional<std::string>& acc,
         int64_t a_bits, int64_t b_bits, int64_t b_group, int64_t out_bits,
         int64_t a_row, int64_t b_row, bool l2_resident) {
        return gemm_cost(spec, make_gemm(m_, n, k, dtype, sparse, out_bytes, batch, acc, a_bits,
                                           b_bits, b_group, out_bits, a_row, b_row, l2_resident));
      },
      py::arg("spec"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("dtype") = "fp16",
      py::arg("sparse") = false, py::arg("out_bytes") = 0, py::kw_only(), py::arg("batch") = 1,
      py::arg("acc") = py::none(), py::arg("a_bits") = 0, py::arg("b_bits") = 0,
      py::arg("b_group") = 0, py::arg("out_bits") = 0, py::arg("a_row") = 0, py::arg("b_row") = 0,
      py::arg("l2_resident") = false,
      "Closed-form time of the fastest candidate configuration; batch: independent GEMMs of "
      "this shape in one kernel (strided batched); acc: accumulator dtype (None: the dtype's "
      "default).");
  m.def(
      "gpu_gemm_cost_tile",
      [](const GpuSpec& spec, int64_t m_, int64_t n, int64_t k, const std::string& dtype,
         bool sparse, int64_t out_bytes, int64_t tile_m, int64_t tile_n, int64_t tile_k,
         int64_t split_k, int64_t batch, const std::optional<std::string>& acc,
         int64_t a_bits, int64_t b_bits, int64_t b_group, int64_t out_bits, int64_t cluster_m,
         int64_t cluster_n, int64_t a_row, int64_t b_row, bool l2_resident) {
        return gemm_cost_tile(spec,
                              make_gemm(m_, n, k, dtype, sparse, out_bytes, batch, acc, a_bits,
                                        b_bits, b_group, out_bits, a_row, b_row, l2_resident),
                              CtaTile{tile_m, tile_n, tile_k, split_k, cluster_m, cluster_n});
      },
      py::arg("spec"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("dtype"),
      py::arg("sparse"), py::arg("out_bytes"), py::arg("tile_m"), py::arg("tile_n"),
      py::arg("tile_k"), py::arg("split_k") = 1, py::kw_only(), py::arg("batch") = 1,
      py::arg("acc") = py::none(), py::arg("a_bits") = 0, py::arg("b_bits") = 0,
      py::arg("b_group") = 0, py::arg("out_bits") = 0, py::arg("cluster_m") = 1,
      py::arg("cluster_n") = 1, py::arg("a_row") = 0, py::arg("b_row") = 0,
      py::arg("l2_resident") = false,
      "Closed-form time of one configuration.");
  m.def(
      "gpu_gemm_simulate",
      [](const GpuSpec& spec, int64_t m_, int64_t n, int64_t k, const std::string& dtype,
         bool sparse, int64_t out_bytes, int64_t batch, const std::optional<std::string>& acc,
         int64_t a_bits, int64_t b_bits, int64_t b_group, int64_t out_bits,
         int64_t a_row, int64_t b_row, bool l2_resident) {
        const TcGemm gemm = make_gemm(m_, n, k, dtype, sparse, out_bytes, batch, acc, a_bits,
                                      b_bits, b_group, out_bits, a_row, b_row, l2_resident);
        return without_gil([&](const Poll& poll) { return gemm_simulate(spec, gemm, poll); });
      },
      py::arg("spec"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("dtype") = "fp16",
      py::arg("sparse") = false, py::arg("out_bytes") = 0, py::kw_only(), py::arg("batch") = 1,
      py::arg("acc") = py::none(), py::arg("a_bits") = 0, py::arg("b_bits") = 0,
      py::arg("b_group") = 0, py::arg("out_bits") = 0, py::arg("a_row") = 0, py::arg("b_row") = 0,
      py::arg("l2_resident") = false,
      "Step-level reference (CTA by CTA, k-block by k-block) over the same candidates.");
  m.def(
      "gpu_gemm_simulate_tile",
      [](const GpuSpec& spec, int64_t m_, int64_t n, int64_t k, const std::string& dtype,
         bool sparse, int64_t out_bytes, int64_t tile_m, int64_t tile_n, int64_t tile_k,
         int64_t split_k, int64_t batch, const std::optional<std::string>& acc,
         int64_t a_bits, int64_t b_bits, int64_t b_group, int64_t out_bits, int64_t cluster_m,
         int64_t cluster_n, int64_t a_row, int64_t b_row, bool l2_resident) {
        const TcGemm gemm = make_gemm(m_, n, k, dtype, sparse, out_bytes, batch, acc, a_bits,
                                      b_bits, b_group, out_bits, a_row, b_row, l2_resident);
        const CtaTile tile{tile_m, tile_n, tile_k, split_k, cluster_m, cluster_n};
        return without_gil(
            [&](const Poll& poll) { return gemm_simulate_tile(spec, gemm, tile, poll); });
      },
      py::arg("spec"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("dtype"),
      py::arg("sparse"), py::arg("out_bytes"), py::arg("tile_m"), py::arg("tile_n"),
      py::arg("tile_k"), py::arg("split_k") = 1, py::kw_only(), py::arg("batch") = 1,
      py::arg("acc") = py::none(), py::arg("a_bits") = 0, py::arg("b_bits") = 0,
      py::arg("b_group") = 0, py::arg("out_bits") = 0, py::arg("cluster_m") = 1,
      py::arg("cluster_n") = 1, py::arg("a_row") = 0, py::arg("b_row") = 0,
      py::arg("l2_resident") = false);
  m.def(
      "gpu_gemm_candidates",
      [](const GpuSpec& spec, int64_t m_, int64_t n, int64_t k, const std::string& dtype,
         bool sparse, int64_t out_bytes, int64_t batch, const std::optional<std::string>& acc,
         int64_t a_bits, int64_t b_bits, int64_t b_group, int64_t out_bits,
         int64_t a_row, int64_t b_row) {
        std::vector<py::tuple> out;
        // the candidates do not depend on where the operands live (hot or cold L2)
        const TcGemm gemm = make_gemm(m_, n, k, dtype, sparse, out_bytes, batch, acc, a_bits,
                                      b_bits, b_group, out_bits, a_row, b_row, false);
        for (const CtaTile& t : gemm_candidates(spec, gemm)) {
          out.push_back(py::make_tuple(t.bm, t.bn, t.bk, t.split_k, t.cluster_m, t.cluster_n));
        }
        return out;
      },
      py::arg("spec"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("dtype") = "fp16",
      py::arg("sparse") = false, py::arg("out_bytes") = 0, py::kw_only(), py::arg("batch") = 1,
      py::arg("acc") = py::none(), py::arg("a_bits") = 0, py::arg("b_bits") = 0,
      py::arg("b_group") = 0, py::arg("out_bits") = 0, py::arg("a_row") = 0, py::arg("b_row") = 0,
      "(tile_m, tile_n, tile_k, split_k, cluster_m, cluster_n) of every configuration the "
      "search evaluates.");

  m.def("round_to_tf32", &round_to_tf32, py::arg("x"),
        "fp32 -> tf32 (10-bit mantissa, round to nearest, ties away from zero).");
  m.def(
      "mma_float",
      [](const py::array& a_any, const py::array& b_any, const py::object& c_obj, int64_t k_step,
         bool tf32_inputs) {
        const auto a = as_2d<float>(a_any, "a");
        const auto b = as_2d<float>(b_any, "b");
        check_mnk(a, b);
        const int64_t mm = a.shape(0), kk = a.shape(1), nn = b.shape(1);
        Arr<float> c_keep;
        const float* c = optional_c<float>(c_obj, c_keep, mm, nn);
        py::array_t<float> d({mm, nn});
        float* dp = d.mutable_data();
        {
          py::gil_scoped_release release;
          mma_float(mm, nn, kk, k_step, a.data(), b.data(), c, dp, tf32_inputs);
        }
        return d;
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("k_step"), py::arg("tf32_inputs"),
      "fp32 accumulation of exact products, rounded once per k_step (see kernels/mma.hpp).");
  m.def(
      "mma_int",
      [](const py::array& a_any, const py::array& b_any, const py::object& c_obj, int bits) {
        const auto a = as_2d<int8_t>(a_any, "a");
        const auto b = as_2d<int8_t>(b_any, "b");
        check_mnk(a, b);
        const int64_t mm = a.shape(0), kk = a.shape(1), nn = b.shape(1);
        Arr<int32_t> c_keep;
        const int32_t* c = optional_c<int32_t>(c_obj, c_keep, mm, nn);
        py::array_t<int32_t> d({mm, nn});
        int32_t* dp = d.mutable_data();
        {
          py::gil_scoped_release release;
          mma_int(mm, nn, kk, bits, a.data(), b.data(), c, dp);
        }
        return d;
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("bits"),
      "int8 / int4 (held in int8) products accumulated in int32 with wrap-around.");
  m.def(
      "mma_b1",
      [](const py::array& a_any, const py::array& b_any, const py::object& c_obj,
         const std::string& op) {
        if (op != "xor" && op != "and") {
          throw std::invalid_argument("op must be 'xor' or 'and', got '" + op + "'");
        }
        const auto a = as_2d<uint8_t>(a_any, "a");
        const auto b = as_2d<uint8_t>(b_any, "b");
        check_mnk(a, b);
        const int64_t mm = a.shape(0), kk = a.shape(1), nn = b.shape(1);
        Arr<int32_t> c_keep;
        const int32_t* c = optional_c<int32_t>(c_obj, c_keep, mm, nn);
        py::array_t<int32_t> d({mm, nn});
        int32_t* dp = d.mutable_data();
        {
          py::gil_scoped_release release;
          mma_b1(mm, nn, kk, op == "and" ? B1Op::And : B1Op::Xor, a.data(), b.data(), c, dp);
        }
        return d;
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("op"),
      "Binary MMA: c + popcount(a op b) over K, a and b holding 0 / 1.");
}

}  // namespace pysim::bindings
