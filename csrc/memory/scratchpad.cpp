#include "memory/scratchpad.hpp"

#include "common/checked.hpp"
#include "common/budget.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace pysim {

namespace {

int64_t block_bytes_of(const ScratchpadSpec& spec) {
  return spec.block_bytes > 0 ? spec.block_bytes : spec.size_bytes / spec.banks;
}

void require_at_least(const char* field, int64_t value, int64_t least) {
  if (value < least) {
    throw std::invalid_argument(std::string(field) + " must be >= " + std::to_string(least) +
                                ", got " + std::to_string(value));
  }
}

void require_in(const char* field, int64_t value, int64_t least, int64_t most) {
  if (value < least || value > most) {
    throw std::invalid_argument(std::string(field) + " must be in " + std::to_string(least) +
                                ".." + std::to_string(most) + ", got " + std::to_string(value));
  }
}

}  // namespace

const char* to_string(Interleave interleave) {
  return interleave == Interleave::Word ? "word" : "block";
}

Interleave parse_interleave(const std::string& name) {
  const std::string s = lower(name);
  if (s == "word") return Interleave::Word;
  if (s == "block") return Interleave::Block;
  throw std::invalid_argument("interleave must be one of 'word', 'block', got '" + name + "'");
}

void validate(const ScratchpadSpec& spec) {
  require_at_least("size_bytes", spec.size_bytes, 1);
  require_in("banks", spec.banks, 1, kMaxBanks);
  require_at_least("ports_per_bank", spec.ports_per_bank, 1);
  require_at_least("word_bytes", spec.word_bytes, 1);
  const int64_t row = checked_mul(spec.banks, spec.word_bytes, "banks * word_bytes");
  if (spec.size_bytes % row != 0) {
    throw std::invalid_argument("size_bytes must be a multiple of banks * word_bytes = " +
                                std::to_string(row) + ", got " +
                                std::to_string(spec.size_bytes));
  }
  if (spec.block_bytes < 0) {
    throw std::invalid_argument("block_bytes must be >= 0 (0 = size_bytes / banks), got " +
                                std::to_string(spec.block_bytes));
  }
  if (spec.interleave == Interleave::Word) {
    if (spec.block_bytes != 0) {
      throw std::invalid_argument("block_bytes must be 0 with interleave='word', got " +
                                  std::to_string(spec.block_bytes));
    }
    return;
  }
  const int64_t block = block_bytes_of(spec);
  if (block % spec.word_bytes != 0) {
    throw std::invalid_argument("block_bytes must be a multiple of word_bytes = " +
                                std::to_string(spec.word_bytes) + ", got " +
                                std::to_string(block));
  }
  const int64_t stripe = checked_mul(spec.banks, block, "banks * block_bytes");
  if (spec.size_bytes % stripe != 0) {
    throw std::invalid_argument("size_bytes must be a multiple of banks * block_bytes = " +
                                std::to_string(stripe) + ", got " +
                                std::to_string(spec.size_bytes));
  }
}

int64_t bank_of(const ScratchpadSpec& spec, int64_t address) {
  const int64_t unit = spec.interleave == Interleave::Word ? spec.word_bytes
                                                           : block_bytes_of(spec);
  return (address / unit) % spec.banks;
}

