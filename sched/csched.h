// CSched: the per-CPU scheduler. Kernel threads, each on its own fiber, that
// spawn, yield, sleep on condition variables and wake each other up across
// CPUs, over the lock layer and shared blocks (the module) or as an atomic
// spec. Both sides run the same client code; `strata check --layer sched`
// checks that the module refines the spec (layers/refinement.h).
//
// Threads. A thread lives on the CPU that spawned it (its home) and runs
// there until it returns from its entry (exit). Scheduling is cooperative:
// a thread runs until it yields, sleeps or exits; a context switch is a
// fiber switch between thread fibers, a private step (no event). When a CPU
// has nothing ready it runs its idle context, which waits for a wakeup and
// dispatches the next thread. A CPU stops when none of its threads is alive.
//
// Primitives (all markers on the object "sched"; cv and lock by index):
//   spawn(entry) -> tid      SPAWN   the lowest free tid, READY on this CPU
//   yield()                  YIELD   this CPU's pending queue moves to its
//                                    ready queue, the caller to its tail,
//                                    the head runs
//   sleep(cv)                SLEEP   precondition: the caller holds the cv's
//                                    lock; it is released as the caller goes
//                                    onto the cv's sleep queue; the head of
//                                    the ready queue runs (or the idle context)
//   wakeup(cv) -> tid|-1     WAKE    precondition: holds the cv's lock; the
//                                    oldest sleeper becomes READY: in the
//                                    caller's ready queue if it lives here,
//                                    else in its home CPU's pending queue
//   lock(l) / unlock(l)      LOCK / UNLOCK   the scheduler's locks (cv locks)
//   makelock(l, R)           MAKELOCK  turns lock l into a lock with
//                                    invariant R over the shared words and
//                                    blocks it protects (R must hold now);
//                                    the caller gets a share of it
//   freelock(l)              FREELOCK  precondition: the caller holds l, R
//                                    holds, and no other live thread has a
//                                    share; l is gone (locking it again is
//                                    an impossible log)
//   exit                     EXIT    when an entry returns
//   idle() -> tid            IDLE    the idle context: enabled once the
//                                    ready or pending queue is non-empty;
//                                    drains pending, runs the head
// `Sleep` below is sleep(cv) followed by lock(cv's lock): it returns with
// the lock held again. The spec's state (SchedState) is a pure function of
// the log (SchedReplay); the spec side applies the same fold at each step.
//
// Module (sched_module.h), built on the layers below it, each of the
// implementation the stack names: its TCBs from a TCB pool "tcbs" (the
// TCB-pool layer; field 0 holds a thread's home CPU); per CPU a private
// ready queue (no events: CPU-local memory, as in mC2), a shared pending
// queue "cpuN.pendingq" (the queue layer) and a word "cpuN.pending.count",
// both changed only under the lock "cpuN.pending.lock", that yields read and
// the idle context waits on (it blocks, adding no events, while the count
// is 0); per cv a sleep queue "<cv>.sleepq" (the queue layer) used only
// under the cv's lock; each scheduler lock a lock of the lock layer.
// Linearization points (Cpu::Linearize): spawn and exit take effect where
// the pool's alloc and free do, sleep where the sleep queue's enq does, a
// wakeup with no sleeper where the deq does (Cpu::AdoptLinearization);
// a local wakeup at a ghost under the cv's lock; a step on the pending
// count for the rest — a remote wakeup's increment, a drain's swap to 0
// (yield, idle), or a yield's load that sees 0 (its fast path: one step, no
// lock). Lock and unlock's points are a ghost right after the lock layer's
// call.
//
// Client discipline (as in a real kernel): never yield, sleep on another
// cv or exit while holding a scheduler lock; a lock holder waiting for a
// lock held by a thread of its own CPU deadlocks that CPU.
#ifndef STRATA_SCHED_CSCHED_H_
#define STRATA_SCHED_CSCHED_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/context/fiber.hpp>
#include <fmt/format.h>

#include "kernel/lock.h"
#include "kernel/queue.h"
#include "kernel/stack.h"
#include "kernel/tcb_pool.h"
#include "layers/layer.h"
#include "layers/registry.h"
#include "machine/machine.h"
#include "machine/stack_pool.h"

