#include "machine/fairness.h"

#include <algorithm>

namespace strata::machine {

FairnessGuard::FairnessGuard(int cpus, std::uint64_t bound)
    : bound_(bound),
      sentinel_(static_cast<std::uint32_t>(cpus)),
      next_(static_cast<std::size_t>(cpus) + 1, kNone),
      prev_(static_cast<std::size_t>(cpus) + 1, kNone),
      since_(static_cast<std::size_t>(cpus) + 1, 0) {
  next_[sentinel_] = prev_[sentinel_] = sentinel_;
}

void FairnessGuard::Unlink(std::uint32_t c) {
  next_[prev_[c]] = next_[c];
  prev_[next_[c]] = prev_[c];
  next_[c] = prev_[c] = kNone;
}

void FairnessGuard::PushBack(std::uint32_t c) {
  std::uint32_t last = prev_[sentinel_];
  next_[last] = c;
  prev_[c] = last;
  next_[c] = sentinel_;
  prev_[sentinel_] = c;
}

void FairnessGuard::AddRunnable(CpuId cpu, std::uint64_t step) {
  std::uint32_t c = static_cast<std::uint32_t>(cpu.index());
  since_[c] = step;
  PushBack(c);
}

void FairnessGuard::RemoveRunnable(CpuId cpu) { Unlink(static_cast<std::uint32_t>(cpu.index())); }

void FairnessGuard::Ran(CpuId cpu, std::uint64_t step) {
  std::uint32_t c = static_cast<std::uint32_t>(cpu.index());
  worst_wait_ = std::max(worst_wait_, step - since_[c]);
  since_[c] = step + 1;
  if (prev_[sentinel_] != c) {
    Unlink(c);
    PushBack(c);
  }
}

}  // namespace strata::machine
