#include "mapping/search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <vector>

namespace pysim {

double op_pipeline_cycles(int64_t steps, double compute, double read, double write,
                          int64_t halves) {
  const double c = compute / static_cast<double>(steps);
  const double r = read / static_cast<double>(steps);
  const double w = write / static_cast<double>(steps);
  // The search schedules many ops of a few steps: their times live on the stack.
  constexpr int64_t kOnStack = 64;
  double on_stack[3 * kOnStack];
  std::vector<double> on_heap;
  double* times = on_stack;
  if (steps > kOnStack) {
    on_heap.resize(static_cast<size_t>(3 * steps));
    times = on_heap.data();
  }
  std::fill(times, times + 3 * steps, 0.0);
  double* const load_end = times;
  double* const comp_end = times + steps;
  double* const store_end = times + 2 * steps;
  double bus = 0.0;
  int64_t loads = 0, comps = 0, stores = 0;
  while (stores < steps) {
    // Compute step i once it is loaded, step i-1 is computed and an output half is free.
    while (comps < loads && (comps < halves || comps - halves < stores)) {
      double ready = load_end[comps];
      if (comps > 0) ready = std::max(ready, comp_end[comps - 1]);
      if (comps >= halves) ready = std::max(ready, store_end[comps - halves]);
      comp_end[comps] = ready + c;
      ++comps;
    }
    bool can_load = loads < steps && (loads < halves || loads - halves < comps);
    bool can_store = stores < comps;
    double t_load = 0.0, t_store = 0.0;
    if (can_load) {
      t_load = loads ? load_end[loads - 1] : 0.0;
      if (loads >= halves) t_load = std::max(t_load, comp_end[loads - halves]);
    }
    if (can_store) {
      t_store = comp_end[stores];
      if (stores > 0) t_store = std::max(t_store, store_end[stores - 1]);
    }
    // A transfer of d cycles waits for the bus; one of no bytes takes neither bus nor time.
    auto transfer = [&bus](double ready, double d) {
      if (d <= 0) return ready;
      bus = std::max(ready, bus) + d;
      return bus;
    };
    if (!can_store || (can_load && t_load <= t_store)) {
      load_end[loads] = transfer(t_load, r);
      ++loads;
    } else {
      store_end[stores] = transfer(t_store, w);
      ++stores;
    }
  }
  return std::max(store_end[steps - 1], load_end[steps - 1]);
}

double op_pipeline_lower_bound(int64_t steps, double compute, double read, double write) {
  const double s = static_cast<double>(steps);
  const double r = read / s, c = compute / s, w = write / s;
  return std::max(std::max(read + write, r + compute + w), std::max(read + c + w, r + c + write));
}

namespace {

struct Figures {
  double total = 0.0, bus_read = 0.0, bus_write = 0.0, energy = 0.0, bound = 0.0;
};

double trip(const PlanCandidates& c, int64_t row, int64_t i) {
  switch (row) {
    case 1: return c.trips_m[i];
    case 2: return c.trips_n[i];
    case 3: return c.trips_k[i];
    default: return 1.0;
  }
}

// The candidate's compute cycles, or its ports' cycles in this slice when they are longer.
double compute_of(const PlanCandidates& c, const PlanSlices& sl, int64_t s, int64_t i) {
  const double compute = c.compute[i];
  return sl.port_cycles ? std::max(compute, sl.port_cycles[s * c.n + i]) : compute;
}

Figures figures(const PlanPrices& p, const PlanCandidates& c, const PlanSlices& sl, int64_t s,
                int64_t i) {
  Figures f;
  const double ra = trip(c, sl.refetch_a[s], i), rb = trip(c, sl.refetch_b[s], i);
  const double rc = trip(c, sl.refetch_c[s], i);
  const double a_reads = p.a_on_chip ? 0.0 : c.a_pass[i] * ra;
  const double b_reads = c.b_pass[i] * rb;
  const double spills = rc - 1.0;
  const double c_writes = (p.c_kept ? 0.0 : c.c_pass[i]) + c.p_pass[i] * spills;
  const double c_reads = c.p_pass[i] * spills;
  f.total = a_reads + b_reads + c_writes + c_reads;
  if (p.kind == PlanObjective::Traffic) {
    const double runs = (p.a_on_chip ? 0.0 : c.a_runs[i] * ra) + c.b_runs[i] * rb +
                        c.c_runs[i] * (1.0 + 2.0 * spills);
    f.bound = f.energy = f.total + p.run_overhead_bytes * runs;
    return f;
  }
  const double reads = a_reads + b_reads + c_reads;
  const double lat = p.transfer_latency * c.steps[i];
  // As the engine times the op (engine/dram.py transfer_timing): every byte, read or written,
  // at the op's one achieved bandwidth, the harmonic mean of its streams'.
  const double moved = reads + c_writes;
  const double per_byte =
      moved > 0 ? (a_reads * c.slow_a[i] + b_reads * c.slow_b[i] +
                   (c_reads + c_writes) * c.slow_c[i]) / p.bytes_per_cycle / moved
                : 0.0;
  f.bus_read = reads > 0 ? reads * per_byte + lat : 0.0;
  f.bus_write = c_writes > 0 ? c_writes * per_byte + lat : 0.0;
  const double fills = 8.0 * (a_reads * p.input_write_pj_per_bit +
                              b_reads * p.weight_write_pj_per_bit +
                              c_reads * sl.c_write_pj[s] + c_writes * sl.c_read_pj[s]);
  const double through = 8.0 * (p.input_through_pj_per_bit * a_reads +
                                p.weight_through_pj_per_bit * b_reads +
                                sl.c_through_pj[s] * (c_reads + c_writes));
  const double served =
      8.0 * ((sl.served_a[s] ? sl.serve_a_pj[s] * c.a_pass[i] * (c.trips_n[i] - 1.0) : 0.0) +
             (sl.served_b[s] ? sl.serve_b_pj[s] * c.b_pass[i] * (c.trips_m[i] - 1.0) : 0.0) +
             (sl.served_c[s] ? sl.serve_c_pj[s] * c.p_pass[i] * (c.trips_k[i] - 1.0) : 0.0));
  f.energy = reads * p.dram_read_pj_per_byte + c_writes * p.dram_write_pj_per_byte +
             c.sram_ab[i] + c.psum_w_bits[i] * sl.c_write_pj[s] +
             c.psum_r_bits[i] * sl.c_read_pj[s] + fills + p.fixed_pj + through + served;
  const double fastest = op_pipeline_lower_bound(static_cast<int64_t>(c.steps[i]),
                                                  compute_of(c, sl, s, i), f.bus_read,
                                                  f.bus_write);
  f.bound = p.kind == PlanObjective::Latency ? fastest
            : p.kind == PlanObjective::Energy ? f.energy
                                              : f.energy * fastest;
  return f;
}

}  // namespace

PlanChoice search_plans(const PlanPrices& p, const PlanCandidates& c, const PlanSlices& sl) {
  const int64_t n = c.n, total_count = sl.count * c.n;
  // The fitting (slice, candidate) pairs only, flat = slice x n + candidate ascending, each
  // referred to by its position here (a table of every pair is mostly empty and, at some
  // hundred kB, costs more to map and clear than to fill).
  int64_t fitting = 0;
  for (int64_t flat = 0; flat < total_count; ++flat) fitting += sl.fits[flat] ? 1 : 0;
  std::vector<Figures> fig;
  std::vector<int64_t> flat_of;
  fig.reserve(static_cast<size_t>(fitting));
  flat_of.reserve(static_cast<size_t>(fitting));
  for (int64_t s = 0; s < sl.count; ++s) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t flat = s * n + i;
      if (!sl.fits[flat]) continue;
      fig.push_back(figures(p, c, sl, s, i));
      flat_of.push_back(flat);
    }
  }
  PlanChoice out;
  if (flat_of.empty()) return out;
  // Lexicographic: the objective's bound, DRAM bytes, tiles, long K per tile, less kept.
  auto key = [&](int64_t at, double primary) {
    const int64_t flat = flat_of[at], i = flat % n;
    return std::make_tuple(primary, fig[at].total, c.tiles[i], -c.kt[i], sl.kept[flat / n]);
  };
  // Positions sorted by key(at, bound), each key worked out once.
  struct Keyed {
    double bound, total, tiles, neg_kt;
    int64_t kept, at;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(fig.size());
  for (size_t at = 0; at < fig.size(); ++at) {
    const int64_t flat = flat_of[at], i = flat % n;
    keyed.push_back({fig[at].bound, fig[at].total, c.tiles[i], -c.kt[i], sl.kept[flat / n],
                     static_cast<int64_t>(at)});
  }
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& x, const Keyed& y) {
    return std::tie(x.bound, x.total, x.tiles, x.neg_kt, x.kept) <
           std::tie(y.bound, y.total, y.tiles, y.neg_kt, y.kept);
  });
  std::vector<int64_t> order(keyed.size());
  for (size_t j = 0; j < keyed.size(); ++j) order[j] = keyed[j].at;
  auto schedule = [&](int64_t at) {
    const int64_t flat = flat_of[at], i = flat % n;
    return op_pipeline_cycles(static_cast<int64_t>(c.steps[i]), compute_of(c, sl, flat / n, i),
                              fig[at].bus_read, fig[at].bus_write, p.halves);
  };
  if (p.kind == PlanObjective::Traffic || p.kind == PlanObjective::Energy) {
    const int64_t first = order.front();  // the bound is exact
    out.flat = flat_of[first];
    out.latency = p.kind == PlanObjective::Traffic ? fig[first].bound : schedule(first);
    out.energy = fig[first].energy;
    return out;
  }
  // Branch and bound: walk by bound until it passes the best exact value found.
  const double inf = std::numeric_limits<double>::infinity();
  double best_value = inf, best_latency = 0.0;
  int64_t best = -1;
  for (int64_t at : order) {
    if (fig[at].bound > best_value) break;
    const double latency = schedule(at);
    const double value = p.kind == PlanObjective::Latency ? latency : latency * fig[at].energy;
    if (best < 0 || key(at, value) < key(best, best_value)) {
      best = at;
      best_value = value;
      best_latency = latency;
    }
  }
  if (p.kind == PlanObjective::Latency) {
    // Latencies within latency_tie of the fastest tie: the least energy among them wins.
    const double limit = best_latency * (1.0 + p.latency_tie);
    std::vector<int64_t> near;
    for (int64_t at : order) {
      if (fig[at].bound > limit) break;
      if (fig[at].energy < fig[best].energy) near.push_back(at);
    }
    std::sort(near.begin(), near.end(), [&](int64_t x, int64_t y) {
      return std::make_tuple(fig[x].energy, fig[x].total) <
             std::make_tuple(fig[y].energy, fig[y].total);
    });
    for (int64_t at : near) {
      const double latency = schedule(at);
      if (latency <= limit) {
        best = at;
        best_latency = latency;
        break;
      }
    }
  }
  out.flat = flat_of[best];
  out.latency = best_latency;
  out.energy = fig[best].energy;
  return out;
}

