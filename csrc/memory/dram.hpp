// DRAM: timing of a stream of transfers through channels, banks and row buffers.
//
// A transfer is cut into bursts of burst_bytes (aligned; a partial burst still moves a whole
// burst on the bus). Each burst maps to (channel, bank, row, column) by the address mapping and
// is served in order within its channel; channels run in parallel. Open-page policy: a row
// stays open in its bank until another row of that bank or a refresh closes it.
//
// Time runs in data beats (half a clock, one bus transfer); every ns timing is first rounded up
// to whole clocks tCK = 2000 / data_rate_mtps ns, as a controller does. Per burst on a channel
// (t0 = the previous burst's column command; tB = burst_bytes / bus_bytes beats):
//   row hit      : RD at max(t0, last RD + tB)
//   closed bank  : ACT at max(t0, bank ready);               RD at ACT + tRCD
//   row conflict : PRE at max(t0, ACT + tRAS, bank's last RD + tB); ACT at PRE + tRP;
//                  RD at ACT + tRCD  (RD also >= last RD + tB)
//   data         : from max(RD + tCL, bus free) for tB beats.
// So back-to-back hits stream at peak, tCL is paid once per stream (and after each refresh), a
// row miss costs a bus gap of tRCD - tB and a conflict tRP + tRCD - tB, and a bank that keeps
// changing rows runs at one burst per tRC = tRAS + tRP. Refresh: every tREFI per channel
// (tREFI = 0 disables it), before the next burst: precharge all (tRP, after tRAS and the last
// RD + tB of open banks), then tRFC; all rows close. docs/memory_models.md has the derivation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/budget.hpp"

namespace pysim {

enum class DramField { Row, Bank, Channel, Column };

struct DramSpec {
  int64_t channels = 1;
  int64_t banks_per_channel = 1;  // bank groups flattened
  int64_t row_bytes = 0;          // row-buffer (page) size per channel
  int64_t burst_bytes = 0;        // bytes per column access (BL x bus width)
  double data_rate_mtps = 0.0;    // transfers per second per pin, in millions
  int64_t bus_bits = 0;           // data bus width per channel
  double tRCD_ns = 0.0;
  double tCL_ns = 0.0;
  double tRP_ns = 0.0;
  double tRAS_ns = 0.0;
  double tREFI_ns = 0.0;  // 0 disables refresh
  double tRFC_ns = 0.0;
  // Address fields from most to least significant, below the burst offset. Row is always the
  // most significant; the default spreads consecutive bursts over channels, then over the
  // columns of a row, then over banks.
  std::array<DramField, 4> mapping = {DramField::Row, DramField::Bank, DramField::Column,
                                      DramField::Channel};
};

struct Transfer {
  int64_t address = 0;  // bytes
  int64_t bytes = 0;    // >= 1
  bool write = false;
};

// Where one burst lands.
struct DramLocation {
  int64_t channel = 0, bank = 0, row = 0, column = 0;  // column in bursts within the row
};

struct DramStats {
  double time_ns = 0.0;  // until the last data beat of the busiest channel
  int64_t bytes = 0;     // requested bytes (sum of transfer sizes)
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
  int64_t bursts = 0;  // bursts on the bus; bursts * burst_bytes >= bytes
  int64_t row_hits = 0;
  int64_t row_misses = 0;     // activations of a closed bank
  int64_t row_conflicts = 0;  // precharge + activation: another row was open
  int64_t refreshes = 0;      // summed over channels
  double achieved_bandwidth_gb_per_s = 0.0;  // bytes / time_ns
  double peak_bandwidth_gb_per_s = 0.0;
  double row_hit_rate = 0.0;    // row_hits / bursts
  double avg_latency_ns = 0.0;  // mean over transfers of (last data beat - first command)
  std::vector<double> channel_time_ns;    // last data beat per channel
  std::vector<int64_t> channel_bursts;    // bursts per channel
  std::vector<int64_t> channel_refreshes;  // refreshes per channel
};

// Integer timings, in DRAM clocks, after rounding each ns value up.
struct DramClocks {
  double tck_ns = 0.0;
  int64_t burst_beats = 0;  // beats per burst = burst_bytes / (bus_bits / 8)
  int64_t rcd = 0, cl = 0, rp = 0, ras = 0, refi = 0, rfc = 0;
};

// A total of more bursts than this in one call is refused before anything runs (2^28 bursts
// take 3-7 s on a 2-core VM).
constexpr int64_t kMaxDramBursts = int64_t{1} << 28;

const char* to_string(DramField field);
// "row:bank:column:channel" and so on.
std::string mapping_to_string(const std::array<DramField, 4>& mapping);
// "row:bank:column:channel" and the other orders of bank, column, channel below row.
std::array<DramField, 4> parse_mapping(const std::string& text);

// Throw std::invalid_argument naming the field, the value and what is allowed.
void validate(const DramSpec& spec);

DramClocks dram_clocks(const DramSpec& spec);
// channels * bus_bits / 8 * data_rate_mtps * 1e6 / 1e9.
double dram_peak_bandwidth_gb_per_s(const DramSpec& spec);
DramLocation dram_map_address(const DramSpec& spec, int64_t address);

// Deterministic, O(bursts + channels x banks): a refresh is O(1) (banks close lazily) and a run
// of back-to-back refreshes is counted in closed form. Throws std::invalid_argument on bad
// input. poll, when given, is called every few million bursts (it may throw to stop).
DramStats simulate_stream(const DramSpec& spec, const std::vector<Transfer>& transfers,
                          const Poll& poll = nullptr);
// The same over parallel arrays (is_write may be null: all reads).
DramStats simulate_stream(const DramSpec& spec, const int64_t* addresses, const int64_t* sizes,
                          const bool* is_write, std::size_t n, const Poll& poll = nullptr);

}  // namespace pysim
