#include "machine/fairness.h"

namespace strata::machine {

FairnessGuard::FairnessGuard(int cpus, std::uint64_t bound)
    : bound_(bound), since_(static_cast<std::size_t>(cpus), 0), next_check_(bound) {}

CpuId FairnessGuard::Scan(std::uint64_t step, std::span<const CpuId> runnable) {
  CpuId oldest;
  for (CpuId c : runnable) {
    if (!oldest.valid() || since_[c.index()] < since_[oldest.index()]) oldest = c;
  }
  if (!oldest.valid()) {
    next_check_ = UINT64_MAX;
    return CpuId();
  }
  if (step - since_[oldest.index()] >= bound_) return oldest;  // check again next step
  next_check_ = since_[oldest.index()] + bound_;
  return CpuId();
}

}  // namespace strata::machine
