#include "sched/csched.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "kernel/lock.h"
#include "machine/check.h"
#include "sched/bad_scheds.h"
#include "sched/sched_module.h"
#include "machine/escape.h"

namespace strata::sched {
namespace {

namespace ctx = boost::context;
using machine::Block;
using machine::Outcome;
using machine::Word;


}  // namespace

std::string_view ThreadStateName(ThreadState s) {
  switch (s) {
    case ThreadState::kFree:
      return "FREE";
    case ThreadState::kReady:
      return "READY";
    case ThreadState::kRun:
      return "RUN";
    case ThreadState::kSleep:
      return "SLEEP";
    case ThreadState::kDead:
      return "DEAD";
  }
  return "?";
}

// ---------------------------------------------------------------- CSched

CSched::CSched(Machine& m, const SchedOptions& o)
    : machine_(m),
      options_(o),
      object_(m.NewObject("sched")),
      stacks_(o.stack_bytes),
      cpus_(static_cast<std::size_t>(m.cpus())) {
  tcbs_.reserve(static_cast<std::size_t>(std::max(o.max_threads, 0)));
}

CSched::~CSched() { ReleaseFibers(); }

void CSched::ReleaseFibers() {
  tearing_down_ = true;
  for (Tcb& t : tcbs_) {
    if (t.overflowed && t.stack.sp != nullptr) {
      // Its fiber can be neither resumed nor unwound: free the stack by hand.
      stacks_.Discard(t.stack);
      t.stack.sp = nullptr;
    }
    t.fiber = ctx::fiber();
  }
  for (PerCpu& pc : cpus_) pc.idle = ctx::fiber();
}

SchedLock CSched::NewLock(const std::string& name) {
  lock_names_.push_back(name);
  holders_.emplace_back();
  made_.emplace_back();
  OnNewLock(name);
  return SchedLock{static_cast<int>(lock_names_.size()) - 1};
}

Cv CSched::NewCv(const std::string& name, SchedLock lock) {
  cv_names_.push_back(name);
  cv_locks_.push_back(lock.index);
  OnNewCv(name);
  return Cv{static_cast<int>(cv_names_.size()) - 1, lock};
}

SchedReplay CSched::Replay() const {
  return SchedReplay{.sched = object_,
                     .cpus = cpus(),
                     .max_threads = options_.max_threads,
                     .locks = static_cast<int>(lock_names_.size()),
                     .cv_locks = cv_locks_};
}

Machine::Program CSched::Boot(std::shared_ptr<CSched> sched,
                              std::function<void(Threads&, Cpu&)> init) {
  // Weak: a machine torn down without a run (a config refused after its
  // set-up) outlives the program that owns the scheduler.
  sched->machine_.AtTeardown([weak = std::weak_ptr<CSched>(sched)] {
    if (const std::shared_ptr<CSched> s = weak.lock()) s->ReleaseFibers();
  });
  return [sched = std::move(sched), init = std::move(init)](Cpu& cpu) {
    sched->cpus_[cpu.id().index()].cpu = &cpu;
    cpu.set_on_overflow([s = sched.get()](const ctx::stack_context& stack) {
      for (Tcb& t : s->tcbs_) {
        if (t.stack.sp == stack.sp) t.overflowed = true;
      }
    });
    init(*sched, cpu);
    sched->IdleLoop(cpu);
  };
}

void CSched::IdleLoop(Cpu& cpu) {
  PerCpu& pc = cpus_[cpu.id().index()];
  while (pc.live > 0) {
    layers::MarkCall(cpu, object_, kIdlePrim);
    DoIdle(cpu);
    const ThreadId next = Next(cpu.id());
    STRATA_CHECK(next.valid(), "cpu {}: idle found no thread to run", cpu.id());
    layers::MarkReturn(cpu, object_, kIdlePrim, next.value());
    SwitchTo(cpu, next, &pc.idle);
    cpu.set_thread(ThreadId());
  }
}

// The running context of `cpu` (a thread, or the idle context) stores its
// handle in *self and resumes `next` (the idle context when none). Whoever
// later resumes it has set the CPU's thread.
ctx::fiber& CSched::Dispatch(Cpu& cpu, ThreadId next) {
  PerCpu& pc = cpus_[cpu.id().index()];
  ++pc.stats.switches;
  cpu.set_thread(next);
  if (!next.valid()) {
    cpu.set_running_stack(nullptr);
    return pc.idle;
  }
  if (next.index() >= tcbs_.size() || tcbs_[next.index()].home != cpu.id()) [[unlikely]] {
    // A thread runs only on its home CPU (its code holds that CPU): a
    // scheduler that hands it to another one has lost track of it.
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("cpu {} is to run thread {}, which does not live there", cpu.id(), next));
  }
  Tcb& tcb = tcbs_[next.index()];
  cpu.set_running_stack(&tcb.stack);
  tcb.state = ThreadState::kRun;
  return tcb.fiber;
}

