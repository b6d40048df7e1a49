// Bit-serial / bit-fusion GEMM array: closed-form cost of a low-precision GEMM on Dm x Dn
// dot-product units (DPUs), each Dk lanes wide.
//
// C[M, N] = A[M, K] x B[K, N]; A holds a_bits-bit integers (activations, the ifmap) and B
// b_bits-bit integers (weights, the filter), 1..32 bits each. The array computes one Dm x Dn
// output tile at a time (tiles row-major); each DPU reduces a chunk of K per issue.
//
//   bismo     (Umuroglu et al., FPL 2018; Loom): both operands bit-serial. One issue is one
//             binary matrix step: DPU (r, c) ANDs a Dk-bit chunk of bit plane i of A's row with
//             bit plane j of B's column, popcounts it, shifts by i + j and accumulates, negated
//             when exactly one of the planes is a sign plane. passes = a_bits * b_bits, pf = 1.
//   stripes   (Judd et al., MICRO 2016): A bit-serial, B bit-parallel. Each of the Dk lanes ANDs
//             one bit of an activation with a whole weight; an adder tree sums the lanes.
//             passes = a_bits, pf = 1.
//   bitfusion (Sharma et al., ISCA 2018): each lane is a fusion unit of 16 2x2-bit BitBricks
//             that fuse into pf = floor(8 / max(a, 2)) * floor(8 / max(b, 2)) products per issue
//             for operands of up to 8 bits. Wider operands (an extension; Bit Fusion stops at 8)
//             are cut into 8-bit chunks: passes = ceil(a / 8) * ceil(b / 8), pf computed on the
//             chunk widths min(a, 8), min(b, 8).
//
// Closed form (docs/low_precision_units.md derives it):
//   m_tiles = ceil(M / Dm), n_tiles = ceil(N / Dn), k_steps = ceil(K / (Dk * pf))
//   compute_cycles = m_tiles * n_tiles * k_steps * passes     (one issue per cycle, no bubbles)
//   fill_cycles    = L + 2, L = ceil(log2(Dk)) levels of the popcount / adder tree
//                    (bitfusion: ceil(log2(16 Dk)), the 16 BitBricks of each fusion unit too)
//   cycles         = compute_cycles + fill_cycles
// An issue at cycle t reads its operands and forms the partial products (AND / bricks) in cycle
// t, climbs the tree in t+1..t+L, is accumulated at t+L+1, and the tile's last issue writes the
// tile's results at t+L+2; tiles follow each other without bubbles (the result register frees
// the accumulators), so only the last tile's fill is exposed.
#pragma once

#include <cstdint>
#include <string>

#include "units/systolic_array.hpp"  // GemmShape

namespace pysim {

enum class BitSerialMode { Bismo, Stripes, BitFusion };

constexpr int64_t kMaxBitSerialDim = 4096;

struct BitSerialSpec {
  int64_t dm = 1;      // DPU rows: output rows (M) per tile
  int64_t dn = 1;      // DPU columns: output columns (N) per tile
  int64_t dk = 64;     // lanes per DPU: bits (bismo), activations (stripes), fusion units
  BitSerialMode mode = BitSerialMode::Bismo;
  int64_t acc_bits = 32;  // accumulator / written result width, 1..64
};

struct BitSerialCost {
  int64_t cycles = 0;          // compute_cycles + fill_cycles
  int64_t compute_cycles = 0;  // issues: m_tiles * n_tiles * k_steps * passes
  int64_t fill_cycles = 0;     // tree levels + 2, exposed once
  int64_t m_tiles = 0;
  int64_t n_tiles = 0;
  int64_t k_steps = 0;            // K chunks per tile, ceil(K / (Dk * pf))
  int64_t passes = 0;             // issues per K chunk (bit-plane pairs, planes or 8-bit chunks)
  int64_t products_per_lane = 0;  // pf (bitfusion), 1 otherwise
  int64_t macs = 0;               // M * N * K
  int64_t bit_ops = 0;            // 1-bit x 1-bit partial products: macs * a_bits * b_bits
  int64_t a_read_bits = 0;        // A operand bits delivered to the DPUs
  int64_t b_read_bits = 0;        // B operand bits delivered to the DPUs
  int64_t out_writes = 0;         // results written: M * N
  int64_t out_write_bits = 0;     // out_writes * acc_bits
  double utilization = 0.0;       // macs / (cycles * peak MACs per cycle at these widths)
};

const char* to_string(BitSerialMode mode);
BitSerialMode parse_bit_serial_mode(const std::string& name);  // "bismo" | "stripes" | "bitfusion"

// Throw std::invalid_argument naming the field, the value and what is allowed.
void validate(const BitSerialSpec& spec);

// Products one bitfusion lane forms per issue, and issues per K chunk in each mode.
int64_t bit_fusion_factor(int64_t a_bits, int64_t b_bits);
int64_t bit_serial_passes(BitSerialMode mode, int64_t a_bits, int64_t b_bits);

// Peak MACs per cycle at these widths: bismo Dm Dn Dk / (a b), stripes Dm Dn Dk / a, bitfusion
// Dm Dn Dk pf / passes. Binary ops per second at 1 x 1 bit = 2 * this * clock (AND + add).
double bit_serial_peak_macs_per_cycle(const BitSerialSpec& spec, int64_t a_bits, int64_t b_bits);

// Closed form, O(1). Throws std::invalid_argument on bad input.
BitSerialCost bit_serial_cost(const BitSerialSpec& spec, const GemmShape& shape, int64_t a_bits,
                              int64_t b_bits);

}  // namespace pysim
