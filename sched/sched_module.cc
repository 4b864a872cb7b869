#include "sched/sched_module.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::sched {
namespace {

using machine::OpCode;
using machine::Outcome;

// Events the holder of a scheduler lock may append before it unlocks: the
// client's critical sections are not bounded by the scheduler, and the
// holder of a pending lock makes queue calls whose events depend on the
// queue and lock implementations below.
constexpr std::int64_t kUnbounded = 1 << 20;

// The module's view: which blocks each CPU holds pulled, and the pending
// counts, replayed by their machine operations.
class ModuleView final : public SchedView {
 public:
  ModuleView(int cpus, const std::vector<machine::Word>& counts)
      : pulled_(static_cast<std::size_t>(cpus), 0), values_(counts.size(), 0) {
    for (std::size_t c = 0; c < counts.size(); ++c) counts_.Add(counts[c].id, static_cast<int>(c));
  }

  bool Observe(const Event& e) override {
    last_cpu_ = e.cpu;
    if (e.op == OpCode::kPull) ++pulled_[e.cpu.index()];
    if (e.op == OpCode::kPush) --pulled_[e.cpu.index()];
    if (const int c = counts_.Find(e.object); c >= 0) {
      std::int64_t& count = values_[static_cast<std::size_t>(c)];
      if (!word_.Step(count, e)) return false;
      if (count < 0) negative_ = true;
    }
    return true;
  }

  std::optional<std::string> Relation(const SchedState& spec) const override {
    if (negative_) return std::string("a pending count went negative");
    for (std::size_t c = 0; c < values_.size() && c < spec.pending.size(); ++c) {
      if (values_[c] != static_cast<std::int64_t>(spec.pending[c].size())) {
        return fmt::format("cpu {}'s pending count is {}, the spec's pending queue holds {}", c,
                           values_[c], spec.pending[c].size());
      }
    }
    if (last_cpu_.valid() && pulled_[last_cpu_.index()] != 0) {
      return fmt::format("cpu {} crosses the border holding {} pulled block(s)", last_cpu_,
                         pulled_[last_cpu_.index()]);
    }
    return std::nullopt;
  }

  std::string Describe() const override {
    std::string out;
    for (std::size_t c = 0; c < pulled_.size(); ++c) {
      if (pulled_[c] != 0) {
        out += fmt::format("{}cpu {} holds {} block(s)", out.empty() ? "" : ", ", c, pulled_[c]);
      }
    }
    return out.empty() ? std::string("no blocks pulled") : out;
  }

  std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
    return std::nullopt;  // thread-level liveness is TSched's (limit, progress)
  }

 private:
  std::vector<int> pulled_;
  layers::ObjectSlots counts_;       // the pending count words, by CPU
  std::vector<std::int64_t> values_;
  machine::WordReplay word_;
  CpuId last_cpu_;
  bool negative_ = false;
};

}  // namespace

SchedModule::SchedModule(Machine& m, const SchedOptions& o, const SchedLower& lower)
    : CSched(m, o),
      lower_(lower),
      pool_(lower.tcb(m, "tcbs", o.max_threads, lower.lock)),
      ready_(static_cast<std::size_t>(m.cpus())) {
  for (int c = 0; c < m.cpus(); ++c) {
    pending_.push_back(lower.queue(m, fmt::format("cpu{}.pendingq", c), o.max_threads, lower.lock));
    pending_locks_.push_back(lower.lock(m, fmt::format("cpu{}.pending.lock", c)));
    counts_.push_back(m.NewWord(fmt::format("cpu{}.pending.count", c)));
  }
}

std::unique_ptr<SchedView> SchedModule::NewView(Machine& m) const {
  return std::make_unique<ModuleView>(m.cpus(), counts_);
}

CpuId SchedModule::WakeTarget(CpuId home) const { return home; }

// spawn and exit take effect where the pool's alloc and free do.
ThreadId SchedModule::DoSpawn(Cpu& cpu) {
  const std::int64_t t = pool_->Alloc(cpu);
  if (t < 0) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("spawn on cpu {}: the TCB pool ({} threads, stack.max_threads) is full",
                         cpu.id(), options().max_threads));
  }
  cpu.AdoptLinearization();
  if (pool_->Write(cpu, t, kHomeField, cpu.id().value()) != 1) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("spawn on cpu {}: the TCB pool refuses to record the home of tcb {} it "
                         "just allocated",
                         cpu.id(), t));
  }
  const ThreadId tid(static_cast<int>(t));
  ready_[cpu.id().index()].push_back(tid);
  return tid;
}

void SchedModule::DoExit(Cpu& cpu, ThreadId self) {
  const std::int64_t freed = pool_->Free(cpu, self.value());
  cpu.AdoptLinearization();
  if (freed != 1) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("exit of thread {} on cpu {}: the TCB pool says it was not allocated",
                         self, cpu.id()));
  }
}

