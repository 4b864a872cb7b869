#include "kernel/stack.h"

#include "kernel/lock.h"
#include "kernel/queue.h"
#include "kernel/tcb_pool.h"
#include "machine/check.h"

namespace strata::kernel {

std::vector<LayerInfo> Stack(const StackOptions& o, const KernelCatalog* catalog) {
  std::vector<LayerInfo> layers = {
      {"lock", o.lock, {"acquire(lock, bound)", "release(lock)"}, "the machine"},
      {"queue", o.queue, {"enq(queue, value) -> 1|0", "deq(queue) -> value|-1"},
       "the lock layer (" + o.lock + ")"},
      {"tcb", o.tcb,
       {"alloc() -> tid|-1", "free(tid) -> 1|0", "read(tid, field) -> value|-1",
        "write(tid, field, value) -> 1|0"},
       "the lock layer (" + o.lock + ")"},
  };
  if (catalog != nullptr) {
    AddChoices(layers[0], catalog->locks);
    AddChoices(layers[1], catalog->queues);
    AddChoices(layers[2], catalog->tcbs);
  }
  return layers;
}

std::string LayerNames() { return "lock, queue, tcb"; }

void AddBuiltinKernel(KernelCatalog& catalog) {
  AddBuiltinLocks(catalog.locks);
  AddBuiltinQueues(catalog.queues);
  AddBuiltinTcbPools(catalog.tcbs);
}

std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& o,
                                            const KernelCatalog& catalog) {
  const auto* lock = catalog.locks.Find(o.lock);
  STRATA_CHECK(lock != nullptr, "unvalidated lock {}", o.lock);
  if (layer == "lock") {
    return MakeLockPair({.impl = o.lock,
                         .module = lock->make,
                         .iterations = o.iterations,
                         .bound = o.bound,
                         .overrun = o.overrun,
                         .general = o.client == "general"});
  }
  if (layer == "queue") {
    const auto* queue = catalog.queues.Find(o.queue);
    STRATA_CHECK(queue != nullptr, "unvalidated queue {}", o.queue);
    return MakeQueuePair({.impl = o.queue,
                          .lock_impl = o.lock,
                          .module = queue->make,
                          .lock = lock->make,
                          .iterations = o.iterations,
                          .capacity = o.capacity,
                          .general = o.client == "general"});
  }
  if (layer == "tcb") {
    const auto* tcb = catalog.tcbs.Find(o.tcb);
    STRATA_CHECK(tcb != nullptr, "unvalidated tcb pool {}", o.tcb);
    return MakeTcbPair({.impl = o.tcb,
                        .lock_impl = o.lock,
                        .module = tcb->make,
                        .lock = lock->make,
                        .iterations = o.iterations,
                        .capacity = o.capacity,
                        .general = o.client == "general"});
  }
  return nullptr;
}

}  // namespace strata::kernel
