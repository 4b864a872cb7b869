// strata's scheduler module: CSched over the layers below it — its TCBs
// from the TCB-pool layer, its pending and sleep queues from the queue
// layer, its locks from the lock layer, each of whatever implementation the
// stack names (csched.h describes its objects and linearization points).
// Public so known-bad variants can override one decision each.
#ifndef STRATA_SCHED_SCHED_MODULE_H_
#define STRATA_SCHED_SCHED_MODULE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "kernel/lock.h"
#include "kernel/queue.h"
#include "kernel/tcb_pool.h"
#include "sched/csched.h"

namespace strata::sched {

namespace kinds {
inline constexpr EventKind kPendingCount{"PENDING_COUNT"};
inline constexpr EventKind kLocked{"LOCKED"};      // ghost: lock()'s linearization point
inline constexpr EventKind kUnlocked{"UNLOCKED"};  // ghost: unlock()'s linearization point
inline constexpr EventKind kWoken{"WOKEN"};        // ghost: a local wakeup's linearization point
inline constexpr EventKind kMade{"MADE"};          // ghost: makelock's linearization point
inline constexpr EventKind kFreed{"FREED"};        // ghost: freelock's linearization point
}  // namespace kinds

// The TCB field that holds a thread's home CPU.
inline constexpr std::int64_t kHomeField = 0;

class SchedModule : public CSched {
 public:
  SchedModule(Machine& m, const SchedOptions& o, const SchedLower& lower);
  // R at every border crossing: no pending count is negative, each CPU's
  // pending count equals the length of the spec's pending queue of that
  // CPU, and the crossing CPU has pushed back every block it pulled (a
  // primitive leaves the shared scheduler state consistent and published).
  std::unique_ptr<SchedView> NewView(Machine& m) const override;

 protected:
  // The CPU whose pending queue a remote wakeup of a thread of `home` goes to.
  virtual CpuId WakeTarget(CpuId home) const;
  // Does a wakeup of another CPU's thread make the sleeper it took off the
  // cv READY (put it on that CPU's pending queue)?
  virtual bool ReadiesWoken() const { return true; }
  // yield: the pending queue moves to the ready queue, then the caller goes
  // to the ready queue's tail. Variants override it around TakePending.
  void DoYield(Cpu& cpu, ThreadId self) override;
  // A yield's shared part: takes this CPU's pending queue into its ready
  // queue (its linearization point); returns that ready queue.
  std::deque<ThreadId>& TakePending(Cpu& cpu);
  // exit: the thread's TCB goes back to the pool (its linearization point).
  void DoExit(Cpu& cpu, ThreadId self) override;

 private:
  ThreadId DoSpawn(Cpu& cpu) override;
  void Drain(Cpu& cpu);
  void DoIdle(Cpu& cpu) override;
  void DoSleep(Cpu& cpu, Cv cv, ThreadId self) override;
  ThreadId DoWakeup(Cpu& cpu, Cv cv) override;
  void DoLock(Cpu& cpu, SchedLock l) override;
  void DoUnlock(Cpu& cpu, SchedLock l) override;
  void DoMakeLock(Cpu& cpu, SchedLock l) override;
  void DoFreeLock(Cpu& cpu, SchedLock l) override;
  void LockGhost(Cpu& cpu, SchedLock l, EventKind kind);
  ThreadId Next(CpuId c) override;
  void OnNewLock(const std::string& name) override;
  void OnNewCv(const std::string& name) override;

  SchedLower lower_;
  std::unique_ptr<kernel::TcbPool> pool_;
  std::vector<std::unique_ptr<kernel::Queue>> pending_;       // per CPU
  std::vector<std::unique_ptr<kernel::Lock>> pending_locks_;  // per CPU: queue and count
  std::vector<machine::Word> counts_;                         // per CPU
  std::vector<std::unique_ptr<kernel::Lock>> locks_;          // the scheduler's locks
  std::vector<std::unique_ptr<kernel::Queue>> sleepq_;        // per cv
  std::vector<std::deque<ThreadId>> ready_;                   // per CPU, private: no events
};

}  // namespace strata::sched

#endif  // STRATA_SCHED_SCHED_MODULE_H_
