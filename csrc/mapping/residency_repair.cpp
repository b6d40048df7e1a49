#include "mapping/residency_repair.hpp"

#include <algorithm>
#include <chrono>

namespace pysim {

namespace {

using Held = std::vector<int64_t>;

int64_t peak(const Held& held, int64_t lo, int64_t hi) {  // steps lo..hi inclusive
  return *std::max_element(held.begin() + lo, held.begin() + hi + 1);
}

void add(Held& held, int64_t lo, int64_t hi, int64_t bytes) {
  for (int64_t s = lo; s <= hi; ++s) held[static_cast<size_t>(s)] += bytes;
}

// The program's objective of a keep set: each kept gap's saving, plus each owner's write-back
// where all its gaps are kept (``_kept_bytes``). Integral values below 2^53: exact in double.
double objective(const GapTable& g, const std::vector<uint8_t>& keep,
                 std::vector<int64_t>& kept_of) {
  std::fill(kept_of.begin(), kept_of.end(), 0);
  double total = 0.0;
  for (int64_t k = 0; k < g.count; ++k) {
    if (keep[static_cast<size_t>(k)]) {
      total += g.save[k];
      ++kept_of[static_cast<size_t>(g.owner[k])];
    }
  }
  for (int64_t w = 0; w < g.owners; ++w) {
    if (kept_of[static_cast<size_t>(w)] == g.w_gaps[w]) total += g.w_bytes[w];
  }
  return total;
}

}  // namespace

std::vector<uint8_t> round_plan(const GapTable& g, const int64_t* order, int64_t budget) {
  std::vector<uint8_t> keep(static_cast<size_t>(g.count), 0);
  Held held(static_cast<size_t>(g.steps), 0);
  for (int64_t i = 0; i < g.count; ++i) {
    const int64_t k = order[i];
    if (peak(held, g.lo[k], g.hi[k]) + g.nbytes[k] <= budget) {
      keep[static_cast<size_t>(k)] = 1;
      add(held, g.lo[k], g.hi[k], g.nbytes[k]);
    }
  }
  return keep;
}

std::vector<uint8_t> repair_plan(const GapTable& g, const uint8_t* keep_in, const int64_t* order,
                                 const uint8_t* positive, int64_t budget, int64_t extra,
                                 int64_t passes, double seconds, const Poll& poll) {
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(std::min(seconds, 1e9)));
  Ticker ticker(poll, int64_t{1} << 20);
  const auto n = static_cast<size_t>(g.count);
  std::vector<int64_t> rank(n);
  for (int64_t i = 0; i < g.count; ++i) rank[static_cast<size_t>(order[i])] = i;
  std::vector<uint8_t> keep(keep_in, keep_in + n);
  Held held(static_cast<size_t>(g.steps), 0);
  for (int64_t k = 0; k < g.count; ++k) {
    if (keep[static_cast<size_t>(k)]) add(held, g.lo[k], g.hi[k], g.nbytes[k]);
  }
  std::vector<int64_t> kept_of(static_cast<size_t>(g.owners), 0);
  double best = objective(g, keep, kept_of);
  // scratch of a move
  std::vector<uint8_t> trial;
  Held th;
  std::vector<int64_t> span, dropped, candidates, near;
  std::vector<int64_t> excess, over_steps, trial_kept_of(static_cast<size_t>(g.owners));
  std::vector<double> loss;
  std::vector<uint8_t> is_near(n);
  for (int64_t pass = 0; pass < passes; ++pass) {
    bool moved = false;
    candidates.clear();
    for (int64_t i = 0; i < g.count; ++i) {
      const int64_t k = order[i];
      if (positive[k] && !keep[static_cast<size_t>(k)]) candidates.push_back(k);
    }
    std::vector<int64_t> unkept;
    for (int64_t k = 0; k < g.count; ++k) {
      if (!keep[static_cast<size_t>(k)] && !positive[k]) unkept.push_back(k);
    }
    std::stable_sort(unkept.begin(), unkept.end(),
                     [&](int64_t a, int64_t b) { return g.save[a] > g.save[b]; });
    unkept.resize(static_cast<size_t>(std::min<int64_t>(extra, static_cast<int64_t>(unkept.size()))));
    candidates.insert(candidates.end(), unkept.begin(), unkept.end());
    for (const int64_t f : candidates) {
      if (Clock::now() > deadline) return keep;
      const int64_t lo = g.lo[f], hi = g.hi[f] + 1;  // hi exclusive
      const int64_t width = hi - lo;
      trial = keep;
      th = held;
      span.clear();
      for (int64_t k = 0; k < g.count; ++k) {
        if (trial[static_cast<size_t>(k)] && g.lo[k] < hi && g.hi[k] >= lo) span.push_back(k);
      }
      ticker.tick(g.count + width);
      dropped.clear();
      std::fill(trial_kept_of.begin(), trial_kept_of.end(), 0);
      for (int64_t k = 0; k < g.count; ++k) {
        if (trial[static_cast<size_t>(k)]) ++trial_kept_of[static_cast<size_t>(g.owner[k])];
      }
      const double gain = g.save[f] + g.w_bytes[g.owner[f]];
      double lost = 0.0;
      excess.assign(static_cast<size_t>(width + 1), 0);
      over_steps.assign(static_cast<size_t>(width + 1), 0);
      while (!span.empty() && lost <= gain) {
        bool any = false;
        for (int64_t s = 0; s < width; ++s) {
          const int64_t over = std::max<int64_t>(th[static_cast<size_t>(lo + s)] + g.nbytes[f] - budget, 0);
          any = any || over > 0;
          excess[static_cast<size_t>(s + 1)] = excess[static_cast<size_t>(s)] + over;
          over_steps[static_cast<size_t>(s + 1)] = over_steps[static_cast<size_t>(s)] + (over > 0);
        }
        if (!any) break;
        ticker.tick(width + static_cast<int64_t>(span.size()));
        // the overload within each candidate's span, at most its bytes at each overloaded step
        size_t pick = 0;
        double pick_score = 0.0, pick_loss = 0.0;
        for (size_t j = 0; j < span.size(); ++j) {
          const int64_t k = span[j];
          const auto first = static_cast<size_t>(std::max(g.lo[k], lo) - lo);
          const auto last = static_cast<size_t>(std::min(g.hi[k] + 1, hi) - lo);
          const int64_t relief = std::min(excess[last] - excess[first],
                                          g.nbytes[k] * (over_steps[last] - over_steps[first]));
          const int64_t w = g.owner[k];
          const double l = g.save[k] + (trial_kept_of[static_cast<size_t>(w)] == g.w_gaps[w]
                                            ? g.w_bytes[w] : 0.0);
          const double score = static_cast<double>(relief) / std::max(l, 1.0);
          if (j == 0 || score > pick_score) {
            pick = j;
            pick_score = score;
            pick_loss = l;
          }
        }
        if (pick_score <= 0) break;
        const int64_t k = span[pick];
        lost += pick_loss;
        trial[static_cast<size_t>(k)] = 0;
        --trial_kept_of[static_cast<size_t>(g.owner[k])];
        add(th, g.lo[k], g.hi[k], -g.nbytes[k]);
        dropped.push_back(k);
        span.erase(span.begin() + static_cast<std::ptrdiff_t>(pick));
      }
      if (peak(th, lo, hi - 1) + g.nbytes[f] > budget) continue;
      trial[static_cast<size_t>(f)] = 1;
      add(th, lo, hi - 1, g.nbytes[f]);
      if (!dropped.empty()) {  // room freed only where a dropped gap was
        std::fill(is_near.begin(), is_near.end(), 0);
        for (const int64_t d : dropped) {
          for (int64_t k = 0; k < g.count; ++k) {
            if (g.lo[k] <= g.hi[d] && g.hi[k] >= g.lo[d]) is_near[static_cast<size_t>(k)] = 1;
          }
        }
        ticker.tick(static_cast<int64_t>(dropped.size()) * g.count);
        // a gap fits only where its first and last steps have room (checked at once)
        near.clear();
        for (int64_t k = 0; k < g.count; ++k) {
          if (is_near[static_cast<size_t>(k)] && !trial[static_cast<size_t>(k)] &&
              std::max(th[static_cast<size_t>(g.lo[k])], th[static_cast<size_t>(g.hi[k])]) +
                      g.nbytes[k] <= budget) {
            near.push_back(k);
          }
        }
        std::sort(near.begin(), near.end(),
                  [&](int64_t a, int64_t b) { return rank[static_cast<size_t>(a)] < rank[static_cast<size_t>(b)]; });
        for (const int64_t k : near) {
          if (peak(th, g.lo[k], g.hi[k]) + g.nbytes[k] <= budget) {
            trial[static_cast<size_t>(k)] = 1;
            add(th, g.lo[k], g.hi[k], g.nbytes[k]);
          }
        }
      }
      const double value = objective(g, trial, kept_of);
      if (value > best) {
        keep.swap(trial);
        held.swap(th);
        best = value;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return keep;
}

}  // namespace pysim