namespace strata::sched {

using machine::Cpu;
using machine::CpuId;
using machine::Event;
using machine::EventKind;
using machine::Machine;
using machine::ObjectId;
using machine::ThreadId;

namespace kinds {
inline constexpr EventKind kCallSpawn{"call spawn"};
inline constexpr EventKind kRetSpawn{"ret spawn"};
inline constexpr EventKind kCallYield{"call yield"};
inline constexpr EventKind kRetYield{"ret yield"};
inline constexpr EventKind kCallSleep{"call sleep"};
inline constexpr EventKind kRetSleep{"ret sleep"};
inline constexpr EventKind kCallWakeup{"call wakeup"};
inline constexpr EventKind kRetWakeup{"ret wakeup"};
inline constexpr EventKind kCallLock{"call lock"};
inline constexpr EventKind kRetLock{"ret lock"};
inline constexpr EventKind kCallUnlock{"call unlock"};
inline constexpr EventKind kRetUnlock{"ret unlock"};
inline constexpr EventKind kCallExit{"call exit"};
inline constexpr EventKind kRetExit{"ret exit"};
inline constexpr EventKind kCallMakeLock{"call makelock"};
inline constexpr EventKind kRetMakeLock{"ret makelock"};
inline constexpr EventKind kCallFreeLock{"call freelock"};
inline constexpr EventKind kRetFreeLock{"ret freelock"};
inline constexpr EventKind kCallIdle{"call idle"};
inline constexpr EventKind kRetIdle{"ret idle"};
inline constexpr EventKind kSpawn{"SPAWN"};
inline constexpr EventKind kYield{"YIELD"};
inline constexpr EventKind kSleep{"SLEEP"};
inline constexpr EventKind kWake{"WAKE"};
inline constexpr EventKind kLock{"LOCK"};
inline constexpr EventKind kUnlock{"UNLOCK"};
inline constexpr EventKind kExit{"EXIT"};
inline constexpr EventKind kIdle{"IDLE"};
inline constexpr EventKind kMakeLock{"MAKELOCK"};
inline constexpr EventKind kShare{"SHARE"};  // ghost: arg0 = lock, arg1 = the thread given a share
inline constexpr EventKind kDropShare{"DROP_SHARE"};  // ghost: arg0 = lock
inline constexpr EventKind kFreeLock{"FREELOCK"};
}  // namespace kinds

inline constexpr layers::Primitive kSpawnPrim{"spawn", kinds::kCallSpawn, kinds::kRetSpawn,
                                              kinds::kSpawn};
inline constexpr layers::Primitive kYieldPrim{"yield", kinds::kCallYield, kinds::kRetYield,
                                              kinds::kYield};
inline constexpr layers::Primitive kSleepPrim{"sleep", kinds::kCallSleep, kinds::kRetSleep,
                                              kinds::kSleep};
inline constexpr layers::Primitive kWakeupPrim{"wakeup", kinds::kCallWakeup, kinds::kRetWakeup,
                                               kinds::kWake};
inline constexpr layers::Primitive kLockPrim{"lock", kinds::kCallLock, kinds::kRetLock,
                                             kinds::kLock};
inline constexpr layers::Primitive kUnlockPrim{"unlock", kinds::kCallUnlock, kinds::kRetUnlock,
                                               kinds::kUnlock};
inline constexpr layers::Primitive kExitPrim{"exit", kinds::kCallExit, kinds::kRetExit,
                                             kinds::kExit};
inline constexpr layers::Primitive kIdlePrim{"idle", kinds::kCallIdle, kinds::kRetIdle,
                                             kinds::kIdle};
inline constexpr layers::Primitive kMakeLockPrim{"makelock", kinds::kCallMakeLock,
                                                 kinds::kRetMakeLock, kinds::kMakeLock};
inline constexpr layers::Primitive kFreeLockPrim{"freelock", kinds::kCallFreeLock,
                                                 kinds::kRetFreeLock, kinds::kFreeLock};
inline constexpr layers::Primitive kSchedPrimitives[] = {
    kSpawnPrim, kYieldPrim, kSleepPrim,    kWakeupPrim,  kLockPrim,
    kUnlockPrim, kExitPrim, kIdlePrim, kMakeLockPrim, kFreeLockPrim};

enum class ThreadState { kFree, kReady, kRun, kSleep, kDead };
std::string_view ThreadStateName(ThreadState s);
inline std::string_view format_as(ThreadState s) { return ThreadStateName(s); }

// A scheduler lock and a condition variable (with the lock that guards it),
// by index in creation order.
struct SchedLock {
  int index = -1;
};
struct Cv {
  int index = -1;
  SchedLock lock;
};

// A lock's invariant R (makelock): a predicate over the shared words and
// blocks the lock protects, read from the machine as its holder leaves
// them. `holds` returns nullopt when R holds, else the values that break it
// ("x = 2, y = 1").
struct LockInvariant {
  std::string name;  // "x == y"
  std::function<std::optional<std::string>(const Machine&)> holds;
};

// Ends the run as `invariant-broken` unless `r` holds now at `where` ("its
// release (unlock)") of lock `lock` by the caller.
void CheckLockInvariant(Cpu& cpu, const LockInvariant& r, std::string_view lock,
                        std::string_view where);

class Threads;
// A thread's body; `cpu` is its home CPU.
using Entry = std::function<void(Threads&, Cpu&)>;

// The thread-level primitives as a thread's code calls them. CSched (below)
// implements them for every thread of every CPU; TSched (tsched.h) for one
// thread whose environment is everything else. Thread code runs unchanged
// over either. The contracts are CSched's; TSched checks those the
// scheduler spec's replay checks, and the invariants of the locks its own
// thread made (shares are checked where the run is a CSched run).
class Threads {
 public:
  virtual ~Threads() = default;
  // Each takes its caller's location, `where`, for the markers and a
  // spec's step to record (layers::MarkCall, Cpu::call_site); overrides
  // keep the same default.
  virtual ThreadId Spawn(Cpu& cpu, Entry entry,
                         std::source_location where = std::source_location::current()) = 0;
  virtual void Yield(Cpu& cpu, std::source_location where = std::source_location::current()) = 0;
  // Precondition: the caller holds cv.lock. Returns, once woken and
  // scheduled again, with cv.lock held again: SleepUnlocked, then Lock.
  void Sleep(Cpu& cpu, Cv cv, std::source_location where = std::source_location::current()) {
    SleepUnlocked(cpu, cv, where);
    Lock(cpu, cv.lock, where);
  }
  virtual void SleepUnlocked(Cpu& cpu, Cv cv,
                             std::source_location where = std::source_location::current()) = 0;
  virtual ThreadId Wakeup(Cpu& cpu, Cv cv,
                          std::source_location where = std::source_location::current()) = 0;
  virtual void Lock(Cpu& cpu, SchedLock l,
                    std::source_location where = std::source_location::current()) = 0;
  virtual void Unlock(Cpu& cpu, SchedLock l,
                      std::source_location where = std::source_location::current()) = 0;
  virtual void MakeLock(Cpu& cpu, SchedLock l, LockInvariant invariant,
                        std::source_location where = std::source_location::current()) = 0;
  virtual void Share(Cpu& cpu, SchedLock l, ThreadId t,
                     std::source_location where = std::source_location::current()) = 0;
  virtual void DropShare(Cpu& cpu, SchedLock l,
                         std::source_location where = std::source_location::current()) = 0;
  virtual void FreeLock(Cpu& cpu, SchedLock l,
                        std::source_location where = std::source_location::current()) = 0;
  virtual Machine& machine() = 0;
  virtual int cpus() const = 0;
};

// What one CPU's scheduler did (host-side counts for the summary).
struct CpuStats {
  int threads = 0;                  // spawned here
  std::uint64_t switches = 0;       // context switches between threads (and from idle)
  std::uint64_t yields = 0;
  std::uint64_t sleeps = 0;
  std::uint64_t local_wakeups = 0;  // woke a thread of this CPU
  std::uint64_t remote_wakeups = 0; // woke a thread of another CPU
};

struct SchedOptions {
  std::string impl = "module";   // the scheduler's name in the catalog, for messages
  std::string lock = "ticket";   // the names of the layers below the module, for messages
  std::string queue = "module";
  std::string tcb = "module";
  int max_threads = 256;         // TCB pool capacity (tids 0 .. max_threads-1)
  std::size_t stack_bytes = 64 * 1024;  // per thread (StackPool maps 2 pages more)
};

// The spec's abstract state, a pure function of the log (SchedReplay).
struct SchedState {
  struct Thread {
    ThreadState state = ThreadState::kFree;
    CpuId home;
    friend bool operator==(const Thread&, const Thread&) = default;
  };
  std::vector<Thread> threads;  // by tid
  std::vector<ThreadId> current;  // per CPU: the running thread, or none (idle)
  std::vector<std::deque<ThreadId>> ready, pending;  // per CPU
  std::vector<std::deque<ThreadId>> sleepers;        // per cv
  std::vector<ThreadId> holders;                     // per lock
  std::vector<bool> freed;                           // per lock: freelock'ed
  std::vector<std::int64_t> returns;                 // per CPU: what its last call returns
  friend bool operator==(const SchedState&, const SchedState&) = default;
};

// What a scheduler module tells the check about one run (layers::ModuleView).
using SchedView = layers::ModuleView<SchedState>;

class CSched : public Threads {
 public:
  ~CSched() override;
  CSched(const CSched&) = delete;
  CSched& operator=(const CSched&) = delete;

