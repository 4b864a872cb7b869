// The lock layer: one atomic interface, acquire(lock, bound) / release(lock),
// its spec, and what a lock module (ticket, MCS, TAS, or a user's own) must
// provide to be checked against it. Public API for lock-module authors.
//
// Spec: acquire is one step `WAIT_LOCK(bound)`, enabled only while the lock
// is free; release is one step `REL_LOCK`. Its replay (LockSpecReplay) gives
// each lock's holder and remaining budget: the holder may append at most
// `bound` shared events before its release; more, a WAIT_LOCK of a held lock
// or a REL_LOCK by anyone but the holder is an impossible log.
//
// A module derives from Lock, implements DoAcquire / DoRelease with the
// machine's shared operations only, calls Cpu::Linearize right after the one
// step of each call that takes (acquire) or frees (release) the lock, and
// describes itself to the check with a LockView (NewView): its replay of its
// own words, the relation R to the spec's holder, and its liveness costs.
// Registering it in a LockRegistry makes it a choice of `stack.lock`, of
// `strata check --lock`, and the lock under every layer above.
#ifndef STRATA_KERNEL_LOCK_H_
#define STRATA_KERNEL_LOCK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <optional>
#include <string>

#include "layers/layer.h"
#include "layers/liveness.h"
#include "layers/registry.h"
#include "machine/machine.h"
#include "machine/replay.h"

namespace strata::kernel {

using machine::Cpu;
using machine::CpuId;
using machine::Event;
using machine::EventKind;
using machine::Machine;
using machine::ObjectId;
using machine::OpCode;
using machine::Word;

namespace kinds {
inline constexpr EventKind kCallAcquire{"call acquire"};
inline constexpr EventKind kRetAcquire{"ret acquire"};
inline constexpr EventKind kCallRelease{"call release"};
inline constexpr EventKind kRetRelease{"ret release"};
inline constexpr EventKind kWaitLock{"WAIT_LOCK"};
inline constexpr EventKind kRelLock{"REL_LOCK"};
}  // namespace kinds

inline constexpr layers::Primitive kAcquire{"acquire", kinds::kCallAcquire, kinds::kRetAcquire,
                                            kinds::kWaitLock};
inline constexpr layers::Primitive kRelease{"release", kinds::kCallRelease, kinds::kRetRelease,
                                            kinds::kRelLock};
inline constexpr layers::Primitive kLockPrimitives[] = {kAcquire, kRelease};

// The lock spec's state of one lock.
struct LockSpecState {
  CpuId holder;
  std::int64_t budget = 0;  // events the holder may still append
  friend bool operator==(const LockSpecState&, const LockSpecState&) = default;
};

// The lock spec's replay of one lock over the whole log (the holder's budget
// counts its events on every object).
struct LockSpecReplay {
  using State = LockSpecState;
  ObjectId lock;
  State Init() const { return {}; }
  bool Step(State& s, const Event& e) const;
};

// What a lock module tells the check about one run (layers::ModuleView).
using LockView = layers::ModuleView<LockSpecState>;

// A lock as the code above it sees it, over the spec or a module.
// Acquire/Release mark the border in the log and call the implementation.
class Lock {
 public:
  virtual ~Lock() = default;
  // The lock's own object: markers and spec events are on it.
  ObjectId object() const { return object_; }
  // Returns once the caller holds the lock. `bound` (>= 0): the most shared
  // events the caller appends before it releases. `where`: the caller's
  // location, recorded with the markers (layers::MarkCall); so for every
  // primitive here and in the layers above.
  void Acquire(Cpu& cpu, std::int64_t bound,
               std::source_location where = std::source_location::current());
  // Precondition: the caller holds the lock (else the spec's log is impossible).
  void Release(Cpu& cpu, std::source_location where = std::source_location::current());

  // A fresh view of one run on `m` (the machine this lock was made on), for
  // the refinement check. Called before the run.
  virtual std::unique_ptr<LockView> NewView(Machine& m) const = 0;

