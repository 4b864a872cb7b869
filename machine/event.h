// Events: the entries of the shared log, the only channel between CPUs.
//
// An event records who acted (CPU, thread), on which shared object, which
// machine operation it was (OpCode), what the layer calls it (EventKind), up
// to two arguments, and the result the actor saw. Kinds are open: every layer
// names its own (`faa` here, `INC_TICKET` in the ticket lock) as an `inline
// constexpr EventKind`, with no central registry; the op code stays the
// machine's, so a word's replay works on any named step.
#ifndef STRATA_MACHINE_EVENT_H_
#define STRATA_MACHINE_EVENT_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "machine/ids.h"

namespace strata::machine {

// FNV-1a, usable at compile time so each kind carries its hash.
constexpr std::uint64_t Fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// The name of an event's operation. Two kinds are equal iff their names are.
// It holds a pointer to a NUL-terminated name with static storage (a string
// literal) and the name's hash, so an event stays one cache line.
class EventKind {
 public:
  constexpr EventKind() : EventKind("") {}
  constexpr explicit EventKind(const char* name) : name_(name), hash_(Fnv1a(name)) {}

  constexpr std::string_view name() const { return name_; }
  constexpr std::uint64_t hash() const { return hash_; }

  friend constexpr bool operator==(EventKind a, EventKind b) {
    return a.hash_ == b.hash_ && (a.name_ == b.name_ || a.name() == b.name());
  }

 private:
  const char* name_;
  std::uint64_t hash_;
};

// The operations of the bare multicore machine.
namespace kinds {
inline constexpr EventKind kFaa{"faa"};      // arg0 = delta, result = old value
inline constexpr EventKind kCas{"cas"};      // arg0 = expected, arg1 = desired, result = old
inline constexpr EventKind kSwap{"swap"};    // arg0 = new value, result = old value
inline constexpr EventKind kLoad{"load"};    // result = value
inline constexpr EventKind kStore{"store"};  // arg0 = new value
inline constexpr EventKind kPull{"pull"};    // result = block version after the pull
inline constexpr EventKind kPush{"push"};    // arg0 = hash of the contents, result = new version
}  // namespace kinds

// Which machine operation made an event. The first eight are shared steps
// (switch points); the last three are private annotations (no switch point,
// not a step): a layer's call and return markers at its border, and ghost
// events a layer appends for its own bookkeeping.
enum class OpCode : std::uint8_t {
  kFaa,
  kCas,
  kSwap,
  kLoad,
  kStore,
  kPull,
  kPush,
  kAtomic,  // a layer's own atomic step (Cpu::Step): a spec's operation
  kCall,    // a primitive's call marker: arg0/arg1 = its arguments
  kReturn,  // a primitive's return marker: result = its return value
  kGhost,   // any other annotation
};
std::string_view OpCodeName(OpCode op);
// The op code named `name` (OpCodeName's inverse); nullopt for no op code.
std::optional<OpCode> OpCodeNamed(std::string_view name);

struct Event {
  std::uint64_t seq = 0;  // position in the log, from 0
  CpuId cpu;
  ThreadId thread;        // none on the bare machine
  ObjectId object;
  OpCode op = OpCode::kAtomic;
  // How many of its agent's innermost open calls it is the linearization
  // point of: 0 = none; 1 = the innermost (Cpu::Linearize); 2 or more when
  // the modules of the enclosing calls adopted it as theirs too
  // (Cpu::AdoptLinearization: a scheduler's spawn takes effect where the
  // TCB pool's allocation it calls does).
  std::uint8_t linearizes = 0;
  // Where the code that made it is (Log::where): a number of the process's
  // table of source locations (WhereNumber), 0 for none. Not part of the
  // event: the same events from other code (a replayed environment) are
  // the same log, so == and the log's hash leave it out. It fills what
  // would be padding, so it costs an event no room.
  std::uint16_t where = 0;
  EventKind kind;
  std::int64_t arg0 = 0;
  std::int64_t arg1 = 0;
  std::int64_t result = 0;

  // A marker or ghost: a private annotation, not a shared step.
  bool marker() const { return op >= OpCode::kCall; }

  friend bool operator==(const Event& a, const Event& b) {
    return a.seq == b.seq && a.cpu == b.cpu && a.thread == b.thread && a.object == b.object &&
           a.op == b.op && a.linearizes == b.linearizes && a.kind == b.kind && a.arg0 == b.arg0 &&
           a.arg1 == b.arg1 && a.result == b.result;
  }
};
static_assert(sizeof(Event) == 64, "an event is one cache line");

}  // namespace strata::machine

template <>
struct fmt::formatter<strata::machine::EventKind> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(strata::machine::EventKind k, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(k.name(), ctx);
  }
};

#endif  // STRATA_MACHINE_EVENT_H_
