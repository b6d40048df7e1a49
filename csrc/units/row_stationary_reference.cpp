#include "units/row_stationary_reference.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pysim {

namespace {

// Guard against runs that would take minutes: the reference is for tests and small studies.
constexpr int64_t kMaxPeUpdates = int64_t{1} << 32;
constexpr int64_t kPollEvery = int64_t{1} << 22;  // PE updates (or walk steps) between polls

struct Unit {
  int64_t image, strip, filter, channel, chunk;
};

__extension__ typedef __int128 Index;  // an input row or column, up to 2 x 2^126

// The ifmap rows (or columns) some windows touch: the distinct values of x * a + y * b for
// output index x < nx read at tap y < ny (a: the stride, b: the dilation). Walks every (x, y)
// once in increasing order of its index -- a merge of one increasing run per value of the
// shorter of x and y, a heap of their heads -- and counts the values it has not just seen, so
// memory stays O(min(nx, ny)). 128-bit indices: they may pass 2^63 where the count does not.
template <class Tick>
int64_t distinct_indices(int64_t a, int64_t nx, int64_t b, int64_t ny, Tick&& tick) {
  if (nx > ny) {
    std::swap(a, b);
    std::swap(nx, ny);
  }
  struct Head {
    Index index;
    int64_t y;  // the run's position along the longer extent
  };
  const auto later = [](const Head& u, const Head& v) { return u.index > v.index; };
  std::vector<Head> heads;
  heads.reserve(static_cast<size_t>(nx));
  for (int64_t x = 0; x < nx; ++x) heads.push_back({static_cast<Index>(x) * a, 0});
  std::make_heap(heads.begin(), heads.end(), later);
  int64_t count = 0, walked = 0;
  Index last = -1;
  while (!heads.empty()) {
    std::pop_heap(heads.begin(), heads.end(), later);
    Head& h = heads.back();
    count += h.index != last;
    last = h.index;
    if (++h.y < ny) {
      h.index += b;
      std::push_heap(heads.begin(), heads.end(), later);
    } else {
      heads.pop_back();
    }
    if (++walked == 4096) {
      tick(walked);
      walked = 0;
    }
  }
  tick(walked);
  return count;
}

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
  const int64_t last_row = (m - 1) % per_image / F;  // the last position's row in its image
  const int64_t channels = (k - 1) / (R * S) + 1;
  const auto position = [&](int64_t image, int64_t row, int64_t col) {
    return image * per_image + row * F + col;
  };
  // The set: filter rows cut into chunks of `height` PE rows, `stack` sets on each array's
  // rows; each image's output rows (those holding one of the tile's positions: all of an
  // image the tile passes, up to the last position's row of the last one) cut into strips of
  // C columns.
  const RowStationarySets sets = row_stationary_sets(spec, w);
  const int64_t H = sets.height, chunks = sets.chunks;
  const auto rows_of = [&](int64_t image) {
    return image + 1 < images ? per_image / F : last_row + 1;
  };
  const auto strips_of = [&](int64_t image) { return (rows_of(image) + C - 1) / C; };
  const int64_t slots = sets.stack * spec.arrays;
  // Spad split (JSSC 2017 Sec. III-B): pe_weights / S filter rows per PE, as q channels x p
  // filters with q the largest square root that fits, at most the tile's channels.
  const int64_t rows_in_spad = std::max<int64_t>(1, spec.pe_weights / S);
  int64_t q = 1;
  while ((q + 1) * (q + 1) <= rows_in_spad && q + 1 <= channels) ++q;
  const int64_t p = std::min(std::max<int64_t>(rows_in_spad / q, 1), n);
  // Stacked sets not taken by the strips of the tile's largest image hold other channels of
  // the same outputs.
  int64_t most_strips = 0;
  for (int64_t img = 0; img < images; ++img) most_strips = std::max(most_strips, strips_of(img));
  const int64_t sets_summed = std::max<int64_t>(1, sets.stack / most_strips);

