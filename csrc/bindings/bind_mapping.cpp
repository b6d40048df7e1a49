// The mapping search's numeric core (csrc/mapping/search.hpp) for pysim/mapping/tiling.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "mapping/best_fit.hpp"
#include "mapping/search.hpp"

namespace pysim::bindings {

namespace py = pybind11;

namespace {

// C-contiguous and aligned (array_args.hpp): NumPy copies a misaligned or strided argument.
using F64 = CArray<double>;
using I64 = CArray<int64_t>;
using U8 = CArray<uint8_t>;

void require_shape(const py::array& x, const char* name, py::ssize_t rows, py::ssize_t cols) {
  const bool ok = cols < 0 ? (x.ndim() == 1 && x.shape(0) == rows)
                           : (x.ndim() == 2 && x.shape(0) == rows && x.shape(1) == cols);
  if (!ok) {
    throw std::invalid_argument(std::string(name) + " must have shape (" +
                                std::to_string(rows) +
                                (cols < 0 ? ",)" : ", " + std::to_string(cols) + ")"));
  }
}

// A real numeric array as T (a complex, string or object one is refused by name before NumPy
// would cast it with a warning).
template <class T>
CArray<T> real_array(const py::array& x, const char* name) {
  const char kind = x.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
    throw std::invalid_argument(std::string(name) + " must be a real numeric array, got dtype " +
                                dtype_name(x));
  }
  return as_c_array<T>(x, name);
}

// The pipeline's arguments: a step count the engine uses and finite, non-negative cycles.
void check_pipeline_args(int64_t steps, double compute, double read, double write) {
  if (steps < 1 || steps > 4096) {
    throw std::invalid_argument("steps must be in 1..4096, got " + std::to_string(steps));
  }
  if (!(compute >= 0) || !(read >= 0) || !(write >= 0) || !std::isfinite(compute) ||
      !std::isfinite(read) || !std::isfinite(write)) {
    throw std::invalid_argument("compute, read and write must be finite and >= 0");
  }
}

// Finite inputs whose sum overflows a double have no cycle count.
double finite_cycles(double cycles) {
  if (!std::isfinite(cycles)) {
    throw std::invalid_argument("compute, read and write overflow a double when added");
  }
  return cycles;
}

// An array of integers (signed or unsigned dtypes) as int64, refused by name otherwise.
I64 int_array(const py::array& x, const char* name) {
  const char kind = x.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw std::invalid_argument(std::string(name) + " must be an integer array, got dtype " +
                                dtype_name(x));
  }
  return as_c_array<int64_t>(x, name);
}

// An array of floats (or integers) as float64, refused by name otherwise.
F64 float_array(const py::array& x, const char* name) {
  const char kind = x.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw std::invalid_argument(std::string(name) + " must be a float array, got dtype " +
                                dtype_name(x));
  }
  return as_c_array<double>(x, name);
}

// Rows of (role mask 0..7, bytes, multiplier).
I64 capacity_rows(const py::array& x, const char* name) {
  I64 out = int_array(x, name);
  if (out.ndim() != 2 || out.shape(1) != 3) {
    throw std::invalid_argument(std::string(name) + " must have shape (rows, 3)");
  }
  for (py::ssize_t r = 0; r < out.shape(0); ++r) {
    if (out.data()[3 * r] < 0 || out.data()[3 * r] > 7) {
      throw std::invalid_argument(std::string(name) + "' role masks must be 0..7");
    }
  }
  return out;
}

}  // namespace