  // Scheduler locks and condition variables; make them before the run.
  SchedLock NewLock(const std::string& name);
  Cv NewCv(const std::string& name, SchedLock lock);

  // The program of every CPU: `init` in the CPU's own context (it spawns the
  // CPU's first threads), then the idle loop until none of its threads is
  // alive. The program owns the scheduler, so it outlives the run and the
  // unwinding of its thread fibers when the machine is torn down.
  static Machine::Program Boot(std::shared_ptr<CSched> sched,
                               std::function<void(Threads&, Cpu&)> init);

  // The primitives; `cpu` is the caller's CPU (its thread is cpu.thread()).
  // Spawn may be called from the CPU's init; the others from a thread.
  // Errors of the simulated code end the run with a report: a TCB pool that
  // is full, an exception in a thread, a primitive called from an init, a
  // lock or cv that does not exist, unlock / sleep / wakeup without holding
  // the (cv's) lock, an exit holding a lock. A cv is always used with its
  // own lock, whatever Cv::lock says.
  ThreadId Spawn(Cpu& cpu, Entry entry,
                 std::source_location where = std::source_location::current()) final;
  void Yield(Cpu& cpu, std::source_location where = std::source_location::current()) final;
  // Sleep (Threads::Sleep) is SleepUnlocked, then Lock.
  // The sleep primitive alone: returns, once woken and scheduled again,
  // without the lock.
  void SleepUnlocked(Cpu& cpu, Cv cv,
                     std::source_location where = std::source_location::current()) final;
  // Precondition: the caller holds cv.lock. Returns the woken tid, or none.
  ThreadId Wakeup(Cpu& cpu, Cv cv,
                  std::source_location where = std::source_location::current()) final;
  void Lock(Cpu& cpu, SchedLock l,
            std::source_location where = std::source_location::current()) final;
  void Unlock(Cpu& cpu, SchedLock l,
              std::source_location where = std::source_location::current()) final;
  // makelock(l, R): R must hold now; the caller gets a share of l. From
  // then on R must hold at every release of l (unlock, sleep on one of its
  // cvs) and at freelock, and only threads with a share may take l.
  // Precondition: l exists and was not made before. A broken R ends the run
  // as `invariant-broken`, naming the lock, R and the values.
  void MakeLock(Cpu& cpu, SchedLock l, LockInvariant invariant,
                std::source_location where = std::source_location::current()) final;
  // Gives thread `t` a share of made lock l (a ghost event SHARE, so a
  // replay gives it too). Precondition: the caller has one.
  void Share(Cpu& cpu, SchedLock l, ThreadId t,
             std::source_location where = std::source_location::current()) final;
  // The caller gives up its share of made lock l (a ghost DROP_SHARE); it
  // may still release l if it holds it. Precondition: it has a share.
  void DropShare(Cpu& cpu, SchedLock l,
                 std::source_location where = std::source_location::current()) final;
  // freelock(l): precondition: the caller holds l, and every other thread
  // with a share has exited or dropped it; R must hold. Afterwards no one
  // may take l.
  void FreeLock(Cpu& cpu, SchedLock l,
                std::source_location where = std::source_location::current()) final;