ThreadId CSched::Caller(Cpu& cpu, std::string_view primitive) {
  const ThreadId me = cpu.thread();
  if (!me.valid()) {
    cpu.Fail(Outcome::kException,
             fmt::format("cpu {} called {} outside a thread (from its init)", cpu.id(), primitive));
  }
  return me;
}

void CSched::SwitchTo(Cpu& cpu, ThreadId next, ctx::fiber* self) {
  PerCpu& pc = cpus_[cpu.id().index()];
  ctx::fiber& target = Dispatch(cpu, next);
  pc.from = self;
  ctx::fiber resumer = std::move(target).resume();
  *cpus_[cpu.id().index()].from = std::move(resumer);
}

ctx::fiber CSched::RunThread(ThreadId t) {
  Tcb& tcb = tcbs_[t.index()];
  PerCpu& pc = cpus_[tcb.home.index()];
  Cpu& cpu = *pc.cpu;
  if (const std::optional<std::string> escaped = machine::Escaped([&] { tcb.entry(*this, cpu); })) {
    cpu.Fail(Outcome::kException,
             fmt::format("thread {} on cpu {} threw: {}", t, cpu.id(), *escaped));
  }
  for (std::size_t l = 0; l < holders_.size(); ++l) {
    if (holders_[l] == t) {
      cpu.Fail(Outcome::kImpossibleLog, fmt::format("thread {} on cpu {} exits holding lock {}",
                                                    t, cpu.id(), lock_names_[l]));
    }
  }
  layers::MarkCall(cpu, object_, kExitPrim);
  DoExit(cpu, t);
  layers::MarkReturn(cpu, object_, kExitPrim);
  tcb.state = ThreadState::kDead;
  tcb.entry = nullptr;
  --pc.live;
  ctx::fiber& target = Dispatch(cpu, Next(cpu.id()));
  // This fiber ends: whoever runs next receives its (empty) handle.
  pc.from = &dead_;
  return std::move(target);
}

ThreadId CSched::Spawn(Cpu& cpu, Entry entry, std::source_location where) {
  layers::MarkCall(cpu, object_, kSpawnPrim, 0, 0, where);
  const ThreadId t = DoSpawn(cpu);
  layers::MarkReturn(cpu, object_, kSpawnPrim, t.value(), where);
  if (!t.valid() || t.value() >= options_.max_threads) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("spawn on cpu {} returned tid {}, outside the TCB pool's tids 0 .. {}",
                         cpu.id(), t.value(), options_.max_threads - 1));
  }
  // Within the capacity reserved up front: no reallocation, so the
  // references to TCBs (their stacks, above all) stay valid.
  if (t.index() >= tcbs_.size()) tcbs_.resize(t.index() + 1);
  Tcb& tcb = tcbs_[t.index()];
  if (tcb.state != ThreadState::kFree && tcb.state != ThreadState::kDead) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("spawn on cpu {} returned tid {}, which is alive ({} on cpu {})",
                         cpu.id(), t, ThreadStateName(tcb.state), tcb.home));
  }
  spawned_.push_back(entry);
  tcb.entry = std::move(entry);
  tcb.home = cpu.id();
  tcb.state = ThreadState::kReady;
  PerCpu& pc = cpus_[cpu.id().index()];
  ++pc.live;
  ++pc.stats.threads;
  tcb.fiber = ctx::fiber(std::allocator_arg, machine::PooledStack(&stacks_, &tcb.stack),
                         [this, t](ctx::fiber&& resumer) {
                           // Destroyed before it ever ran: run nothing.
                           if (tearing_down_) return std::move(resumer);
                           *cpus_[tcbs_[t.index()].home.index()].from = std::move(resumer);
                           return RunThread(t);
                         });
  return t;
}