BankConflictStats count_bank_conflicts(const ScratchpadSpec& spec, const int64_t* addresses,
                                       std::size_t n_addresses, const int64_t* cycle_offsets,
                                       std::size_t n_offsets, const Poll& poll) {
  validate(spec);
  if (n_offsets < 1) {
    throw std::invalid_argument("cycle_offsets must have cycles + 1 >= 1 entries, got 0");
  }
  if (cycle_offsets[0] != 0) {
    throw std::invalid_argument("cycle_offsets[0] must be 0, got " +
                                std::to_string(cycle_offsets[0]));
  }
  for (std::size_t c = 1; c < n_offsets; ++c) {
    if (cycle_offsets[c] < cycle_offsets[c - 1]) {
      throw std::invalid_argument(
          "cycle_offsets must be non-decreasing, got cycle_offsets[" + std::to_string(c) +
          "] = " + std::to_string(cycle_offsets[c]) + " < cycle_offsets[" +
          std::to_string(c - 1) + "] = " + std::to_string(cycle_offsets[c - 1]));
    }
  }
  if (cycle_offsets[n_offsets - 1] != static_cast<int64_t>(n_addresses)) {
    throw std::invalid_argument("cycle_offsets[-1] must equal len(addresses) = " +
                                std::to_string(n_addresses) + ", got " +
                                std::to_string(cycle_offsets[n_offsets - 1]));
  }
  for (std::size_t i = 0; i < n_addresses; ++i) {
    if (addresses[i] < 0 || addresses[i] >= spec.size_bytes) {
      throw std::invalid_argument("addresses[" + std::to_string(i) + "] = " +
                                  std::to_string(addresses[i]) +
                                  " is outside the scratchpad [0, " +
                                  std::to_string(spec.size_bytes) + ")");
    }
  }

  BankConflictStats s;
  s.cycles_requested = static_cast<int64_t>(n_offsets) - 1;
  s.requests = static_cast<int64_t>(n_addresses);
  s.bank_accesses.assign(static_cast<std::size_t>(spec.banks), 0);
  std::vector<int64_t> load(static_cast<std::size_t>(spec.banks), 0);
  std::vector<int64_t> words;
  std::vector<int64_t> touched;
  Ticker ticker(poll);
  for (std::size_t c = 0; c + 1 < n_offsets; ++c) {
    const int64_t lo = cycle_offsets[c], hi = cycle_offsets[c + 1];
    ticker.tick(1 + hi - lo);
    if (lo == hi) continue;
    words.clear();
    for (int64_t i = lo; i < hi; ++i) words.push_back(addresses[i] / spec.word_bytes);
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());  // broadcasts
    touched.clear();
    int64_t busiest = 0;
    for (const int64_t w : words) {
      const auto b = static_cast<std::size_t>(bank_of(spec, w * spec.word_bytes));
      if (load[b]++ == 0) touched.push_back(static_cast<int64_t>(b));
      busiest = std::max(busiest, load[b]);
    }
    for (const int64_t b : touched) {
      s.bank_accesses[static_cast<std::size_t>(b)] += load[static_cast<std::size_t>(b)];
      load[static_cast<std::size_t>(b)] = 0;
    }
    s.accesses += static_cast<int64_t>(words.size());
    s.max_bank_load = std::max(s.max_bank_load, busiest);
    s.conflict_stall_cycles += ceil_div(busiest, spec.ports_per_bank) - 1;
  }
  s.total_cycles = s.cycles_requested + s.conflict_stall_cycles;
  return s;
}

BankConflictStats count_bank_conflicts(const ScratchpadSpec& spec,
                                       const std::vector<int64_t>& addresses,
                                       const std::vector<int64_t>& cycle_offsets) {
  return count_bank_conflicts(spec, addresses.data(), addresses.size(), cycle_offsets.data(),
                              cycle_offsets.size());
}

BankConflictStats count_bank_conflicts(const ScratchpadSpec& spec, const AccessPattern& pattern) {
  return count_bank_conflicts(spec, pattern.addresses, pattern.cycle_offsets);
}

namespace {

int64_t element_bytes_of(const ScratchpadSpec& spec, const SystolicFetch& f) {
  return f.element_bytes > 0 ? f.element_bytes : spec.word_bytes;
}

void validate_fetch(const ScratchpadSpec& spec, const SystolicFetch& f) {
  validate(spec);
  require_in("lanes", f.lanes, 1, kMaxFetchRequests);
  require_in("elements", f.elements, 1, kMaxFetchRequests);
  if (f.lanes * f.elements > kMaxFetchRequests) {
    throw std::invalid_argument("lanes * elements must be <= 2^31, got " +
                                std::to_string(f.lanes) + " * " + std::to_string(f.elements));
  }
  require_at_least("row_pitch_words", f.row_pitch_words, 0);
  require_at_least("base_address", f.base_address, 0);
  require_at_least("element_bytes", f.element_bytes, 0);
  const int64_t eb = element_bytes_of(spec, f);
  // Last byte read: the last element of the last lane.
  const int64_t row_start = checked_mul(checked_mul(f.lanes - 1, f.row_pitch_words, "tile rows"),
                                        spec.word_bytes, "tile rows");
  const int64_t row_len = checked_mul(f.elements, eb, "elements * element_bytes");
  const int64_t end = checked_add(checked_add(f.base_address, row_start, "tile end"), row_len,
                                  "tile end");
  if (end > spec.size_bytes) {
    throw std::invalid_argument("the tile (base_address " + std::to_string(f.base_address) +
                                ", " + std::to_string(f.lanes) + " rows at a pitch of " +
                                std::to_string(f.row_pitch_words) + " words, " +
                                std::to_string(row_len) + " bytes a row) ends at byte " +
                                std::to_string(end) + ", past size_bytes = " +
                                std::to_string(spec.size_bytes));
  }
}

}  // namespace

