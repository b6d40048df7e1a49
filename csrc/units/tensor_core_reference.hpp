// Step-level reference of the GPU GEMM kernel model (tensor_core.hpp).
//
// Launches the CTAs of every batch entry (entry-major, as tensor_core.hpp orders them) one at
// a time onto SM slots (CTA j of a wave on SM j mod SMs, at most CTAs-per-SM on one SM), wave by
// wave; for every CTA walks its k-blocks, and in each k-block every warp's MMA instructions and
// shared-memory operand fetches; collects the distinct A panels (entry, K slice, tile row) and B
// panels (entry, K slice, tile column) each wave touches in sets. Per-SM sums of MMA cycles,
// fetch bytes and epilogue cycles give the busiest SM of each wave. The per-wave totals then go
// through the same bound rule as the closed form; the tests hold the two equal on random shapes,
// batches and every candidate tile.
#pragma once

#include "common/budget.hpp"
#include "units/tensor_core.hpp"

namespace pysim {

// Throws std::invalid_argument when the run would step more than 2^27 MMA instructions; calls
// poll (if any) every 2^22 of them.
GemmCost gemm_simulate_tile(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& tile,
                            const Poll& poll = nullptr);
// The fastest of gemm_candidates, each stepped (ties: the first, as gemm_cost). Every
// candidate's budget is checked before any is stepped, so an over-budget one fails at once.
GemmCost gemm_simulate(const GpuSpec& spec, const TcGemm& gemm, const Poll& poll = nullptr);

}  // namespace pysim
