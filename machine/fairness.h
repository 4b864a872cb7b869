// The fairness guard: every runnable CPU takes a step within F switch points.
//
// It remembers, per CPU, the step since which it has been waiting, and the
// earliest step at which any runnable CPU could be passed over F times. Only
// when that step comes does it scan the runnable CPUs for the one that waited
// longest (lowest id on ties), so a step costs O(1) amortised. An "overdue"
// CPU is run in place of the oracle's choice, or, when the oracle replays a
// recorded schedule, the schedule is reported as unfair. Since one CPU is
// forced per step, a CPU may wait up to F + (cpus - 1) steps when several
// become overdue together; worst_wait() says what actually happened.
#ifndef STRATA_MACHINE_FAIRNESS_H_
#define STRATA_MACHINE_FAIRNESS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "machine/ids.h"

namespace strata::machine {

class FairnessGuard {
 public:
  // `bound` = F >= 1.
  FairnessGuard(int cpus, std::uint64_t bound);

  std::uint64_t bound() const { return bound_; }

  // `cpu` became runnable before step `step`.
  void AddRunnable(CpuId cpu, std::uint64_t step) {
    since_[cpu.index()] = step;
    if (step + bound_ < next_check_) next_check_ = step + bound_;
  }
  // `cpu` took step `step`.
  void Ran(CpuId cpu, std::uint64_t step) {
    std::uint64_t waited = step - since_[cpu.index()];
    if (waited > worst_wait_) worst_wait_ = waited;
    since_[cpu.index()] = step + 1;
  }

  // The runnable CPU (of the sorted `runnable`) passed over at least F times
  // before step `step`, if any: the one that waited longest.
  CpuId Overdue(std::uint64_t step, std::span<const CpuId> runnable) {
    if (step < next_check_) return CpuId();
    return Scan(step, runnable);
  }
  // How many steps `cpu` has been passed over before step `step`.
  std::uint64_t Waited(CpuId cpu, std::uint64_t step) const { return step - since_[cpu.index()]; }
  // The longest any CPU waited while runnable before it ran.
  std::uint64_t worst_wait() const { return worst_wait_; }

 private:
  CpuId Scan(std::uint64_t step, std::span<const CpuId> runnable);

  std::uint64_t bound_;
  std::vector<std::uint64_t> since_;
  std::uint64_t next_check_;
  std::uint64_t worst_wait_ = 0;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_FAIRNESS_H_