void check_fetch_pattern_size(const ScratchpadSpec& spec, const SystolicFetch& f) {
  validate_fetch(spec, f);
  const int64_t cycles = f.skewed ? f.elements + f.lanes - 1 : f.elements;
  require_output_bytes("systolic_fetch_pattern: addresses (lanes x elements = " +
                           std::to_string(f.lanes) + " x " + std::to_string(f.elements) + ")",
                       static_cast<double>(f.lanes) * static_cast<double>(f.elements), 8);
  require_output_bytes("systolic_fetch_pattern: cycle_offsets (" + std::to_string(cycles) +
                           " cycles + 1)",
                       static_cast<double>(cycles) + 1.0, 8);
}

AccessPattern systolic_operand_fetch(const ScratchpadSpec& spec, const SystolicFetch& f,
                                     const Poll& poll) {
  check_fetch_pattern_size(spec, f);
  Ticker ticker(poll);
  const int64_t eb = element_bytes_of(spec, f);
  // One lane never steps to a second row (its pitch may be anything); more: validate_fetch
  // checked (lanes - 1) x pitch x word_bytes.
  const int64_t pitch_bytes = f.lanes > 1 ? f.row_pitch_words * spec.word_bytes : 0;
  const int64_t cycles = f.skewed ? f.elements + f.lanes - 1 : f.elements;
  AccessPattern p;
  p.addresses.reserve(static_cast<std::size_t>(f.lanes * f.elements));
  p.cycle_offsets.reserve(static_cast<std::size_t>(cycles + 1));
  p.cycle_offsets.push_back(0);
  for (int64_t t = 0; t < cycles; ++t) {
    // The lanes active at cycle t: all of them unskewed; skewed, those with 0 <= t - l < E.
    // O(lanes x elements + cycles) in all, not O(cycles x lanes).
    const int64_t l0 = f.skewed ? std::max<int64_t>(0, t - f.elements + 1) : 0;
    const int64_t l1 = f.skewed ? std::min(f.lanes - 1, t) : f.lanes - 1;
    for (int64_t l = l0; l <= l1; ++l) {
      const int64_t e = f.skewed ? t - l : t;
      p.addresses.push_back(f.base_address + l * pitch_bytes + e * eb);
    }
    p.cycle_offsets.push_back(static_cast<int64_t>(p.addresses.size()));
    ticker.tick(l1 - l0 + 2);
  }
  return p;
}

int64_t strided_conflict_stalls(const ScratchpadSpec& spec, int64_t lanes, int64_t stride_words) {
  validate(spec);
  require_at_least("lanes", lanes, 1);
  require_in("stride_words", stride_words, -(int64_t{1} << 62), int64_t{1} << 62);
  if (stride_words == 0 || lanes == 1) return 0;  // one word, broadcast; or one requester
  int64_t stride = stride_words < 0 ? -stride_words : stride_words;
  if (spec.interleave == Interleave::Block) {
    const int64_t block_words = block_bytes_of(spec) / spec.word_bytes;
    if (stride % block_words != 0) {
      throw std::invalid_argument(
          "interleave='block' has a closed form only for strides that are a multiple of the "
          "block's " + std::to_string(block_words) + " words, got stride_words = " +
          std::to_string(stride_words));
    }
    stride /= block_words;
  }
  const int64_t period = spec.banks / std::gcd(stride, spec.banks);  // distinct banks hit
  return ceil_div(ceil_div(lanes, period), spec.ports_per_bank) - 1;
}

