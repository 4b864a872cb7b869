#include "machine/fairness.h"

#include <algorithm>

namespace strata::machine {

FairnessGuard::FairnessGuard(int cpus, std::uint64_t bound)
    : bound_(bound),
      lead_(bound + 1 > static_cast<std::uint64_t>(cpus)
                ? bound + 1 - static_cast<std::uint64_t>(cpus)
                : 0),
      waits_(static_cast<std::size_t>(cpus)),
      clock_(static_cast<std::uint64_t>(cpus)),
      next_check_(lead_) {
  // Before any call, the deadline order is the id order.
  // by_order_ is allocated by the first sort, which most runs never need (a
  // checker builds two machines per execution).
  for (std::size_t c = 0; c < waits_.size(); ++c) waits_[c].order = c;
}

CpuId FairnessGuard::Scan(std::uint64_t step, std::span<const CpuId> runnable) {
  if (runnable.empty()) {
    next_check_ = UINT64_MAX;  // until a CPU becomes runnable (NewDeadline)
    return CpuId();
  }
  const std::uint64_t last = runnable.size() - 1;
  // The earliest deadline bounds them all: position k's is no earlier, so
  // while the earliest is more than `last` steps away every position has
  // slack, until it is `last` steps away.
  std::uint64_t earliest = UINT64_MAX;
  for (CpuId c : runnable) earliest = std::min(earliest, waits_[c.index()].since);
  earliest += bound_;
  if (earliest > step + last) {
    next_check_ = earliest - last;
    return CpuId();
  }
  // The runnable CPU at position k steps no earlier than step + k, when
  // every earlier one has. Any CPU up to the first position without slack
  // may step now and the rest still fit: when that is the last position,
  // the oracle's choice stands; before it, the earliest deadline is forced
  // (a choice among the positions up to it would do too).
  by_order_.assign(runnable.begin(), runnable.end());
  std::sort(by_order_.begin(), by_order_.end(), [this](CpuId a, CpuId b) {
    return waits_[a.index()].order < waits_[b.index()].order;
  });
  std::uint64_t next = UINT64_MAX;
  for (std::uint64_t k = 0; k <= last; ++k) {
    const std::uint64_t deadline = waits_[by_order_[k].index()].since + bound_;
    if (deadline > step + k) {
      next = std::min(next, deadline - k);  // when position k runs out of slack
    } else if (k < last) {
      return by_order_[0];  // and check again next step
    } else {
      next = step + 1;  // a CPU that becomes runnable puts this one before it
    }
  }
  next_check_ = next;
  return CpuId();
}

}  // namespace strata::machine
