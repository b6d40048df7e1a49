// Cycle-stepped reference model of the row-stationary array (units/row_stationary.hpp).
//
// Enumerates the tile's work units image by image -- the full images it covers, then the
// partial one, each cut into strips of its own output rows -- as (image, strip of output rows,
// filter, channel, filter-row chunk), chunk innermost, and hands them out pass by pass to the
// set slots (floor(rows / chunk height) stacked per array, times arrays). Each pass is stepped
// cycle by cycle: every PE of an occupied set (PEs outside the strip or past the filter's last
// row hold zeros, as the systolic folds do) slides its filter row over its ifmap row, one MAC a
// cycle, F x S cycles; filter rows enter a set from the left and partial sums climb its
// columns one PE a cycle (Chen, Emer, Sze, ISCA 2016, Fig. 6), so PE (i, j) runs i + j cycles
// behind PE (0, 0) and the set's last partial sum leaves height + cols - 1 cycles after PE
// (0, 0)'s last MAC. MACs count the PEs holding a real output position (< m) and a real
// reduction index (< k). Accesses are counted by walking the data movement: for each (image,
// channel) and group of p filters, the distinct ifmap rows the windows of the image's strips
// touch times the distinct columns a row's F x S windows touch (collected as sets of indices,
// so rows a stride skips are not counted); each weight loaded into a set's spad when the set
// (strip, filter, channel, chunk) first runs (a later image's strip reuses them); and each
// partial sum leaving the array after q x (stacked sets) channel contributions. Everything must
// equal row_stationary_cost() where its touched-rows rule min(span, outs x taps) is the
// distinct count (stride 1 or dilation 1); the tests hold them equal.
#pragma once

#include <cstdint>
#include <functional>

#include "units/row_stationary.hpp"

namespace pysim {

// poll, when given, is called every few million PE updates (the bindings check Ctrl-C there;
// it may throw to stop the run). Throws std::invalid_argument on bad input or a tile whose
// cycles x PEs exceed the budget of 2^32 PE updates, before stepping anything.
RowStationaryCost row_stationary_reference(const RowStationarySpec& spec,
                                           const ConvWindowSpec& window, int64_t m, int64_t n,
                                           int64_t k,
                                           const std::function<void()>& poll = nullptr);

}  // namespace pysim