void CSched::Yield(Cpu& cpu, std::source_location where) {
  const ThreadId me = Caller(cpu, "yield");
  PerCpu& pc = cpus_[cpu.id().index()];
  layers::MarkCall(cpu, object_, kYieldPrim, 0, 0, where);
  DoYield(cpu, me);
  ++pc.stats.yields;
  const ThreadId next = Next(cpu.id());
  if (next != me) {
    Tcb& self = tcbs_[me.index()];
    self.state = ThreadState::kReady;
    SwitchTo(cpu, next, &self.fiber);
  }
  layers::MarkReturn(cpu, object_, kYieldPrim, 0, where);
}

SchedLock CSched::CheckLock(Cpu& cpu, SchedLock l, std::string_view primitive) {
  if (l.index < 0 || l.index >= static_cast<int>(lock_names_.size())) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} calls {} on lock {}, which does not exist",
                         cpu.thread(), cpu.id(), primitive, l.index));
  }
  return l;
}

Cv CSched::CheckCv(Cpu& cpu, Cv cv, std::string_view primitive) {
  if (cv.index < 0 || cv.index >= static_cast<int>(cv_names_.size())) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} calls {} on cv {}, which does not exist",
                         cpu.thread(), cpu.id(), primitive, cv.index));
  }
  return Cv{cv.index, SchedLock{cv_locks_[static_cast<std::size_t>(cv.index)]}};  // its own lock
}

void CSched::CheckHolds(Cpu& cpu, SchedLock l, std::string_view primitive) {
  const ThreadId holder = holders_[static_cast<std::size_t>(l.index)];
  if (holder != cpu.thread()) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} calls {} without holding lock {} (held by {})",
                         cpu.thread(), cpu.id(), primitive, lock_names_[l.index],
                         holder.valid() ? fmt::format("thread {}", holder) : std::string("nobody")));
  }
}

void CSched::SleepUnlocked(Cpu& cpu, Cv given, std::source_location where) {
  const ThreadId me = Caller(cpu, "sleep");
  const Cv cv = CheckCv(cpu, given, "sleep");
  CheckHolds(cpu, cv.lock, "sleep");
  CheckInvariant(cpu, cv.lock, "its release (sleep)");
  PerCpu& pc = cpus_[cpu.id().index()];
  Tcb& tcb = tcbs_[me.index()];
  layers::MarkCall(cpu, object_, kSleepPrim, cv.index, cv.lock.index, where);
  DoSleep(cpu, cv, me);
  holders_[cv.lock.index] = ThreadId();
  tcb.state = ThreadState::kSleep;
  tcb.sleeps_on = cv.index;
  ++pc.stats.sleeps;
  SwitchTo(cpu, Next(cpu.id()), &tcb.fiber);
  tcb.sleeps_on = -1;
  layers::MarkReturn(cpu, object_, kSleepPrim, 0, where);
}

ThreadId CSched::Wakeup(Cpu& cpu, Cv given, std::source_location where) {
  Caller(cpu, "wakeup");
  const Cv cv = CheckCv(cpu, given, "wakeup");
  CheckHolds(cpu, cv.lock, "wakeup");
  layers::MarkCall(cpu, object_, kWakeupPrim, cv.index, cv.lock.index, where);
  const ThreadId t = DoWakeup(cpu, cv);
  layers::MarkReturn(cpu, object_, kWakeupPrim, t.value(), where);
  if (t.valid() && t.index() < tcbs_.size()) {
    Tcb& woken = tcbs_[t.index()];
    PerCpu& pc = cpus_[cpu.id().index()];
    // A remote thread's host-side record is its home CPU's: it stays asleep
    // there until that CPU dispatches it. Writing it from here would be
    // CPUs talking through host memory, which the per-CPU machine of this
    // CPU (Boot[cid, recorded]) cannot see: it broke compose on 64 cpus.
    if (woken.home == cpu.id()) {
      woken.state = ThreadState::kReady;
      ++pc.stats.local_wakeups;
    } else {
      ++pc.stats.remote_wakeups;
    }
  }
  return t;
}

