#include "sched/bad_scheds.h"

#include <memory>

#include "sched/sched_module.h"

namespace strata::sched {
namespace {

constexpr EventKind kLeaked{"LEAKED"};  // ghost: module-leak-tcb's exit point

// yield forgets to put the caller back on the ready queue.
class YieldDrops final : public SchedModule {
 public:
  using SchedModule::SchedModule;

 protected:
  void DoYield(Cpu& cpu, ThreadId) override { TakePending(cpu); }
};

// A remote wakeup goes to the next CPU's pending queue.
class WrongCpu final : public SchedModule {
 public:
  using SchedModule::SchedModule;

 protected:
  CpuId WakeTarget(CpuId home) const override { return CpuId((home.value() + 1) % cpus()); }
};

// A wakeup of another CPU's thread takes the sleeper off the cv but never
// readies it.
class LoseSleeper final : public SchedModule {
 public:
  using SchedModule::SchedModule;

 protected:
  bool ReadiesWoken() const override { return false; }
};

// yield puts the caller at the head of the ready queue: it runs again
// before the other ready threads, which starve.
class LifoYield final : public SchedModule {
 public:
  using SchedModule::SchedModule;

 protected:
  void DoYield(Cpu& cpu, ThreadId self) override { TakePending(cpu).push_front(self); }
};

// exit never gives the thread's TCB back: a later spawn gets another tid
// than the spec's (only a client that spawns after an exit sees it: the
// general one on every strategy, thread-counter when a CPU's init spawns
// after another CPU's thread exited, ping-pong never).
class LeakTcb final : public SchedModule {
 public:
  using SchedModule::SchedModule;

 protected:
  void DoExit(Cpu& cpu, ThreadId self) override {
    cpu.Annotate(object(), kLeaked, self.value(), 0, 0);  // a point, and nothing else
    cpu.Linearize();
  }
};

}  // namespace

void AddKnownBadScheds(SchedRegistry& scheds) {
  scheds.Add({"module-yield-drops", "known-bad: yield does not put the caller back on the ready queue",
              true, "impossible-upper-log", SchedFactoryOf<YieldDrops>()});
  scheds.Add({"module-wrong-cpu", "known-bad: a remote wakeup lands on the next CPU's pending queue",
              true, "relation-broken", SchedFactoryOf<WrongCpu>()});
  scheds.Add({"module-lose-sleeper", "known-bad: a remote wakeup takes the sleeper off the cv and drops it",
              true, "relation-broken", SchedFactoryOf<LoseSleeper>()});
  scheds.Add({"module-leak-tcb",
              "known-bad: exit never frees the thread's TCB, so a later spawn gets another tid",
              true, "impossible-upper-log", SchedFactoryOf<LeakTcb>()});
  scheds.Add({"module-lifo", "known-bad: yield runs the caller again before the other ready threads",
              true, "impossible-upper-log", SchedFactoryOf<LifoYield>()});
}

}  // namespace strata::sched
