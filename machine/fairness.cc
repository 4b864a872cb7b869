#include "machine/fairness.h"

#include <algorithm>

namespace strata::machine {

FairnessGuard::FairnessGuard(int cpus, std::uint64_t bound)
    : bound_(bound),
      lead_(bound + 1 > static_cast<std::uint64_t>(cpus)
                ? bound + 1 - static_cast<std::uint64_t>(cpus)
                : 0),
      since_(static_cast<std::size_t>(cpus), 0),
      prev_(static_cast<std::size_t>(cpus)),
      next_(static_cast<std::size_t>(cpus)),
      tail_(static_cast<std::size_t>(cpus) - 1),
      runnable_(static_cast<std::size_t>(cpus), 0),
      next_check_(lead_) {
  for (std::size_t c = 0; c < prev_.size(); ++c) {
    prev_[c] = c == 0 ? kNone : c - 1;
    next_[c] = c + 1 == next_.size() ? kNone : c + 1;
  }
}

CpuId FairnessGuard::Scan(std::uint64_t step, std::span<const CpuId> runnable) {
  for (CpuId c : runnable) runnable_[c.index()] = 1;
  // The runnable CPU at position k steps no earlier than step + k, when
  // every earlier one has. Any CPU up to the first position without slack
  // may step now and the rest still fit: when that is the last position,
  // the oracle's choice stands; before it, the earliest deadline is forced
  // (a choice among the positions up to it would do too).
  CpuId first, overdue;
  std::uint64_t next = UINT64_MAX;
  std::uint64_t k = 0;
  const std::uint64_t last = runnable.size() - 1;
  for (std::size_t c = head_; c != kNone && !overdue.valid(); c = next_[c]) {
    if (runnable_[c] == 0) continue;
    if (!first.valid()) first = CpuId(static_cast<CpuId::Rep>(c));
    const std::uint64_t deadline = since_[c] + bound_;
    if (deadline > step + k) {
      next = std::min(next, deadline - k);  // when position k runs out of slack
    } else if (k < last) {
      overdue = first;  // and check again next step
    } else {
      next = step + 1;  // a CPU that becomes runnable puts this one before it
    }
    ++k;
  }
  for (CpuId c : runnable) runnable_[c.index()] = 0;
  if (!overdue.valid()) next_check_ = next;
  return overdue;
}

}  // namespace strata::machine