void CSched::Lock(Cpu& cpu, SchedLock l, std::source_location where) {
  const ThreadId me = Caller(cpu, "lock");
  CheckLock(cpu, l, "lock");
  const MadeLock& made = made_[static_cast<std::size_t>(l.index)];
  if (made.freed) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} takes lock {} after it was freed", me, cpu.id(),
                         lock_names_[l.index]));
  }
  if (made.made && std::find(made.shares.begin(), made.shares.end(), me) == made.shares.end()) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} takes lock {} without a share of it", me, cpu.id(),
                         lock_names_[l.index]));
  }
  tcbs_[me.index()].waits_for_lock = l.index;
  layers::MarkCall(cpu, object_, kLockPrim, l.index, 0, where);
  DoLock(cpu, l);
  layers::MarkReturn(cpu, object_, kLockPrim, 0, where);
  tcbs_[me.index()].waits_for_lock = -1;
  holders_[l.index] = me;
}

void CSched::Unlock(Cpu& cpu, SchedLock l, std::source_location where) {
  Caller(cpu, "unlock");
  CheckHolds(cpu, CheckLock(cpu, l, "unlock"), "unlock");
  CheckInvariant(cpu, l, "its release (unlock)");
  layers::MarkCall(cpu, object_, kUnlockPrim, l.index, 0, where);
  DoUnlock(cpu, l);
  layers::MarkReturn(cpu, object_, kUnlockPrim, 0, where);
  holders_[l.index] = ThreadId();
}

void CheckLockInvariant(Cpu& cpu, const LockInvariant& r, std::string_view lock,
                        std::string_view where) {
  if (!r.holds) return;
  if (std::optional<std::string> broken = r.holds(cpu.machine())) {
    cpu.Fail(Outcome::kInvariantBroken,
             fmt::format("lock {}'s invariant {} does not hold at {} by thread {} on cpu {}: {}",
                         lock, r.name, where, cpu.thread(), cpu.id(), *broken));
  }
}

void CSched::CheckInvariant(Cpu& cpu, SchedLock l, std::string_view where) {
  const MadeLock& made = made_[static_cast<std::size_t>(l.index)];
  if (made.made) CheckLockInvariant(cpu, made.invariant, lock_names_[l.index], where);
}

void CSched::MakeLock(Cpu& cpu, SchedLock l, LockInvariant invariant,
                      std::source_location where) {
  const ThreadId me = Caller(cpu, "makelock");
  CheckLock(cpu, l, "makelock");
  MadeLock& made = made_[static_cast<std::size_t>(l.index)];
  if (made.made) {
    cpu.Fail(Outcome::kImpossibleLog, fmt::format("thread {} on cpu {} makes lock {} a second time",
                                                  me, cpu.id(), lock_names_[l.index]));
  }
  made.made = true;
  made.invariant = std::move(invariant);
  made.shares = {me};
  CheckInvariant(cpu, l, "makelock");
  layers::MarkCall(cpu, object_, kMakeLockPrim, l.index, 0, where);
  DoMakeLock(cpu, l);
  layers::MarkReturn(cpu, object_, kMakeLockPrim, 0, where);
}

