#include "units/row_stationary_reference.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace pysim {

namespace {

// Guard against runs that would take minutes: the reference is for tests and small studies.
constexpr int64_t kMaxPeUpdates = int64_t{1} << 32;
constexpr int64_t kPollEvery = int64_t{1} << 22;  // PE updates (or walk steps) between polls

struct Unit {
  int64_t image, strip, filter, channel, chunk;
};

}  // namespace

RowStationaryCost row_stationary_reference(const RowStationarySpec& spec,
                                           const ConvWindowSpec& w, int64_t m, int64_t n,
                                           int64_t k, const std::function<void()>& poll) {
  // Validates, and sizes the run before any of it is stepped.
  const RowStationaryCost expect = row_stationary_cost(spec, w, m, n, k);
  const double updates = static_cast<double>(expect.cycles) * static_cast<double>(spec.rows) *
                         static_cast<double>(spec.cols) * static_cast<double>(spec.arrays);
  if (updates > static_cast<double>(kMaxPeUpdates)) {
    throw std::invalid_argument(
        "row_stationary_reference: " + std::to_string(expect.cycles) + " cycles on " +
        std::to_string(spec.arrays) + " array(s) of " + std::to_string(spec.rows) + "x" +
        std::to_string(spec.cols) +
        " PEs exceed the reference model's budget of 2^32 PE updates; use row_stationary_cost()");
  }
  int64_t steps = 0, next_poll = kPollEvery;
  const auto tick = [&](int64_t amount) {
    steps += amount;
    if (poll && steps >= next_poll) {
      poll();
      next_poll = steps + kPollEvery;
    }
  };

  // The tile: output position p is (image p / per_image, row (p % per_image) / F, column
  // p % F); a GEMM is one image of m rows of width 1. Reduction index x is (channel, filter row,
  // filter column) = (x / (R S), x / S % R, x % S).
  const bool gemm = w.out_h == 0;
  const int64_t R = w.kernel_h, S = w.kernel_w, C = spec.cols;
  const int64_t F = gemm ? 1 : w.out_w, per_image = gemm ? m : w.out_h * w.out_w;
  const int64_t images = (m - 1) / per_image + 1;  // the image of the last position, plus one
  // Output rows: all of them once an image is complete, else up to the last position's row.
  const int64_t E = m > per_image ? w.out_h : (m - 1) / F + 1;
  const int64_t channels = (k - 1) / (R * S) + 1;
  const auto position = [&](int64_t image, int64_t row, int64_t col) {
    return image * per_image + row * F + col;
  };
  // The set: filter rows cut into chunks of `height` PE rows, `stack` sets on each array's
  // rows; output rows cut into strips of C columns.
  const RowStationarySets sets = row_stationary_sets(spec, w);
  const int64_t H = sets.height, chunks = sets.chunks;
  const int64_t strips = (E + C - 1) / C;
  const int64_t slots = sets.stack * spec.arrays;
  // Spad split (JSSC 2017 Sec. III-B): pe_weights / S filter rows per PE, as q channels x p
  // filters with q the largest square root that fits, at most the tile's channels.
  const int64_t rows_in_spad = std::max<int64_t>(1, spec.pe_weights / S);
  int64_t q = 1;
  while ((q + 1) * (q + 1) <= rows_in_spad && q + 1 <= channels) ++q;
  const int64_t p = std::min(std::max<int64_t>(rows_in_spad / q, 1), n);
  // Stacked sets not taken by the strip's own rows hold other channels of the same outputs.
  const int64_t sets_summed = std::max<int64_t>(1, sets.stack / strips);

  RowStationaryCost c;

  // Ifmap delivery: for each (image, channel) the buffer sends every row and column the
  // windows of each group of p filters span once; the group's filters share it.
  for (int64_t img = 0; img < images; ++img) {
    for (int64_t ch = 0; ch < channels; ++ch) {
      for (int64_t first = 0; first < n; first += p) {
        int64_t lo = -1, hi = -1;
        for (int64_t strip = 0; strip < strips; ++strip) {
          for (int64_t chunk = 0; chunk < chunks; ++chunk) {
            for (int64_t i = 0; i < H && chunk * H + i < R; ++i) {
              for (int64_t j = 0; j < C && strip * C + j < E; ++j) {
                const int64_t row = (strip * C + j) * w.stride_h + (chunk * H + i) * w.dilation_h;
                lo = lo < 0 ? row : std::min(lo, row);
                hi = std::max(hi, row);
              }
            }
          }
        }
        int64_t clo = -1, chi = -1;  // a PE streams its ifmap row under the F x S windows
        for (int64_t f = 0; f < F; ++f) {
          for (int64_t s = 0; s < S; ++s) {
            const int64_t col = f * w.stride_w + s * w.dilation_w;
            clo = clo < 0 ? col : std::min(clo, col);
            chi = std::max(chi, col);
          }
        }
        c.ifmap_reads += (hi - lo + 1) * (chi - clo + 1);
        tick(strips * chunks * H * C + F * S);
      }
    }
  }

  // Work units, chunk innermost so one output's channel contributions follow each other.
  const int64_t work = images * strips * n * channels * chunks;
  const auto unit = [&](int64_t u) {
    Unit x{};
    x.chunk = u % chunks;
    u /= chunks;
    x.channel = u % channels;
    u /= channels;
    x.filter = u % n;
    u /= n;
    x.strip = u % strips;
    x.image = u / strips;
    return x;
  };
  // Real outputs of a unit's strip (positions < m), the partial sums it leaves.
  const auto strip_outputs = [&](const Unit& x) {
    int64_t outs = 0;
    for (int64_t j = 0; j < C && x.strip * C + j < E; ++j) {
      for (int64_t f = 0; f < F; ++f) outs += position(x.image, x.strip * C + j, f) < m;
    }
    return outs;
  };

  const int64_t FS = F * S;
  std::vector<Unit> in_pass;
  in_pass.reserve(static_cast<size_t>(std::min(slots, work)));
  int64_t pass = 0, last_mac_00 = -1, last_write = -1;
  int64_t pending = 0;   // channel contributions summed in the array since the last write-out
  bool written = false;  // the current output strip has left the array before
  for (int64_t first = 0; first < work; first += slots, ++pass) {
    in_pass.clear();
    for (int64_t u = first; u < std::min(work, first + slots); ++u) in_pass.push_back(unit(u));
    // Passes issue back to back: PE (0, 0) of every set starts this pass's first MAC at
    // `start`, PE (i, j) i + j cycles later (filter rows move right, partial sums up).
    const int64_t start = pass * FS;
    for (int64_t t = 0; t < FS; ++t) {
      const int64_t f = t / S, s = t % S;
      for (const Unit& x : in_pass) {
        for (int64_t i = 0; i < H; ++i) {
          const int64_t r = x.chunk * H + i;
          const bool row_real = r < R && (x.channel * R + r) * S + s < k;
          for (int64_t j = 0; j < C; ++j) {
            const int64_t e = x.strip * C + j;
            c.macs += row_real && e < E && position(x.image, e, f) < m;
            const int64_t cycle = start + i + j + t;  // PE (i, j) runs i + j cycles behind
            // The column's partial sum of output f leaves the set's last row the cycle after
            // its last tap there.
            if (i == H - 1 && s == S - 1) last_write = std::max(last_write, cycle + 1);
          }
        }
        last_mac_00 = std::max(last_mac_00, start + t);  // PE (0, 0): the steady state
      }
      tick(static_cast<int64_t>(in_pass.size()) * H * C);
    }
    // Data movement of the pass's units, in unit order.
    for (const Unit& x : in_pass) {
      if (x.image == 0) {  // a set's weights enter its spads when it first runs
        for (int64_t i = 0; i < H && x.chunk * H + i < R; ++i) {
          for (int64_t s = 0; s < S; ++s) {
            c.filter_reads += (x.channel * R + x.chunk * H + i) * S + s < k;
          }
        }
      }
      // q channels add up in each psum register and sets_summed stacked sets add theirs on
      // the way up; then (or after the last contribution) the partial sums leave the array.
      const bool last = x.channel == channels - 1 && x.chunk == chunks - 1;
      if (++pending == q * sets_summed || last) {
        const int64_t outs = strip_outputs(x);
        c.psum_writes += outs;
        if (written) c.psum_reads += outs;  // accumulate onto the previous write-out
        written = !last;
        pending = 0;
      }
      tick(H * S + C * F);
    }
  }
  c.passes = pass;
  c.steady = last_mac_00 + 1;
  c.cycles = last_write + 1;
  c.fill = c.cycles - c.steady;
  return c;
}

}  // namespace pysim