void port_cycles_table(int64_t n_groups, const double* rates, int64_t home_in, int64_t home_w,
                       int64_t home_out, int64_t n_rows, const int64_t* rows, bool a_on_chip,
                       const PortCandidates& c, double* out, const int64_t* chains,
                       int64_t chain_width, bool c_kept) {
  const int64_t n = c.n;
  const size_t cells = static_cast<size_t>(n_groups * n);
  // Per level, the bits read and written by every candidate, each term added over all
  // candidates in the reference's order (the same doubles, in loops the compiler vectorises);
  // a level no term touches is skipped, as the reference skips its untouched `zero`.
  std::vector<double> r(cells), w(cells);
  std::vector<char> touched(static_cast<size_t>(n_groups));
  std::vector<int64_t> done;  // slices computed so far (equal rows share their figures)
  auto add = [&](std::vector<double>& to, int64_t g, auto term) {
    double* x = to.data() + g * n;
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] + term(i);
    touched[g] = 1;
  };
  auto fill = [&](int64_t code, const double* pass) {  // one pass x the trips of loop `code`
    return [=](int64_t i) {
      const double trip = code == 0   ? 1.0
                          : code == 1 ? static_cast<double>(c.trips_m[i])
                          : code == 2 ? static_cast<double>(c.trips_n[i])
                                      : static_cast<double>(c.trips_k[i]);
      return 8.0 * pass[i] * trip;
    };
  };
  for (int64_t s = 0; s < n_rows; ++s) {
    const int64_t* row = rows + 7 * s;
    double* dst = out + s * n;
    const auto same = std::find_if(done.begin(), done.end(), [&](int64_t t) {
      return std::equal(row, row + 7, rows + 7 * t);
    });
    if (same != done.end()) {
      std::copy(out + *same * n, out + (*same + 1) * n, dst);
      continue;
    }
    done.push_back(s);
    const int64_t c_at = row[0], ga = row[1], gb = row[2], gc = row[3], ra = row[4],
                  rb = row[5], rc = row[6];
    const int64_t cg = c_at < 0 ? home_out : c_at;
    std::fill(r.begin(), r.end(), 0.0);
    std::fill(w.begin(), w.end(), 0.0);
    std::fill(touched.begin(), touched.end(), 0);
    add(r, home_in, [&](int64_t i) { return c.a_bits[i]; });
    add(r, home_w, [&](int64_t i) { return c.b_bits[i]; });
    add(r, cg, [&](int64_t i) { return 8.0 * c.c_pass[i]; });  // the drain to DRAM
    if (c_at < 0) {  // partial sums at C's inner level
      add(r, cg, [&](int64_t i) { return c.psum_r[i]; });
      add(w, cg, [&](int64_t i) { return c.psum_w[i]; });
    } else {  // in sub-tiles at the inner level, each leaving to C's level once per K tile
      add(r, home_out, [&](int64_t i) { return (c.psum_r[i] - c.accumulate[i]) + c.drain[i]; });
      add(w, home_out, [&](int64_t i) { return c.psum_w[i]; });
      add(w, cg, [&](int64_t i) { return c.drain[i]; });
      add(r, cg, [&](int64_t i) { return c.accumulate[i]; });
    }
    if (!a_on_chip) add(w, home_in, fill(ra, c.a_pass));
    add(w, home_w, fill(rb, c.b_pass));
    if (ga >= 0 && !a_on_chip) {  // A's re-reads across N served by an outer level
      auto served = [&](int64_t i) {
        return 8.0 * c.a_pass[i] * static_cast<double>(c.trips_n[i] - 1);
      };
      add(r, ga, served);
      add(w, home_in, served);
    }
    if (gb >= 0) {  // B's across M
      auto served = [&](int64_t i) {
        return 8.0 * c.b_pass[i] * static_cast<double>(c.trips_m[i] - 1);
      };
      add(r, gb, served);
      add(w, home_w, served);
    }
    if (gc >= 0) {  // C's partial sums between K tiles: out of C's level and back
      auto spill = [&](int64_t i) {
        return 8.0 * c.p_pass[i] * static_cast<double>(c.trips_k[i] - 1);
      };
      for (int64_t g : {gc, cg}) {
        add(r, g, spill);
        add(w, g, spill);
      }
    }
    if (chains != nullptr) {
      auto trip = [&](int64_t code, int64_t i) {
        return code == 0   ? 1.0
               : code == 1 ? static_cast<double>(c.trips_m[i])
               : code == 2 ? static_cast<double>(c.trips_n[i])
                           : static_cast<double>(c.trips_k[i]);
      };
      // C's partial sums re-read from DRAM across loop rc: out of C's level and back in
      auto dram_spill = [&](int64_t i) { return 8.0 * c.p_pass[i] * (trip(rc, i) - 1.0); };
      if (rc != 0) {
        add(r, cg, dram_spill);
        add(w, cg, dram_spill);
      }
      // every DRAM byte of an operand passes the levels behind the one it lives at (written
      // and read there): A's and B's behind their homes, C's behind the level holding it
      const auto pass = [&](const int64_t* chain, int64_t from, auto bits) {
        bool behind = from < 0;
        for (int64_t j = 0; j < chain_width && chain[j] >= 0; ++j) {
          if (behind) {
            add(r, chain[j], bits);
            add(w, chain[j], bits);
          }
          behind = behind || chain[j] == from;
        }
      };
      if (!a_on_chip) pass(chains, -1, fill(ra, c.a_pass));
      pass(chains + chain_width, -1, fill(rb, c.b_pass));
      const double drained = c_kept ? 0.0 : 8.0;  // bits per byte of C's final pass to DRAM
      pass(chains + 2 * chain_width, c_at,
           [&](int64_t i) { return drained * c.c_pass[i] + 2.0 * dram_spill(i); });
      if (c_kept && cg != home_in) {  // kept for its consumers: moved into A's home level
        add(w, home_in, [&](int64_t i) { return 8.0 * c.c_pass[i]; });
      }
    }
    std::fill(dst, dst + n, 0.0);
    for (int64_t g = 0; g < n_groups; ++g) {
      if (!touched[g]) continue;
      // ScratchpadPorts' fewest cycles (pysim/config/memory.py, port_cycles): reads on the
      // read-capable ports, writes on the write-capable ones, both on all of them
      const double rr = rates[3 * g], wr = rates[3 * g + 1], ar = rates[3 * g + 2];
      const double* rg = r.data() + g * n;
      const double* wg = w.data() + g * n;
      for (int64_t i = 0; i < n; ++i) {
        const double t = std::max(std::max(rg[i] / rr, wg[i] / wr), (rg[i] + wg[i]) / ar);
        dst[i] = std::max(dst[i], t);
      }
    }
  }
}

