// Scratchpad: a banked on-chip SRAM, its bank conflicts and its double-buffer occupancy.
//
// Addresses are byte addresses inside the scratchpad, 0 <= address < size_bytes. A word is
// word_bytes wide; word w = address / word_bytes lives in bank
//   Word  interleave: w % banks                                  (consecutive words spread)
//   Block interleave: (address / block_bytes) % banks            (block_bytes per bank in turn;
//                     block_bytes = size_bytes / banks gives one contiguous region per bank)
// Per cycle, a bank serves up to ports_per_bank distinct words; requests for the same word in
// the same cycle are one access (broadcast). The rest serialize, so a cycle costs
//   1 + max over banks of (ceil(distinct_words_in_bank / ports_per_bank) - 1)
// cycles. docs/memory_models.md derives the closed forms below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/budget.hpp"

namespace pysim {

enum class Interleave { Word, Block };

constexpr int64_t kMaxBanks = int64_t{1} << 20;
constexpr int64_t kMaxFetchRequests = int64_t{1} << 31;  // lanes * elements of one fetch

struct ScratchpadSpec {
  int64_t size_bytes = 0;
  int64_t banks = 1;
  int64_t ports_per_bank = 1;
  int64_t word_bytes = 8;
  Interleave interleave = Interleave::Word;
  int64_t block_bytes = 0;     // Block interleave only; 0 = size_bytes / banks
  bool double_buffered = true;  // two halves of size_bytes / 2, one filling, one draining
};

struct BankConflictStats {
  int64_t cycles_requested = 0;       // cycles in the input (CSR rows), empty ones included
  int64_t requests = 0;               // addresses in the input
  int64_t accesses = 0;               // distinct (cycle, word) pairs: requests less broadcasts
  int64_t conflict_stall_cycles = 0;  // sum over cycles of max_bank ceil(load / ports) - 1
  int64_t total_cycles = 0;           // cycles_requested + conflict_stall_cycles
  int64_t max_bank_load = 0;          // most distinct words one bank was asked for in a cycle
  std::vector<int64_t> bank_accesses;  // distinct word accesses per bank, summed over cycles
};

// A per-cycle address stream in CSR form: the requests of cycle c are
// addresses[cycle_offsets[c] .. cycle_offsets[c + 1]).
struct AccessPattern {
  std::vector<int64_t> addresses;
  std::vector<int64_t> cycle_offsets;  // size cycles + 1, starts at 0
};

// The edge of a systolic array fetching a row-major tile: lane l (one array row or column)
// streams tile row l, stored at base_address + l * row_pitch_words * word_bytes, one element of
// element_bytes per cycle. Skewed: lane l reads element (t - l) at cycle t (the array's input
// skew), so the fetch takes elements + lanes - 1 cycles; unskewed: element t, elements cycles.
struct SystolicFetch {
  int64_t lanes = 1;
  int64_t elements = 1;         // elements per lane (the streamed dimension)
  int64_t row_pitch_words = 1;  // words between the starts of consecutive tile rows
  int64_t base_address = 0;     // bytes
  int64_t element_bytes = 0;    // 0 = word_bytes
  bool skewed = true;
};

struct DoubleBufferReport {
  int64_t tiles = 0;
  int64_t buffers = 0;                    // 2 if double_buffered else 1
  int64_t capacity_per_buffer_bytes = 0;  // size_bytes / buffers
  int64_t peak_resident_tiles = 0;
  int64_t peak_occupancy_bytes = 0;       // most bytes resident at one instant
  int64_t oversized_tiles = 0;            // tiles larger than one buffer
  int64_t first_oversized_tile = -1;      // index, or -1
  bool fits = true;  // no oversized tile and peak_resident_tiles <= buffers
};

const char* to_string(Interleave interleave);
Interleave parse_interleave(const std::string& name);  // "word" | "block", any case

// Throw std::invalid_argument naming the field, the value and what is allowed.
void validate(const ScratchpadSpec& spec);

// Bank of a byte address (no range check; call validate first).
int64_t bank_of(const ScratchpadSpec& spec, int64_t address);

// Count bank conflicts of a CSR address stream. O(requests log requests_per_cycle).
// Throws std::invalid_argument on an address outside [0, size_bytes) or bad offsets. poll, when
// given, is called every few million requests (it may throw to stop).
BankConflictStats count_bank_conflicts(const ScratchpadSpec& spec, const int64_t* addresses,
                                       std::size_t n_addresses, const int64_t* cycle_offsets,
                                       std::size_t n_offsets, const Poll& poll = nullptr);
BankConflictStats count_bank_conflicts(const ScratchpadSpec& spec,
                                       const std::vector<int64_t>& addresses,
                                       const std::vector<int64_t>& cycle_offsets);
BankConflictStats count_bank_conflicts(const ScratchpadSpec& spec, const AccessPattern& pattern);

// The per-cycle addresses of a systolic edge fetch (see SystolicFetch), O(lanes x elements +
// cycles). Throws std::invalid_argument before allocating when the addresses or the cycle
// offsets would exceed kMaxOutputBytes (2^27 of each): check_fetch_pattern_size. poll, when
// given, is called every few million addresses (it may throw to stop).
AccessPattern systolic_operand_fetch(const ScratchpadSpec& spec, const SystolicFetch& fetch,
                                     const Poll& poll = nullptr);
void check_fetch_pattern_size(const ScratchpadSpec& spec, const SystolicFetch& fetch);

// Closed form: stall cycles of one cycle in which `lanes` requesters read distinct words
// w0 + l * stride_words (l = 0..lanes-1). Word interleave: banks are hit with period
// P = banks / gcd(stride, banks), so the busiest bank holds ceil(lanes / P) words and the cycle
// stalls ceil(lanes / P / ports) - 1. stride 0 is one broadcast word: 0 stalls. Block
// interleave needs the stride to be a multiple of the block's words (then stride / block_words
// plays the part of stride); otherwise std::invalid_argument.
int64_t strided_conflict_stalls(const ScratchpadSpec& spec, int64_t lanes, int64_t stride_words);

// Closed form of the stalls count_bank_conflicts finds for systolic_operand_fetch, for the
// layouts where one exists: element_bytes == word_bytes and a word-aligned base. Per cycle the
// active lanes are consecutive and read at a word stride of row_pitch_words - 1 (skewed) or
// row_pitch_words (unskewed); the sum of strided_conflict_stalls over cycles.
int64_t systolic_fetch_predicted_stalls(const ScratchpadSpec& spec, const SystolicFetch& fetch);

// Double-buffer occupancy. Tile i (tile_bytes[i]) is resident from fill_start[i] until
// drain_end[i] (half-open: a buffer drained at t can be refilled at t). Times are in any unit
// (cycles, ns). With the time vectors empty, the ideal pipeline is assumed: tile i fills in
// step i and drains in step i + 1. Flags, never throws on an over-full plan; throws
// std::invalid_argument on malformed input (negative bytes, unordered or mismatched times).
DoubleBufferReport double_buffer_occupancy(const ScratchpadSpec& spec,
                                           const std::vector<int64_t>& tile_bytes,
                                           const std::vector<double>& fill_start = {},
                                           const std::vector<double>& fill_end = {},
                                           const std::vector<double>& drain_start = {},
                                           const std::vector<double>& drain_end = {});

}  // namespace pysim
