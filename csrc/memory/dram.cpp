#include "memory/dram.hpp"

#include "common/checked.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pysim {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::min() / 4;  // "long ago", in beats

void require_at_least(const char* field, int64_t value, int64_t least) {
  if (value < least) {
    throw std::invalid_argument(std::string(field) + " must be >= " + std::to_string(least) +
                                ", got " + std::to_string(value));
  }
}

void require_time(const char* field, double ns) {
  if (!std::isfinite(ns) || ns < 0.0 || ns > 1e6) {
    throw std::invalid_argument(std::string(field) +
                                " must be a finite time in [0, 1e6] ns, got " + std::to_string(ns));
  }
}

// Clocks of a ns timing, rounded up (with slack for 15 / 0.625 = 24.000000000000004).
int64_t to_clocks(double ns, double tck_ns) {
  return static_cast<int64_t>(std::ceil(ns / tck_ns - 1e-6));
}

struct Bank {
  int64_t open_row = -1;
  int64_t act = kNever;       // last ACT
  int64_t last_rd = kNever;   // last column command
  int64_t ready = 0;          // earliest ACT (after a refresh)
  int64_t epoch = 0;          // the channel's refresh count when the bank was last brought up to date
};

// A refresh closes every bank of its channel and holds them until it is done. Rather than visit
// them all (4096 banks, a refresh every few bursts, made a stream of 100 bursts run for
// minutes), the channel counts its refreshes (epoch) and remembers what the refresh needs of the
// banks opened since the last one: a bank whose epoch lags is closed, ready at the last
// refresh's end (take()). Exact: between refreshes no bank closes, and a bank's act and last_rd
// only grow, so the maxima over the banks touched since the last refresh are the maxima over
// the open banks the eager loop took.
struct Channel {
  int64_t cmd = 0;            // the previous burst's column command (in-order issue)
  int64_t last_rd = kNever;   // last column command on any bank
  int64_t bus_free = 0;       // end of the last data beat
  int64_t next_refresh = 0;
  int64_t refreshes = 0;
  int64_t bursts = 0;
  int64_t epoch = 0;          // refreshes so far
  int64_t refresh_done = 0;   // end of the last refresh: the closed banks' earliest ACT
  bool any_open = false;      // a bank opened since the last refresh
  int64_t open_act_end = kNever;  // max over those banks of act + tRAS
  int64_t open_rd_end = kNever;   // max over those banks of last_rd + burst
  std::vector<Bank> banks;

  Bank& take(int64_t index) {
    Bank& bank = banks[static_cast<std::size_t>(index)];
    if (bank.epoch != epoch) {
      bank.epoch = epoch;
      bank.open_row = -1;
      bank.ready = refresh_done;
    }
    return bank;
  }
};

// The location of a burst: the mapping's fields are the digits of the burst index in a mixed
// radix (least significant: the mapping's last field; the row takes what is left). seek()
// divides once; the next burst is the previous one's digits plus one with carries, with no
// division per burst.
class BurstCounter {
 public:
  explicit BurstCounter(const DramSpec& spec) {
    for (int k = 3, d = 0; k >= 1; --k, ++d) {
      field_[d] = spec.mapping[static_cast<std::size_t>(k)];
      switch (field_[d]) {
        case DramField::Channel: base_[d] = spec.channels; break;
        case DramField::Bank: base_[d] = spec.banks_per_channel; break;
        case DramField::Column: base_[d] = spec.row_bytes / spec.burst_bytes; break;
        case DramField::Row: base_[d] = 1; break;  // parse_mapping puts the row first
      }
    }
  }
  void seek(int64_t burst) {
    for (int d = 0; d < 3; ++d) {
      digit_[d] = burst % base_[d];
      burst /= base_[d];
    }
    row_ = burst;
  }
  void next() {
    for (int d = 0; d < 3; ++d) {
      if (++digit_[d] < base_[d]) return;
      digit_[d] = 0;
    }
    ++row_;
  }
  DramLocation location() const {
    DramLocation loc;
    for (int d = 0; d < 3; ++d) {
      switch (field_[d]) {
        case DramField::Channel: loc.channel = digit_[d]; break;
        case DramField::Bank: loc.bank = digit_[d]; break;
        case DramField::Column: loc.column = digit_[d]; break;
        case DramField::Row: break;
      }
    }
    loc.row = row_;
    return loc;
  }

 private:
  std::array<DramField, 3> field_{};
  std::array<int64_t, 3> base_{};
  std::array<int64_t, 3> digit_{};
  int64_t row_ = 0;
};