namespace {

// NumPy's int64 arithmetic: two's complement, wrapping (signed overflow is undefined in C++).
inline int64_t mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
inline int64_t add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }  // a >= 0, b > 0

struct TileFigures {
  int64_t steady, fill, a_reads, b_reads, c_writes, c_reads;
};

// SystolicTiles.evaluate for one tile shape (dims[0..2] = m, n, k of the tile).
TileFigures tile_figures(const SystolicSpec2& s, const int64_t dims[3]) {
  const int64_t r = s.rows, c = s.cols;
  const int streamed = 3 - s.on_rows - s.on_cols;
  int64_t each[3] = {dims[0], dims[1], dims[2]};
  int64_t used = s.arrays;
  if (s.split == 2 && streamed != 2) {  // K fills one array's lanes before the next
    const int64_t lanes = s.on_rows == 2 ? r : c;
    used = std::min(s.arrays, cdiv(dims[2], lanes));
  }
  each[s.split] = cdiv(dims[s.split], used);
  const int64_t sr = each[s.on_rows], sc = each[s.on_cols], t = each[streamed];
  const int64_t row_folds = cdiv(sr, r), col_folds = cdiv(sc, c);
  const int64_t folds = mul(row_folds, col_folds);
  // the operand indexed by both spatial dimensions stays: A (m, k), B (k, n), C (m, n)
  const int pair = (1 << s.on_rows) | (1 << s.on_cols);
  const char still = pair == 0b101 ? 'a' : pair == 0b110 ? 'b' : 'c';
  const int64_t preload = still == 'c' ? 0 : r;
  const int64_t last = t + r + c - 2;
  TileFigures f{};
  if (s.scalesim) {
    f.steady = mul(folds, preload + last);
    f.fill = 0;
  } else {
    const int64_t interval = std::max(t, r);
    f.steady = mul(folds, interval);
    f.fill = preload + last - interval;
  }
  const int64_t m = dims[0], n = dims[1], k = dims[2];
  const int64_t size_a = mul(m, k), size_b = mul(k, n), size_c = mul(m, n);
  // re-reads: once when stationary, once per column fold when it enters along the rows, else
  // once per row fold
  auto times = [&](char x, int d0, int d1) -> int64_t {
    if (x == still) return 1;
    return (s.on_rows == d0 || s.on_rows == d1) ? col_folds : row_folds;
  };
  const int64_t ta = times('a', 0, 2), tb = times('b', 2, 1), tc = times('c', 0, 1);
  int64_t cw = mul(tc, size_c);
  int64_t cr = still != 'c' ? sub(cw, size_c) : 0;
  if (s.pe_weights > 1 && still != 'c') {
    const int64_t k_lanes = s.on_rows == 2 ? r : c;
    const int64_t psum_folds = cdiv(each[2], mul(k_lanes, s.pe_weights));
    cw = mul(psum_folds, size_c);
    cr = mul(psum_folds - 1, size_c);
  }
  if (s.split == 2 && s.arrays > 1) {
    cw = mul(std::min(used, k), cw);
    cr = sub(cw, size_c);
  }
  f.a_reads = mul(ta, size_a);
  f.b_reads = mul(tb, size_b);
  f.c_writes = cw;
  f.c_reads = cr;
  return f;
}

}  // namespace

