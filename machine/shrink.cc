#include "machine/shrink.h"

#include <fmt/format.h>

namespace strata::machine {

CpuId GuidedOracle::Pick(const Decision& d) {
  if (d.step < guide_.size() &&
      std::binary_search(d.runnable.begin(), d.runnable.end(), guide_[d.step])) {
    return guide_[d.step];
  }
  if (d.last.valid() && std::binary_search(d.runnable.begin(), d.runnable.end(), d.last)) {
    return d.last;
  }
  return d.runnable.front();
}

std::uint64_t Switches(std::span<const CpuId> schedule) {
  std::uint64_t n = 0;
  for (std::size_t i = 1; i < schedule.size(); ++i) n += schedule[i] != schedule[i - 1];
  return n;
}

std::string DescribeShrunk(std::span<const CpuId> steps, std::uint64_t original,
                           std::uint64_t tries) {
  return fmt::format("{} steps to the failure with {} context switches (was {} steps; {} tries)",
                     steps.size(), Switches(steps), original, tries);
}

}  // namespace strata::machine