// Timings in beats (half clocks).
struct Beats {
  int64_t burst, rcd, cl, rp, ras, refi, rfc;
};

// The refreshes due before the channel's next command: the first precharges the open banks
// (after their tRAS and last burst), then tRFC; each following one starts where the previous
// ended, tRFC long, tREFI after the one before, until the channel is ahead of the schedule
// again: n = (cmd - next_refresh) / (tREFI - tRFC) + 1 of them (tRFC < tREFI: validate).
void refresh(Channel& ch, const Beats& b) {
  if (ch.cmd < ch.next_refresh) return;
  const int64_t start = std::max(ch.cmd, ch.next_refresh);
  const int64_t pre = std::max({start, ch.open_act_end, ch.open_rd_end});
  ch.cmd = (ch.any_open ? pre + b.rp : start) + b.rfc;
  ch.next_refresh += b.refi;
  ++ch.refreshes;
  if (ch.cmd >= ch.next_refresh) {
    const int64_t n = (ch.cmd - ch.next_refresh) / (b.refi - b.rfc) + 1;
    ch.cmd += n * b.rfc;
    ch.next_refresh += n * b.refi;
    ch.refreshes += n;
  }
  ++ch.epoch;
  ch.refresh_done = ch.cmd;
  ch.any_open = false;
  ch.open_act_end = ch.open_rd_end = kNever;
}

template <class Get>
DramStats run(const DramSpec& spec, std::size_t n, Get get, const Poll& poll) {
  validate(spec);
  const DramClocks ck = dram_clocks(spec);
  const Beats b{ck.burst_beats, 2 * ck.rcd, 2 * ck.cl, 2 * ck.rp, 2 * ck.ras, 2 * ck.refi,
                2 * ck.rfc};
  const bool refresh_on = b.refi > 0;

  // Validate everything before simulating anything.
  int64_t total_bursts = 0, total_bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Transfer t = get(i);
    if (t.address < 0) {
      throw std::invalid_argument("addresses[" + std::to_string(i) + "] must be >= 0, got " +
                                  std::to_string(t.address));
    }
    if (t.bytes < 1) {
      throw std::invalid_argument("sizes[" + std::to_string(i) + "] must be >= 1, got " +
                                  std::to_string(t.bytes));
    }
    int64_t end = 0;
    if (__builtin_add_overflow(t.address, t.bytes, &end)) {
      throw std::invalid_argument("addresses[" + std::to_string(i) + "] + sizes[" +
                                  std::to_string(i) + "] overflows 64-bit integers");
    }
    // Each term <= 2^63 / 1 and the sum stays <= 2^28 + 2^63: compare before adding.
    const int64_t bursts = (end - 1) / spec.burst_bytes - t.address / spec.burst_bytes + 1;
    if (bursts > kMaxDramBursts - total_bursts) {
      throw std::invalid_argument(
          "the stream needs more than " + limit_text(kMaxDramBursts) + " bursts (" +
          figure_text(static_cast<double>(total_bursts) + static_cast<double>(bursts)) +
          " by transfer " + std::to_string(i) + "); split it into several calls");
    }
    total_bursts += bursts;
    total_bytes = checked_add(total_bytes, t.bytes, "the stream's total bytes");
  }

  std::vector<Channel> channels(static_cast<std::size_t>(spec.channels));
  for (Channel& ch : channels) {
    ch.banks.resize(static_cast<std::size_t>(spec.banks_per_channel));
    ch.next_refresh = refresh_on ? b.refi : std::numeric_limits<int64_t>::max();
  }

  DramStats s;
  double latency_beats_sum = 0.0;
  Ticker ticker(poll);
  BurstCounter bursts(spec);
  for (std::size_t i = 0; i < n; ++i) {
    const Transfer t = get(i);
    s.bytes += t.bytes;
    (t.write ? s.write_bytes : s.read_bytes) += t.bytes;
    int64_t first_cmd = std::numeric_limits<int64_t>::max(), last_data = 0;
    const int64_t g_end = (t.address + t.bytes - 1) / spec.burst_bytes;
    bursts.seek(t.address / spec.burst_bytes);
    for (int64_t g = t.address / spec.burst_bytes; g <= g_end; ++g, bursts.next()) {
      const DramLocation loc = bursts.location();
      Channel& ch = channels[static_cast<std::size_t>(loc.channel)];
      if (refresh_on) refresh(ch, b);
      Bank& bank = ch.take(loc.bank);
      const int64_t t0 = ch.cmd;
      int64_t first = 0, rd = 0;
      if (bank.open_row == loc.row) {
        ++s.row_hits;
        rd = first = std::max(t0, ch.last_rd + b.burst);
      } else {
        int64_t act = 0;
        if (bank.open_row < 0) {
          ++s.row_misses;
          act = first = std::max(t0, bank.ready);
        } else {
          ++s.row_conflicts;
          first = std::max({t0, bank.act + b.ras, bank.last_rd + b.burst});
          act = first + b.rp;
        }
        bank.act = act;
        bank.open_row = loc.row;
        rd = std::max(act + b.rcd, ch.last_rd + b.burst);
      }
      const int64_t data_end = std::max(rd + b.cl, ch.bus_free) + b.burst;
      bank.last_rd = ch.last_rd = ch.cmd = rd;
      ch.any_open = true;
      ch.open_act_end = std::max(ch.open_act_end, bank.act + b.ras);
      ch.open_rd_end = std::max(ch.open_rd_end, rd + b.burst);
      ch.bus_free = data_end;
      ++ch.bursts;
      ticker.tick();
      first_cmd = std::min(first_cmd, first);
      last_data = std::max(last_data, data_end);
    }
    latency_beats_sum += static_cast<double>(last_data - first_cmd);
  }

  const double beat_ns = ck.tck_ns / 2.0;
  int64_t end_beats = 0;
  for (const Channel& ch : channels) {
    end_beats = std::max(end_beats, ch.bus_free);
    s.bursts += ch.bursts;
    s.refreshes += ch.refreshes;
    s.channel_time_ns.push_back(static_cast<double>(ch.bus_free) * beat_ns);
    s.channel_bursts.push_back(ch.bursts);
    s.channel_refreshes.push_back(ch.refreshes);
  }
  s.time_ns = static_cast<double>(end_beats) * beat_ns;
  s.peak_bandwidth_gb_per_s = dram_peak_bandwidth_gb_per_s(spec);
  if (s.time_ns > 0.0) s.achieved_bandwidth_gb_per_s = static_cast<double>(s.bytes) / s.time_ns;
  if (s.bursts > 0) {
    s.row_hit_rate = static_cast<double>(s.row_hits) / static_cast<double>(s.bursts);
  }
  if (n > 0) s.avg_latency_ns = latency_beats_sum * beat_ns / static_cast<double>(n);
  return s;
}

}  // namespace