  RowStationaryCost c;

  // Ifmap delivery: for each (image, channel) the buffer sends each group of p filters every
  // ifmap row and column the windows of the image's strips touch, once (the group's filters
  // share it; rows a stride skips between windows are not sent). PE (i, j) of a unit on strip
  // `strip` and chunk `chunk` reads input row (strip C + j) stride_h + (chunk H + i)
  // dilation_h: over the image's strips and chunks, every output row e < rows_of(image) at
  // every filter row r < R. A PE streams its ifmap row under all F x S windows: input column
  // f stride_w + s dilation_w.
  const int64_t in_cols = distinct_indices(w.stride_w, F, w.dilation_w, S, tick);
  for (int64_t img = 0; img < images; ++img) {
    const int64_t in_rows = distinct_indices(w.stride_h, rows_of(img), w.dilation_h, R, tick);
    for (int64_t ch = 0; ch < channels; ++ch) {
      for (int64_t first = 0; first < n; first += p) c.ifmap_reads += in_rows * in_cols;
      tick((n + p - 1) / p);
    }
  }

  // Work units, image by image (each cut into its own strips), chunk innermost so one
  // output's channel contributions follow each other.
  Unit next{};  // the next unit to hand out; next.image == images when none is left
  int64_t strips_before = 0;  // the most strips of an image before next's: their sets ran
  const auto advance = [&]() {
    if (++next.chunk < chunks) return;
    next.chunk = 0;
    if (++next.channel < channels) return;
    next.channel = 0;
    if (++next.filter < n) return;
    next.filter = 0;
    if (++next.strip < strips_of(next.image)) return;
    next.strip = 0;
    strips_before = std::max(strips_before, strips_of(next.image));
    ++next.image;
  };
  // Real outputs of a unit's strip (positions < m), the partial sums it leaves.
  const auto strip_outputs = [&](const Unit& x) {
    int64_t outs = 0;
    for (int64_t j = 0; j < C && x.strip * C + j < rows_of(x.image); ++j) {
      for (int64_t f = 0; f < F; ++f) outs += position(x.image, x.strip * C + j, f) < m;
    }
    return outs;
  };

  const int64_t FS = F * S;
  std::vector<std::pair<Unit, bool>> in_pass;  // (unit, its set's weights are in the spads)
  in_pass.reserve(static_cast<size_t>(std::min<int64_t>(slots, 4096)));
  int64_t pass = 0, last_mac_00 = -1, last_write = -1;
  int64_t pending = 0;   // channel contributions summed in the array since the last write-out
  bool written = false;  // the current output strip has left the array before
  for (; next.image < images; ++pass) {
    in_pass.clear();
    while (next.image < images && static_cast<int64_t>(in_pass.size()) < slots) {
      // A set (strip, filter, channel, chunk) an earlier image ran keeps its weights.
      in_pass.emplace_back(next, next.strip < strips_before);
      advance();
    }
    // Passes issue back to back: PE (0, 0) of every set starts this pass's first MAC at
    // `start`, PE (i, j) i + j cycles later (filter rows move right, partial sums up).
    const int64_t start = pass * FS;
    for (int64_t t = 0; t < FS; ++t) {
      const int64_t f = t / S, s = t % S;
      for (const auto& entry : in_pass) {
        const Unit& x = entry.first;
        for (int64_t i = 0; i < H; ++i) {
          const int64_t r = x.chunk * H + i;
          const bool row_real = r < R && (x.channel * R + r) * S + s < k;
          for (int64_t j = 0; j < C; ++j) {
            const int64_t e = x.strip * C + j;
            c.macs += row_real && e < rows_of(x.image) && position(x.image, e, f) < m;
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
    for (const auto& [x, loaded] : in_pass) {
      if (!loaded) {  // a set's weights enter its spads when it first runs
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
