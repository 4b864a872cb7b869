// The lock layer: one atomic interface, acquire(lock, bound) / release(lock),
// its spec, and the modules that implement it over the machine.
//
// Spec: acquire is one step `WAIT_LOCK(bound)`, enabled only while the lock
// is free; release is one step `REL_LOCK`. Its replay (LockSpecReplay) gives
// each lock's holder and remaining budget: the holder may append at most
// `bound` shared events before its release; more, a WAIT_LOCK of a held lock
// or a REL_LOCK by anyone but the holder is an impossible log.
//
// Modules (all end an acquire with the ghost event HOLD_LOCK, a marker the
// log map turns into WAIT_LOCK):
//   ticket  INC_TICKET(bound) = fetch-and-add of the ticket word; GET_NOW =
//           wait until now_serving equals the ticket (the failed checks of a
//           spin loop change nothing, so the CPU blocks instead of spinning:
//           Cpu::AwaitValue); release INC_NOW = fetch-and-add of now_serving.
//   mcs     SET_NEXT/SET_BUSY on the caller's node, SWAP_TAIL(bound), link to
//           the predecessor (SET_NEXT), wait for busy = 0 (GET_BUSY); release
//           GET_NEXT, CAS_TAIL when no successor, else wait for the late
//           link and hand over with SET_BUSY 0.
//   tas     test-and-set (CAS) lock: safe, but not starvation-free.
// Known-bad variants of these are kept on purpose (LockImpls()).
#ifndef STRATA_KERNEL_LOCK_H_
#define STRATA_KERNEL_LOCK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "layers/layer.h"
#include "machine/machine.h"
#include "machine/replay.h"

namespace strata::kernel {

using machine::Cpu;
using machine::CpuId;
using machine::Event;
using machine::EventKind;
using machine::Machine;
using machine::ObjectId;

namespace kinds {
inline constexpr EventKind kCallAcquire{"call acquire"};
inline constexpr EventKind kRetAcquire{"ret acquire"};
inline constexpr EventKind kCallRelease{"call release"};
inline constexpr EventKind kRetRelease{"ret release"};
inline constexpr EventKind kWaitLock{"WAIT_LOCK"};
inline constexpr EventKind kRelLock{"REL_LOCK"};
inline constexpr EventKind kHoldLock{"HOLD_LOCK"};  // ghost: the acquire's linearization
// ticket
inline constexpr EventKind kIncTicket{"INC_TICKET"};
inline constexpr EventKind kGetTicket{"GET_TICKET"};  // the known-bad load-then-store
inline constexpr EventKind kSetTicket{"SET_TICKET"};
inline constexpr EventKind kGetNow{"GET_NOW"};
inline constexpr EventKind kIncNow{"INC_NOW"};
// mcs
inline constexpr EventKind kSwapTail{"SWAP_TAIL"};
inline constexpr EventKind kCasTail{"CAS_TAIL"};
inline constexpr EventKind kSetNext{"SET_NEXT"};
inline constexpr EventKind kGetNext{"GET_NEXT"};
inline constexpr EventKind kSetBusy{"SET_BUSY"};
inline constexpr EventKind kGetBusy{"GET_BUSY"};
// tas
inline constexpr EventKind kTas{"TAS"};
inline constexpr EventKind kSpin{"SPIN"};
inline constexpr EventKind kClear{"CLEAR"};
}  // namespace kinds

inline constexpr layers::Primitive kAcquire{"acquire", kinds::kCallAcquire, kinds::kRetAcquire,
                                            kinds::kWaitLock};
inline constexpr layers::Primitive kRelease{"release", kinds::kCallRelease, kinds::kRetRelease,
                                            kinds::kRelLock};
inline constexpr layers::Primitive kLockPrimitives[] = {kAcquire, kRelease};

// A lock as the code above it sees it. Acquire/Release mark the border in
// the log and call the implementation.
class Lock {
 public:
  virtual ~Lock() = default;
  // The lock's own object: markers and spec events are on it.
  ObjectId object() const { return object_; }
  // Returns once the caller holds the lock. `bound` (>= 0): the most shared
  // events the caller appends before it releases.
  void Acquire(Cpu& cpu, std::int64_t bound);
  // Precondition: the caller holds the lock (else the spec's log is impossible).
  void Release(Cpu& cpu);

 protected:
  explicit Lock(ObjectId object) : object_(object) {}
  virtual void DoAcquire(Cpu& cpu, std::int64_t bound) = 0;
  virtual void DoRelease(Cpu& cpu) = 0;

 private:
  ObjectId object_;
};

// The lock implementations, by name: "spec", "ticket", "mcs", "tas" and the
// known-bad variants.
struct LockImpl {
  std::string_view name;
  std::string_view summary;
  bool known_bad;
};
std::span<const LockImpl> LockImpls();
const LockImpl* FindLockImpl(std::string_view name);

// Makes lock `name` of implementation `impl` on `m` (objects "name",
// "name.ticket", ...). The spec registers the lock spec's monitor on `m`.
// Precondition: FindLockImpl(impl) != nullptr.
std::unique_ptr<Lock> MakeLock(Machine& m, std::string_view impl, const std::string& name);

// The log map f of the lock layer, for layers that use locks inside their own
// primitives: is `e` the linearization point of an acquire (the ghost
// HOLD_LOCK, or the spec's WAIT_LOCK) or of a release (the step that frees
// the lock)? A release's point is not tied to the lock's object (an MCS
// hand-over writes the successor's node), so callers look inside one call.
bool IsAcquireLinearization(const Event& e);
bool IsReleaseLinearization(const Event& e);

// The lock spec's replay of one lock over the whole log (the holder's budget
// counts its events on every object).
struct LockSpecState {
  CpuId holder;
  std::int64_t budget = 0;  // events the holder may still append
  friend bool operator==(const LockSpecState&, const LockSpecState&) = default;
};
struct LockSpecReplay {
  using State = LockSpecState;
  ObjectId lock;
  State Init() const { return {}; }
  bool Step(State& s, const Event& e) const;
};

// The lock layer pair: `impl` over the machine against the lock spec, with a
// client on every CPU that takes the lock `iterations` times, each time
// appending `bound + overrun` events (fetch-and-adds of a counter) before it
// releases. overrun > 0 is the known-bad client that exceeds its bound.
struct LockPairOptions {
  std::string impl = "ticket";
  std::int64_t iterations = 2;
  std::int64_t bound = 2;
  std::int64_t overrun = 0;
};
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