void bind_mapping(py::module_& m) {
  m.def(
      "op_pipeline_cycles",
      [](int64_t steps, double compute, double read, double write, int64_t halves) {
        check_pipeline_args(steps, compute, read, write);
        if (halves < 1 || halves > 2) {
          throw std::invalid_argument("halves must be 1 or 2, got " + std::to_string(halves));
        }
        return finite_cycles(op_pipeline_cycles(steps, compute, read, write, halves));
      },
      py::arg("steps"), py::arg("compute"), py::arg("read"), py::arg("write"),
      py::arg("halves") = 2,
      "Cycles from an op's first load to its last store as the SimPy engine runs it alone: "
      "steps in `halves` buffer halves, loads and stores on one bus (first come, first served; "
      "a load first on a tie), `read` / `write` the bus cycles of all loads / stores.");

  m.def(
      "op_pipeline_lower_bound",
      [](int64_t steps, double compute, double read, double write) {
        check_pipeline_args(steps, compute, read, write);
        return finite_cycles(op_pipeline_lower_bound(steps, compute, read, write));
      },
      py::arg("steps"), py::arg("compute"), py::arg("read"), py::arg("write"),
      "What no schedule of the op beats: the bus moves every byte; one load, all compute and "
      "one store run in sequence; every load precedes the last compute and store; the first "
      "load and compute precede every store.");

  m.def(
      "search_plans",
      [](int kind, py::dict prices, F64 candidates, I64 refetch, U8 served, F64 slice_pj,
         I64 kept, U8 fits, std::optional<F64> port_cycles) {
        if (kind < 0 || kind > 3) {
          throw std::invalid_argument("kind must be 0..3, got " + std::to_string(kind));
        }
        if (candidates.ndim() != 2 || candidates.shape(0) != 20) {
          throw std::invalid_argument("candidates must have shape (20, n)");
        }
        const py::ssize_t n = candidates.shape(1);
        const py::ssize_t count = kept.ndim() == 1 ? kept.shape(0) : -1;
        if (count < 0) throw std::invalid_argument("kept must be 1-D");
        require_shape(refetch, "refetch", 3, count);
        require_shape(served, "served", 3, count);
        require_shape(slice_pj, "slice_pj", 6, count);
        require_shape(fits, "fits", count, n);
        if (port_cycles) {
          require_shape(*port_cycles, "port_cycles", count, n);
          const double* pc = port_cycles->data();
          for (py::ssize_t j = 0; j < count * n; ++j) {
            if (!(pc[j] >= 0) || !std::isfinite(pc[j])) {
              throw std::invalid_argument("port_cycles must be finite and >= 0");
            }
          }
        }
        const int64_t* rf = refetch.data();
        for (py::ssize_t j = 0; j < 3 * count; ++j) {
          if (rf[j] < 0 || rf[j] > 3) throw std::invalid_argument("refetch rows must be 0..3");
        }
        PlanPrices p;
        p.kind = static_cast<PlanObjective>(kind);
        // A missing or non-numeric price is bad input (ValueError), not a KeyError / cast error.
        auto entry = [&](const char* key) -> py::object {
          if (!prices.contains(key)) {
            throw std::invalid_argument(std::string("prices lacks '") + key + "'");
          }
          return prices[key];
        };
        auto get = [&](const char* key) {
          try {
            return entry(key).cast<double>();
          } catch (const py::cast_error&) {
            throw std::invalid_argument(std::string("prices['") + key + "'] must be a number");
          }
        };
        p.bytes_per_cycle = get("bytes_per_cycle");
        p.transfer_latency = get("transfer_latency");
        p.dram_read_pj_per_byte = get("dram_read_pj_per_byte");
        p.dram_write_pj_per_byte = get("dram_write_pj_per_byte");
        p.input_write_pj_per_bit = get("input_write_pj_per_bit");
        p.weight_write_pj_per_bit = get("weight_write_pj_per_bit");
        p.input_through_pj_per_bit = get("input_through_pj_per_bit");
        p.weight_through_pj_per_bit = get("weight_through_pj_per_bit");
        p.fixed_pj = get("fixed_pj");
        p.run_overhead_bytes = get("run_overhead_bytes");
        p.latency_tie = get("latency_tie");
        try {
          p.halves = entry("halves").cast<int64_t>();
          p.a_on_chip = entry("a_on_chip").cast<bool>();
          p.c_kept = prices.contains("c_kept") && prices["c_kept"].cast<bool>();  // optional
        } catch (const py::cast_error&) {
          throw std::invalid_argument("prices['halves'] must be an int and "
                                      "prices['a_on_chip'] and ['c_kept'] bools");
        }
        if (!(p.bytes_per_cycle > 0)) throw std::invalid_argument("bytes_per_cycle must be > 0");
        if (p.halves < 1 || p.halves > 2) throw std::invalid_argument("halves must be 1 or 2");
        const double* c = candidates.data();
        PlanCandidates cand;
        cand.n = n;
        const double** rows[] = {&cand.steps, &cand.compute, &cand.tiles, &cand.kt,
                                 &cand.a_pass, &cand.b_pass, &cand.c_pass, &cand.p_pass,
                                 &cand.slow_a, &cand.slow_b, &cand.slow_c, &cand.sram_ab,
                                 &cand.psum_w_bits, &cand.psum_r_bits, &cand.a_runs,
                                 &cand.b_runs, &cand.c_runs, &cand.trips_m, &cand.trips_n,
                                 &cand.trips_k};
        for (int r = 0; r < 20; ++r) *rows[r] = c + r * n;
        for (py::ssize_t i = 0; i < n; ++i) {
          if (!(cand.steps[i] >= 1 && cand.steps[i] <= 4096)) {
            throw std::invalid_argument("steps must be in 1..4096");
          }
        }
        PlanSlices sl;
        sl.count = count;
        sl.refetch_a = rf;
        sl.refetch_b = rf + count;
        sl.refetch_c = rf + 2 * count;
        const uint8_t* sv = served.data();
        sl.served_a = sv;
        sl.served_b = sv + count;
        sl.served_c = sv + 2 * count;
        const double* pj = slice_pj.data();
        sl.c_read_pj = pj;
        sl.c_write_pj = pj + count;
        sl.serve_a_pj = pj + 2 * count;
        sl.serve_b_pj = pj + 3 * count;
        sl.serve_c_pj = pj + 4 * count;
        sl.c_through_pj = pj + 5 * count;
        sl.kept = kept.data();
        sl.fits = fits.data();
        sl.port_cycles = port_cycles ? port_cycles->data() : nullptr;
        PlanChoice out;
        {
          GilRelease release;
          out = search_plans(p, cand, sl);
        }
        return std::make_tuple(out.flat, out.latency, out.energy);
      },
      py::arg("kind"), py::arg("prices"), py::arg("candidates"), py::arg("refetch"),
      py::arg("served"), py::arg("slice_pj"), py::arg("kept"), py::arg("fits"),
      py::arg("port_cycles") = py::none(),
      "The mapping search's winner over every (slice, candidate): (slice x n + candidate or "
      "-1, latency cycles, energy pJ). Internal to pysim.mapping.tiling.plan_gemm.");

  m.def(
      "port_cycles_table",
      [](const py::array& rates_in, std::tuple<int64_t, int64_t, int64_t> home,
         const py::array& rows_in, bool a_on_chip, const py::array& trips_m_in,
         const py::array& trips_n_in, const py::array& trips_k_in, const py::array& a_bits_in,
         const py::array& b_bits_in, const py::array& psum_r_in, const py::array& psum_w_in,
         const py::array& a_pass_in, const py::array& b_pass_in, const py::array& c_pass_in,
         const py::array& p_pass_in, const py::array& drain_in,
         const py::array& accumulate_in, const py::object& chains_in, bool c_kept) {
        F64 rates = real_array<double>(rates_in, "rates");
        I64 rows = real_array<int64_t>(rows_in, "rows");
        I64 trips_m = real_array<int64_t>(trips_m_in, "trips_m");
        I64 trips_n = real_array<int64_t>(trips_n_in, "trips_n");
        I64 trips_k = real_array<int64_t>(trips_k_in, "trips_k");
        F64 a_bits = real_array<double>(a_bits_in, "a_bits");
        F64 b_bits = real_array<double>(b_bits_in, "b_bits");
        F64 psum_r = real_array<double>(psum_r_in, "psum_r");
        F64 psum_w = real_array<double>(psum_w_in, "psum_w");
        F64 a_pass = real_array<double>(a_pass_in, "a_pass");
        F64 b_pass = real_array<double>(b_pass_in, "b_pass");
        F64 c_pass = real_array<double>(c_pass_in, "c_pass");
        F64 p_pass = real_array<double>(p_pass_in, "p_pass");
        F64 drain = real_array<double>(drain_in, "drain");
        F64 accumulate = real_array<double>(accumulate_in, "accumulate");
        if (rates.ndim() != 2 || rates.shape(1) != 3 || rates.shape(0) < 1) {
          throw std::invalid_argument("rates must have shape (levels, 3)");
        }
        const int64_t groups = rates.shape(0);
        const double* rt = rates.data();
        for (int64_t j = 0; j < 3 * groups; ++j) {
          if (!(rt[j] > 0)) throw std::invalid_argument("rates must be > 0 bits per cycle");
        }
        const auto [home_in, home_w, home_out] = home;
        for (int64_t g : {home_in, home_w, home_out}) {
          if (g < 0 || g >= groups) throw std::invalid_argument("home levels out of range");
        }
        if (rows.ndim() != 2 || rows.shape(1) != 7) {
          throw std::invalid_argument("rows must have shape (slices, 7)");
        }
        const int64_t count = rows.shape(0);
        const int64_t* rw = rows.data();
        for (int64_t s = 0; s < count; ++s) {
          for (int j = 0; j < 4; ++j) {  // C's level and the serving levels: -1 or a level
            if (rw[7 * s + j] < -1 || rw[7 * s + j] >= groups) {
              throw std::invalid_argument("rows' levels must be -1 or a level index");
            }
          }
          for (int j = 4; j < 7; ++j) {
            if (rw[7 * s + j] < 0 || rw[7 * s + j] > 3) {
              throw std::invalid_argument("rows' refetch loops must be 0..3");
            }
          }
        }
        // per role (A, B, C) the levels behind its home, innermost first, -1 padded
        std::optional<I64> chains;
        const int64_t* ch = nullptr;
        int64_t chain_width = 0;
        if (!chains_in.is_none()) {
          const py::array given = py::array::ensure(chains_in);
          if (!given) throw std::invalid_argument("chains must be an array");
          chains.emplace(real_array<int64_t>(given, "chains"));
          if (chains->ndim() != 2 || chains->shape(0) != 3) {
            throw std::invalid_argument("chains must have shape (3, levels)");
          }
          chain_width = chains->shape(1);
          ch = chains->data();
          for (int64_t j = 0; j < 3 * chain_width; ++j) {
            if (ch[j] < -1 || ch[j] >= groups) {
              throw std::invalid_argument("chains' levels must be -1 or a level index");
            }
          }
        }
        const py::ssize_t n = trips_m.ndim() == 1 ? trips_m.shape(0) : -1;
        if (n < 0) throw std::invalid_argument("trips_m must be 1-D");
        require_shape(trips_n, "trips_n", n, -1);
        require_shape(trips_k, "trips_k", n, -1);
        PortCandidates c;
        c.n = n;
        c.trips_m = trips_m.data();
        c.trips_n = trips_n.data();
        c.trips_k = trips_k.data();
        const std::pair<F64*, const double**> arrays[] = {
            {&a_bits, &c.a_bits}, {&b_bits, &c.b_bits}, {&psum_r, &c.psum_r},
            {&psum_w, &c.psum_w}, {&a_pass, &c.a_pass}, {&b_pass, &c.b_pass},
            {&c_pass, &c.c_pass}, {&p_pass, &c.p_pass}, {&drain, &c.drain},
            {&accumulate, &c.accumulate}};
        for (const auto& [array, field] : arrays) {
          require_shape(*array, "a candidate array", n, -1);
          *field = array->data();
        }
        // the table and the per-level sums it is built from, before any is allocated
        require_output_bytes("port_cycles_table's slices x candidates",
                             static_cast<double>(count) * static_cast<double>(n), 8);
        require_output_bytes("port_cycles_table's levels x candidates x 2",
                             2.0 * static_cast<double>(groups) * static_cast<double>(n), 8);
        py::array_t<double> out({static_cast<py::ssize_t>(count), n});
        double* dst = out.mutable_data();
        {
          GilRelease release;
          port_cycles_table(groups, rt, home_in, home_w, home_out, count, rw, a_on_chip, c,
                            dst, ch, chain_width, c_kept);
        }
        return out;
      },
      py::arg("rates"), py::arg("home"), py::arg("rows"), py::arg("a_on_chip"),
      py::arg("trips_m"), py::arg("trips_n"), py::arg("trips_k"), py::arg("a_bits"),
      py::arg("b_bits"), py::arg("psum_r"), py::arg("psum_w"), py::arg("a_pass"),
      py::arg("b_pass"), py::arg("c_pass"), py::arg("p_pass"), py::arg("drain"),
      py::arg("accumulate"), py::arg("chains") = py::none(), py::arg("c_kept") = false,
      "The scratchpads' port cycles of every (slice, candidate) of a GEMM's tiling search "
      "(slices x candidates). Internal to pysim.mapping.tiling.plan_gemm; "
      "pysim.mapping.tiling.slice_port_cycles_reference computes the same in NumPy.");

  m.def(
      "systolic_tile_sums",
      [](int64_t rows, int64_t cols, std::tuple<int, int, int> spatial, bool scalesim,
         int64_t pe_weights, int64_t arrays, int64_t m, int64_t n, int64_t k,
         const py::array& mt_in, const py::array& nt_in, const py::array& kt_in) {
        I64 mt = real_array<int64_t>(mt_in, "mt");
        I64 nt = real_array<int64_t>(nt_in, "nt");
        I64 kt = real_array<int64_t>(kt_in, "kt");
        const auto [on_rows, on_cols, split] = spatial;
        for (int d : {on_rows, on_cols, split}) {
          if (d < 0 || d > 2) throw std::invalid_argument("spatial dimensions must be 0..2");
        }
        if (on_rows == on_cols) {
          throw std::invalid_argument("spatial: the rows and columns need two dimensions");
        }
        for (const auto& [value, name] : {std::pair{rows, "rows"}, std::pair{cols, "cols"},
                                          std::pair{pe_weights, "pe_weights"},
                                          std::pair{arrays, "arrays"}, std::pair{m, "m"},
                                          std::pair{n, "n"}, std::pair{k, "k"}}) {
          if (value < 1 || value > (int64_t{1} << 31)) {
            throw std::invalid_argument(std::string(name) + " must be in 1..2^31, got " +
                                        std::to_string(value));
          }
        }
        const py::ssize_t count = mt.ndim() == 1 ? mt.shape(0) : -1;
        if (count < 0) throw std::invalid_argument("mt must be 1-D");
        require_shape(nt, "nt", count, -1);
        require_shape(kt, "kt", count, -1);
        const int64_t* tiles[3] = {mt.data(), nt.data(), kt.data()};
        for (int d = 0; d < 3; ++d) {
          for (py::ssize_t i = 0; i < count; ++i) {
            if (tiles[d][i] < 1 || tiles[d][i] > (int64_t{1} << 31)) {
              throw std::invalid_argument("tiles must be in 1..2^31");
            }
          }
        }
        require_output_bytes("systolic_tile_sums' output", 5.0 * static_cast<double>(count),
                             8);
        SystolicSpec2 spec;
        spec.rows = rows;
        spec.cols = cols;
        spec.on_rows = on_rows;
        spec.on_cols = on_cols;
        spec.split = split;
        spec.scalesim = scalesim;
        spec.pe_weights = pe_weights;
        spec.arrays = arrays;
        py::array_t<int64_t> out({py::ssize_t{5}, count});
        int64_t* dst = out.mutable_data();
        {
          GilRelease release;
          systolic_tile_sums(spec, m, n, k, count, tiles[0], tiles[1], tiles[2], dst);
        }
        return out;
      },
      py::arg("rows"), py::arg("cols"), py::arg("spatial"), py::arg("scalesim"),
      py::arg("pe_weights"), py::arg("arrays"), py::arg("m"), py::arg("n"), py::arg("k"),
      py::arg("mt"), py::arg("nt"), py::arg("kt"),
      "A systolic array's tile model summed over an M x N x K GEMM per candidate tiling: (5, "
      "candidates) int64 rows of cycles, A reads, B reads, partial sums written and read back. "
      "Internal to pysim.mapping.tiling.plan_gemm; pysim.mapping.tiling.tile_sums_reference "
      "computes the same in NumPy.");
  m.def(
      "plan_candidates",
      [](std::tuple<int64_t, int64_t, int64_t> dims,
         std::tuple<py::array, py::array, py::array> cands_in,
         std::tuple<int64_t, int64_t, int64_t> grains,
         std::tuple<int64_t, int64_t, int64_t> bits, bool a_on_chip,
         std::optional<py::array> a_per_k_in, std::tuple<double, double> scales,
         const py::array& fit_in, const py::array& anywhere_in,
         std::tuple<py::array, py::array, py::array, py::array> passes_in, int a_pass_dim,
         std::optional<std::tuple<py::array, py::array, py::array>> slow_in, bool timed,
         int64_t max_steps, const py::array& held_terms_in, const py::array& held_which_in,
         int64_t vary, std::optional<py::array> vary_anywhere_in) {
        CandidateSetup in;
        std::tie(in.dims[0], in.dims[1], in.dims[2]) = dims;
        for (int d = 0; d < 3; ++d) {
          if (in.dims[d] < 1) {
            throw std::invalid_argument("dims must be >= 1, got " + std::to_string(in.dims[d]));
          }
        }
        I64 cands[3] = {int_array(std::get<0>(cands_in), "cands[0]"),
                        int_array(std::get<1>(cands_in), "cands[1]"),
                        int_array(std::get<2>(cands_in), "cands[2]")};
        double product = 1.0;
        for (int d = 0; d < 3; ++d) {
          const I64& c = cands[d];
          if (c.ndim() != 1 || c.shape(0) < 1) {
            throw std::invalid_argument("cands must be three non-empty 1-D arrays");
          }
          for (py::ssize_t i = 0; i < c.shape(0); ++i) {
            if (c.data()[i] < 1 || (i > 0 && c.data()[i] < c.data()[i - 1])) {
              throw std::invalid_argument("cands must be ascending and >= 1");
            }
          }
          in.cands[d] = c.data();
          in.count[d] = c.shape(0);
          product *= static_cast<double>(c.shape(0));
        }
        // the product's tilings, and what is allocated per tiling (its tile bytes, a position,
        // 31 figures and a fit flag per slice), before any is
        require_within("plan_candidates' candidate tilings", product, int64_t{1} << 24);
        std::tie(in.grains[0], in.grains[1], in.grains[2]) = grains;
        for (int d = 0; d < 3; ++d) {  // a tile narrower than the grain has a grain-wide one
          if (in.cands[d][in.count[d] - 1] < std::min(in.dims[d], in.grains[d])) {
            throw std::invalid_argument("cands must reach min(dims, grains) in each dimension");
          }
        }
        std::tie(in.a_bits, in.b_bits, in.psum_bits) = bits;
        in.a_on_chip = a_on_chip;
        std::optional<F64> a_per_k;
        if (a_per_k_in) {
          a_per_k = float_array(*a_per_k_in, "a_per_k");
          require_shape(*a_per_k, "a_per_k", in.count[0], -1);
          in.a_per_k = a_per_k->data();
        }
        std::tie(in.a_scales, in.b_scales) = scales;
        I64 fit = capacity_rows(fit_in, "fit");
        I64 anywhere = capacity_rows(anywhere_in, "anywhere");
        in.n_fit = fit.shape(0);
        in.fit = fit.data();
        in.n_anywhere = anywhere.shape(0);
        in.anywhere = anywhere.data();
        if (a_pass_dim != 0 && a_pass_dim != 2) {
          throw std::invalid_argument("a_pass_dim must be 0 or 2, got " +
                                      std::to_string(a_pass_dim));
        }
        in.a_pass_dim = a_pass_dim;
        I64 pass[4] = {int_array(std::get<0>(passes_in), "passes[0]"),
                       int_array(std::get<1>(passes_in), "passes[1]"),
                       int_array(std::get<2>(passes_in), "passes[2]"),
                       int_array(std::get<3>(passes_in), "passes[3]")};
        require_shape(pass[0], "passes[0]", in.count[a_pass_dim], -1);
        for (int r = 1; r < 4; ++r) require_shape(pass[r], "passes[1..3]", in.count[1], -1);
        in.a_pass = pass[0].data();
        in.b_pass = pass[1].data();
        in.c_pass = pass[2].data();
        in.p_pass = pass[3].data();
        std::optional<F64> slow[3];
        if (slow_in) {
          slow[0] = float_array(std::get<0>(*slow_in), "slow[0]");
          slow[1] = float_array(std::get<1>(*slow_in), "slow[1]");
          slow[2] = float_array(std::get<2>(*slow_in), "slow[2]");
          require_shape(*slow[0], "slow[0]", in.count[0], in.count[2]);
          require_shape(*slow[1], "slow[1]", in.count[2], in.count[1]);
          require_shape(*slow[2], "slow[2]", in.count[0], in.count[1]);
          in.slow_a = slow[0]->data();
          in.slow_b = slow[1]->data();
          in.slow_c = slow[2]->data();
        }
        in.timed = timed;
        in.max_steps = max_steps;
        I64 terms = int_array(held_terms_in, "held_terms");
        I64 which = int_array(held_which_in, "held_which");
        if (terms.ndim() != 2 || (terms.shape(0) > 0 && terms.shape(1) < 1)) {
          throw std::invalid_argument("held_terms must have shape (sums, width >= 1)");
        }
        for (py::ssize_t j = 0; j < terms.size(); ++j) {
          if (terms.data()[j] < 0 || terms.data()[j] > 12) {
            throw std::invalid_argument("held_terms must be held-row indices 0..12");
          }
        }
        if (which.ndim() != 2) throw std::invalid_argument("held_which must be 2-D");
        in.held_groups = which.shape(0);
        in.slices = which.shape(1);
        in.held_sums = terms.shape(0);
        in.held_width = terms.shape(1);
        if (in.held_groups != in.n_fit) {
          throw std::invalid_argument("held_which must have a row per capacity group (fit row)");
        }
        std::vector<int64_t> group_of(static_cast<size_t>(in.held_sums), -1);
        for (py::ssize_t j = 0; j < which.size(); ++j) {
          const int64_t r = which.data()[j], g = j / std::max<int64_t>(in.slices, 1);
          if (r < 0 || r >= in.held_sums) {
            throw std::invalid_argument("held_which must index held_terms' rows");
          }
          if (group_of[static_cast<size_t>(r)] >= 0 && group_of[static_cast<size_t>(r)] != g) {
            throw std::invalid_argument("held_which's groups must index distinct held_terms rows");
          }
          group_of[static_cast<size_t>(r)] = g;
        }
        in.held_terms = terms.data();
        in.held_which = which.data();
        if (vary < -1 || vary >= in.n_fit) {
          throw std::invalid_argument("vary must be a fit row (0.." + std::to_string(in.n_fit - 1) +
                                      ") or -1, got " + std::to_string(vary));
        }
        in.vary = vary;
        std::vector<uint8_t> vary_anywhere(static_cast<size_t>(in.n_anywhere), 0);
        if (vary_anywhere_in) {
          const I64 flags = int_array(*vary_anywhere_in, "vary_anywhere");
          require_shape(flags, "vary_anywhere", in.n_anywhere, -1);
          for (int64_t r = 0; r < in.n_anywhere; ++r) {
            vary_anywhere[static_cast<size_t>(r)] = flags.data()[r] != 0 ? 1 : 0;
            // a row of the varying group holds its bytes: one room for both
            const bool other_bytes = vary < 0 || in.anywhere[3 * r + 1] != in.fit[3 * vary + 1];
            if (flags.data()[r] != 0 && other_bytes) {
              throw std::invalid_argument(
                  "vary_anywhere flags anywhere row " + std::to_string(r) +
                  " whose bytes are not the varying fit row's (or no fit row varies)");
            }
          }
        }
        in.vary_anywhere = vary_anywhere.data();
        require_output_bytes("plan_candidates' slices x candidate tilings",
                             static_cast<double>(in.slices) * product, 1);
        require_output_bytes("plan_candidates' held sums x candidate tilings",
                             static_cast<double>(in.held_sums) * product, 1);
        if (vary >= 0) {  // the room keeps each of the varying group's sums per tiling
          const auto sums = std::count(group_of.begin(), group_of.end(), vary);
          require_output_bytes("plan_candidates' varying group's sums x candidate tilings",
                               static_cast<double>(sums) * product, 8);
        }
        require_output_bytes("plan_candidates' figures x candidate tilings", 46.0 * product, 8);
        // ~3 ns a unit: each tiling's figures, and per slice its fit in each group and its
        // grain-narrow pruning
        require_within("plan_candidates' work (tilings x (46 + slices x (groups + 3)))",
                       product * (46.0 + static_cast<double>(in.slices) *
                                             static_cast<double>(in.held_groups + 3)),
                       int64_t{1} << 30);
        Room room;
        Room* asked = vary >= 0 ? &room : nullptr;
        const std::vector<int64_t> pos =
            without_gil([&](const Poll& poll) { return candidate_fits(in, poll, asked); });
        const auto count = static_cast<py::ssize_t>(pos.size());
        py::array_t<int64_t> pos_out(count);
        std::copy(pos.begin(), pos.end(), pos_out.mutable_data());
        py::array_t<int64_t> ints({py::ssize_t{11}, count});
        py::array_t<double> rows({py::ssize_t{20}, count});
        py::array_t<bool> fits({static_cast<py::ssize_t>(in.slices), count});
        if (count > 0) {
          int64_t* ints_p = ints.mutable_data();
          double* rows_p = rows.mutable_data();
          auto* fits_p = reinterpret_cast<uint8_t*>(fits.mutable_data());
          without_gil([&](const Poll& poll) {
            candidate_setup(in, pos, ints_p, rows_p, fits_p, poll, asked);
            return 0;
          });
        }
        py::object room_out = py::none();
        if (asked != nullptr) room_out = py::make_tuple(room.lo, room.hi);
        return std::make_tuple(pos_out, ints, rows, fits, room_out);
      },
      py::arg("dims"), py::arg("cands"), py::arg("grains"), py::arg("bits"),
      py::arg("a_on_chip"), py::arg("a_per_k"), py::arg("scales"), py::arg("fit"),
      py::arg("anywhere"), py::arg("passes"), py::arg("a_pass_dim"), py::arg("slow"),
      py::arg("timed"), py::arg("max_steps"), py::arg("held_terms"), py::arg("held_which"),
      py::arg("vary") = -1, py::arg("vary_anywhere") = py::none(),
      "A GEMM's tiling candidates for the search: (the fitting tilings' indices into the "
      "product of the candidate sizes, (11, n) int64 figures, (20, n) search_plans rows, "
      "(slices, n) fits, and where `vary` names a fit row (a group whose bytes change from call "
      "to call; `vary_anywhere` flags its anywhere rows) the (lo, hi) bytes of that group, "
      "inclusive, over which all of them stay the same, else None). Internal to "
      "pysim.mapping.tiling.plan_gemm; "
      "pysim.mapping.tiling._setup_reference computes the same in NumPy.");
  m.def(
      "place_stays",
      [](const py::array& first_in, const py::array& nbytes_in, const py::array& start_in,
         const py::array& ends_in, int64_t budget, bool lowest, int64_t give_up_at) {
        const I64 first = int_array(first_in, "first"), nbytes = int_array(nbytes_in, "nbytes");
        const I64 start = int_array(start_in, "start"), ends = int_array(ends_in, "ends");
        for (const auto* x : {&first, &nbytes, &start, &ends}) {
          if (x->ndim() != 1) throw std::invalid_argument("first, nbytes, start, ends: 1-D");
        }
        const py::ssize_t n = first.shape(0);
        require_shape(nbytes, "nbytes", n, -1);
        require_shape(start, "start", n + 1, -1);
        constexpr int64_t kBig = int64_t{1} << 62;  // offsets + bytes stay far from wrapping
        if (budget < 0 || budget >= kBig) {
          throw std::invalid_argument("budget must be in 0..2^62, got " +
                                      std::to_string(budget));
        }
        const int64_t* st = start.data();
        if (st[0] != 0 || st[n] != ends.shape(0)) {
          throw std::invalid_argument("start must run from 0 to len(ends)");
        }
        for (py::ssize_t i = 0; i < n; ++i) {
          if (st[i + 1] < st[i]) throw std::invalid_argument("start must be non-decreasing");
          if (nbytes.data()[i] < 0 || nbytes.data()[i] >= kBig) {
            throw std::invalid_argument("nbytes must be in 0..2^62, got " +
                                        std::to_string(nbytes.data()[i]));
          }
        }
        // each of a stay's tries scans the blocks placed before it: ~3 ns a unit
        require_within("place_stays' work (stays x gaps)",
                       static_cast<double>(n) * static_cast<double>(ends.shape(0)),
                       int64_t{1} << 30);
        StayList in{static_cast<int64_t>(n), first.data(), nbytes.data(), st, ends.data()};
        const StayPlacement placed =
            without_gil([&](const Poll& poll) {
              return place_stays(in, budget, poll, lowest, give_up_at);
            });
        using Arrays = std::tuple<py::array_t<int64_t>, py::array_t<int64_t>>;
        if (placed.abandoned) return std::optional<Arrays>();
        py::array_t<int64_t> offset(n), kept(n);
        std::copy(placed.offset.begin(), placed.offset.end(), offset.mutable_data());
        std::copy(placed.kept.begin(), placed.kept.end(), kept.mutable_data());
        return std::optional<Arrays>(Arrays(offset, kept));
      },
      py::arg("first"), py::arg("nbytes"), py::arg("start"), py::arg("ends"), py::arg("budget"),
      py::arg("lowest") = false, py::arg("give_up_at") = -1,
      "Best fit (or with `lowest` first fit) of kept stays in the order given: (offset per "
      "stay, -1 if dropped; gaps kept per stay); None once the stays placed have lost "
      "`give_up_at` bytes x gaps (>= 0; -1: never). Internal to pysim.mapping.kept_area.place; "
      "kept_area._place_in_reference computes the same in Python.");
}

}  // namespace pysim::bindings
