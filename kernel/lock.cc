#include "kernel/lock.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::kernel {
namespace {

using machine::Word;

enum class Family { kSpec, kTicket, kMcs, kTas };

// What a known-bad variant gets wrong; all false/1 is the correct module.
struct Flaws {
  bool load_store_ticket = false;  // ticket: load then store instead of fetch-and-add
  int now_bumps = 1;               // ticket: INC_NOWs per release
  bool leaky = false;              // ticket: hidden state that survives across runs
  bool no_wait_next = false;       // mcs: release gives up on a late `next` link
  bool keep_busy = false;          // mcs: release never clears the successor's busy
};

struct ImplEntry {
  LockImpl info;
  Family family;
  Flaws flaws;
};

constexpr ImplEntry kImpls[] = {
    {{"spec", "the atomic spec itself: WAIT_LOCK / REL_LOCK", false}, Family::kSpec, {}},
    {{"ticket", "ticket lock: INC_TICKET, GET_NOW, HOLD_LOCK, INC_NOW", false}, Family::kTicket, {}},
    {{"mcs", "MCS queue lock: per-CPU nodes, SWAP_TAIL, hand-over by SET_BUSY", false},
     Family::kMcs, {}},
    {{"tas", "test-and-set lock: safe but not starvation-free", false}, Family::kTas, {}},
    {{"ticket-load-store", "known-bad: takes a ticket with a load then a store", true},
     Family::kTicket, {.load_store_ticket = true}},
    {{"ticket-no-bump", "known-bad: release forgets to bump now_serving", true}, Family::kTicket,
     {.now_bumps = 0}},
    {{"ticket-double-bump", "known-bad: release bumps now_serving twice", true}, Family::kTicket,
     {.now_bumps = 2}},
    {{"ticket-leaky", "known-bad: carries hidden state from run to run", true}, Family::kTicket,
     {.leaky = true}},
    {{"mcs-no-wait-next", "known-bad: release does not wait for a late next link", true},
     Family::kMcs, {.no_wait_next = true}},
    {{"mcs-keep-busy", "known-bad: release never clears the successor's busy flag", true},
     Family::kMcs, {.keep_busy = true}},
};

const ImplEntry& Entry(std::string_view name) {
  for (const ImplEntry& e : kImpls) {
    if (e.info.name == name) return e;
  }
  STRATA_CHECK(false, "unknown lock implementation {}", name);
  return kImpls[0];
}

// ------------------------------------------------------------ the modules

class SpecLock final : public Lock {
 public:
  SpecLock(Machine& m, const std::string& name) : Lock(m.NewObject(name)) {
    m.AddGlobalMonitor(std::make_unique<machine::ReplayMonitor<LockSpecReplay>>(
        LockSpecReplay{.lock = object()}));
  }

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    auto free = [this] { return !holder_.valid(); };
    absl::FunctionRef<bool()> ready(free);
    cpu.Step({.object = object(), .kind = kinds::kWaitLock, .arg0 = bound, .apply = [&] {
                holder_ = cpu.id();
                return std::int64_t{0};
              },
              .ready = &ready});
  }
  void DoRelease(Cpu& cpu) override {
    cpu.Step({.object = object(), .kind = kinds::kRelLock, .apply = [&] {
                if (holder_ == cpu.id()) holder_ = CpuId();
                return std::int64_t{0};
              }});
  }

 private:
  CpuId holder_;
};

class TicketLock final : public Lock {
 public:
  TicketLock(Machine& m, const std::string& name, Flaws flaws)
      : Lock(m.NewObject(name)),
        ticket_(m.NewWord(name + ".ticket")),
        now_(m.NewWord(name + ".now")),
        flaws_(flaws) {}

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    // The leaky variant's hidden state: exactly what makes a module
    // nondeterministic across runs.
    static std::int64_t leaked = 0;
    const std::int64_t note = flaws_.leaky ? bound + 100 * ++leaked : bound;
    std::int64_t mine;
    if (flaws_.load_store_ticket) {
      mine = cpu.Load(ticket_, kinds::kGetTicket);
      cpu.Store(ticket_, mine + 1, kinds::kSetTicket, note);
    } else {
      mine = cpu.FetchAdd(ticket_, 1, kinds::kIncTicket, note);
    }
    cpu.AwaitValue(now_, mine, kinds::kGetNow);
    cpu.Annotate(object(), kinds::kHoldLock, mine, bound, 0);
  }
  void DoRelease(Cpu& cpu) override {
    for (int i = 0; i < flaws_.now_bumps; ++i) cpu.FetchAdd(now_, 1, kinds::kIncNow);
  }

 private:
  Word ticket_, now_;
  Flaws flaws_;
};