void CSched::Share(Cpu& cpu, SchedLock l, ThreadId t, std::source_location where) {
  const ThreadId me = Caller(cpu, "share");
  CheckLock(cpu, l, "share");
  MadeLock& made = made_[static_cast<std::size_t>(l.index)];
  if (!made.made || std::find(made.shares.begin(), made.shares.end(), me) == made.shares.end()) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} shares lock {} without a share of its own", me,
                         cpu.id(), lock_names_[l.index]));
  }
  made.shares.push_back(t);
  cpu.Annotate(object_, kinds::kShare, l.index, t.value(), 0, machine::OpCode::kGhost, where);
}

void CSched::DropShare(Cpu& cpu, SchedLock l, std::source_location where) {
  const ThreadId me = Caller(cpu, "drop share");
  CheckLock(cpu, l, "drop share");
  MadeLock& made = made_[static_cast<std::size_t>(l.index)];
  auto it = std::find(made.shares.begin(), made.shares.end(), me);
  if (!made.made || it == made.shares.end()) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} drops a share of lock {} it does not have", me,
                         cpu.id(), lock_names_[l.index]));
  }
  made.shares.erase(it);
  cpu.Annotate(object_, kinds::kDropShare, l.index, 0, 0, machine::OpCode::kGhost, where);
}

void CSched::FreeLock(Cpu& cpu, SchedLock l, std::source_location where) {
  const ThreadId me = Caller(cpu, "freelock");
  CheckLock(cpu, l, "freelock");
  MadeLock& made = made_[static_cast<std::size_t>(l.index)];
  if (!made.made) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} frees lock {}, which makelock never made", me,
                         cpu.id(), lock_names_[l.index]));
  }
  CheckHolds(cpu, l, "freelock");
  for (ThreadId t : made.shares) {
    if (t == me || t.index() >= tcbs_.size()) continue;
    const ThreadState st = tcbs_[t.index()].state;
    if (st != ThreadState::kDead && st != ThreadState::kFree) {
      cpu.Fail(Outcome::kImpossibleLog,
               fmt::format("thread {} on cpu {} frees lock {} while thread {} ({}) has a share and "
                           "can still take it",
                           me, cpu.id(), lock_names_[l.index], t, ThreadStateName(st)));
    }
  }
  CheckInvariant(cpu, l, "freelock");
  layers::MarkCall(cpu, object_, kFreeLockPrim, l.index, 0, where);
  DoFreeLock(cpu, l);
  layers::MarkReturn(cpu, object_, kFreeLockPrim, 0, where);
  holders_[l.index] = ThreadId();
  made.freed = true;
}

std::string CSched::DescribeWaits() const {
  std::string out;
  auto add = [&](std::string clause) { out += (out.empty() ? "" : "; ") + clause; };
  for (std::size_t i = 0; i < tcbs_.size(); ++i) {
    const Tcb& t = tcbs_[i];
    if (t.state == ThreadState::kFree || t.state == ThreadState::kDead) continue;
    std::string held;
    for (std::size_t l = 0; l < holders_.size(); ++l) {
      if (holders_[l].valid() && holders_[l].index() == i) {
        held += fmt::format("{}{}", held.empty() ? "" : ", ", lock_names_[l]);
      }
    }
    std::string what;
    if (t.waits_for_lock >= 0) {
      const ThreadId h = holders_[static_cast<std::size_t>(t.waits_for_lock)];
      what = fmt::format("waits for lock {} (held by {})", lock_names_[t.waits_for_lock],
                         h.valid() ? fmt::format("thread {}", h) : std::string("nobody"));
    } else if (t.sleeps_on >= 0) {
      what = fmt::format("sleeps on cv {}", cv_names_[t.sleeps_on]);
    } else {
      what = fmt::format("is {}", ThreadStateName(t.state));
    }
    add(fmt::format("thread {} (cpu {}){} {}", i, t.home,
                    held.empty() ? "" : fmt::format(" holds {} and", held), what));
  }
  return out;
}

namespace {

// ---------------------------------------------------------------- the spec

class SchedSpec final : public CSched {
 public:
  SchedSpec(Machine& m, const SchedOptions& o) : CSched(m, o) {}

  // The spec as its own module: its view replays its own steps.
  std::unique_ptr<SchedView> NewView(Machine&) const override {
    return std::make_unique<SpecView>(Replay());
  }

