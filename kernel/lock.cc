#include "kernel/lock.h"

#include <utility>

#include <fmt/format.h>

#include "kernel/bad_locks.h"
#include "kernel/mcs_lock.h"
#include "kernel/tas_lock.h"
#include "kernel/ticket_lock.h"
#include "machine/rng.h"

namespace strata::kernel {
namespace {

// The spec as a lock: its view replays its own atomic steps.
class SpecLock final : public Lock {
 public:
  SpecLock(Machine& m, const std::string& name) : Lock(m.NewObject(name)) {
    m.AddGlobalMonitor(std::make_unique<machine::ReplayMonitor<LockSpecReplay>>(
        LockSpecReplay{.lock = object()}));
  }

  std::unique_ptr<LockView> NewView(Machine& m) const override {
    return std::make_unique<View>(object(), m);
  }

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    auto free = [this] { return !holder_.valid(); };
    absl::FunctionRef<bool()> ready(free);
    cpu.Step({.object = object(), .kind = kinds::kWaitLock, .arg0 = bound, .apply = [&] {
                holder_ = cpu.id();
                return std::int64_t{0};
              },
              .ready = &ready,
              .where = cpu.call_site()});
    cpu.Linearize();
  }
  void DoRelease(Cpu& cpu) override {
    cpu.Step({.object = object(), .kind = kinds::kRelLock, .apply = [&] {
                if (holder_ == cpu.id()) holder_ = CpuId();
                return std::int64_t{0};
              },
              .where = cpu.call_site()});
    cpu.Linearize();
  }

 private:
  class View final : public LockView {
   public:
    View(ObjectId lock, const Machine& m) : lock_(lock), line_({.enter = 1, .leave = 1}, m) {}
    bool Observe(const Event& e) override {
      if (e.object != lock_) return true;
      if (e.op == OpCode::kCall && e.kind == kinds::kCallAcquire) line_.Arrive(e.cpu, e.arg0);
      if (e.kind == kinds::kWaitLock && !e.marker()) line_.Take(e.cpu);
      if (e.kind == kinds::kRelLock && !e.marker()) line_.Free(e.cpu);
      return true;
    }
    std::optional<std::string> Relation(const LockSpecState& spec) const override {
      return line_.Relation(spec);
    }
    std::string Describe() const override { return line_.Describe(); }
    // The spec lets any waiter in once the lock is free, in no order: a
    // waiter can be overtaken by later ones, so its acquire has no FIFO
    // bound (a most-general client with mixed bounds shows it); only the
    // release is bounded.
    std::optional<std::uint64_t> WaitBound(CpuId cpu, const layers::Primitive& p) const override {
      if (p.call == kAcquire.call) return std::nullopt;
      return line_.WaitBound(cpu, p);
    }

   private:
    ObjectId lock_;
    LockLine line_;
  };

  CpuId holder_;
};

class LockPair final : public layers::LayerPair {
 public:
  explicit LockPair(LockPairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "lock"; }
  std::string lower() const override { return fmt::format("{} over the machine", o_.impl); }
  std::string upper() const override { return "lock spec"; }
  std::span<const layers::Primitive> primitives() const override { return kLockPrimitives; }
  bool interchangeable() const override { return o_.symmetric && !o_.general; }
  bool seeded() const override { return o_.general; }  // the fixed client draws nothing

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    const bool module = side == layers::Side::kModule;
    std::shared_ptr<Lock> lock = module ? o_.module(m, "l") : MakeSpecLock(m, "l");
    const machine::Word counter = m.NewWord("counter");
    // The client keeps just the numbers (not the options with their
    // factory): it is set up once per execution.
    const std::int64_t iterations = o_.iterations, bound = o_.bound,
                       held = o_.bound + o_.overrun;
    layers::SideRun run;
    if (o_.general) return General(m, std::move(lock), counter, module);
    run.program = [lock, counter, iterations, bound, held](Cpu& cpu) {
      for (std::int64_t i = 0; i < iterations; ++i) {
        lock->Acquire(cpu, bound);
        for (std::int64_t k = 0; k < held; ++k) cpu.FetchAdd(counter, 1);
        lock->Release(cpu);
      }
    };
    if (module) {
      run.observe = [lock, &m]() -> std::unique_ptr<layers::Observer> {
        return std::make_unique<layers::SpecAndView<LockSpecReplay>>(
            LockSpecReplay{.lock = lock->object()}, lock->NewView(m));
      };
    }
    run.final_check = [&m, counter, iterations, held]() -> std::optional<std::string> {
      const std::int64_t want = m.cpus() * iterations * held;
      if (m.value(counter) == want) return std::nullopt;
      return fmt::format("counter = {} at the end, expected {}", m.value(counter), want);
    };
    return run;
  }

