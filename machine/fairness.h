// The fairness guard: every runnable CPU takes a step within F switch points.
//
// Each runnable CPU c has a deadline, the last step it may take: since(c) + F,
// since(c) being the step since which it has been waiting. The guard keeps the
// deadlines by earliest-deadline-first: when the runnable CPUs ordered by
// deadline leave one of them but the last no slack (the one at position k,
// counting from 0, has its deadline at step + k or earlier), the next step
// must go to the CPU with the earliest deadline (the one that began to wait
// first; the lowest id at the start). That CPU is "overdue": it is run in
// place of the oracle's choice, or, when the oracle replays a recorded
// schedule, the schedule is reported as unfair. (Any CPU up to that position
// would keep every deadline too: forcing the first can make an exploration
// miss fair schedules, only where deadlines crowd together.) With F >= the
// number of CPUs every deadline is kept: no CPU waits more than F steps; a
// wait above F (F below the number of runnable CPUs) is reported by Ran.
//
// A step costs O(1): Ran and AddRunnable only stamp the CPU with the order in
// which it began to wait. The guard looks at the deadlines only from the step
// at which some position could first run out of slack (a lower bound kept
// up to date by every call), and then in two passes: one over the runnable
// CPUs for the earliest deadline, which alone shows that every position has
// slack until a later step as long as that deadline is more than the number
// of runnable CPUs away; and only when it is not, the CPUs sorted by stamp.
// worst_wait() says what actually happened.
#ifndef STRATA_MACHINE_FAIRNESS_H_
#define STRATA_MACHINE_FAIRNESS_H_

#include <cstddef>
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
  void AddRunnable(CpuId cpu, std::uint64_t step) { NewDeadline(cpu, step, step); }
  // `cpu` took step `step`. True if it waited more than F steps for it.
  [[nodiscard]] bool Ran(CpuId cpu, std::uint64_t step) {
    const std::uint64_t waited = step - waits_[cpu.index()].since;
    NewDeadline(cpu, step, step + 1);
    if (waited <= worst_wait_) return false;
    worst_wait_ = waited;
    return waited > bound_;
  }

  // The CPU (of the sorted `runnable`) that must take step `step` for every
  // runnable CPU to keep its deadline, if any: the earliest deadline.
  CpuId Overdue(std::uint64_t step, std::span<const CpuId> runnable) {
    if (step < next_check_) return CpuId();
    return Scan(step, runnable);
  }
  // How many steps `cpu` has been passed over before step `step`.
  std::uint64_t Waited(CpuId cpu, std::uint64_t step) const {
    return step - waits_[cpu.index()].since;
  }
  // The longest any CPU waited while runnable before it ran.
  std::uint64_t worst_wait() const { return worst_wait_; }

 private:
  struct Wait {
    std::uint64_t since = 0;  // waiting since this step
    std::uint64_t order = 0;  // when it began to wait: deadline order, ties included
  };

  // `cpu` waits from `since` (step or the step after) on, longer than no
  // other: it comes last in the deadline order. Its deadline, at least
  // step + F, cannot run out of slack before step + F - (cpus - 1), and it
  // moves no other deadline to a later position.
  void NewDeadline(CpuId cpu, std::uint64_t step, std::uint64_t since) {
    waits_[cpu.index()] = {since, ++clock_};
    if (step + lead_ < next_check_) next_check_ = step + lead_;
  }
  CpuId Scan(std::uint64_t step, std::span<const CpuId> runnable);

  std::uint64_t bound_;
  std::uint64_t lead_;  // F - (cpus - 1), at least 0
  std::vector<Wait> waits_;
  std::uint64_t clock_;          // the last order given out
  std::vector<CpuId> by_order_;  // Scan's scratch
  // No position can run out of slack before this step.
  std::uint64_t next_check_;
  std::uint64_t worst_wait_ = 0;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_FAIRNESS_H_
