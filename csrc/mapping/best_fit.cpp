#include "mapping/best_fit.hpp"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace pysim {

int64_t best_fit_offset(const std::vector<PlacedSpan>& spans, int64_t first, int64_t last,
                        int64_t nbytes, int64_t budget, bool lowest) {
  // spans ascend by (lo, hi), as the reference sorts the blocks live during first..last: the
  // scan skips the others, so no try sorts
  int64_t best = -1, best_gap = budget + 1, top = 0;
  for (const PlacedSpan& s : spans) {
    if (s.first > last || first > s.last) continue;
    const int64_t gap = s.lo - top;
    if (lowest && gap >= nbytes) return top;
    if (gap >= nbytes && gap < best_gap) {
      best = top;
      best_gap = gap;
    }
    top = std::max(top, s.hi);
  }
  if (budget - top >= nbytes && budget - top < best_gap) best = top;
  return best;
}

StayPlacement place_stays(const StayList& stays, int64_t budget, const Poll& poll,
                          bool lowest, int64_t give_up_at) {
  Ticker ticker(poll);
  int64_t lost = 0;  // bytes x gaps of the stays placed so far that are not kept (saturating)
  StayPlacement out;
  out.offset.assign(static_cast<size_t>(stays.n), -1);
  out.kept.assign(static_cast<size_t>(stays.n), 0);
  std::vector<PlacedSpan> spans;  // the blocks placed, ascending by (lo, hi)
  spans.reserve(static_cast<size_t>(stays.n));
  for (int64_t i = 0; i < stays.n; ++i) {
    const int64_t first = stays.first[i], nbytes = stays.nbytes[i];
    for (int64_t count = stays.start[i + 1] - stays.start[i]; count > 0; --count) {
      ticker.tick(static_cast<int64_t>(spans.size()) + 1);
      const int64_t last = stays.ends[stays.start[i] + count - 1];
      const int64_t offset = best_fit_offset(spans, first, last, nbytes, budget, lowest);
      if (offset >= 0) {
        const PlacedSpan placed{offset, offset + nbytes, first, last};
        spans.insert(std::upper_bound(spans.begin(), spans.end(), placed,
                                      [](const PlacedSpan& a, const PlacedSpan& b) {
                                        return std::tie(a.lo, a.hi) < std::tie(b.lo, b.hi);
                                      }),
                     placed);
        out.offset[static_cast<size_t>(i)] = offset;
        out.kept[static_cast<size_t>(i)] = count;
        break;
      }
    }
    if (give_up_at >= 0) {
      const int64_t dropped =
          stays.start[i + 1] - stays.start[i] - out.kept[static_cast<size_t>(i)];
      if (dropped > 0) {
        lost = nbytes > (INT64_MAX - lost) / dropped ? INT64_MAX : lost + nbytes * dropped;
      }
      if (lost >= give_up_at) {
        out.abandoned = true;
        break;
      }
    }
  }
  return out;
}

}  // namespace pysim
