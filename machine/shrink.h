// Shrinking a failing run's schedule: the same search for every kind of
// run that can fail (a checked execution of a layer pair, a boot run), so
// `strata check` and `strata boot` report failures alike.
//
// A candidate is a guide: a schedule to follow where it can (GuidedOracle).
// The search tries shorter guides first — the shortest prefix of the steps
// to the failure that, run on without new context switches, still fails the
// same way — then fewer context switches (at each switch, the previous CPU
// keeps running). A candidate is kept only if it fails the same way with
// fewer steps to its failure, or as many steps and fewer switches.
#ifndef STRATA_MACHINE_SHRINK_H_
#define STRATA_MACHINE_SHRINK_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "machine/ids.h"
#include "machine/oracle.h"

namespace strata::machine {

// Follows a guide where it can; past its end, or where the guided CPU
// cannot run, it keeps the last CPU running (no new context switch) or
// takes the lowest runnable one.
class GuidedOracle final : public Oracle {
 public:
  explicit GuidedOracle(std::vector<CpuId> guide) : guide_(std::move(guide)) {}
  std::string Describe() const override { return "guided"; }
  CpuId Pick(const Decision& d) override;

 private:
  std::vector<CpuId> guide_;
};

// Context switches in a schedule.
std::uint64_t Switches(std::span<const CpuId> schedule);

// "12 steps to the failure with 3 context switches (was 40 steps; 17 tries)":
// a shrunk failure's `steps`, against the `original` number and the tries.
std::string DescribeShrunk(std::span<const CpuId> steps, std::uint64_t original,
                           std::uint64_t tries);

struct ShrinkOptions {
  std::uint64_t max_attempts = 4000;
  // Prefixes by bisection (for long runs: O(log n) candidates, exact when
  // failing is monotone in the prefix length; then the 32 lengths below the
  // shortest failing one found are tried one by one) instead of every
  // length from 0 up.
  bool bisect = false;
};

// Shrinks `best`, a failing run. `rerun(guide)` runs a candidate under a
// GuidedOracle following `guide` and returns it if it fails the same way,
// else nullopt; `to_failure(run)` is a run's steps up to its failure.
// `*attempts` counts the candidates run. Returns the smallest run found.
template <class Run, class Rerun, class ToFailure>
Run Shrink(Run best, const Rerun& rerun, const ToFailure& to_failure,
           const ShrinkOptions& options, std::uint64_t* attempts) {
  auto better = [&](const Run& a, const Run& b) {
    const std::vector<CpuId> sa = to_failure(a), sb = to_failure(b);
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    return Switches(sa) < Switches(sb);
  };
  // Runs a candidate and keeps it if it is better; says whether it failed
  // the same way and whether it was kept.
  struct Tried {
    bool failed = false;
    bool kept = false;
  };
  auto run = [&](std::vector<CpuId> guide) -> Tried {
    if (*attempts >= options.max_attempts) return {};
    ++*attempts;
    std::optional<Run> x = rerun(std::move(guide));
    if (!x) return {};
    if (!better(*x, best)) return {.failed = true};
    best = std::move(*x);
    return {.failed = true, .kept = true};
  };
  auto attempt = [&](std::vector<CpuId> guide) { return run(std::move(guide)).kept; };
  const std::vector<CpuId> full = to_failure(best);
  auto prefix = [&](std::size_t len) {
    return std::vector<CpuId>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
  };
  if (options.bisect) {
    // The shortest failing prefix in [lo, hi], hi known to fail (the whole).
    std::size_t lo = 0, hi = full.size();
    while (lo < hi && *attempts < options.max_attempts) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (run(prefix(mid)).failed) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    // Failing need not be monotone in the length: the lengths just below.
    for (std::size_t len = hi > 32 ? hi - 32 : 0; len < hi; ++len) {
      if (attempt(prefix(len))) break;
    }
  } else {
    for (std::size_t len = 0; len < full.size(); ++len) {
      if (attempt(prefix(len))) break;
    }
  }
  for (bool improved = true; improved && *attempts < options.max_attempts;) {
    improved = false;
    const std::vector<CpuId> s = to_failure(best);
    for (std::size_t i = 1; i < s.size() && !improved; ++i) {
      if (s[i] == s[i - 1]) continue;
      std::vector<CpuId> guide = s;
      guide[i] = s[i - 1];
      improved = attempt(std::move(guide));
    }
  }
  return best;
}

}  // namespace strata::machine

#endif  // STRATA_MACHINE_SHRINK_H_
