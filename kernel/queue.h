// A lock-protected shared queue of integers with a fixed capacity.
//
// Spec: `enq(v)` and `deq()` are one atomic step each (`ENQ(v)`, `DEQ`);
// enq returns 1, or 0 when the queue is full; deq returns the oldest value,
// or -1 when the queue is empty. Its replay (QueueSpecReplay) is the list of
// values.
// Module: acquire the queue's lock (any lock implementation, bound 2), pull
// the queue's block, sequential code on it, push it, release. The block
// holds [count, v0, v1, ...] with the oldest value first, so a queue has one
// block image and R can compare the two layers: the hash carried by the last
// push of the block equals the hash of the spec's values laid out that way.
// The push is the linearization point.
#ifndef STRATA_KERNEL_QUEUE_H_
#define STRATA_KERNEL_QUEUE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/lock.h"
#include "layers/layer.h"
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

class Queue {
 public:
  virtual ~Queue() = default;
  ObjectId object() const { return object_; }
  // Returns 1, or 0 if the queue is full.
  std::int64_t Enq(Cpu& cpu, std::int64_t value);
  // Returns the oldest value, or -1 if the queue is empty.
  std::int64_t Deq(Cpu& cpu);

 protected:
  explicit Queue(ObjectId object) : object_(object) {}
  virtual std::int64_t DoEnq(Cpu& cpu, std::int64_t value) = 0;
  virtual std::int64_t DoDeq(Cpu& cpu) = 0;

 private:
  ObjectId object_;
};

// "spec", "module" and the known-bad module variants.
struct QueueImpl {
  std::string_view name;
  std::string_view summary;
  bool known_bad;
};
std::span<const QueueImpl> QueueImpls();
const QueueImpl* FindQueueImpl(std::string_view name);

// Makes queue `name` (objects "name", "name.data", and the lock "name.lock"
// of implementation `lock_impl` for the module). Preconditions: both
// implementations exist; capacity >= 1.
std::unique_ptr<Queue> MakeQueue(Machine& m, std::string_view impl, std::string_view lock_impl,
                                 const std::string& name, std::int64_t capacity);

// The spec's replay of one queue.
struct QueueSpecReplay {
  using State = std::deque<std::int64_t>;
  ObjectId queue;
  std::int64_t capacity;
  State Init() const { return {}; }
  bool Step(State& s, const Event& e) const;
};

// The queue pair: `impl` over the lock layer (`lock_impl`) against the queue
// spec. Client: every CPU enqueues `iterations` distinct values, then
// dequeues `iterations` times; at the end every value was dequeued at most
// once, only values that were enqueued came out, and the counts add up.
struct QueuePairOptions {
  std::string impl = "module";
  std::string lock_impl = "ticket";
  std::int64_t iterations = 2;
  std::int64_t capacity = 4;
};
std::unique_ptr<layers::LayerPair> MakeQueuePair(const QueuePairOptions& options);

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_QUEUE_H_