int64_t systolic_fetch_predicted_stalls(const ScratchpadSpec& spec, const SystolicFetch& f) {
  validate_fetch(spec, f);
  if (element_bytes_of(spec, f) != spec.word_bytes || f.base_address % spec.word_bytes != 0) {
    throw std::invalid_argument(
        "the closed form needs element_bytes == word_bytes and a word-aligned base_address, "
        "got element_bytes = " + std::to_string(element_bytes_of(spec, f)) +
        ", base_address = " + std::to_string(f.base_address));
  }
  if (!f.skewed) {
    return checked_mul(f.elements, strided_conflict_stalls(spec, f.lanes, f.row_pitch_words),
                       "predicted stalls");
  }
  // Cycle t: lanes max(0, t - E + 1) .. min(L - 1, t) read words base + t + l * (pitch - 1).
  // The stall of n active lanes depends on n only; count the cycles with each n: the active
  // lanes ramp up 1 .. s - 1, stay at s = min(L, E) for L + E - 1 - 2 (s - 1) cycles and ramp
  // down s - 1 .. 1. O(min(L, E)) calls, not O(L + E) cycles.
  const int64_t L = f.lanes, E = f.elements, d = f.row_pitch_words - 1;
  const int64_t s = std::min(L, E);
  int64_t total = checked_mul(L + E - 1 - 2 * (s - 1), strided_conflict_stalls(spec, s, d),
                              "predicted stalls");
  for (int64_t n = 1; n < s; ++n) {
    total = checked_add(total, 2 * strided_conflict_stalls(spec, n, d), "predicted stalls");
  }
  return total;
}

DoubleBufferReport double_buffer_occupancy(const ScratchpadSpec& spec,
                                           const std::vector<int64_t>& tile_bytes,
                                           const std::vector<double>& fill_start,
                                           const std::vector<double>& fill_end,
                                           const std::vector<double>& drain_start,
                                           const std::vector<double>& drain_end) {
  validate(spec);
  const std::size_t n = tile_bytes.size();
  const std::pair<const char*, const std::vector<double>*> times[] = {
      {"fill_start", &fill_start},
      {"fill_end", &fill_end},
      {"drain_start", &drain_start},
      {"drain_end", &drain_end}};
  const bool ideal = fill_start.empty() && fill_end.empty() && drain_start.empty() &&
                     drain_end.empty();
  if (!ideal) {
    for (const auto& [name, v] : times) {
      if (v->size() != n) {
        throw std::invalid_argument(std::string(name) + " must have one entry per tile (" +
                                    std::to_string(n) + "), got " + std::to_string(v->size()) +
                                    " (or leave all four times empty for the ideal pipeline)");
      }
    }
  }
  DoubleBufferReport r;
  r.tiles = static_cast<int64_t>(n);
  r.buffers = spec.double_buffered ? 2 : 1;
  r.capacity_per_buffer_bytes = spec.size_bytes / r.buffers;
  // (time, +1 start / -1 end, bytes); ends sort before starts at the same instant.
  std::vector<std::tuple<double, int, int64_t>> events;
  events.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    if (tile_bytes[i] < 0) {
      throw std::invalid_argument("tile_bytes[" + std::to_string(i) + "] must be >= 0, got " +
                                  std::to_string(tile_bytes[i]));
    }
    const double t0 = ideal ? static_cast<double>(i) : fill_start[i];
    const double t1 = ideal ? static_cast<double>(i + 1) : fill_end[i];
    const double t2 = ideal ? static_cast<double>(i + 1) : drain_start[i];
    const double t3 = ideal ? static_cast<double>(i + 2) : drain_end[i];
    if (!std::isfinite(t0) || !std::isfinite(t3) || !(t0 <= t1 && t1 <= t2 && t2 <= t3)) {
      throw std::invalid_argument(
          "tile " + std::to_string(i) +
          " needs finite times with fill_start <= fill_end <= drain_start <= drain_end, got " +
          std::to_string(t0) + ", " + std::to_string(t1) + ", " + std::to_string(t2) + ", " +
          std::to_string(t3));
    }
    if (tile_bytes[i] > r.capacity_per_buffer_bytes) {
      if (r.oversized_tiles++ == 0) r.first_oversized_tile = static_cast<int64_t>(i);
    }
    if (t3 > t0) {  // a tile resident for no time occupies nothing
      events.emplace_back(t0, +1, tile_bytes[i]);
      events.emplace_back(t3, -1, tile_bytes[i]);
    }
  }
  std::sort(events.begin(), events.end());
  int64_t resident = 0, bytes = 0;
  for (const auto& [t, kind, b] : events) {
    resident += kind;
    bytes = kind > 0 ? checked_add(bytes, b, "resident tile bytes") : bytes - b;
    r.peak_resident_tiles = std::max(r.peak_resident_tiles, resident);
    r.peak_occupancy_bytes = std::max(r.peak_occupancy_bytes, bytes);
  }
  r.fits = r.oversized_tiles == 0 && r.peak_resident_tiles <= r.buffers;
  return r;
}

}  // namespace pysim
