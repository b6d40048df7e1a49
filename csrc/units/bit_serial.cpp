#include "units/bit_serial.hpp"

#include "common/checked.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "units/bit_planes.hpp"

namespace pysim {

const char* to_string(BitSerialMode mode) {
  switch (mode) {
    case BitSerialMode::Bismo: return "bismo";
    case BitSerialMode::Stripes: return "stripes";
    case BitSerialMode::BitFusion: return "bitfusion";
  }
  return "?";
}

BitSerialMode parse_bit_serial_mode(const std::string& name) {
  std::string s = name;
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "bismo") return BitSerialMode::Bismo;
  if (s == "stripes") return BitSerialMode::Stripes;
  if (s == "bitfusion") return BitSerialMode::BitFusion;
  throw std::invalid_argument("mode must be one of 'bismo', 'stripes', 'bitfusion', got '" +
                              name + "'");
}

void validate(const BitSerialSpec& spec) {
  check_dim("dm", spec.dm, kMaxBitSerialDim);
  check_dim("dn", spec.dn, kMaxBitSerialDim);
  check_dim("dk", spec.dk, kMaxBitSerialDim);
  check_dim("acc_bits", spec.acc_bits, 64);
}

int64_t bit_fusion_factor(int64_t a_bits, int64_t b_bits) {
  bits::validate_bits(a_bits, "a_bits");
  bits::validate_bits(b_bits, "b_bits");
  const int64_t a = std::max<int64_t>(std::min<int64_t>(a_bits, 8), 2);
  const int64_t b = std::max<int64_t>(std::min<int64_t>(b_bits, 8), 2);
  return (8 / a) * (8 / b);
}

int64_t bit_serial_passes(BitSerialMode mode, int64_t a_bits, int64_t b_bits) {
  bits::validate_bits(a_bits, "a_bits");
  bits::validate_bits(b_bits, "b_bits");
  switch (mode) {
    case BitSerialMode::Bismo: return a_bits * b_bits;
    case BitSerialMode::Stripes: return a_bits;
    case BitSerialMode::BitFusion: return ceil_div(a_bits, 8) * ceil_div(b_bits, 8);
  }
  return 1;
}

double bit_serial_peak_macs_per_cycle(const BitSerialSpec& spec, int64_t a_bits,
                                      int64_t b_bits) {
  validate(spec);
  const int64_t pf = spec.mode == BitSerialMode::BitFusion ? bit_fusion_factor(a_bits, b_bits) : 1;
  const double lanes = static_cast<double>(spec.dm) * static_cast<double>(spec.dn) *
                       static_cast<double>(spec.dk) * static_cast<double>(pf);
  return lanes / static_cast<double>(bit_serial_passes(spec.mode, a_bits, b_bits));
}

BitSerialCost bit_serial_cost(const BitSerialSpec& spec, const GemmShape& shape, int64_t a_bits,
                              int64_t b_bits) {
  validate(spec);
  validate(shape);
  const int64_t passes = bit_serial_passes(spec.mode, a_bits, b_bits);
  const bool fusion = spec.mode == BitSerialMode::BitFusion;
  const int64_t pf = fusion ? bit_fusion_factor(a_bits, b_bits) : 1;
  const int64_t M = shape.m, N = shape.n, K = shape.k;

  BitSerialCost c;
  c.m_tiles = ceil_div(M, spec.dm);
  c.n_tiles = ceil_div(N, spec.dn);
  c.k_steps = ceil_div(K, spec.dk * pf);
  c.passes = passes;
  c.products_per_lane = pf;
  c.compute_cycles = checked_mul(
      checked_mul(checked_mul(c.m_tiles, c.n_tiles, "tile count"), c.k_steps, "issue count"),
      passes, "issue count");
  c.fill_cycles = bits::tree_levels(fusion ? 16 * spec.dk : spec.dk) + 2;
  c.cycles = c.compute_cycles + c.fill_cycles;
  c.macs = M * N * K;
  c.bit_ops = checked_mul(checked_mul(c.macs, a_bits, "bit_ops"), b_bits, "bit_ops");
  // Operand traffic into the DPUs, real elements only (lanes past M, N or K get zeros).
  // bismo re-reads every plane of A once per plane of B (and vice versa); stripes and bitfusion
  // latch each operand chunk for all of its passes.
  const int64_t a_bits_total = checked_mul(checked_mul(M, K, "M*K"), a_bits, "A bits");
  const int64_t b_bits_total = checked_mul(checked_mul(K, N, "K*N"), b_bits, "B bits");
  const int64_t a_rereads = spec.mode == BitSerialMode::Bismo ? b_bits : 1;
  const int64_t b_rereads = spec.mode == BitSerialMode::Bismo ? a_bits : 1;
  c.a_read_bits = checked_mul(checked_mul(a_bits_total, c.n_tiles, "A reads"), a_rereads,
                              "A reads");
  c.b_read_bits = checked_mul(checked_mul(b_bits_total, c.m_tiles, "B reads"), b_rereads,
                              "B reads");
  c.out_writes = M * N;
  c.out_write_bits = checked_mul(c.out_writes, spec.acc_bits, "output bits");
  c.utilization = static_cast<double>(c.macs) /
                  (static_cast<double>(c.cycles) *
                   bit_serial_peak_macs_per_cycle(spec, a_bits, b_bits));
  return c;
}

}  // namespace pysim