 private:
  // One atomic step of the spec: the replay's transition, applied as the
  // step executes. `enabled`, if set, gates the step.
  // arg0/arg1: the primitive's arguments, as its call marker carries them.
  std::int64_t Atomic(Cpu& cpu, EventKind kind, std::int64_t arg0 = 0, std::int64_t arg1 = 0,
                      const absl::FunctionRef<bool()>* enabled = nullptr) {
    if (!started_) {
      replay_ = Replay();
      state_ = replay_.Init();
      started_ = true;
    }
    auto apply = [&]() -> std::int64_t {
      Event e{.cpu = cpu.id(), .thread = cpu.thread(), .object = object(), .kind = kind,
              .arg0 = arg0, .arg1 = arg1};
      std::string why;
      if (!replay_.Step(state_, e, &why)) {
        cpu.Fail(Outcome::kImpossibleLog, fmt::format("the sched spec refuses {} by thread {} on "
                                                      "cpu {}: {}",
                                                      kind, cpu.thread(), cpu.id(), why));
      }
      return 0;
    };
    const std::int64_t r =
        cpu.Step({.object = object(), .kind = kind, .arg0 = arg0, .arg1 = arg1, .apply = apply,
                  .ready = enabled, .where = cpu.call_site()});
    cpu.Linearize();
    return r;
  }

  ThreadId DoSpawn(Cpu& cpu) override {
    Atomic(cpu, kinds::kSpawn);
    return ThreadId(static_cast<int>(state_.returns[cpu.id().index()]));
  }
  void DoYield(Cpu& cpu, ThreadId) override { Atomic(cpu, kinds::kYield); }
  void DoSleep(Cpu& cpu, Cv cv, ThreadId) override {
    Atomic(cpu, kinds::kSleep, cv.index, cv.lock.index);
  }
  ThreadId DoWakeup(Cpu& cpu, Cv cv) override {
    Atomic(cpu, kinds::kWake, cv.index, cv.lock.index);
    return ThreadId(static_cast<int>(state_.returns[cpu.id().index()]));
  }
  void DoLock(Cpu& cpu, SchedLock l) override {
    auto free = [&] { return !state_.holders[static_cast<std::size_t>(l.index)].valid(); };
    absl::FunctionRef<bool()> enabled(free);
    Atomic(cpu, kinds::kLock, l.index, 0, &enabled);
  }
  void DoUnlock(Cpu& cpu, SchedLock l) override { Atomic(cpu, kinds::kUnlock, l.index); }
  void DoMakeLock(Cpu& cpu, SchedLock l) override { Atomic(cpu, kinds::kMakeLock, l.index); }
  void DoFreeLock(Cpu& cpu, SchedLock l) override { Atomic(cpu, kinds::kFreeLock, l.index); }
  void DoExit(Cpu& cpu, ThreadId) override { Atomic(cpu, kinds::kExit); }
  void DoIdle(Cpu& cpu) override {
    const std::size_t c = cpu.id().index();
    auto work = [&] { return !state_.ready[c].empty() || !state_.pending[c].empty(); };
    absl::FunctionRef<bool()> enabled(work);
    Atomic(cpu, kinds::kIdle, 0, 0, &enabled);
  }
  ThreadId Next(CpuId c) override { return state_.current[c.index()]; }
  void OnNewLock(const std::string&) override {}
  void OnNewCv(const std::string&) override {}

  class SpecView final : public SchedView {
   public:
    explicit SpecView(SchedReplay replay) : replay_(std::move(replay)), state_(replay_.Init()) {}
    bool Observe(const Event& e) override { return replay_.Step(state_, e); }
    std::optional<std::string> Relation(const SchedState& spec) const override {
      if (state_ == spec) return std::nullopt;
      return fmt::format("the scheduler's own replay says {}, the spec's {}", state_, spec);
    }
    std::string Describe() const override { return fmt::format("{}", state_); }
    std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
      return std::nullopt;
    }

   private:
    SchedReplay replay_;
    SchedState state_;
  };

  bool started_ = false;
  SchedReplay replay_;
  SchedState state_;
};

}  // namespace

