#include "units/bit_serial_reference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "units/bit_planes.hpp"

namespace pysim {

namespace {

// One issue in flight: which tile and step it belongs to and every DPU's partial result.
struct Issue {
  bool valid = false;
  int64_t tile = 0;
  bool first = false;  // first step of its tile: clears the accumulators
  bool last = false;   // last step of its tile: moves the accumulators to the result register
  std::vector<uint64_t> partial;  // Dm x Dn, modulo 2^64
};

[[noreturn]] void hazard(const std::string& what, int64_t cycle) {
  throw std::logic_error("bit-serial reference: " + what + " at cycle " + std::to_string(cycle));
}

// BitBrick p of a value cut into `pieces` 2-bit pieces: the low pieces are unsigned, the top one
// is the arithmetic remainder (it carries the sign of a signed value).
int64_t brick(int64_t x, int64_t p, int64_t pieces) {
  return p < pieces - 1 ? (x >> (2 * p)) & 3 : x >> (2 * p);
}

uint64_t negate_if(uint64_t v, bool neg) { return neg ? uint64_t{0} - v : v; }

// The operands as each mode's DPUs see them.
struct Operands {
  const int64_t* a = nullptr;  // M x K
  const int64_t* b = nullptr;  // K x N
  std::vector<uint64_t> a_planes, b_planes;  // bismo: planes of A rows / B columns along K
  int64_t M = 0, N = 0, K = 0, W = 0;
  int64_t a_bits = 0, b_bits = 0;
  bool a_signed = true, b_signed = true;

  // bismo: popcount(plane i of A row m AND plane j of B column n) over [k0, k1), weighted.
  uint64_t binary_step(int64_t m, int64_t n, int64_t i, int64_t j, int64_t k0, int64_t k1) const {
    const uint64_t* ar = &a_planes[static_cast<size_t>((i * M + m) * W)];
    const uint64_t* bc = &b_planes[static_cast<size_t>((j * N + n) * W)];
    const auto pc = static_cast<uint64_t>(
        bits::popcount_range(ar, bc, k0, k1, [](uint64_t x, uint64_t y) { return x & y; }));
    const bool neg = (a_signed && i == a_bits - 1) != (b_signed && j == b_bits - 1);
    return negate_if(pc << (i + j), neg);
  }

  // stripes: sum over lanes of (bit j of A[m, k]) * B[k, n], weighted.
  uint64_t serial_step(int64_t m, int64_t n, int64_t j, int64_t k0, int64_t k1) const {
    uint64_t sum = 0;
    for (int64_t k = k0; k < k1; ++k) {
      if ((a[m * K + k] >> j) & 1) sum += static_cast<uint64_t>(b[k * N + n]);
    }
    return negate_if(sum << j, a_signed && j == a_bits - 1);
  }

  // bitfusion: sum over lanes of the products of A chunk ca and B chunk cb, built from bricks.
  uint64_t fused_step(int64_t m, int64_t n, int64_t ca, int64_t cb, int64_t k0,
                      int64_t k1) const {
    const int64_t pa = (a_bits + 1) / 2, pb = (b_bits + 1) / 2;  // bricks per operand
    const int64_t pa_end = std::min(pa, 4 * ca + 4), pb_end = std::min(pb, 4 * cb + 4);
    uint64_t sum = 0;
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t x = a[m * K + k], y = b[k * N + n];
      for (int64_t p = 4 * ca; p < pa_end; ++p) {
        const int64_t xp = brick(x, p, pa);
        for (int64_t q = 4 * cb; q < pb_end; ++q) {
          const auto prod = static_cast<uint64_t>(xp * brick(y, q, pb));
          sum += prod * (uint64_t{1} << (2 * (p + q)));
        }
      }
    }
    return sum;
  }
};

}  // namespace

