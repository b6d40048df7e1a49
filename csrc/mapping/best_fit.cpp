#include "mapping/best_fit.hpp"

#include <algorithm>
#include <utility>

namespace pysim {

int64_t best_fit_offset(const std::vector<int64_t>& spans, int64_t first, int64_t last,
                        int64_t nbytes, int64_t budget, std::vector<int64_t>& scratch,
                        bool lowest) {
  // the placed blocks live during first..last, as (lo, hi) pairs sorted as Python sorts tuples
  scratch.clear();
  for (size_t s = 0; s + 3 < spans.size(); s += 4) {
    if (spans[s] <= last && first <= spans[s + 1]) {
      scratch.push_back(spans[s + 2]);
      scratch.push_back(spans[s + 3]);
    }
  }
  const size_t count = scratch.size() / 2;
  auto* pairs = reinterpret_cast<std::pair<int64_t, int64_t>*>(scratch.data());
  static_assert(sizeof(std::pair<int64_t, int64_t>) == 2 * sizeof(int64_t));
  std::sort(pairs, pairs + count);
  int64_t best = -1, best_gap = budget + 1, top = 0;
  for (size_t b = 0; b < count; ++b) {
    const int64_t gap = pairs[b].first - top;
    if (lowest && gap >= nbytes) return top;
    if (gap >= nbytes && gap < best_gap) {
      best = top;
      best_gap = gap;
    }
    top = std::max(top, pairs[b].second);
  }
  if (budget - top >= nbytes && budget - top < best_gap) best = top;
  return best;
}

StayPlacement place_stays(const StayList& stays, int64_t budget, const Poll& poll,
                          bool lowest) {
  Ticker ticker(poll);
  StayPlacement out;
  out.offset.assign(static_cast<size_t>(stays.n), -1);
  out.kept.assign(static_cast<size_t>(stays.n), 0);
  std::vector<int64_t> spans;  // (first, last, lo, hi) of each block placed
  spans.reserve(static_cast<size_t>(4 * stays.n));
  std::vector<int64_t> scratch;
  for (int64_t i = 0; i < stays.n; ++i) {
    const int64_t first = stays.first[i], nbytes = stays.nbytes[i];
    for (int64_t count = stays.start[i + 1] - stays.start[i]; count > 0; --count) {
      ticker.tick(static_cast<int64_t>(spans.size() / 4) + 1);
      const int64_t last = stays.ends[stays.start[i] + count - 1];
      const int64_t offset =
          best_fit_offset(spans, first, last, nbytes, budget, scratch, lowest);
      if (offset >= 0) {
        spans.insert(spans.end(), {first, last, offset, offset + nbytes});
        out.offset[static_cast<size_t>(i)] = offset;
        out.kept[static_cast<size_t>(i)] = count;
        break;
      }
    }
  }
  return out;
}

}  // namespace pysim
