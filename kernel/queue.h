// The queue layer: a lock-protected shared queue of integers with a fixed
// capacity, its atomic spec, and what a queue module must provide to be
// checked against it. Public API for queue-module authors.
//
// Spec: `enq(v)` and `deq()` are one atomic step each (`ENQ(v)`, `DEQ`);
// enq returns 1, or 0 when the queue is full; deq returns the oldest value,
// or -1 when the queue is empty. Its replay (QueueSpecReplay) is the list of
// values.
//
// A module derives from Queue, implements DoEnq / DoDeq over the layer below
// (a lock from the LockFactory it is given, and shared blocks), calls
// Cpu::Linearize right after the step at which each call takes effect, and
// describes itself with a QueueView (NewView): its replay of its own block
// in its own layout (Machine::pushed gives a push's contents), the relation
// R to the spec's values, and its liveness (none of its own: its lock's).
#ifndef STRATA_KERNEL_QUEUE_H_
#define STRATA_KERNEL_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <source_location>
#include <string>

#include <fmt/ranges.h>

#include "kernel/lock.h"
#include "layers/layer.h"
#include "layers/registry.h"
#include "machine/machine.h"

namespace strata::kernel {

namespace kinds {
inline constexpr EventKind kCallEnq{"call enq"};
inline constexpr EventKind kRetEnq{"ret enq"};
inline constexpr EventKind kCallDeq{"call deq"};
inline constexpr EventKind kRetDeq{"ret deq"};
inline constexpr EventKind kEnq{"ENQ"};
inline constexpr EventKind kDeq{"DEQ"};
}  // namespace kinds

inline constexpr layers::Primitive kEnq{"enq", kinds::kCallEnq, kinds::kRetEnq, kinds::kEnq};
inline constexpr layers::Primitive kDeq{"deq", kinds::kCallDeq, kinds::kRetDeq, kinds::kDeq};
inline constexpr layers::Primitive kQueuePrimitives[] = {kEnq, kDeq};

// The spec's replay of one queue: its values, oldest first.
struct QueueSpecReplay {
  using State = std::deque<std::int64_t>;
  ObjectId queue;
  std::int64_t capacity;
  State Init() const { return {}; }
  bool Step(State& s, const Event& e) const;
};

using QueueView = layers::ModuleView<QueueSpecReplay::State>;

class Queue {
 public:
  virtual ~Queue() = default;
  ObjectId object() const { return object_; }
  // Returns 1, or 0 if the queue is full.
  // `where`: the caller's location (kernel/lock.h's Acquire).
  std::int64_t Enq(Cpu& cpu, std::int64_t value,
                   std::source_location where = std::source_location::current());
  // Returns the oldest value, or -1 if the queue is empty.
  std::int64_t Deq(Cpu& cpu, std::source_location where = std::source_location::current());

  // A fresh view of one run on `m` (the machine this queue was made on), for
  // the refinement check. Called before the run; it may ask `m` to keep what
  // the run pushes (Machine::KeepPushedContents).
  virtual std::unique_ptr<QueueView> NewView(Machine& m) const = 0;

 protected:
  explicit Queue(ObjectId object) : object_(object) {}
  virtual std::int64_t DoEnq(Cpu& cpu, std::int64_t value) = 0;
  virtual std::int64_t DoDeq(Cpu& cpu) = 0;

 private:
  ObjectId object_;
};

// Makes queue `name` of `capacity` (>= 1) on `m`; a module makes the locks
// it needs with `lock` (the lock layer below it).
using QueueFactory = std::function<std::unique_ptr<Queue>(
    Machine& m, const std::string& name, std::int64_t capacity, const LockFactory& lock)>;
using QueueRegistry = layers::Registry<QueueFactory>;

// The factory of a queue class Q constructible as Q(machine, name,
// capacity, lock).
template <class Q>
QueueFactory QueueFactoryOf() {
  return [](Machine& m, const std::string& name, std::int64_t capacity,
            const LockFactory& lock) -> std::unique_ptr<Queue> {
    return std::make_unique<Q>(m, name, capacity, lock);
  };
}

std::unique_ptr<Queue> MakeSpecQueue(Machine& m, const std::string& name, std::int64_t capacity);

// Adds strata's queues: spec, module and the module's known-bad variants.
void AddBuiltinQueues(QueueRegistry& queues);

// The queue pair: `module` over the lock layer (`lock`) against the queue
// spec. Client: every CPU enqueues `iterations` distinct values, then
// dequeues `iterations` times; at the end every value was dequeued at most
// once, only values that were enqueued came out, and the counts add up.
struct QueuePairOptions {
  std::string impl = "module";       // names, for messages
  std::string lock_impl = "ticket";
  QueueFactory module;
  LockFactory lock;
  std::int64_t iterations = 2;
  std::int64_t capacity = 4;
  bool general = false;  // the most-general client instead of the fixed one
};
std::unique_ptr<layers::LayerPair> MakeQueuePair(const QueuePairOptions& options);

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_QUEUE_H_
