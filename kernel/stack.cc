#include "kernel/stack.h"

#include "kernel/lock.h"
#include "kernel/queue.h"

namespace strata::kernel {

std::vector<LayerInfo> Stack(const StackOptions& o) {
  return {
      {"lock", o.lock, {"acquire(lock, bound)", "release(lock)"}, "the machine"},
      {"queue", o.queue, {"enq(queue, value) -> 1|0", "deq(queue) -> value|-1"},
       "the lock layer (" + o.lock + ")"},
  };
}

std::string LayerNames() { return "lock, queue"; }

std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& o) {
  if (layer == "lock") {
    return MakeLockPair(
        {.impl = o.lock, .iterations = o.iterations, .bound = o.bound, .overrun = o.overrun});
  }
  if (layer == "queue") {
    return MakeQueuePair({.impl = o.queue,
                          .lock_impl = o.lock,
                          .iterations = o.iterations,
                          .capacity = o.capacity});
  }
  return nullptr;
}

}  // namespace strata::kernel