void systolic_tile_sums(const SystolicSpec2& spec, int64_t m, int64_t n, int64_t k,
                        int64_t count, const int64_t* mt, const int64_t* nt, const int64_t* kt,
                        int64_t* out) {
  for (int64_t i = 0; i < count; ++i) {
    // per dimension: (how many full tiles, their size), (0 or 1 ragged tile, its size)
    const int64_t dim[3] = {m, n, k}, tile[3] = {mt[i], nt[i], kt[i]};
    int64_t cnt[3][2], size[3][2];
    for (int d = 0; d < 3; ++d) {
      const int64_t rest = dim[d] % tile[d];
      cnt[d][0] = dim[d] / tile[d];
      size[d][0] = tile[d];
      cnt[d][1] = rest > 0 ? 1 : 0;
      size[d][1] = rest ? rest : tile[d];
    }
    int64_t cycles = 0, fill = 0, a = 0, b = 0, cw = 0, cr = 0;
    bool first = true;
    for (int x = 0; x < 2; ++x) {  // itertools.product order: m slowest
      for (int y = 0; y < 2; ++y) {
        for (int z = 0; z < 2; ++z) {
          const int64_t times = mul(mul(cnt[0][x], cnt[1][y]), cnt[2][z]);
          const int64_t shape[3] = {size[0][x], size[1][y], size[2][z]};
          const TileFigures f = tile_figures(spec, shape);
          cycles = add(cycles, mul(times, f.steady));
          const int64_t shown = times > 0 ? f.fill : 0;
          fill = first ? shown : std::max(fill, shown);
          first = false;
          a = add(a, mul(times, f.a_reads));
          b = add(b, mul(times, f.b_reads));
          cw = add(cw, mul(times, f.c_writes));
          cr = add(cr, mul(times, f.c_reads));
        }
      }
    }
    out[i] = add(cycles, fill);
    out[count + i] = a;
    out[2 * count + i] = b;
    out[3 * count + i] = cw;
    out[4 * count + i] = cr;
  }
}

}  // namespace pysim