  // Every spawn's entry, in spawn order (kept after the thread exits): a
  // per-thread machine (tsched.h) runs the k-th again.
  const std::vector<Entry>& spawned() const { return spawned_; }

  Machine& machine() final { return machine_; }
  int cpus() const final { return static_cast<int>(cpus_.size()); }
  ObjectId object() const { return object_; }
  const std::string& lock_name(SchedLock l) const { return lock_names_[l.index]; }
  const std::string& cv_name(Cv cv) const { return cv_names_[cv.index]; }
  // The spec's replay for this scheduler's objects, locks and cvs.
  struct SchedReplay Replay() const;
  // A fresh view of one run on `m` (the machine this scheduler was made
  // on), for the refinement check. Called before the run.
  virtual std::unique_ptr<SchedView> NewView(Machine& m) const = 0;

  // Host-side view, for summaries and end-of-run checks.
  const CpuStats& stats(CpuId c) const { return cpus_[c.index()].stats; }
  int threads() const { return static_cast<int>(tcbs_.size()); }
  ThreadState state(ThreadId t) const { return tcbs_[t.index()].state; }
  CpuId home(ThreadId t) const { return tcbs_[t.index()].home; }
  // Who holds which lock and who waits for what (threads blocked in lock(),
  // threads asleep on a cv), one clause per thread; for deadlock reports.
  std::string DescribeWaits() const;