 private:
  // The most-general client: every CPU takes the lock 1 to 2N times, each
  // time with a bound from 0 to 3 and a critical section of 0 to bound
  // events (plus the overrun), an unlocked increment (a load and a store)
  // when it has room for one; between them, now and then an event outside
  // the lock. At the end the counter holds every increment.
  layers::SideRun General(Machine& m, std::shared_ptr<Lock> lock, machine::Word counter,
                          bool module) const {
    const machine::Word scratch = m.NewWord("scratch");
    auto increments = std::make_shared<std::int64_t>(0);
    const std::int64_t n = o_.iterations, overrun = o_.overrun;
    layers::SideRun run;
    run.program = [lock, counter, scratch, increments, n, overrun](Cpu& cpu) {
      machine::ClientRng rng = machine::ClientDraws(cpu);
      const std::uint64_t times = 1 + rng.Below(static_cast<std::uint64_t>(2 * n));
      for (std::uint64_t i = 0; i < times; ++i) {
        const auto bound = static_cast<std::int64_t>(rng.Below(4));
        lock->Acquire(cpu, bound);
        std::int64_t events = static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(bound) + 1)) + overrun;
        if (events >= 2) {
          cpu.Store(counter, cpu.Load(counter) + 1);
          ++*increments;
          events -= 2;
        }
        for (; events > 0; --events) cpu.FetchAdd(scratch, 1);
        lock->Release(cpu);
        if (rng.Pick(2) == 0) cpu.FetchAdd(scratch, 1);
      }
    };
    if (module) {
      run.observe = [lock, &m]() -> std::unique_ptr<layers::Observer> {
        return std::make_unique<layers::SpecAndView<LockSpecReplay>>(
            LockSpecReplay{.lock = lock->object()}, lock->NewView(m));
      };
    }
    run.final_check = [&m, counter, increments]() -> std::optional<std::string> {
      if (m.value(counter) == *increments) return std::nullopt;
      return fmt::format("counter = {} at the end, expected {} (the increments made under the lock)",
                         m.value(counter), *increments);
    };
    return run;
  }

  LockPairOptions o_;
};

}  // namespace

void Lock::Acquire(Cpu& cpu, std::int64_t bound, std::source_location where) {
  layers::MarkCall(cpu, object_, kAcquire, bound, 0, where);
  DoAcquire(cpu, bound);
  layers::MarkReturn(cpu, object_, kAcquire, 0, where);
}

void Lock::Release(Cpu& cpu, std::source_location where) {
  layers::MarkCall(cpu, object_, kRelease, 0, 0, where);
  DoRelease(cpu);
  layers::MarkReturn(cpu, object_, kRelease, 0, where);
}

std::unique_ptr<Lock> MakeSpecLock(Machine& m, const std::string& name) {
  return std::make_unique<SpecLock>(m, name);
}

void AddBuiltinLocks(LockRegistry& locks) {
  locks.Add({"spec", "the atomic spec itself: WAIT_LOCK / REL_LOCK", false, "",
             [](Machine& m, const std::string& name) { return MakeSpecLock(m, name); }, true});
  locks.Add({"ticket", "ticket lock: INC_TICKET, GET_NOW, INC_NOW", false, "", LockFactoryOf<TicketLock>(), true});
  locks.Add({"mcs", "MCS queue lock: per-CPU nodes, SWAP_TAIL, hand-over by SET_BUSY", false, "",
             LockFactoryOf<McsLock>(), true});
  locks.Add({"tas", "test-and-set lock: safe but not starvation-free", false, "", LockFactoryOf<TasLock>(), true});
  AddKnownBadLocks(locks);
}

std::optional<std::uint64_t> LockLine::WaitBound(CpuId cpu, const layers::Primitive& p) const {
  if (p.call == kRelease.call) return fifo_.LeaveBound();
  return fifo_.EnterBound(cpu);
}

std::string LockLine::Describe() const {
  return fmt::format("{}, waiting in order [{}]", DescribeHolder(holder_), fifo_.Line());
}

std::string DescribeHolder(CpuId holder) {
  return holder.valid() ? fmt::format("held by cpu {}", holder) : std::string("free");
}

std::optional<std::string> SameHolder(const LockSpecState& spec, CpuId module_holder) {
  if (spec.holder == module_holder) return std::nullopt;
  return fmt::format("the spec says the lock is {}, the module's replay says {}",
                     DescribeHolder(spec.holder), DescribeHolder(module_holder));
}

bool LockSpecReplay::Step(State& s, const Event& e) const {
  if (e.marker()) return true;  // markers and ghosts are not shared events
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