 protected:
  explicit Lock(ObjectId object) : object_(object) {}
  virtual void DoAcquire(Cpu& cpu, std::int64_t bound) = 0;
  virtual void DoRelease(Cpu& cpu) = 0;

 private:
  ObjectId object_;
};

// Makes a lock called `name` on `m` (its object "name", its words
// "name.ticket", ...).
using LockFactory = std::function<std::unique_ptr<Lock>(Machine& m, const std::string& name)>;
using LockRegistry = layers::Registry<LockFactory>;

// The factory of a lock class L constructible as L(machine, name).
template <class L>
LockFactory LockFactoryOf() {
  return [](Machine& m, const std::string& name) -> std::unique_ptr<Lock> {
    return std::make_unique<L>(m, name);
  };
}

// The spec itself as a lock: one WAIT_LOCK / REL_LOCK step each, with the
// spec's replay as a monitor on `m`.
std::unique_ptr<Lock> MakeSpecLock(Machine& m, const std::string& name);

// Adds strata's locks: spec, ticket, mcs, tas and their known-bad variants.
void AddBuiltinLocks(LockRegistry& locks);

// "held by cpu 1" / "free".
std::string DescribeHolder(CpuId holder);
// R's usual first clause: nullopt if the module's holder is the spec's.
std::optional<std::string> SameHolder(const LockSpecState& spec, CpuId module_holder);

// What a lock view of a FIFO lock keeps besides its words: who holds the
// lock by the module's replay, who waits in line, and each acquire's
// liveness bound. The view calls Arrive at its doorway step, Take when its
// replay sees a CPU get the lock, Free when it sees the holder give it up.
class LockLine {
 public:
  // `costs`: the steps the module's acquire and release take by themselves.
  LockLine(layers::FifoBound::Costs costs, const Machine& m)
      : fifo_(costs, m.cpus(), m.fairness_bound()) {}
  void Arrive(CpuId cpu, std::int64_t bound) { fifo_.Arrive(cpu, bound); }
  void Take(CpuId cpu) { holder_ = cpu; }
  // No effect unless `cpu` holds the lock.
  void Free(CpuId cpu) {
    if (holder_ != cpu) return;
    holder_ = CpuId();
    fifo_.Leave(cpu);
  }
  CpuId holder() const { return holder_; }
  std::optional<std::string> Relation(const LockSpecState& spec) const {
    return SameHolder(spec, holder_);
  }
  // "held by cpu 1, waiting in order [cpu 1 (bound 2), cpu 0 (bound 2)]".
  std::string Describe() const;
  // The acquire's bound from the line at its arrival, the release's from its cost.
  std::optional<std::uint64_t> WaitBound(CpuId cpu, const layers::Primitive& p) const;

 private:
  layers::FifoBound fifo_;
  CpuId holder_;
};

// The lock layer pair: the lock `module` over the machine against the lock
// spec, with a client on every CPU that takes the lock `iterations` times,
// each time appending `bound + overrun` events (fetch-and-adds of a counter)
// before it releases. overrun > 0 is the known-bad client that exceeds its
// bound.
struct LockPairOptions {
  std::string impl = "ticket";  // the module's name, for messages
  LockFactory module;
  std::int64_t iterations = 2;
  std::int64_t bound = 2;
  std::int64_t overrun = 0;
  bool general = false;  // the most-general client instead of the fixed one
  bool symmetric = false;  // the module treats cpus alike (its entry's `symmetric`)
};
// The pair's cpus are interchangeable with the fixed client and a
// symmetric module (the most-general client draws differently on each cpu).
std::unique_ptr<layers::LayerPair> MakeLockPair(const LockPairOptions& options);

}  // namespace strata::kernel

template <>
struct fmt::formatter<strata::kernel::LockSpecState> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const strata::kernel::LockSpecState& s, Ctx& ctx) const {
    if (!s.holder.valid()) return fmt::format_to(ctx.out(), "free");
    return fmt::format_to(ctx.out(), "held by cpu {} (budget {})", s.holder, s.budget);
  }
};

#endif  // STRATA_KERNEL_LOCK_H_