BitSerialRun bit_serial_simulate(const BitSerialSpec& spec, const GemmShape& shape,
                                 int64_t a_bits, int64_t b_bits, const int64_t* a,
                                 const int64_t* b, bool a_signed, bool b_signed,
                                 const Poll& poll) {
  const BitSerialCost expect = bit_serial_cost(spec, shape, a_bits, b_bits);  // validates
  if ((a == nullptr) != (b == nullptr)) {
    throw std::invalid_argument("bit_serial_simulate: pass both operands or neither");
  }
  {
    const double lanes = static_cast<double>(spec.dk) *
                         static_cast<double>(expect.products_per_lane);
    double lane_work = 1.0;  // timing only
    if (a != nullptr) {
      switch (spec.mode) {
        case BitSerialMode::Bismo: lane_work = 4.0 * (std::ceil(lanes / 64.0) + 1.0); break;
        case BitSerialMode::Stripes: lane_work = lanes; break;
        case BitSerialMode::BitFusion: lane_work = lanes * 16.0; break;  // <= 4 x 4 bricks
      }
    }
    const double updates = static_cast<double>(expect.compute_cycles) *
                           static_cast<double>(spec.dm) * static_cast<double>(spec.dn);
    require_within("simulate_cycles: " + std::to_string(expect.compute_cycles) + " issues on " +
                       std::to_string(spec.dm) + "x" + std::to_string(spec.dn) +
                       " DPUs: steps (10 x cycles + DPU updates x lane work)",
                   10.0 * static_cast<double>(expect.cycles) + updates * lane_work,
                   kMaxBitSerialSteps, "", "the reference model's budget; use cost()");
    if (a != nullptr) {
      require_output_bytes("bit_serial_simulate: output (M x N)",
                           static_cast<double>(shape.m) * static_cast<double>(shape.n), 8);
    }
  }
  Ticker ticker(poll);
  const BitSerialMode mode = spec.mode;
  const int64_t M = shape.m, N = shape.n, K = shape.k, Dm = spec.dm, Dn = spec.dn;
  const int64_t pf = expect.products_per_lane, lanes_k = spec.dk * pf;
  const int64_t k_steps = expect.k_steps, passes = expect.passes;
  const int64_t steps_per_tile = k_steps * passes;
  const int64_t tiles = expect.m_tiles * expect.n_tiles, n_tiles = expect.n_tiles;
  const int64_t b_chunks = (b_bits + 7) / 8;
  const bool with_data = a != nullptr;

  Operands ops;
  ops.a = a;
  ops.b = b;
  ops.M = M, ops.N = N, ops.K = K, ops.W = bits::words_for(K);
  ops.a_bits = a_bits, ops.b_bits = b_bits, ops.a_signed = a_signed, ops.b_signed = b_signed;
  if (with_data) {
    bits::check_range(a, M, K, a_bits, a_signed, "a");
    bits::check_range(b, K, N, b_bits, b_signed, "b");
    if (mode == BitSerialMode::Bismo) {
      ops.a_planes = bits::pack_planes(a, M, K, K, 1, a_bits);
      ops.b_planes = bits::pack_planes(b, N, K, 1, N, b_bits);
    }
  }

  BitSerialRun run;
  BitSerialCost& c = run.cost;
  c.m_tiles = expect.m_tiles;
  c.n_tiles = expect.n_tiles;
  c.k_steps = k_steps;
  c.passes = passes;
  c.products_per_lane = pf;
  if (with_data) run.out.assign(static_cast<size_t>(M * N), 0);

  // The delay line: slot t % (L + 1) holds the issue of cycle t until it is accumulated at
  // t + L + 1 (L tree levels after the issue cycle).
  const int64_t L = expect.fill_cycles - 2;
  std::vector<Issue> line(static_cast<size_t>(L + 1));
  const auto dpus = static_cast<size_t>(Dm * Dn);
  if (with_data) {
    for (auto& slot : line) slot.partial.assign(dpus, 0);
  }
  std::vector<uint64_t> acc(with_data ? dpus : 0), result(with_data ? dpus : 0);
  bool result_full = false;
  int64_t result_tile = -1, issued = 0, tiles_written = 0, last_write = -1;
  const int64_t total_issues = tiles * steps_per_tile;

  for (int64_t t = 0; tiles_written < tiles; ++t) {
    // Write stage: the result register filled last cycle goes to the output buffer.
    if (result_full) {
      const int64_t mt = result_tile / n_tiles, nt = result_tile % n_tiles;
      for (int64_t r = 0; r < Dm && mt * Dm + r < M; ++r) {
        for (int64_t q = 0; q < Dn && nt * Dn + q < N; ++q) {
          if (with_data) {
            run.out[static_cast<size_t>((mt * Dm + r) * N + nt * Dn + q)] =
                static_cast<int64_t>(result[static_cast<size_t>(r * Dn + q)]);
          }
          ++c.out_writes;
        }
      }
      result_full = false;
      ++tiles_written;
      last_write = t;
    }
    // Accumulate stage: the issue of cycle t - L - 1 leaves the tree.
    Issue& slot = line[static_cast<size_t>(t % (L + 1))];
    if (slot.valid) {
      if (with_data) {
        for (size_t p = 0; p < dpus; ++p) acc[p] = (slot.first ? 0 : acc[p]) + slot.partial[p];
      }
      if (slot.last) {
        if (result_full) hazard("result register overwritten before its write", t);
        result.swap(acc);
        result_full = true;
        result_tile = slot.tile;
      }
      slot.valid = false;
    }
    // Issue stage: one step to every DPU.
    if (issued < total_issues) {
      const int64_t tile = issued / steps_per_tile, s = issued % steps_per_tile;
      const int64_t mt = tile / n_tiles, nt = tile % n_tiles;
      const bool bismo = mode == BitSerialMode::Bismo;
      const int64_t ks = bismo ? s % k_steps : s / passes;
      const int64_t pass = bismo ? s / k_steps : s % passes;
      const int64_t k0 = ks * lanes_k, k1 = std::min(K, k0 + lanes_k), kreal = k1 - k0;
      const int64_t rows = std::min(Dm, M - mt * Dm), cols = std::min(Dn, N - nt * Dn);
      slot.valid = true;
      slot.tile = tile;
      slot.first = s == 0;
      slot.last = s == steps_per_tile - 1;
      if (pass == 0) c.macs += rows * cols * kreal;
      // Plane / chunk indices of this pass and the bits each lane multiplies.
      const int64_t i = pass / b_bits, j = pass % b_bits;          // bismo
      const int64_t ca = pass / b_chunks, cb = pass % b_chunks;   // bitfusion
      switch (mode) {
        case BitSerialMode::Bismo:
          c.bit_ops += rows * cols * kreal;
          c.a_read_bits += rows * kreal;
          c.b_read_bits += cols * kreal;
          break;
        case BitSerialMode::Stripes:
          c.bit_ops += rows * cols * kreal * b_bits;
          c.a_read_bits += rows * kreal;
          if (pass == 0) c.b_read_bits += cols * kreal * b_bits;
          break;
        case BitSerialMode::BitFusion:
          c.bit_ops += rows * cols * kreal * std::min<int64_t>(8, a_bits - 8 * ca) *
                       std::min<int64_t>(8, b_bits - 8 * cb);
          if (pass == 0) {
            c.a_read_bits += rows * kreal * a_bits;
            c.b_read_bits += cols * kreal * b_bits;
          }
          break;
      }
      if (with_data) {
        for (int64_t r = 0; r < Dm; ++r) {
          for (int64_t q = 0; q < Dn; ++q) {
            uint64_t v = 0;
            if (r < rows && q < cols) {
              const int64_t m = mt * Dm + r, n = nt * Dn + q;
              switch (mode) {
                case BitSerialMode::Bismo: v = ops.binary_step(m, n, i, j, k0, k1); break;
                case BitSerialMode::Stripes: v = ops.serial_step(m, n, pass, k0, k1); break;
                case BitSerialMode::BitFusion: v = ops.fused_step(m, n, ca, cb, k0, k1); break;
              }
            }
            slot.partial[static_cast<size_t>(r * Dn + q)] = v;
          }
        }
      }
      run.dpu_updates += Dm * Dn;
      ++issued;
      ticker.tick(with_data ? Dm * Dn * lanes_k : Dm * Dn);
    }
    ticker.tick(10);
  }
  c.cycles = last_write + 1;
  c.compute_cycles = issued;
  c.fill_cycles = c.cycles - issued;
  c.out_write_bits = c.out_writes * spec.acc_bits;
  c.utilization = static_cast<double>(c.macs) /
                  (static_cast<double>(c.cycles) *
                   bit_serial_peak_macs_per_cycle(spec, a_bits, b_bits));
  return run;
}

BitSerialCost bit_serial_simulate_cycles(const BitSerialSpec& spec, const GemmShape& shape,
                                         int64_t a_bits, int64_t b_bits, const Poll& poll) {
  return bit_serial_simulate(spec, shape, a_bits, b_bits, nullptr, nullptr, true, true, poll)
      .cost;
}

}  // namespace pysim
