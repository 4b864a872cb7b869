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
// Between the steps at which some position could run out of slack the guard
// only keeps the CPUs in deadline order (a linked list), so a step costs O(1)
// amortised; a scan walks the list. worst_wait() says what actually happened.
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
  void AddRunnable(CpuId cpu, std::uint64_t step) {
    since_[cpu.index()] = step;
    NewDeadline(cpu, step);
  }
  // `cpu` took step `step`. True if it waited more than F steps for it.
  [[nodiscard]] bool Ran(CpuId cpu, std::uint64_t step) {
    const std::uint64_t waited = step - since_[cpu.index()];
    since_[cpu.index()] = step + 1;
    NewDeadline(cpu, step);
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
  std::uint64_t Waited(CpuId cpu, std::uint64_t step) const { return step - since_[cpu.index()]; }
  // The longest any CPU waited while runnable before it ran.
  std::uint64_t worst_wait() const { return worst_wait_; }

 private:
  // `cpu` waits from `step` (or the step after) on, longer than no other:
  // it goes to the end of the deadline order. Its deadline, at least
  // step + F, cannot run out of slack before step + F - (cpus - 1), and it
  // moves no other deadline to a later position.
  void NewDeadline(CpuId cpu, std::uint64_t step) {
    const std::size_t c = cpu.index();
    if (tail_ != c) {
      // Unlink c, then append it.
      if (prev_[c] == kNone) {
        head_ = next_[c];
      } else {
        next_[prev_[c]] = next_[c];
      }
      prev_[next_[c]] = prev_[c];  // c is not the tail, so next_[c] is a cpu
      prev_[c] = tail_;
      next_[c] = kNone;
      next_[tail_] = c;
      tail_ = c;
    }
    if (step + lead_ < next_check_) next_check_ = step + lead_;
  }
  CpuId Scan(std::uint64_t step, std::span<const CpuId> runnable);

  static constexpr std::size_t kNone = SIZE_MAX;
  std::uint64_t bound_;
  std::uint64_t lead_;  // F - (cpus - 1), at least 0
  std::vector<std::uint64_t> since_;
  // Every CPU, by since_ (the runnable ones' deadline order; ties in the
  // order they began to wait), as a doubly linked list.
  std::vector<std::size_t> prev_, next_;
  std::size_t head_ = 0, tail_ = 0;
  std::vector<char> runnable_;  // Scan's marks, all 0 between scans
  // No position can run out of slack before this step.
  std::uint64_t next_check_;
  std::uint64_t worst_wait_ = 0;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_FAIRNESS_H_