class McsLock final : public Lock {
 public:
  McsLock(Machine& m, const std::string& name, Flaws flaws)
      : Lock(m.NewObject(name)), tail_(m.NewWord(name + ".tail")), flaws_(flaws) {
    for (int c = 0; c < m.cpus(); ++c) {
      next_.push_back(m.NewWord(fmt::format("{}.next[{}]", name, c)));
      busy_.push_back(m.NewWord(fmt::format("{}.busy[{}]", name, c)));
    }
  }

 protected:
  // Nodes are named by cpu + 1; 0 is "none".
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    const std::size_t me = cpu.id().index();
    cpu.Store(next_[me], 0, kinds::kSetNext);
    cpu.Store(busy_[me], 1, kinds::kSetBusy);
    const std::int64_t pred = cpu.Swap(tail_, cpu.id().value() + 1, kinds::kSwapTail, bound);
    if (pred != 0) {
      cpu.Store(next_[static_cast<std::size_t>(pred - 1)], cpu.id().value() + 1, kinds::kSetNext);
      cpu.AwaitValue(busy_[me], 0, kinds::kGetBusy);
    }
    cpu.Annotate(object(), kinds::kHoldLock, pred, bound, 0);
  }
  void DoRelease(Cpu& cpu) override {
    const std::size_t me = cpu.id().index();
    std::int64_t next = cpu.Load(next_[me], kinds::kGetNext);
    if (next == 0) {
      const std::int64_t mine = cpu.id().value() + 1;
      if (cpu.CompareSwap(tail_, mine, 0, kinds::kCasTail) == mine) return;
      if (flaws_.no_wait_next) return;
      // A successor swapped the tail but has not linked itself yet.
      next = cpu.LoadWhenChanged(next_[me], 0, kinds::kGetNext);
    }
    if (!flaws_.keep_busy) cpu.Store(busy_[static_cast<std::size_t>(next - 1)], 0, kinds::kSetBusy);
  }

 private:
  Word tail_;
  std::vector<Word> next_, busy_;
  Flaws flaws_;
};

class TasLock final : public Lock {
 public:
  TasLock(Machine& m, const std::string& name)
      : Lock(m.NewObject(name)), word_(m.NewWord(name + ".word")) {}

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    for (;;) {
      const std::int64_t seen = cpu.CompareSwap(word_, 0, cpu.id().value() + 1, kinds::kTas);
      if (seen == 0) break;
      cpu.LoadWhenChanged(word_, seen, kinds::kSpin);
    }
    cpu.Annotate(object(), kinds::kHoldLock, 0, bound, 0);
  }
  void DoRelease(Cpu& cpu) override { cpu.Store(word_, 0, kinds::kClear); }

 private:
  Word word_;
};

// ------------------------------------------------------ the log map and R

}  // namespace

bool IsAcquireLinearization(const Event& e) {
  return e.kind == kinds::kHoldLock || e.kind == kinds::kWaitLock;
}

bool IsReleaseLinearization(const Event& e) {
  return e.kind == kinds::kIncNow || e.kind == kinds::kRelLock || e.kind == kinds::kClear ||
         (e.kind == kinds::kCasTail && e.result == e.arg0) ||
         (e.kind == kinds::kSetBusy && e.arg0 == 0);
}