namespace pysim {

namespace {

// NumPy's floor division of int64 by a positive divisor.
inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// plan_gemm's _nbytes: (elements x bits + 7) // 8 in wrapping int64.
inline int64_t nbytes(int64_t elements, int64_t bits) {
  return floor_div(add(mul(elements, bits), 7), 8);
}

// NumPy's astype(int64) of a float64 on x86-64: truncation, INT64_MIN when NaN or out of range.
inline int64_t to_int64(double x) {
  if (x >= -9223372036854775808.0 && x < 9223372036854775808.0) return static_cast<int64_t>(x);
  return std::numeric_limits<int64_t>::min();
}

// The candidates' tile bytes per pair of candidate sizes: A's per (m, k), B's per (k, n), C's
// per (m, n), row-major.
struct TileBytes {
  std::vector<int64_t> a, b, c;
};

TileBytes tile_bytes(const CandidateSetup& in) {
  const int64_t nm = in.count[0], nn = in.count[1], nk = in.count[2];
  const int64_t *cm = in.cands[0], *cn = in.cands[1], *ck = in.cands[2];
  TileBytes t;
  t.a.resize(static_cast<size_t>(nm * nk));
  t.b.resize(static_cast<size_t>(nk * nn));
  t.c.resize(static_cast<size_t>(nm * nn));
  for (int64_t i = 0; i < nm; ++i) {
    for (int64_t j = 0; j < nk; ++j) {
      int64_t a = in.a_on_chip ? 0 : nbytes(mul(cm[i], ck[j]), in.a_bits);
      if (in.a_per_k != nullptr && !in.a_on_chip) {
        a = std::min(a, to_int64(std::ceil(static_cast<double>(ck[j]) * in.a_per_k[i])));
      }
      if (in.a_scales != 1.0) a = to_int64(std::ceil(static_cast<double>(a) * in.a_scales));
      t.a[static_cast<size_t>(i * nk + j)] = a;
    }
  }
  for (int64_t j = 0; j < nk; ++j) {
    for (int64_t l = 0; l < nn; ++l) {
      int64_t b = nbytes(mul(ck[j], cn[l]), in.b_bits);
      if (in.b_scales != 1.0) b = to_int64(std::ceil(static_cast<double>(b) * in.b_scales));
      t.b[static_cast<size_t>(j * nn + l)] = b;
    }
  }
  for (int64_t i = 0; i < nm; ++i) {
    for (int64_t l = 0; l < nn; ++l) {
      t.c[static_cast<size_t>(i * nn + l)] = nbytes(mul(cm[i], cn[l]), in.psum_bits);
    }
  }
  return t;
}

// The bytes tiles of (a, b, c) bytes need of a capacity row (mask, bytes, multiplier).
inline int64_t row_need(const int64_t* row, int64_t a, int64_t b, int64_t c) {
  int64_t need = 0;
  if (row[0] & 1) need = add(need, a);
  if (row[0] & 2) need = add(need, b);
  if (row[0] & 4) need = add(need, c);
  return mul(need, row[2]);
}

// Whether tiles of (a, b, c) bytes pass the capacity rows (mask, bytes, multiplier).
inline bool passes(const int64_t* rows, int64_t count, int64_t a, int64_t b, int64_t c,
                   bool all) {
  for (int64_t r = 0; r < count; ++r) {
    const bool ok = row_need(rows + 3 * r, a, b, c) <= rows[3 * r + 1];
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  return all;
}

// Narrows `room` by the checks of tiles of (a, b, c) bytes against the varying group that
// decide whether the tiles pass: its fit row unless another fit row fails anyway, and its
// anywhere rows unless another anywhere row passes anyway.
void narrow_room(const CandidateSetup& in, int64_t a, int64_t b, int64_t c, Room& room) {
  auto need_of = [&](const int64_t* row) { return row_need(row, a, b, c); };
  for (int64_t r = 0; r < in.n_fit; ++r) {
    if (r != in.vary && need_of(in.fit + 3 * r) > in.fit[3 * r + 1]) return;
  }
  if (in.vary >= 0) room.check(need_of(in.fit + 3 * in.vary), in.fit[3 * in.vary + 1]);
  for (int64_t r = 0; r < in.n_anywhere; ++r) {
    if (!in.vary_anywhere[r] && need_of(in.anywhere + 3 * r) <= in.anywhere[3 * r + 1]) return;
  }
  for (int64_t r = 0; r < in.n_anywhere; ++r) {
    if (in.vary_anywhere[r]) room.check(need_of(in.anywhere + 3 * r), in.anywhere[3 * r + 1]);
  }
}

}  // namespace

std::vector<int64_t> candidate_fits(const CandidateSetup& in, const Poll& poll, Room* room) {
  const int64_t nm = in.count[0], nn = in.count[1], nk = in.count[2];
  const TileBytes t = tile_bytes(in);
  Ticker ticker(poll);
  std::vector<int64_t> pos;
  int64_t index = 0;
  for (int64_t i = 0; i < nm; ++i) {
    for (int64_t l = 0; l < nn; ++l) {
      ticker.tick(nk * (in.n_fit + in.n_anywhere + 1));
      for (int64_t j = 0; j < nk; ++j, ++index) {
        const int64_t a = t.a[static_cast<size_t>(i * nk + j)];
        const int64_t b = t.b[static_cast<size_t>(j * nn + l)];
        const int64_t c = t.c[static_cast<size_t>(i * nn + l)];
        if (room != nullptr) narrow_room(in, a, b, c, *room);
        if (!passes(in.fit, in.n_fit, a, b, c, true)) continue;
        if (in.n_anywhere > 0 && !passes(in.anywhere, in.n_anywhere, a, b, c, false)) continue;
        pos.push_back(index);
      }
    }
  }
  return pos;
}

void candidate_setup(const CandidateSetup& in, const std::vector<int64_t>& pos, int64_t* ints,
                     double* rows, uint8_t* fits, const Poll& poll, Room* room) {
  Ticker ticker(poll);
  const int64_t nm = in.count[0], nn = in.count[1], nk = in.count[2];
  const int64_t *cm = in.cands[0], *cn = in.cands[1], *ck = in.cands[2];
  const int64_t m = in.dims[0], n = in.dims[1], k = in.dims[2];
  const int64_t count = static_cast<int64_t>(pos.size());
  const TileBytes t = tile_bytes(in);
  // each dimension's trips per candidate size: -(-dim // size)
  std::vector<int64_t> trips[3];
  for (int d = 0; d < 3; ++d) {
    trips[d].resize(static_cast<size_t>(in.count[d]));
    for (int64_t i = 0; i < in.count[d]; ++i) {
      trips[d][static_cast<size_t>(i)] = -floor_div(-in.dims[d], in.cands[d][i]);
    }
  }
  const int64_t full3[3] = {nbytes(mul(m, k), in.a_bits), nbytes(mul(k, n), in.b_bits),
                            nbytes(mul(m, n), in.psum_bits)};
  const int64_t slices = in.slices, groups = in.held_groups;
  std::fill(fits, fits + slices * count, uint8_t{1});
  std::vector<int64_t> held(static_cast<size_t>(13 * count));
  std::vector<int64_t> steps_of(static_cast<size_t>(count));
  int64_t* row[11];
  for (int r = 0; r < 11; ++r) row[r] = ints + r * count;
  double* out[20];
  for (int r = 0; r < 20; ++r) out[r] = rows + r * count;
  for (int64_t p = 0; p < count; ++p) {
    ticker.tick(46);
    const int64_t x = pos[static_cast<size_t>(p)];
    const int64_t i = x / (nn * nk), l = x / nk % nn, j = x % nk;
    const int64_t mt = cm[i], nt = cn[l], kt = ck[j];
    const int64_t tm = trips[0][static_cast<size_t>(i)], tn = trips[1][static_cast<size_t>(l)],
                  tk = trips[2][static_cast<size_t>(j)];
    const int64_t tiles = mul(mul(tm, tn), tk);
    const int64_t a_pass = in.a_pass[in.a_pass_dim == 0 ? i : j];
    const int64_t b_pass = in.b_pass[l], c_pass = in.c_pass[l], p_pass = in.p_pass[l];
    const int64_t vals[11] = {mt, nt, kt, tm, tn, tk, tiles, a_pass, b_pass, c_pass, p_pass};
    for (int r = 0; r < 11; ++r) row[r][p] = vals[r];
    const int64_t steps = std::min(mul(tiles, mt), in.max_steps);
    steps_of[static_cast<size_t>(p)] = steps;
    const int64_t a_runs = kt >= k ? tm : mul(m, tk);
    const int64_t b_runs = nt >= n ? tk : mul(k, tn);
    const int64_t c_runs = nt >= n ? tm : mul(m, tn);
    const bool slow = in.slow_a != nullptr;
    const double rv[20] = {
        static_cast<double>(steps), 0.0, static_cast<double>(tiles), static_cast<double>(kt),
        static_cast<double>(a_pass), static_cast<double>(b_pass), static_cast<double>(c_pass),
        static_cast<double>(p_pass), slow ? in.slow_a[i * nk + j] : 1.0,
        slow ? in.slow_b[j * nn + l] : 1.0, slow ? in.slow_c[i * nn + l] : 1.0, 0.0, 0.0, 0.0,
        static_cast<double>(a_runs), static_cast<double>(b_runs), static_cast<double>(c_runs),
        static_cast<double>(tm), static_cast<double>(tn), static_cast<double>(tk)};
    for (int r = 0; r < 20; ++r) out[r][p] = rv[r];
    // the held rows: per operand its tile, its footprint with its first, second or both
    // dimensions whole; row 12 nothing
    const int64_t h[13] = {
        t.a[static_cast<size_t>(i * nk + j)], nbytes(mul(m, kt), in.a_bits),
        nbytes(mul(mt, k), in.a_bits),        full3[0],
        t.b[static_cast<size_t>(j * nn + l)], nbytes(mul(k, nt), in.b_bits),
        nbytes(mul(kt, n), in.b_bits),        full3[1],
        t.c[static_cast<size_t>(i * nn + l)], nbytes(mul(m, nt), in.psum_bits),
        nbytes(mul(mt, n), in.psum_bits),     full3[2],
        0};
    for (int r = 0; r < 13; ++r) held[static_cast<size_t>(r * count + p)] = h[r];
  }
  // Per distinct sum of held rows (each belongs to one group): whether it fits the group; then
  // per slice, whether every group's sum fits.
  std::vector<int64_t> group_of(static_cast<size_t>(in.held_sums), -1);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t s = 0; s < slices; ++s) {
      group_of[static_cast<size_t>(in.held_which[g * slices + s])] = g;
    }
  }
  std::vector<uint8_t> ok(static_cast<size_t>(in.held_sums * count));
  // where room is asked: each of the varying group's sums x multiplier, by its slot
  std::vector<int64_t> slot_of(static_cast<size_t>(in.held_sums), -1);
  int64_t slots = 0;
  if (room != nullptr && in.vary >= 0) {
    for (int64_t s = 0; s < slices; ++s) {
      int64_t& slot = slot_of[static_cast<size_t>(in.held_which[in.vary * slices + s])];
      if (slot < 0) slot = slots++;
    }
  }
  std::vector<int64_t> needs(static_cast<size_t>(slots * count));
  std::vector<int64_t> sum(static_cast<size_t>(count));
  for (int64_t r = 0; r < in.held_sums; ++r) {
    const int64_t g = group_of[static_cast<size_t>(r)];
    if (g < 0) continue;
    ticker.tick(count * (in.held_width + 1));
    const int64_t size = in.fit[3 * g + 1], times = in.fit[3 * g + 2];
    std::fill(sum.begin(), sum.end(), 0);
    for (int64_t w = 0; w < in.held_width; ++w) {
      const int64_t* src = held.data() + in.held_terms[r * in.held_width + w] * count;
      int64_t* acc = sum.data();
      for (int64_t p = 0; p < count; ++p) acc[p] = add(acc[p], src[p]);
    }
    uint8_t* dst = ok.data() + r * count;
    for (int64_t p = 0; p < count; ++p) dst[p] = mul(sum.data()[p], times) <= size;
    if (const int64_t slot = slot_of[static_cast<size_t>(r)]; slot >= 0) {  // kept below
      for (int64_t p = 0; p < count; ++p) {
        needs[static_cast<size_t>(slot * count + p)] = mul(sum.data()[p], times);
      }
    }
  }
  // A slice's fit depends on the varying group's sum where every other group's holds.
  if (slots > 0) {
    const int64_t size = in.fit[3 * in.vary + 1];
    for (int64_t s = 0; s < slices; ++s) {
      ticker.tick(count * groups);
      const int64_t rv = slot_of[static_cast<size_t>(in.held_which[in.vary * slices + s])];
      for (int64_t p = 0; p < count; ++p) {
        bool others = true;
        for (int64_t g = 0; g < groups && others; ++g) {
          const int64_t r = in.held_which[g * slices + s];
          if (g != in.vary) others = ok[static_cast<size_t>(r * count + p)] != 0;
        }
        if (others) room->check(needs[static_cast<size_t>(rv * count + p)], size);
      }
    }
  }
  for (int64_t s = 0; s < slices; ++s) {
    ticker.tick(count * groups);
    uint8_t* dst = fits + s * count;
    for (int64_t g = 0; g < groups; ++g) {
      const uint8_t* src = ok.data() + in.held_which[g * slices + s] * count;
      for (int64_t p = 0; p < count; ++p) dst[p] &= src[p];
    }
  }
  // A tile narrower than its grain is dropped in every slice where its grain-wide version
  // fits, unless that one moves more DRAM bytes (or, timed, takes fewer steps or streams more
  // slowly).
  const int64_t product = nm * nn * nk;
  std::vector<int64_t> at(static_cast<size_t>(product), -1);
  for (int64_t p = 0; p < count; ++p) at[static_cast<size_t>(pos[static_cast<size_t>(p)])] = p;
  const int64_t strides[3] = {nn * nk, nk, 1};
  const int64_t* steps = steps_of.data();
  const int64_t* a_pass_row = ints + 7 * count;
  const int64_t* b_pass_row = ints + 8 * count;
  const int64_t* c_pass_row = ints + 9 * count;
  const int64_t* p_pass_row = ints + 10 * count;
  const double* slow_rows[3] = {rows + 8 * count, rows + 9 * count, rows + 10 * count};
  for (int d = 0; d < 3; ++d) {
    const int64_t* c = in.cands[d];
    const int64_t full = std::min(in.dims[d], in.grains[d]);
    if (c[0] >= full) continue;
    const int64_t wide_index = std::lower_bound(c, c + in.count[d], full) - c;
    for (int64_t p = 0; p < count; ++p) {
      const int64_t x = pos[static_cast<size_t>(p)];
      const int64_t idx = d == 0 ? x / (nn * nk) : d == 1 ? x / nk % nn : x % nk;
      if (c[idx] >= full) continue;
      const int64_t q = at[static_cast<size_t>(x + (wide_index - idx) * strides[d])];
      if (q < 0) continue;
      bool no_more = a_pass_row[q] <= a_pass_row[p] && b_pass_row[q] <= b_pass_row[p] &&
                     c_pass_row[q] <= c_pass_row[p] && p_pass_row[q] <= p_pass_row[p];
      if (in.timed) {
        no_more = no_more && steps[q] >= steps[p];
        if (in.slow_a != nullptr) {
          for (const double* sr : slow_rows) no_more = no_more && sr[q] <= sr[p];
        }
      }
      if (!no_more) continue;
      ticker.tick(slices);
      for (int64_t s = 0; s < slices; ++s) {
        fits[s * count + p] &= static_cast<uint8_t>(!fits[s * count + q]);
      }
    }
  }
}

}  // namespace pysim
