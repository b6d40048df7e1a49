#include "units/tensor_core_reference.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace pysim {

namespace {

constexpr int64_t kMaxSteps = int64_t{1} << 27;


// MMA instructions the reference steps for one configuration, against its budget.
void require_steps(const TileGeometry& g) {
  const double steps = static_cast<double>(g.ctas) * static_cast<double>(g.k_blocks_per_split) *
                       static_cast<double>(g.mma_per_block);
  if (steps > static_cast<double>(kMaxSteps)) {
    throw std::invalid_argument("gemm_simulate: " + std::to_string(static_cast<int64_t>(steps)) +
                                " MMA instructions exceed the reference's budget of 2^27; "
                                "use gemm_cost");
  }
}

}  // namespace

GemmCost gemm_simulate_tile(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& tile,
                            const Poll& poll) {
  validate(spec);
  validate(gemm);
  const TileGeometry g = tile_geometry(spec, gemm, tile);  // shapes, occupancy, align-1 load time
  require_steps(g);
  Ticker ticker(poll);
  const MmaShape mma = mma_shape(spec.arch, gemm.dtype, gemm.sparse);
  // One k-block of tile row tm of A / tile column tn of B (B's with its columns' scales), in
  // bounds (padding tiles: none); narrow operands are dequantized per CTA k-block.
  const auto a_in = [&](int64_t tm) {
    return tc_a_block_bytes(gemm, std::clamp<int64_t>(gemm.m - tm * tile.bm, 0, tile.bm),
                            tile.bk);
  };
  const auto b_in = [&](int64_t tn) {
    return tc_b_block_bytes(gemm, std::clamp<int64_t>(gemm.n - tn * tile.bn, 0, tile.bn),
                            tile.bk);
  };
  const double dequant_per_block =
      static_cast<double>(tc_dequant_elements(gemm, tile.bm, tile.bn, tile.bk) *
                          kDequantOpsPerElement) /
      static_cast<double>(tc_fp32_lanes_per_sm(spec.arch));
  const int64_t kbs = g.k_blocks_per_split;
  const double rate = tc_issue_macs_per_clk_per_sm(spec, gemm);
  // Accumulators (registers, epilogue staging, split-K partials): 2 bytes in fp16, else 4.
  const int64_t acc_bytes = tc_acc_bytes(tc_resolve_acc(gemm.dtype, gemm.acc));
  const int64_t warps_m = tile.bm / g.warp_m, warps_n = tile.bn / g.warp_n;

  GemmCost c;
  c.tile_m = tile.bm;
  c.tile_n = tile.bn;
  c.tile_k = tile.bk;
  c.split_k = tile.split_k;
  c.cluster_m = tile.cluster_m;
  c.cluster_n = tile.cluster_n;
  int64_t bound_counts[4] = {0, 0, 0, 0};
  std::vector<double> sm_mma(spec.sms), sm_smem(spec.sms), sm_epi(spec.sms), sm_deq(spec.sms),
      sm_load(spec.sms);
  std::vector<int64_t> sm_ctas(spec.sms);
  // Whole clusters fill a wave: the SMs past the last whole cluster stay idle.
  const int64_t wave_slots =
      spec.sms / (tile.cluster_m * tile.cluster_n) * tile.cluster_m * tile.cluster_n *
      g.ctas_per_sm;
  int64_t t = 0;
  while (t < g.ctas) {
    std::fill(sm_mma.begin(), sm_mma.end(), 0.0);
    std::fill(sm_smem.begin(), sm_smem.end(), 0.0);
    std::fill(sm_epi.begin(), sm_epi.end(), 0.0);
    std::fill(sm_deq.begin(), sm_deq.end(), 0.0);
    std::fill(sm_load.begin(), sm_load.end(), 0.0);
    std::fill(sm_ctas.begin(), sm_ctas.end(), 0);
    // Panels are per batch entry: (entry, K slice, tile row) of A, (entry, K slice, tile column)
    // of B; entries share nothing.
    std::set<std::tuple<int64_t, int64_t, int64_t>> a_panels, b_panels;
    WaveTerms w;
    int64_t c_elements = 0;
    for (int64_t slot = 0; slot < wave_slots && t < g.ctas; ++slot, ++t) {
      // Launch order: batch entry slowest, then K slice, tile row, tile column.
      const int64_t per_entry = tile.split_k * g.tiles_m * g.tiles_n;
      const int64_t entry = t / per_entry;
      const int64_t ks = (t % per_entry) / (g.tiles_m * g.tiles_n);
      const int64_t tm = (t / g.tiles_n) % g.tiles_m;
      const int64_t tn = t % g.tiles_n;
      const int64_t sm = slot % spec.sms;
      if (++sm_ctas[sm] > g.ctas_per_sm) {
        throw std::logic_error("gemm reference: SM " + std::to_string(sm) + " over-subscribed");
      }
      if (entry >= gemm.batch) throw std::logic_error("gemm reference: CTA past the last entry");
      a_panels.insert({entry, ks, tm});
      b_panels.insert({entry, ks, tn});
      w.ctas += 1;
      for (int64_t kb = 0; kb < kbs; ++kb) {
        ticker.tick(g.mma_per_block);
        // Global -> shared: the CTA's A and B k-blocks come through the L2, its share of each
        // when the CTAs of its cluster row (A) or column (B) multicast them; only their
        // in-bounds rows and columns (TMA and predicated cp.async zero-fill the rest).
        w.l2_bytes += tc_multicast_bytes(a_in(tm), tile.cluster_n) +
                      tc_multicast_bytes(b_in(tn), tile.cluster_m);
        sm_deq[sm] += dequant_per_block;
        sm_load[sm] += g.load_cycles_per_block;  // global -> shared (narrow vectors, cp.async)
        for (int64_t wm = 0; wm < warps_m; ++wm) {
          for (int64_t wn = 0; wn < warps_n; ++wn) {
            const int64_t fetch = tc_a_block_bytes(gemm, g.warp_m, tile.bk) +
                                  tc_b_block_bytes(gemm, g.warp_n, tile.bk);
            w.smem_bytes += fetch;
            sm_smem[sm] += static_cast<double>(fetch);
            for (int64_t i = 0; i < g.warp_m; i += mma.m) {
              for (int64_t j = 0; j < g.warp_n; j += mma.n) {
                for (int64_t k = 0; k < tile.bk; k += mma.k) {
                  w.mma_instructions += 1;
                  w.issued_macs += mma.m * mma.n * mma.k;
                  sm_mma[sm] += static_cast<double>(mma.m * mma.n * mma.k) / rate;
                }
              }
            }
          }
        }
      }
      sm_epi[sm] += static_cast<double>(2 * tile.bm * tile.bn * acc_bytes);
      // predicated stores: the tile's in-bounds part of C (none for a padding CTA)
      c_elements += std::clamp<int64_t>(gemm.m - tm * tile.bm, 0, tile.bm) *
                    std::clamp<int64_t>(gemm.n - tn * tile.bn, 0, tile.bn);
    }
    w.c_bytes = tile.split_k > 1 ? c_elements * acc_bytes : tc_c_bytes(gemm, c_elements);
    w.mma_cycles = *std::max_element(sm_mma.begin(), sm_mma.end());
    w.dequant_cycles = *std::max_element(sm_deq.begin(), sm_deq.end());
    w.smem_read_cycles =
        *std::max_element(sm_smem.begin(), sm_smem.end()) / spec.smem_bandwidth_bytes_per_clk;
    w.load_cycles = *std::max_element(sm_load.begin(), sm_load.end());
    w.epilogue_cycles = *std::max_element(sm_epi.begin(), sm_epi.end()) /
                        spec.smem_bandwidth_bytes_per_clk;
    // One k-block of every distinct panel (its in-bounds part), then the whole K slice and the
    // blocks in flight.
    int64_t per_block = 0;
    for (const auto& [entry, ks, tm] : a_panels) per_block += a_in(tm);
    for (const auto& [entry, ks, tn] : b_panels) per_block += b_in(tn);
    w.hbm_bytes = gemm.l2_resident ? 0
                                   : l2_miss_bytes(per_block * kbs, w.l2_bytes,
                                                   per_block * g.stages, spec.l2_bytes);
    add_wave(spec, gemm, w, c, bound_counts);
  }
  finish_cost(spec, gemm, g, bound_counts, c);
  return c;
}

GemmCost gemm_simulate(const GpuSpec& spec, const TcGemm& gemm, const Poll& poll) {
  const std::vector<CtaTile> tiles = gemm_candidates(spec, gemm);
  if (tiles.empty()) throw std::invalid_argument("no kernel configuration fits this GEMM");
  for (const CtaTile& t : tiles) require_steps(tile_geometry(spec, gemm, t));
  GemmCost best;
  bool first = true;
  for (const CtaTile& t : tiles) {
    GemmCost c = gemm_simulate_tile(spec, gemm, t, poll);
    if (first || tc_faster(c.time_s, best.time_s)) best = c;
    first = false;
  }
  best.candidates = static_cast<int64_t>(tiles.size());
  return best;
}

}  // namespace pysim