namespace {

// Steps an acquire and a release take at most by themselves (fairness
// bounds count steps).
struct StepCosts {
  std::uint64_t acquire;
  std::uint64_t release;
};
StepCosts CostsOf(Family f) {
  switch (f) {
    case Family::kSpec:
      return {1, 1};
    case Family::kTicket:
      return {2, 2};
    case Family::kMcs:
      return {5, 6};  // release may wait for the successor's link
    case Family::kTas:
      return {2, 1};  // assumes no overtaking: what tas does not guarantee
  }
  return {1, 1};
}

class LockAbstraction final : public layers::Abstraction {
 public:
  LockAbstraction(Family family, ObjectId lock, int cpus, std::uint64_t fairness)
      : family_(family),
        lock_(lock),
        per_step_(fairness + static_cast<std::uint64_t>(cpus) - 1),
        costs_(CostsOf(family)),
        replay_{.lock = lock},
        upper_(replay_.Init()),
        acquire_bound_(static_cast<std::size_t>(cpus)) {}

  bool ObserveLower(const Event& e) override {
    if (IsDoorway(e)) Arrive(e.cpu, family_ == Family::kSpec || family_ == Family::kTas ? e.arg0 : e.arg1);
    if (e.kind == kinds::kIncTicket) next_ = e.result + 1;
    if (e.kind == kinds::kSetTicket) next_ = e.arg0;
    if (e.kind == kinds::kIncNow) now_ = e.result + 1;
    if (e.object == lock_ && IsAcquireLinearization(e)) holder_ = e.cpu;
    if (IsReleaseLinearization(e) && holder_ == e.cpu) {
      holder_ = CpuId();
      auto it = std::find_if(arrivals_.begin(), arrivals_.end(),
                             [&](const Arrival& a) { return a.cpu == e.cpu; });
      if (it != arrivals_.end()) arrivals_.erase(it);
    }
    return true;
  }

  bool ObserveUpper(const Event& e) override { return replay_.Step(upper_, e); }

  std::optional<std::string> Relation() const override {
    if (upper_.holder != holder_) {
      return fmt::format("the spec says the lock is {}, the module's replay says {}",
                         Holder(upper_.holder), Holder(holder_));
    }
    if (family_ == Family::kTicket && now_ > next_) {
      return fmt::format("now_serving {} has passed next_ticket {}", now_, next_);
    }
    return std::nullopt;
  }

  std::string DescribeLower() const override {
    std::string queue;
    for (const Arrival& a : arrivals_) {
      queue += fmt::format("{}cpu {} (bound {})", queue.empty() ? "" : ", ", a.cpu, a.bound);
    }
    std::string out = fmt::format("holder {}, waiting in order [{}]", Holder(holder_), queue);
    if (family_ == Family::kTicket) out += fmt::format(", next_ticket {}, now_serving {}", next_, now_);
    return out;
  }
  std::string DescribeUpper() const override { return fmt::format("{}", upper_); }

  std::optional<std::uint64_t> WaitBound(CpuId cpu, const layers::Primitive& p) const override {
    if (&p == &kRelease || p.call == kRelease.call) return per_step_ * costs_.release;
    return acquire_bound_[cpu.index()];
  }

 private:
  struct Arrival {
    CpuId cpu;
    std::int64_t bound;
  };

  // Where an acquirer takes its place in line: the ticket or the tail swap;
  // locks without a line (spec, tas) at the call.
  bool IsDoorway(const Event& e) const {
    switch (family_) {
      case Family::kTicket:
        return e.kind == kinds::kIncTicket || e.kind == kinds::kSetTicket;
      case Family::kMcs:
        return e.kind == kinds::kSwapTail;
      case Family::kSpec:
      case Family::kTas:
        return e.kind == kinds::kCallAcquire && e.object == lock_;
    }
    return false;
  }

  // Under an F-fair oracle a runnable CPU steps within F + cpus - 1 steps;
  // the newcomer waits for everyone ahead to acquire, use its bound and
  // release, then takes its own steps.
  void Arrive(CpuId cpu, std::int64_t bound) {
    std::uint64_t steps = costs_.acquire;
    for (const Arrival& a : arrivals_) {
      steps += costs_.acquire + static_cast<std::uint64_t>(std::max<std::int64_t>(a.bound, 0)) +
               costs_.release;
    }
    acquire_bound_[cpu.index()] = per_step_ * steps;
    arrivals_.push_back({cpu, bound});
  }

  static std::string Holder(CpuId c) {
    return c.valid() ? fmt::format("held by cpu {}", c) : std::string("free");
  }