const char* to_string(DramField field) {
  switch (field) {
    case DramField::Row: return "row";
    case DramField::Bank: return "bank";
    case DramField::Channel: return "channel";
    case DramField::Column: return "column";
  }
  return "?";
}

std::string mapping_to_string(const std::array<DramField, 4>& mapping) {
  std::string out;
  for (const DramField f : mapping) out += (out.empty() ? "" : ":") + std::string(to_string(f));
  return out;
}

std::array<DramField, 4> parse_mapping(const std::string& text) {
  const std::string s = lower(text);
  std::array<DramField, 4> out{};
  std::size_t k = 0, pos = 0;
  bool seen[4] = {false, false, false, false};
  bool ok = true;
  while (ok && pos <= s.size()) {
    const std::size_t colon = std::min(s.find(':', pos), s.size());
    const std::string name = s.substr(pos, colon - pos);
    DramField f{};
    if (name == "row") f = DramField::Row;
    else if (name == "bank") f = DramField::Bank;
    else if (name == "channel") f = DramField::Channel;
    else if (name == "column") f = DramField::Column;
    else ok = false;
    const auto idx = static_cast<std::size_t>(f);
    if (ok && (k >= 4 || seen[idx])) ok = false;
    if (ok) {
      seen[idx] = true;
      out[k++] = f;
    }
    pos = colon + 1;
  }
  if (!ok || k != 4 || out[0] != DramField::Row) {
    throw std::invalid_argument(
        "mapping must name row, bank, column and channel once each, most significant first, "
        "with row first (e.g. 'row:bank:column:channel'), got '" + text + "'");
  }
  return out;
}