int PoolCapacity(int max_threads, int cpus, int threads) {
  return max_threads != 0 ? max_threads : std::max(256, cpus * 2 * (threads + 2));
}

std::unique_ptr<CSched> MakeSpecSched(Machine& m, const SchedOptions& o) {
  return std::make_unique<SchedSpec>(m, o);
}

void AddBuiltinScheds(SchedRegistry& scheds) {
  scheds.Add({"module", "TCBs from the TCB pool; pending and sleep queues of the queue layer, under locks",
              false, "",
              SchedFactoryOf<SchedModule>()});
  scheds.Add({"spec", "the atomic spec: one SPAWN/YIELD/SLEEP/WAKE/LOCK/UNLOCK/EXIT/IDLE/... step",
              false, "",
              [](Machine& m, const SchedOptions& o, const SchedLower&) {
                return MakeSpecSched(m, o);
              }});
  AddKnownBadScheds(scheds);
}

SchedLower LowerOf(const SchedOptions& o, const kernel::KernelCatalog& kernel) {
  const auto* lock = kernel.locks.Find(o.lock);
  const auto* queue = kernel.queues.Find(o.queue);
  const auto* tcb = kernel.tcbs.Find(o.tcb);
  STRATA_CHECK(lock != nullptr && queue != nullptr && tcb != nullptr,
               "unvalidated layers below the scheduler: lock {}, queue {}, tcb {}", o.lock, o.queue,
               o.tcb);
  return SchedLower{.lock = lock->make, .queue = queue->make, .tcb = tcb->make};
}

std::unique_ptr<CSched> MakeSched(Machine& m, const SchedOptions& o, const SchedRegistry& scheds,
                                  const kernel::KernelCatalog& kernel) {
  const auto* sched = scheds.Find(o.impl);
  STRATA_CHECK(sched != nullptr, "unvalidated scheduler {}", o.impl);
  return sched->make(m, o, LowerOf(o, kernel));
}

// ---------------------------------------------------------------- the replay

SchedState SchedReplay::Init() const {
  SchedState s;
  const auto n = static_cast<std::size_t>(cpus);
  s.threads.resize(static_cast<std::size_t>(max_threads));
  s.current.assign(n, ThreadId());
  s.ready.resize(n);
  s.pending.resize(n);
  s.returns.assign(n, 0);
  s.sleepers.resize(cv_locks.size());
  s.holders.assign(static_cast<std::size_t>(locks), ThreadId());
  s.freed.assign(static_cast<std::size_t>(locks), false);
  return s;
}