  Family family_;
  ObjectId lock_;
  std::uint64_t per_step_;
  StepCosts costs_;
  LockSpecReplay replay_;
  LockSpecState upper_;
  CpuId holder_;
  std::vector<Arrival> arrivals_;
  std::int64_t next_ = 0, now_ = 0;
  std::vector<std::optional<std::uint64_t>> acquire_bound_;
};

class LockPair final : public layers::LayerPair {
 public:
  explicit LockPair(LockPairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "lock"; }
  std::string lower() const override { return fmt::format("{} over the machine", o_.impl); }
  std::string upper() const override { return "lock spec"; }
  std::span<const layers::Primitive> primitives() const override { return kLockPrimitives; }

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    const std::string impl = side == layers::Side::kSpec ? "spec" : o_.impl;
    std::shared_ptr<Lock> lock = MakeLock(m, impl, "l");
    const machine::Word counter = m.NewWord("counter");
    const LockPairOptions o = o_;
    layers::SideRun run;
    run.program = [lock, counter, o](Cpu& cpu) {
      for (std::int64_t i = 0; i < o.iterations; ++i) {
        lock->Acquire(cpu, o.bound);
        for (std::int64_t k = 0; k < o.bound + o.overrun; ++k) cpu.FetchAdd(counter, 1);
        lock->Release(cpu);
      }
    };
    if (side == layers::Side::kModule) {
      run.abstraction = std::make_unique<LockAbstraction>(Entry(impl).family, lock->object(),
                                                          m.cpus(), m.fairness_bound());
    }
    run.final_check = [&m, counter, o]() -> std::optional<std::string> {
      const std::int64_t want = m.cpus() * o.iterations * (o.bound + o.overrun);
      if (m.value(counter) == want) return std::nullopt;
      return fmt::format("counter = {} at the end, expected {}", m.value(counter), want);
    };
    return run;
  }

  bool IsLinearization(const layers::Primitive& p, const Event& call,
                       const Event& e) const override {
    if (p.call == kAcquire.call) return e.object == call.object && IsAcquireLinearization(e);
    return IsReleaseLinearization(e);
  }

 private:
  LockPairOptions o_;
};

}  // namespace

void Lock::Acquire(Cpu& cpu, std::int64_t bound) {
  layers::MarkCall(cpu, object_, kAcquire, bound);
  DoAcquire(cpu, bound);
  layers::MarkReturn(cpu, object_, kAcquire);
}

void Lock::Release(Cpu& cpu) {
  layers::MarkCall(cpu, object_, kRelease);
  DoRelease(cpu);
  layers::MarkReturn(cpu, object_, kRelease);
}

std::span<const LockImpl> LockImpls() {
  static const std::vector<LockImpl> impls = [] {
    std::vector<LockImpl> v;
    for (const ImplEntry& e : kImpls) v.push_back(e.info);
    return v;
  }();
  return impls;
}

const LockImpl* FindLockImpl(std::string_view name) {
  for (const ImplEntry& e : kImpls) {
    if (e.info.name == name) return &e.info;
  }
  return nullptr;
}

std::unique_ptr<Lock> MakeLock(Machine& m, std::string_view impl, const std::string& name) {
  const ImplEntry& e = Entry(impl);
  switch (e.family) {
    case Family::kSpec:
      return std::make_unique<SpecLock>(m, name);
    case Family::kTicket:
      return std::make_unique<TicketLock>(m, name, e.flaws);
    case Family::kMcs:
      return std::make_unique<McsLock>(m, name, e.flaws);
    case Family::kTas:
      return std::make_unique<TasLock>(m, name);
  }
  return nullptr;
}

bool LockSpecReplay::Step(State& s, const Event& e) const {
  if (e.marker) return true;  // markers and ghosts are not shared events
  if (e.object == lock) {
    if (e.kind == kinds::kWaitLock) {
      if (s.holder.valid()) return false;
      s.holder = e.cpu;
      s.budget = e.arg0;
      return true;
    }
    if (e.kind == kinds::kRelLock) {
      if (s.holder != e.cpu) return false;
      s.holder = CpuId();
      return true;
    }
  }
  if (s.holder == e.cpu && --s.budget < 0) return false;
  return true;
}

std::unique_ptr<layers::LayerPair> MakeLockPair(const LockPairOptions& options) {
  return std::make_unique<LockPair>(options);
}

}  // namespace strata::kernel
