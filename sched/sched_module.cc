#include "sched/sched_module.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::sched {
namespace {

using machine::Block;
using machine::OpCode;
using machine::Outcome;

// Events the holder of a scheduler lock may append before it unlocks: the
// client's critical sections are not bounded by the scheduler.
constexpr std::int64_t kClientBound = 1 << 20;
// An internal lock's holder pulls and pushes one block (and may update the
// pending count in between).
constexpr std::int64_t kInternalBound = 3;

// A block laid out as [count, entries...] of `width` words each, with the
// oldest entry first. Only touched while pulled.
class BlockQueue {
 public:
  BlockQueue(Cpu& cpu, Block b, std::size_t width) : cpu_(cpu), b_(b), width_(width) {}
  std::size_t size() { return static_cast<std::size_t>(cpu_.Read(b_, 0)); }
  std::int64_t at(std::size_t i, std::size_t k = 0) { return cpu_.Read(b_, 1 + i * width_ + k); }
  void PushBack(std::initializer_list<std::int64_t> entry) {
    const std::size_t n = size();
    std::size_t k = 0;
    for (std::int64_t v : entry) cpu_.Write(b_, 1 + n * width_ + k++, v);
    cpu_.Write(b_, 0, static_cast<std::int64_t>(n + 1));
  }
  void PopFront() {
    const std::size_t n = size();
    for (std::size_t i = 1; i < n; ++i) {
      for (std::size_t k = 0; k < width_; ++k) cpu_.Write(b_, 1 + (i - 1) * width_ + k, at(i, k));
    }
    cpu_.Write(b_, 0, static_cast<std::int64_t>(n - 1));
  }
  void Clear() { cpu_.Write(b_, 0, 0); }

 private:
  Cpu& cpu_;
  Block b_;
  std::size_t width_;
};

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

SchedModule::SchedModule(Machine& m, const SchedOptions& o, const kernel::LockFactory& lock)
    : CSched(m, o),
      make_lock_(lock),
      pool_(m.NewBlock("tcbs", static_cast<std::size_t>(o.max_threads))),
      pool_lock_(lock(m, "tcbs.lock")),
      ready_(static_cast<std::size_t>(m.cpus())) {
  for (int c = 0; c < m.cpus(); ++c) {
    pending_.push_back(
        m.NewBlock(fmt::format("cpu{}.pending", c), 1 + static_cast<std::size_t>(o.max_threads)));
    pending_locks_.push_back(lock(m, fmt::format("cpu{}.pending.lock", c)));
    counts_.push_back(m.NewWord(fmt::format("cpu{}.pending.count", c)));
  }
}

std::unique_ptr<SchedView> SchedModule::NewView(Machine& m) const {
  return std::make_unique<ModuleView>(m.cpus(), counts_);
}

bool SchedModule::SlotFree(std::int64_t v, std::int64_t) const { return v == 0; }

CpuId SchedModule::WakeTarget(CpuId home) const { return home; }

ThreadId SchedModule::DoSpawn(Cpu& cpu) {
  pool_lock_->Acquire(cpu, kInternalBound);
  cpu.Pull(pool_);
  const std::int64_t mine = 1 + cpu.id().value();
  int slot = -1;
  for (int i = 0; i < options().max_threads && slot < 0; ++i) {
    if (SlotFree(cpu.Read(pool_, static_cast<std::size_t>(i)), mine)) slot = i;
  }
  if (slot < 0) {
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("spawn on cpu {}: the TCB pool ({} threads, stack.max_threads) is full",
                         cpu.id(), options().max_threads));
  }
  cpu.Write(pool_, static_cast<std::size_t>(slot), mine);
  cpu.Push(pool_);
  cpu.Linearize();
  pool_lock_->Release(cpu);
  const ThreadId t(slot);
  ready_[cpu.id().index()].push_back(t);
  return t;
}