 protected:
  CSched(Machine& m, const SchedOptions& o);

  // The side-specific shared steps of each primitive; each contains the
  // primitive's linearization point (module) or atomic step (spec).
  virtual ThreadId DoSpawn(Cpu& cpu) = 0;
  virtual void DoYield(Cpu& cpu, ThreadId self) = 0;
  virtual void DoSleep(Cpu& cpu, Cv cv, ThreadId self) = 0;
  virtual ThreadId DoWakeup(Cpu& cpu, Cv cv) = 0;
  virtual void DoLock(Cpu& cpu, SchedLock l) = 0;
  virtual void DoUnlock(Cpu& cpu, SchedLock l) = 0;
  virtual void DoMakeLock(Cpu& cpu, SchedLock l) = 0;
  // Frees l, which the caller holds (the lock layer's lock is released).
  virtual void DoFreeLock(Cpu& cpu, SchedLock l) = 0;
  virtual void DoExit(Cpu& cpu, ThreadId self) = 0;
  virtual void DoIdle(Cpu& cpu) = 0;
  // The thread that runs next on `c` after the primitive just done (takes
  // it off the ready queue), or none.
  virtual ThreadId Next(CpuId c) = 0;
  virtual void OnNewLock(const std::string& name) = 0;
  virtual void OnNewCv(const std::string& name) = 0;

  const SchedOptions& options() const { return options_; }

 private:
  struct Tcb {
    boost::context::fiber fiber;  // resumes the thread; empty while it runs
    boost::context::stack_context stack{};  // its stack (sp null once given back)
    bool overflowed = false;      // hit its guard page: the stack is freed by hand
    Entry entry;
    CpuId home;
    ThreadState state = ThreadState::kFree;
    int waits_for_lock = -1;  // blocked in lock(l)
    int sleeps_on = -1;       // asleep on cv
  };
  struct PerCpu {
    Cpu* cpu = nullptr;
    boost::context::fiber idle;  // resumes the idle context while a thread runs
    boost::context::fiber* from = nullptr;  // where the switching context's handle goes
    int live = 0;                // threads of this CPU not yet exited
    CpuStats stats;
  };

  void SwitchTo(Cpu& cpu, ThreadId next, boost::context::fiber* self);
  // Makes `next` (none: the idle context) the CPU's running context and
  // returns the handle that resumes it.
  boost::context::fiber& Dispatch(Cpu& cpu, ThreadId next);
  // The calling thread; a primitive called from a CPU's init ends the run.
  ThreadId Caller(Cpu& cpu, std::string_view primitive);
  // Preconditions of the primitives, each ending the run with a report when
  // broken: the lock or cv exists (CheckCv returns it with its own lock),
  // the caller holds the lock.
  SchedLock CheckLock(Cpu& cpu, SchedLock l, std::string_view primitive);
  Cv CheckCv(Cpu& cpu, Cv cv, std::string_view primitive);
  void CheckHolds(Cpu& cpu, SchedLock l, std::string_view primitive);
  // A made lock's invariant at a release (`where`: "unlock", ...).
  void CheckInvariant(Cpu& cpu, SchedLock l, std::string_view where);
  // Unwinds every suspended thread and idle context (Machine::AtTeardown).
  void ReleaseFibers();
  boost::context::fiber RunThread(ThreadId t);
  void IdleLoop(Cpu& cpu);