void validate(const DramSpec& spec) {
  if (spec.channels < 1 || spec.channels > 4096) {
    throw std::invalid_argument("channels must be in 1..4096, got " +
                                std::to_string(spec.channels));
  }
  if (spec.banks_per_channel < 1 || spec.banks_per_channel > 4096) {
    throw std::invalid_argument("banks_per_channel must be in 1..4096, got " +
                                std::to_string(spec.banks_per_channel));
  }
  require_at_least("bus_bits", spec.bus_bits, 8);
  if (spec.bus_bits % 8 != 0) {
    throw std::invalid_argument("bus_bits must be a multiple of 8, got " +
                                std::to_string(spec.bus_bits));
  }
  const int64_t bus_bytes = spec.bus_bits / 8;
  require_at_least("burst_bytes", spec.burst_bytes, 1);
  if (spec.burst_bytes % bus_bytes != 0) {
    throw std::invalid_argument("burst_bytes must be a multiple of the bus width (" +
                                std::to_string(bus_bytes) + " bytes), got " +
                                std::to_string(spec.burst_bytes));
  }
  if (spec.burst_bytes / bus_bytes > 65536) {
    throw std::invalid_argument("burst_bytes must be at most 65536 bus transfers (" +
                                std::to_string(65536 * bus_bytes) + " bytes), got " +
                                std::to_string(spec.burst_bytes));
  }
  require_at_least("row_bytes", spec.row_bytes, 1);
  if (spec.row_bytes % spec.burst_bytes != 0) {
    throw std::invalid_argument("row_bytes must be a multiple of burst_bytes = " +
                                std::to_string(spec.burst_bytes) + ", got " +
                                std::to_string(spec.row_bytes));
  }
  if (!std::isfinite(spec.data_rate_mtps) || spec.data_rate_mtps < 1.0 ||
      spec.data_rate_mtps > 1e5) {
    throw std::invalid_argument("data_rate_mtps must be in [1, 1e5] MT/s, got " +
                                std::to_string(spec.data_rate_mtps));
  }
  require_time("tRCD_ns", spec.tRCD_ns);
  require_time("tCL_ns", spec.tCL_ns);
  require_time("tRP_ns", spec.tRP_ns);
  require_time("tRAS_ns", spec.tRAS_ns);
  require_time("tREFI_ns", spec.tREFI_ns);
  require_time("tRFC_ns", spec.tRFC_ns);
  const DramClocks ck = dram_clocks(spec);
  if (ck.refi > 0 && ck.rp + ck.rfc >= ck.refi) {
    throw std::invalid_argument("tRP_ns + tRFC_ns must be < tREFI_ns (or tREFI_ns = 0: no "
                                "refresh), got tRP_ns = " + std::to_string(spec.tRP_ns) +
                                ", tRFC_ns = " + std::to_string(spec.tRFC_ns) +
                                ", tREFI_ns = " + std::to_string(spec.tREFI_ns));
  }
  (void)parse_mapping(mapping_to_string(spec.mapping));  // row first, each field once
}

DramClocks dram_clocks(const DramSpec& spec) {
  DramClocks c;
  c.tck_ns = 2000.0 / spec.data_rate_mtps;  // double data rate: two beats a clock
  c.burst_beats = spec.burst_bytes / (spec.bus_bits / 8);
  c.rcd = to_clocks(spec.tRCD_ns, c.tck_ns);
  c.cl = to_clocks(spec.tCL_ns, c.tck_ns);
  c.rp = to_clocks(spec.tRP_ns, c.tck_ns);
  c.ras = to_clocks(spec.tRAS_ns, c.tck_ns);
  c.refi = to_clocks(spec.tREFI_ns, c.tck_ns);
  c.rfc = to_clocks(spec.tRFC_ns, c.tck_ns);
  return c;
}

double dram_peak_bandwidth_gb_per_s(const DramSpec& spec) {
  return static_cast<double>(spec.channels) * static_cast<double>(spec.bus_bits / 8) *
         spec.data_rate_mtps * 1e6 / 1e9;
}

DramLocation dram_map_address(const DramSpec& spec, int64_t address) {
  BurstCounter burst(spec);
  burst.seek(address / spec.burst_bytes);
  return burst.location();
}

DramStats simulate_stream(const DramSpec& spec, const std::vector<Transfer>& transfers,
                          const Poll& poll) {
  return run(spec, transfers.size(), [&](std::size_t i) { return transfers[i]; }, poll);
}

DramStats simulate_stream(const DramSpec& spec, const int64_t* addresses, const int64_t* sizes,
                          const bool* is_write, std::size_t n, const Poll& poll) {
  return run(
      spec, n,
      [&](std::size_t i) {
        return Transfer{addresses[i], sizes[i], is_write != nullptr && is_write[i]};
      },
      poll);
}

}  // namespace pysim
