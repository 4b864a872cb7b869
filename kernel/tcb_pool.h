// The TCB-pool layer: a fixed number of thread control blocks, each free or
// allocated, each with kTcbFields words of its own, that CPUs allocate, free,
// read and write; its atomic spec, and what a pool module must provide to
// be checked against it. Public API for pool-module authors; the scheduler
// (sched/) takes its TCBs from this layer.
//
// Spec: each primitive is one atomic step.
//   alloc() -> tid | -1              ALLOC   the lowest free TCB, its fields
//                                            all 0; -1 when every TCB is
//                                            allocated
//   free(tid) -> 1 | 0               FREE    1; 0 (nothing changes) when tid
//                                            is not an allocated TCB
//   read(tid, field) -> value | -1   READ    the field; -1 when tid is not
//                                            allocated or field is not one
//   write(tid, field, value) -> 1|0  WRITE   1; 0 (nothing changes) when tid
//                                            is not allocated or field is
//                                            not one
// In the log a (tid, field) pair is one word index, TcbWord(tid, field):
// read's arg0; write's arg0, with the value in arg1. The spec's replay
// (TcbSpecReplay) is the pool: which TCBs are allocated and their fields.
//
// A module derives from TcbPool, implements the Do* functions over the
// layer below (a lock from the LockFactory it is given, and shared blocks),
// calls Cpu::Linearize right after the step at which each call takes
// effect, and describes itself with a TcbView (NewView): its replay of its
// own blocks in its own layout, the relation R to the spec's pool, and its
// liveness (none of its own: its lock's).
#ifndef STRATA_KERNEL_TCB_POOL_H_
#define STRATA_KERNEL_TCB_POOL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kernel/lock.h"
#include "layers/layer.h"
#include "layers/registry.h"
#include "machine/machine.h"

namespace strata::kernel {

namespace kinds {
inline constexpr EventKind kCallAlloc{"call alloc"};
inline constexpr EventKind kRetAlloc{"ret alloc"};
inline constexpr EventKind kCallFree{"call free"};
inline constexpr EventKind kRetFree{"ret free"};
inline constexpr EventKind kCallRead{"call read"};
inline constexpr EventKind kRetRead{"ret read"};
inline constexpr EventKind kCallWrite{"call write"};
inline constexpr EventKind kRetWrite{"ret write"};
inline constexpr EventKind kAlloc{"ALLOC"};
inline constexpr EventKind kFree{"FREE"};
inline constexpr EventKind kRead{"READ"};
inline constexpr EventKind kWrite{"WRITE"};
}  // namespace kinds

inline constexpr layers::Primitive kAllocPrim{"alloc", kinds::kCallAlloc, kinds::kRetAlloc,
                                              kinds::kAlloc};
inline constexpr layers::Primitive kFreePrim{"free", kinds::kCallFree, kinds::kRetFree,
                                             kinds::kFree};
inline constexpr layers::Primitive kReadPrim{"read", kinds::kCallRead, kinds::kRetRead,
                                             kinds::kRead};
inline constexpr layers::Primitive kWritePrim{"write", kinds::kCallWrite, kinds::kRetWrite,
                                              kinds::kWrite};
inline constexpr layers::Primitive kTcbPrimitives[] = {kAllocPrim, kFreePrim, kReadPrim,
                                                       kWritePrim};

// The words of one TCB, for its user to lay out (the scheduler keeps a
// thread's home CPU in field 0).
inline constexpr int kTcbFields = 4;
// (tid, field) as one word index of the pool, as the log carries it.
constexpr std::int64_t TcbWord(std::int64_t tid, std::int64_t field) {
  return tid * kTcbFields + field;
}

// The spec's pool.
struct TcbPoolState {
  std::vector<bool> allocated;        // by tid
  std::vector<std::int64_t> fields;   // by TcbWord(tid, field)
  friend bool operator==(const TcbPoolState&, const TcbPoolState&) = default;
};

// The spec's replay of one pool of `capacity` TCBs. Every step is allowed
// (the primitives are total); it never refuses an event of the pool.
struct TcbSpecReplay {
  using State = TcbPoolState;
  ObjectId pool;
  std::int64_t capacity = 0;
  State Init() const;
  bool Step(State& s, const Event& e) const;
  // What the spec's step returns in `s` (before the step), for the spec
  // side and for reports.
  static std::int64_t Result(const State& s, const Event& e);
};

using TcbView = layers::ModuleView<TcbPoolState>;

class TcbPool {
 public:
  virtual ~TcbPool() = default;
  ObjectId object() const { return object_; }
  std::int64_t capacity() const { return capacity_; }
  // The primitives (see the file comment for what each returns).
  // `where`: the caller's location (kernel/lock.h's Acquire).
  std::int64_t Alloc(Cpu& cpu, std::source_location where = std::source_location::current());
  std::int64_t Free(Cpu& cpu, std::int64_t tid,
                    std::source_location where = std::source_location::current());
  std::int64_t Read(Cpu& cpu, std::int64_t tid, std::int64_t field,
                    std::source_location where = std::source_location::current());
  std::int64_t Write(Cpu& cpu, std::int64_t tid, std::int64_t field, std::int64_t value,
                     std::source_location where = std::source_location::current());