bool SchedReplay::Step(State& s, const Event& e, std::string* why) const {
  auto no = [&](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  const std::size_t c = e.cpu.index();
  const ThreadId t = e.thread;
  // Who may act on this CPU: its running thread, or its idle context.
  const bool running = s.current[c] == t;
  if (e.object != sched || e.marker()) {
    const bool after_switch = e.marker() && (e.kind == kinds::kRetIdle || e.kind == kinds::kRetExit);
    if (!running && !after_switch) {
      return no(fmt::format("cpu {} runs {}, not {}", e.cpu,
                            s.current[c].valid() ? fmt::format("thread {}", s.current[c])
                                                 : std::string("its idle context"),
                            t.valid() ? fmt::format("thread {}", t) : std::string("idle")));
    }
    if (e.marker() && (e.kind == kinds::kRetSpawn || e.kind == kinds::kRetWakeup ||
                     e.kind == kinds::kRetIdle) && e.result != s.returns[c]) {
      return no(fmt::format("{} returns {}, the spec {}", e.kind, e.result, s.returns[c]));
    }
    return true;
  }
  if (!running) return no(fmt::format("cpu {} does not run thread {}", e.cpu, t));
  auto run_next = [&] {
    std::deque<ThreadId>& r = s.ready[c];
    s.current[c] = ThreadId();
    if (r.empty()) return;
    s.current[c] = r.front();
    r.pop_front();
    s.threads[s.current[c].index()].state = ThreadState::kRun;
  };
  auto drain = [&] {
    for (ThreadId p : s.pending[c]) s.ready[c].push_back(p);
    s.pending[c].clear();
  };
  const bool is_thread = t.valid();
  if (e.kind == kinds::kSpawn) {
    std::size_t tid = 0;
    while (tid < s.threads.size() && s.threads[tid].state != ThreadState::kFree &&
           s.threads[tid].state != ThreadState::kDead) {
      ++tid;
    }
    if (tid == s.threads.size()) return no("the TCB pool is full");
    s.threads[tid] = {ThreadState::kReady, e.cpu};
    s.ready[c].push_back(ThreadId(static_cast<int>(tid)));
    s.returns[c] = static_cast<std::int64_t>(tid);
    return true;
  }
  if (e.kind == kinds::kIdle) {
    if (is_thread) return no("idle from a thread");
    if (s.ready[c].empty() && s.pending[c].empty()) return no("idle with nothing to run");
    drain();
    run_next();
    s.returns[c] = s.current[c].value();
    return true;
  }
  if (!is_thread) return no(fmt::format("{} from the idle context", e.kind));
  if (e.kind == kinds::kYield) {
    drain();
    s.ready[c].push_back(t);
    s.threads[t.index()].state = ThreadState::kReady;
    run_next();
    return true;
  }
  if (e.kind == kinds::kExit) {
    for (ThreadId h : s.holders) {
      if (h == t) return no(fmt::format("thread {} exits holding a lock", t));
    }
    s.threads[t.index()].state = ThreadState::kDead;
    run_next();
    return true;
  }
  if (e.kind == kinds::kLock || e.kind == kinds::kUnlock || e.kind == kinds::kMakeLock ||
      e.kind == kinds::kFreeLock) {
    if (e.arg0 < 0 || e.arg0 >= locks) return no(fmt::format("no lock {}", e.arg0));
    ThreadId& h = s.holders[static_cast<std::size_t>(e.arg0)];
    const auto freed = s.freed[static_cast<std::size_t>(e.arg0)];
    if (freed) return no(fmt::format("lock {} was freed", e.arg0));
    if (e.kind == kinds::kMakeLock) return true;
    if (e.kind == kinds::kFreeLock) {
      if (h != t) return no(fmt::format("thread {} frees lock {}, held by {}", t, e.arg0, h));
      h = ThreadId();
      s.freed[static_cast<std::size_t>(e.arg0)] = true;
      return true;
    }
    if (e.kind == kinds::kLock) {
      if (h.valid()) return no(fmt::format("lock {} is held by thread {}", e.arg0, h));
      h = t;
    } else {
      if (h != t) return no(fmt::format("thread {} unlocks lock {}, held by {}", t, e.arg0, h));
      h = ThreadId();
    }
    return true;
  }
  if (e.kind == kinds::kSleep || e.kind == kinds::kWake) {
    if (e.arg0 < 0 || e.arg0 >= static_cast<std::int64_t>(cv_locks.size())) {
      return no(fmt::format("no cv {}", e.arg0));
    }
    const auto v = static_cast<std::size_t>(e.arg0);
    ThreadId& h = s.holders[static_cast<std::size_t>(cv_locks[v])];
    if (h != t) return no(fmt::format("thread {} uses cv {} without holding its lock", t, v));
    if (e.kind == kinds::kSleep) {
      h = ThreadId();
      s.sleepers[v].push_back(t);
      s.threads[t.index()].state = ThreadState::kSleep;
      run_next();
      return true;
    }
    s.returns[c] = -1;
    if (s.sleepers[v].empty()) return true;
    const ThreadId w = s.sleepers[v].front();
    s.sleepers[v].pop_front();
    SchedState::Thread& th = s.threads[w.index()];
    th.state = ThreadState::kReady;
    (th.home == e.cpu ? s.ready[c] : s.pending[th.home.index()]).push_back(w);
    s.returns[c] = w.value();
    return true;
  }
  return no(fmt::format("unknown scheduler step {}", e.kind));
}

}  // namespace strata::sched