  Machine& machine_;
  SchedOptions options_;
  ObjectId object_;
  machine::StackPool stacks_;  // before tcbs_: thread fibers give their stacks back
  std::vector<PerCpu> cpus_;
  // By tid, with room for the pool's max_threads reserved up front: it never
  // reallocates, so references stay stable (a deque's would too, but its
  // indexing was a fifth of a context switch's instructions).
  std::vector<Tcb> tcbs_;
  std::vector<std::string> lock_names_, cv_names_;
  std::vector<int> cv_locks_;
  bool tearing_down_ = false;
  std::vector<ThreadId> holders_;  // per lock (host-side, for DescribeWaits)
  // Per lock, host-side: made by makelock (its invariant), freed, and the
  // threads with a share (makelock's caller, and those it shared with).
  struct MadeLock {
    bool made = false;
    bool freed = false;
    LockInvariant invariant;
    std::vector<ThreadId> shares;
  };
  std::vector<MadeLock> made_;
  boost::context::fiber dead_;     // receives the empty handle of an exited thread
  std::vector<Entry> spawned_;
};

// The layers a scheduler module is built on: it makes its locks, queues
// and TCB pool with these factories.
struct SchedLower {
  kernel::LockFactory lock;
  kernel::QueueFactory queue;
  kernel::TcbFactory tcb;
};

// Makes a scheduler on `m` with `o`; a module builds on `lower`.
using SchedFactory = std::function<std::unique_ptr<CSched>(Machine& m, const SchedOptions& o,
                                                           const SchedLower& lower)>;
using SchedRegistry = layers::Registry<SchedFactory>;

// The factory of a scheduler class S constructible as S(machine, options, lower).
template <class S>
SchedFactory SchedFactoryOf() {
  return [](Machine& m, const SchedOptions& o, const SchedLower& lower) -> std::unique_ptr<CSched> {
    return std::make_unique<S>(m, o, lower);
  };
}

// The TCB pool's capacity for a run: `max_threads`, or when it is 0, room
// for a client's `threads` per CPU on `cpus` CPUs (the general client's, each
// with one child): max(256, cpus x 2 (threads + 2)).
int PoolCapacity(int max_threads, int cpus, int threads);

// The spec itself as a scheduler: one atomic step per primitive.
std::unique_ptr<CSched> MakeSpecSched(Machine& m, const SchedOptions& o);

// Adds strata's schedulers: module, spec and the module's known-bad variants.
void AddBuiltinScheds(SchedRegistry& scheds);

// The layers below the scheduler as `o` names them in `kernel`.
// Precondition: they exist.
SchedLower LowerOf(const SchedOptions& o, const kernel::KernelCatalog& kernel);

// Makes the scheduler `o.impl` of `scheds` over the lock, queue and TCB pool
// `o` names in `kernel` (objects "sched", "tcbs", "cpuN.pendingq" ...).
// Precondition: all exist.
std::unique_ptr<CSched> MakeSched(Machine& m, const SchedOptions& o, const SchedRegistry& scheds,
                                  const kernel::KernelCatalog& kernel);

// The fold over the log that defines the spec. Events of the scheduler's
// object are its atomic steps (and the primitives' markers); every other
// event must come from the thread its CPU runs (or from the CPU's idle
// context). Returns false on an impossible event (a step by a thread that is
// not running, a sleep or wakeup without the cv's lock, an unlock by anyone
// but the holder, a full TCB pool, ...). `why` (if set) receives the reason.
struct SchedReplay {
  using State = SchedState;
  ObjectId sched;
  int cpus = 1;
  int max_threads = 256;
  int locks = 0;
  std::vector<int> cv_locks;  // per cv: its lock's index
  State Init() const;
  bool Step(State& s, const Event& e, std::string* why) const;
  bool Step(State& s, const Event& e) const { return Step(s, e, nullptr); }
};

}  // namespace strata::sched

template <>
struct fmt::formatter<strata::sched::SchedState> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const strata::sched::SchedState& s, Ctx& ctx) const {
    auto out = ctx.out();
    for (std::size_t c = 0; c < s.current.size(); ++c) {
      out = fmt::format_to(out, "{}cpu {}: run {} ready [", c == 0 ? "" : "; ", c, s.current[c]);
      for (auto t : s.ready[c]) out = fmt::format_to(out, " {}", t);
      out = fmt::format_to(out, " ] pending [");
      for (auto t : s.pending[c]) out = fmt::format_to(out, " {}", t);
      out = fmt::format_to(out, " ]");
    }
    for (std::size_t v = 0; v < s.sleepers.size(); ++v) {
      if (s.sleepers[v].empty()) continue;
      out = fmt::format_to(out, "; cv {} sleepers [", v);
      for (auto t : s.sleepers[v]) out = fmt::format_to(out, " {}", t);
      out = fmt::format_to(out, " ]");
    }
    for (std::size_t l = 0; l < s.holders.size(); ++l) {
      if (s.holders[l].valid()) out = fmt::format_to(out, "; lock {} held by {}", l, s.holders[l]);
    }
    return out;
  }
};

#endif  // STRATA_SCHED_CSCHED_H_
