// Addresses in the simulator's kept area (pysim/mapping/kept_area.py, ``_place_in``): best fit
// of kept tensors' stays in a given order (TFLite's greedy-by-size offset planner, Pisarchyk &
// Lee, arXiv 2001.03288, Sec. 4.2), each stay cut to the longest prefix of its gaps that finds
// room. The Python placer is the reference; tests hold the two equal.
#pragma once

#include <cstdint>
#include <vector>

#include "common/budget.hpp"

namespace pysim {

// The stays in placement order: stay i is in the area from first[i] through ends[start[i] +
// c - 1] when c of its gaps are kept (its gaps' last steps ascending in ends[start[i] ..
// start[i + 1] - 1]), nbytes[i] wide.
struct StayList {
  int64_t n = 0;
  const int64_t* first = nullptr;
  const int64_t* nbytes = nullptr;
  const int64_t* start = nullptr;  // n + 1 offsets into ends
  const int64_t* ends = nullptr;
};

// Per stay, its offset (-1: dropped) and how many of its gaps stay kept (0: dropped);
// `abandoned`: the placement stopped once it had lost `give_up_at` (the stays after that one
// are left dropped).
struct StayPlacement {
  std::vector<int64_t> offset;
  std::vector<int64_t> kept;
  bool abandoned = false;
};

// A block placed: bytes lo..hi - 1 of the area during steps first..last.
struct PlacedSpan {
  int64_t lo, hi, first, last;
};

// The offset of nbytes during steps first..last among the spans already placed (ascending by
// (lo, hi)), the top of an area of `budget` bytes included: the smallest gap that holds it
// (best fit), or with `lowest` the lowest (first fit); -1 if no gap holds it.
int64_t best_fit_offset(const std::vector<PlacedSpan>& spans, int64_t first, int64_t last,
                        int64_t nbytes, int64_t budget, bool lowest = false);

// With `give_up_at` >= 0 it stops once the stays placed have lost that many bytes x gaps
// (their bytes times the gaps not kept): a placement that can keep no more than the best one
// tried already (kept_area.place keeps the first of the best) need not finish.
StayPlacement place_stays(const StayList& stays, int64_t budget, const Poll& poll,
                          bool lowest = false, int64_t give_up_at = -1);

}  // namespace pysim
