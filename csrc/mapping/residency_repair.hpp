// The keep / drop residency program's plan from its LP relaxation (pysim/mapping/
// planned_residency.py, ``_round`` and ``_improve``): the rounding (gaps in a given order, each
// kept where the area has room throughout its span) and the repair (a gap forced in, the kept
// gaps in its way dropped greedily, the rest re-kept where they fit). The Python functions
// ``_round_reference`` and ``_improve_reference`` are the reference; tests hold them equal.
#pragma once

#include <cstdint>
#include <vector>

#include "common/budget.hpp"

namespace pysim {

// The program's gaps: gap k holds nbytes[k] during steps lo[k]..hi[k] (0 <= lo <= hi < steps)
// and saves save[k] bytes kept; owner[k] is its tensor's index in the "every gap kept" table
// (w_bytes: the write-back saved when all w_gaps of the owner's gaps are kept; the last entry,
// w_gaps -1, owns the gaps of no such tensor).
struct GapTable {
  int64_t count = 0;
  int64_t steps = 0;
  const int64_t* nbytes = nullptr;
  const int64_t* lo = nullptr;
  const int64_t* hi = nullptr;
  const double* save = nullptr;
  const int64_t* owner = nullptr;
  int64_t owners = 0;  // entries of w_bytes and w_gaps
  const double* w_bytes = nullptr;
  const int64_t* w_gaps = nullptr;
};

// The gaps in `order` (a permutation), each kept where every step of its span has room.
std::vector<uint8_t> round_plan(const GapTable& gaps, const int64_t* order, int64_t budget);

// ``_improve_reference``'s repair of `keep`: `order` is the rounding's order, `positive` the
// gaps the relaxation keeps in part (x > 1e-6); `extra` dropped gaps of largest saving that
// it drops too are tried last in a pass; at most `passes` passes; no move starts once
// `seconds` have passed.
std::vector<uint8_t> repair_plan(const GapTable& gaps, const uint8_t* keep, const int64_t* order,
                                 const uint8_t* positive, int64_t budget, int64_t extra,
                                 int64_t passes, double seconds, const Poll& poll);

}  // namespace pysim