// Moves this CPU's pending queue to the tail of its ready queue. The count
// word changes only under the pending lock, together with the queue, each
// change a linearization point (a remote wakeup's increment, a drain's
// swap to 0), so it always equals the spec's pending length.
void SchedModule::Drain(Cpu& cpu) {
  const std::size_t c = cpu.id().index();
  pending_locks_[c]->Acquire(cpu, kUnbounded);
  const std::int64_t n = cpu.Swap(counts_[c], 0, kinds::kPendingCount);
  cpu.Linearize();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t t = pending_[c]->Deq(cpu);
    if (t < 0) {
      cpu.Fail(Outcome::kImpossibleLog,
               fmt::format("cpu {}'s pending count was {}, its pending queue held {}", cpu.id(), n,
                           i));
    }
    ready_[c].push_back(ThreadId(static_cast<int>(t)));
  }
  pending_locks_[c]->Release(cpu);
}

std::deque<ThreadId>& SchedModule::TakePending(Cpu& cpu) {
  // The fast path of a yield with no wakeups waiting: one load, which is
  // then the linearization point.
  const std::size_t c = cpu.id().index();
  if (cpu.Load(counts_[c], kinds::kPendingCount) == 0) {
    cpu.Linearize();
  } else {
    Drain(cpu);
  }
  return ready_[c];
}

void SchedModule::DoYield(Cpu& cpu, ThreadId self) { TakePending(cpu).push_back(self); }

void SchedModule::DoIdle(Cpu& cpu) {
  const std::size_t c = cpu.id().index();
  // Nothing to run: wait (blocked, no events) until a wakeup lands here.
  if (ready_[c].empty()) cpu.LoadWhenChanged(counts_[c], 0, kinds::kPendingCount);
  Drain(cpu);
}

// The caller holds the cv's lock: the sleep queue's enq is the sleep's
// linearization point, and nobody can see it before the release.
void SchedModule::DoSleep(Cpu& cpu, Cv cv, ThreadId self) {
  const std::int64_t queued = sleepq_[cv.index]->Enq(cpu, self.value());
  cpu.AdoptLinearization();
  if (queued != 1) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} cannot sleep: cv {}'s sleep queue is full", self,
                         cpu.id(), cv_name(cv)));
  }
  locks_[cv.lock.index]->Release(cpu);
}

ThreadId SchedModule::DoWakeup(Cpu& cpu, Cv cv) {
  const std::int64_t v = sleepq_[cv.index]->Deq(cpu);
  if (v < 0) {
    cpu.AdoptLinearization();  // no sleeper
    return ThreadId();
  }
  const ThreadId t(static_cast<int>(v));
  const std::int64_t h = pool_->Read(cpu, v, kHomeField);
  if (h < 0 || h >= cpus()) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("wakeup on cpu {}: sleeper {} has no home in the TCB pool (read {})",
                         cpu.id(), t, h));
  }
  const CpuId home(static_cast<int>(h));
  if (home == cpu.id() || !ReadiesWoken()) {
    // Under the cv's lock, the sleeper is in no queue anyone else can see
    // until the ghost: it is the linearization point.
    cpu.Annotate(object(), kinds::kWoken, v, 0, 0);
    cpu.Linearize();
    if (home == cpu.id()) ready_[home.index()].push_back(t);
    return t;
  }
  // Remote: the sleeper is in neither queue until it lands in its home's
  // pending queue; the caller holds the cv's lock all along, so no one can
  // tell.
  const std::size_t target = WakeTarget(home).index();
  pending_locks_[target]->Acquire(cpu, kUnbounded);
  if (pending_[target]->Enq(cpu, v) != 1) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("wakeup on cpu {}: cpu {}'s pending queue is full", cpu.id(), target));
  }
  cpu.FetchAdd(counts_[target], 1, kinds::kPendingCount);
  cpu.Linearize();
  pending_locks_[target]->Release(cpu);
  return t;
}

// Lock, unlock, makelock and freelock take effect at a ghost on the lock
// layer's lock object, right after the lock layer's call (if any).
void SchedModule::LockGhost(Cpu& cpu, SchedLock l, EventKind kind) {
  cpu.Annotate(locks_[l.index]->object(), kind, l.index, 0, 0);
  cpu.Linearize();
}

void SchedModule::DoLock(Cpu& cpu, SchedLock l) {
  locks_[l.index]->Acquire(cpu, kUnbounded);
  LockGhost(cpu, l, kinds::kLocked);
}

void SchedModule::DoUnlock(Cpu& cpu, SchedLock l) {
  locks_[l.index]->Release(cpu);
  LockGhost(cpu, l, kinds::kUnlocked);
}

// makelock and freelock change only host-side bookkeeping (the invariant,
// the shares) and what the spec allows. freelock gives the lock layer's
// lock back, so it ends free.
void SchedModule::DoMakeLock(Cpu& cpu, SchedLock l) { LockGhost(cpu, l, kinds::kMade); }

void SchedModule::DoFreeLock(Cpu& cpu, SchedLock l) {
  locks_[l.index]->Release(cpu);
  LockGhost(cpu, l, kinds::kFreed);
}

ThreadId SchedModule::Next(CpuId c) {
  std::deque<ThreadId>& r = ready_[c.index()];
  if (r.empty()) return ThreadId();
  const ThreadId t = r.front();
  r.pop_front();
  return t;
}

void SchedModule::OnNewLock(const std::string& name) {
  locks_.push_back(lower_.lock(machine(), name));
}

void SchedModule::OnNewCv(const std::string& name) {
  sleepq_.push_back(lower_.queue(machine(), name + ".sleepq", options().max_threads, lower_.lock));
}

}  // namespace strata::sched