  // A fresh view of one run on `m` (the machine this pool was made on), for
  // the refinement check. Called before the run; it may ask `m` to keep
  // what the run pushes (Machine::KeepPushedContents).
  virtual std::unique_ptr<TcbView> NewView(Machine& m) const = 0;

 protected:
  TcbPool(ObjectId object, std::int64_t capacity) : object_(object), capacity_(capacity) {}
  virtual std::int64_t DoAlloc(Cpu& cpu) = 0;
  virtual std::int64_t DoFree(Cpu& cpu, std::int64_t tid) = 0;
  virtual std::int64_t DoRead(Cpu& cpu, std::int64_t tid, std::int64_t field) = 0;
  virtual std::int64_t DoWrite(Cpu& cpu, std::int64_t tid, std::int64_t field,
                               std::int64_t value) = 0;
  // Whether (tid, field) names a field of the pool.
  bool InRange(std::int64_t tid, std::int64_t field) const {
    return tid >= 0 && tid < capacity_ && field >= 0 && field < kTcbFields;
  }

 private:
  ObjectId object_;
  std::int64_t capacity_;
};

// Makes pool `name` of `capacity` (>= 1) TCBs on `m`; a module makes the
// locks it needs with `lock` (the lock layer below it).
using TcbFactory = std::function<std::unique_ptr<TcbPool>(
    Machine& m, const std::string& name, std::int64_t capacity, const LockFactory& lock)>;
using TcbRegistry = layers::Registry<TcbFactory>;

// The factory of a pool class P constructible as P(machine, name, capacity, lock).
template <class P>
TcbFactory TcbFactoryOf() {
  return [](Machine& m, const std::string& name, std::int64_t capacity,
            const LockFactory& lock) -> std::unique_ptr<TcbPool> {
    return std::make_unique<P>(m, name, capacity, lock);
  };
}

std::unique_ptr<TcbPool> MakeSpecTcbPool(Machine& m, const std::string& name,
                                         std::int64_t capacity);

// Adds strata's pools: spec, module and the module's known-bad variants.
void AddBuiltinTcbPools(TcbRegistry& pools);

// The TCB-pool pair: `module` over the lock layer (`lock`) against the pool
// spec. Client: every CPU, `iterations` times, allocates two TCBs, reads a
// field of each (a fresh TCB's fields are 0), writes its own values into
// them, reads them back and frees both; with `capacity` small the pool runs
// out and alloc returns -1. At the end every read of a field gave what this
// CPU wrote or 0 for a fresh TCB, and no two CPUs held the same TCB at once.
struct TcbPairOptions {
  std::string impl = "module";  // names, for messages
  std::string lock_impl = "ticket";
  TcbFactory module;
  LockFactory lock;
  std::int64_t iterations = 2;
  std::int64_t capacity = 4;
  bool general = false;  // the most-general client instead of the fixed one
};
std::unique_ptr<layers::LayerPair> MakeTcbPair(const TcbPairOptions& options);

}  // namespace strata::kernel

template <>
struct fmt::formatter<strata::kernel::TcbPoolState> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const strata::kernel::TcbPoolState& s, Ctx& ctx) const {
    auto out = ctx.out();
    bool any = false;
    // Allocated TCBs, and free ones whose fields are not all 0.
    for (std::size_t t = 0; t < s.allocated.size(); ++t) {
      bool zero = true;
      for (int f = 0; f < strata::kernel::kTcbFields; ++f) {
        zero = zero && s.fields[t * strata::kernel::kTcbFields + static_cast<std::size_t>(f)] == 0;
      }
      if (!s.allocated[t] && zero) continue;
      out = fmt::format_to(out, "{}tcb {}{} [", any ? "; " : "", t, s.allocated[t] ? "" : " (free)");
      for (int f = 0; f < strata::kernel::kTcbFields; ++f) {
        out = fmt::format_to(out, "{}{}", f == 0 ? "" : " ",
                             s.fields[t * strata::kernel::kTcbFields + static_cast<std::size_t>(f)]);
      }
      out = fmt::format_to(out, "]");
      any = true;
    }
    if (!any) out = fmt::format_to(out, "every tcb free, its fields 0");
    return out;
  }
};

#endif  // STRATA_KERNEL_TCB_POOL_H_
