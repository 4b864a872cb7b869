// The fairness guard: every runnable CPU takes a step within F switch points.
//
// It keeps the runnable CPUs in least-recently-run order, so the CPU that has
// waited longest is always at the front and each step costs O(1). When that
// CPU has been passed over F times it is "overdue": the machine runs it in
// place of the oracle's choice, or, when the oracle replays a recorded
// schedule, reports the schedule as unfair. Because only one CPU is forced
// per step, a CPU may wait up to F + (cpus - 1) steps when several become
// overdue together; the report's worst wait says what actually happened.
#ifndef STRATA_MACHINE_FAIRNESS_H_
#define STRATA_MACHINE_FAIRNESS_H_

#include <cstdint>
#include <vector>

#include "machine/ids.h"

namespace strata::machine {

class FairnessGuard {
 public:
  // `bound` = F >= 1.
  FairnessGuard(int cpus, std::uint64_t bound);

  std::uint64_t bound() const { return bound_; }

  // `cpu` became runnable before step `step`. Precondition: not already runnable.
  void AddRunnable(CpuId cpu, std::uint64_t step);
  // `cpu` blocked or finished. Precondition: runnable.
  void RemoveRunnable(CpuId cpu);
  // `cpu` took step `step`. Precondition: runnable.
  void Ran(CpuId cpu, std::uint64_t step);

  // The runnable CPU that has been passed over at least F times before step
  // `step`, if any (the longest-waiting one).
  CpuId Overdue(std::uint64_t step) const {
    if (head() == kNone) return CpuId();
    std::uint32_t c = head();
    return step - since_[c] >= bound_ ? CpuId(static_cast<CpuId::Rep>(c)) : CpuId();
  }
  // How many steps `cpu` has been passed over before step `step`.
  std::uint64_t Waited(CpuId cpu, std::uint64_t step) const { return step - since_[cpu.index()]; }
  // The longest any CPU waited while runnable before it ran.
  std::uint64_t worst_wait() const { return worst_wait_; }

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  std::uint32_t head() const { return next_[sentinel_]; }
  void Unlink(std::uint32_t c);
  void PushBack(std::uint32_t c);

  std::uint64_t bound_;
  std::uint32_t sentinel_;
  // A circular doubly-linked list through the sentinel, oldest first.
  std::vector<std::uint32_t> next_, prev_;
  std::vector<std::uint64_t> since_;
  std::uint64_t worst_wait_ = 0;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_FAIRNESS_H_