void SchedModule::DoExit(Cpu& cpu, ThreadId self) {
  pool_lock_->Acquire(cpu, kInternalBound);
  cpu.Pull(pool_);
  cpu.Write(pool_, self.index(), 0);
  cpu.Push(pool_);
  cpu.Linearize();
  pool_lock_->Release(cpu);
}

// Moves this CPU's pending queue to the tail of its ready queue. The count
// word changes only under the pending lock, each change a linearization
// point (a remote wakeup's increment, a drain's decrement), so it always
// equals the spec's pending length.
void SchedModule::Drain(Cpu& cpu) {
  const std::size_t c = cpu.id().index();
  pending_locks_[c]->Acquire(cpu, kInternalBound);
  cpu.Pull(pending_[c]);
  BlockQueue q(cpu, pending_[c], 1);
  const std::size_t n = q.size();
  for (std::size_t i = 0; i < n; ++i) ready_[c].push_back(ThreadId(static_cast<int>(q.at(i))));
  q.Clear();
  cpu.FetchAdd(counts_[c], -static_cast<std::int64_t>(n), kinds::kPendingCount);
  cpu.Linearize();
  cpu.Push(pending_[c]);
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

void SchedModule::DoSleep(Cpu& cpu, Cv cv, ThreadId self) {
  const Block q = sleepq_[cv.index];
  cpu.Pull(q);
  BlockQueue(cpu, q, 2).PushBack({self.value(), cpu.id().value()});
  cpu.Push(q);
  cpu.Linearize();
  locks_[cv.lock.index]->Release(cpu);
}

ThreadId SchedModule::DoWakeup(Cpu& cpu, Cv cv) {
  const Block q = sleepq_[cv.index];
  cpu.Pull(q);
  BlockQueue sleepers(cpu, q, 2);
  if (sleepers.size() == 0) {
    cpu.Push(q);
    cpu.Linearize();
    return ThreadId();
  }
  const ThreadId t(static_cast<int>(sleepers.at(0, 0)));
  const CpuId home(static_cast<int>(sleepers.at(0, 1)));
  sleepers.PopFront();
  if (!ReadiesWoken() || home == cpu.id()) {
    cpu.Push(q);
    cpu.Linearize();
    if (ReadiesWoken()) ready_[home.index()].push_back(t);
    return t;
  }
  // Remote: the sleeper is in neither queue until it lands in its home's
  // pending queue; the caller holds the cv's lock all along, so no one can
  // tell.
  cpu.Push(q);
  const std::size_t h = WakeTarget(home).index();
  pending_locks_[h]->Acquire(cpu, kInternalBound);
  cpu.Pull(pending_[h]);
  BlockQueue(cpu, pending_[h], 1).PushBack({t.value()});
  cpu.FetchAdd(counts_[h], 1, kinds::kPendingCount);
  cpu.Linearize();
  cpu.Push(pending_[h]);
  pending_locks_[h]->Release(cpu);
  return t;
}

void SchedModule::DoLock(Cpu& cpu, SchedLock l) {
  kernel::Lock& lock = *locks_[l.index];
  lock.Acquire(cpu, kClientBound);
  cpu.Annotate(lock.object(), kinds::kLocked, l.index, 0, 0);
  cpu.Linearize();
}

void SchedModule::DoUnlock(Cpu& cpu, SchedLock l) {
  kernel::Lock& lock = *locks_[l.index];
  lock.Release(cpu);
  cpu.Annotate(lock.object(), kinds::kUnlocked, l.index, 0, 0);
  cpu.Linearize();
}

ThreadId SchedModule::Next(CpuId c) {
  std::deque<ThreadId>& r = ready_[c.index()];
  if (r.empty()) return ThreadId();
  const ThreadId t = r.front();
  r.pop_front();
  return t;
}

void SchedModule::OnNewLock(const std::string& name) {
  locks_.push_back(make_lock_(machine(), name));
}

void SchedModule::OnNewCv(const std::string& name) {
  sleepq_.push_back(
      machine().NewBlock(name + ".sleepq", 1 + 2 * static_cast<std::size_t>(options().max_threads)));
}

}  // namespace strata::sched
